"""Pooled database connections that the server closed (a PostgreSQL restart) are not lent.

The server closing a connection is played with ``pg_terminate_backend``, which is what a
restart does to every backend: the client gets a "terminating connection" error and the
socket closes. Each test uses a pool of its own, so Odoo's pool and the test's transaction are
left alone.
"""

import select
import time

import psycopg2

from odoo import sql_db
from odoo.tests import TransactionCase

from ..models import esign_db_reconnect as guard


class TestStalePooledConnection(TransactionCase):
    def setUp(self):
        super().setUp()
        self.pool = sql_db.ConnectionPool(maxconn=4)
        self.addCleanup(self.pool.close_all)
        self.dsn = sql_db.connection_info_for(self.env.cr.dbname)[1]

    def _idle_connection(self):
        """A connection borrowed from the pool, used once, given back: idle in the pool."""
        cnx = self.pool.borrow(self.dsn)
        with cnx.cursor() as cur:
            cur.execute("SELECT 1")
        cnx.rollback()
        self.pool.give_back(cnx)
        return cnx

    def _terminate(self, cnx):
        """Close ``cnx``'s backend from the server side, as a restart does, and wait until
        the client side has the news."""
        pid = cnx.get_backend_pid()
        self.env.cr.execute("SELECT pg_terminate_backend(%s)", [pid])
        self.assertTrue(self.env.cr.fetchone()[0])
        deadline = time.monotonic() + 10
        while not select.select([cnx], [], [], 0.1)[0]:
            self.assertLess(time.monotonic(), deadline, "the server did not close it")
        return pid

    def test_a_connection_the_server_closed_is_not_lent(self):
        """Verifies: S10

        What the request path relies on after a restart: Odoo's pool does not lend a
        connection the server closed (its reset fails, it opens a new one)."""
        stale = self._idle_connection()
        pid = self._terminate(stale)
        cnx = self.pool.borrow(self.dsn)
        self.assertIsNot(cnx, stale)
        self.assertTrue(stale.closed)
        with cnx.cursor() as cur:
            cur.execute("SELECT pg_backend_pid()")
            self.assertNotEqual(cur.fetchone()[0], pid)
        self.pool.give_back(cnx)

    def test_a_live_idle_connection_is_kept(self):
        """Verifies: S10

        The twin: a healthy idle connection is lent again, not replaced."""
        idle = self._idle_connection()
        self.assertIs(self.pool.borrow(self.dsn), idle)
        self.pool.give_back(idle)

    def test_a_cursor_on_a_lost_connection_closes_cleanly(self):
        """Verifies: S10

        The request's rollback (Odoo's retry loop rolls back before it gives up) runs the
        cursor's clean-up without raising a second error over the first: the server already
        dropped the transaction."""
        cr = sql_db.Cursor(self.pool, self.env.cr.dbname, self.dsn)
        cr.execute("SELECT 1")
        self._terminate(cr._cnx)
        with self.assertRaises(psycopg2.OperationalError) as caught:
            cr.execute("SELECT 1", log_exceptions=False)
        self.assertTrue(guard.connection_lost(caught.exception))
        rolled_back = []
        cr.postrollback.add(lambda: rolled_back.append(True))
        cr.rollback()
        self.assertEqual(rolled_back, [True])
        self.assertTrue(cr.closed)  # the connection is gone: Odoo's close has nothing to do
        cr.close()

    def test_query_errors_are_not_taken_for_a_lost_connection(self):
        """Verifies: S10

        Only a lost connection is turned into the "connection lost" message: an error of the
        query itself (here a division by zero, or a serialization failure) keeps its own
        handling."""
        cnx = self.pool.borrow(self.dsn)
        try:
            with self.assertRaises(psycopg2.Error) as caught, cnx.cursor() as cur:
                cur.execute("SELECT 1 / 0")
            self.assertFalse(guard.connection_lost(caught.exception))
            cnx.rollback()
        finally:
            self.pool.give_back(cnx)
        self.assertFalse(guard.connection_lost(psycopg2.errors.SerializationFailure("x")))
        self.assertFalse(guard.connection_lost(ValueError("server closed the connection")))
        closed = psycopg2.InterfaceError("connection already closed")
        self.assertTrue(guard.connection_lost(closed))
