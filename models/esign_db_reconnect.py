"""Surviving a restart of PostgreSQL without restarting Odoo.

When PostgreSQL restarts (``pg_ctl restart -m fast``, a fail-over, a crash), every connection
that Odoo keeps in its pool is dead. Odoo's pool finds that out itself when it lends one (its
``reset()`` fails, and it opens a new connection; ``tests/test_db_reconnect.py`` holds that).
What went wrong was the rest, and two guards, installed once per Odoo process when the add-on
is loaded (Odoo's own files are not changed), mend it:

* **Opening the registry waits for the server.** A request arriving while the server was
  still down failed, and Odoo logged its user out (it drops the session when it cannot open
  the registry). Those first statements of every request (the registry's change signals)
  only read: when they fail because the server cannot be reached, they are tried again for
  up to :data:`RECONNECT_SECONDS` before Odoo gives up.
* **A request cut off by a lost connection fails cleanly.** A request in flight when the
  server went got a raw ``psycopg2.OperationalError`` (or ``InterfaceError: connection
  already closed`` from Odoo's rollback) with its traceback. It now gets a translated message
  (a ``UserError`` to the web client, no traceback, a WARNING line rather than an ERROR), and
  a broken connection's rollback runs the cursor's own clean-up without raising again. The
  server rolled the transaction back when the connection went, so nothing of the request was
  committed.
"""

from __future__ import annotations

import logging
import time

import psycopg2
from psycopg2 import errorcodes

from odoo import http, models, sql_db
from odoo.exceptions import UserError
from odoo.tools.translate import LazyTranslate

_logger = logging.getLogger(__name__)
_lt = LazyTranslate(__name__)

#: How long a request waits for an unreachable database before giving up (a restart takes a
#: few seconds; Odoo's own request time limits still apply).
RECONNECT_SECONDS = 20.0
RECONNECT_PAUSE = 0.5

CONNECTION_LOST = _lt(
    "The connection to the database was lost while this request ran (the database server "
    "may have restarted), so it was not completed. Reload the page to see what was saved, "
    "then try again."
)

# SQLSTATE classes and codes meaning "the connection or the server went away".
_LOST_CODES = {
    errorcodes.ADMIN_SHUTDOWN,
    errorcodes.CRASH_SHUTDOWN,
    errorcodes.CANNOT_CONNECT_NOW,
}
# What libpq says when there is no SQLSTATE (the socket closed, the server unreachable).
_LOST_TEXT = (
    "server closed the connection",
    "connection already closed",
    "could not connect to server",
    "connection to server at",
    "Connection refused",
    "terminating connection",
    "the database system is",
    "no connection to the server",
    "SSL SYSCALL error",
    "could not receive data from server",
    "could not send data to server",
)


def connection_lost(exc: BaseException | None) -> bool:
    """Whether ``exc`` (or an exception it was raised from or while handling) says the
    database connection was lost or the server could not be reached, as opposed to an error
    of the query itself (a serialization failure, a timeout, a constraint)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, psycopg2.InterfaceError):
            return True
        if isinstance(exc, psycopg2.OperationalError):
            code = getattr(exc, "pgcode", None)
            if code in _LOST_CODES or (code or "").startswith("08"):
                return True
            if code is None and any(text in str(exc) for text in _LOST_TEXT):
                return True
        exc = exc.__cause__ or exc.__context__
    return False


def _rollback_tolerant(rollback):
    def rollback_unless_lost(self):
        """A connection the server closed has no transaction left to roll back: run the
        cursor's own clean-up, skip the round trip that would raise again."""
        cnx = getattr(self, "_cnx", None)
        if cnx is not None and cnx.closed:
            self.clear()
            self.postcommit.clear()
            self.prerollback.run()
            self._now = None
            self.postrollback.run()
            return None
        return rollback(self)

    rollback_unless_lost.meddev_esign_guard = True
    return rollback_unless_lost


def _open_registry_waiting(open_registry):
    def open_registry_when_reachable(self):
        deadline = time.monotonic() + RECONNECT_SECONDS
        while True:
            try:
                return open_registry(self)
            except http.RegistryError as exc:
                if not connection_lost(exc.__cause__) or time.monotonic() > deadline:
                    raise
                _logger.info("database %s unreachable; trying again", self.db)
                time.sleep(RECONNECT_PAUSE)

    open_registry_when_reachable.meddev_esign_guard = True
    return open_registry_when_reachable


def install() -> None:
    """Install the guards in this process, once."""
    cursor = sql_db.Cursor
    if not getattr(cursor.rollback, "meddev_esign_guard", False):
        cursor.rollback = _rollback_tolerant(cursor.rollback)
    request = http.Request
    if not getattr(request._open_registry, "meddev_esign_guard", False):
        request._open_registry = _open_registry_waiting(request._open_registry)


install()


class IrHttp(models.AbstractModel):
    _inherit = "ir.http"

    @classmethod
    def _handle_error(cls, exception):
        if not connection_lost(exception):
            return super()._handle_error(exception)
        # Logged once by Odoo's request handler at this level, without a traceback.
        exception.loglevel = logging.WARNING
        exception.exc_info = None
        lang = (http.request.env.context.get("lang") if http.request.env else None) or "en_US"
        try:
            message = CONNECTION_LOST._translate(lang)
        except Exception:  # noqa: BLE001 - a missing translation must not hide the message
            message = CONNECTION_LOST._translate("en_US")
        clean = UserError(message)
        dispatcher = http.request.dispatcher
        if getattr(dispatcher, "routing_type", None) == "json":
            data = http.serialize_exception(clean)
            data["debug"] = ""  # no traceback for the user: the lost connection says it all
            return dispatcher._response(
                error={"code": 200, "message": "Odoo Server Error", "data": data}
            )
        return super()._handle_error(clean)
