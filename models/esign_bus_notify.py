"""The live updates of signing (a signer's to-do gone) without a new database connection
per signature.

Odoo's bus stores a notification in ``bus_bus`` and, once the transaction commits, wakes the
web clients' listener with ``NOTIFY imbus`` on the ``postgres`` database. Odoo opens a new
connection to that database for every notifying transaction and closes it after: it keeps no
connection to ``postgres`` in its pool. When a release authority signs a lot whose signing
to-dos were due, that connection was the largest cost of the signature besides the password
check: about 4 ms of CPU in Odoo (the SCRAM log-in) and 5.6 ms in PostgreSQL (a new server
process), every signature.

``send()`` stores the notifications as Odoo's bus does, and wakes the listener through one
connection to ``postgres`` that each Odoo process keeps. What the web client receives is the
same. When that connection is lost (PostgreSQL restarted), it is opened again and the wake-up
sent once more; if that fails too, the failure is logged and the notifications stay in
``bus_bus``: the web client gets them with its next wake-up or when its page loads again. The
signature, already committed, is never failed by it.
"""

import contextlib
import logging
import os
import threading

import psycopg2
from psycopg2 import sql

from odoo.sql_db import connection_info_for
from odoo.tools.misc import OrderedSet

from odoo.addons.bus.models.bus import (
    ODOO_NOTIFY_FUNCTION,
    channel_with_db,
    get_notify_payloads,
    json_dump,
)

_logger = logging.getLogger(__name__)

_CHANNELS = "meddev_esign.bus_channels"


class _Waker:
    """One autocommit connection to the ``postgres`` database per process, for NOTIFY."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cnx = None
        self._pid = 0

    def _connection(self):
        if self._cnx is not None and self._pid != os.getpid():
            self._cnx = None  # inherited through a fork: the parent's, left to the parent
        if self._cnx is None or self._cnx.closed:
            _dbname, info = connection_info_for("postgres")
            # A server that does not answer must not hold every signature of the process.
            cnx = psycopg2.connect(**{"connect_timeout": 10, **info})
            cnx.autocommit = True
            self._cnx, self._pid = cnx, os.getpid()
        return self._cnx

    def _drop(self) -> None:
        cnx, self._cnx = self._cnx, None
        if cnx is not None and self._pid == os.getpid():
            with contextlib.suppress(psycopg2.Error):  # already gone with its server
                cnx.close()

    def notify(self, payloads: list[str]) -> bool:
        """``NOTIFY imbus`` with each payload; False when PostgreSQL could not be reached."""
        query = sql.SQL("SELECT {}('imbus', %s)").format(sql.Identifier(ODOO_NOTIFY_FUNCTION))
        with self._lock:
            for attempt in (1, 2):
                try:
                    with self._connection().cursor() as cr:
                        for payload in payloads:
                            cr.execute(query, (payload,))
                    return True
                except psycopg2.Error as exc:  # a lost connection: open a new one, once
                    self._drop()
                    if attempt == 2:
                        _logger.warning(
                            "E-signature: the web clients' live update could not be sent "
                            "(%s); they get it with their next one.",
                            exc,
                        )
        return False

    def backend_pid(self) -> int | None:
        """The PostgreSQL process of this process's connection (tests: to cut it)."""
        with self._lock:
            cnx = self._cnx
            return cnx.info.backend_pid if cnx is not None and not cnx.closed else None


WAKER = _Waker()


def send(env, partners, notification_type: str, payload) -> None:
    """Notify ``partners``' web clients (as ``partner._bus_send``) when the transaction
    commits, waking their listener through the kept connection."""
    if not partners:
        return
    message = json_dump({"type": notification_type, "payload": payload})
    channels = [channel_with_db(env.cr.dbname, partner) for partner in partners]
    env["bus.bus"].sudo().create(
        [{"channel": json_dump(channel), "message": message} for channel in channels]
    )
    pending = env.cr.postcommit.data.get(_CHANNELS)
    if pending is None:
        pending = env.cr.postcommit.data[_CHANNELS] = OrderedSet()

        @env.cr.postcommit.add
        def wake():
            WAKER.notify(get_notify_payloads(list(env.cr.postcommit.data.pop(_CHANNELS))))

    pending.update(channels)
