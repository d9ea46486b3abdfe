"""The database server closing Odoo's connections (what a PostgreSQL restart does to each of
them), played with ``pg_terminate_backend`` on the live servers' own backends.

A restart of the whole cluster would also stop the other live tests' work; terminating the
backends is the same event as each pooled connection sees it: a "terminating connection"
error, then the socket closes.
"""

from __future__ import annotations

import threading
import time

import psycopg2
from conftest import PASSWORD, Live, assert_user_error, new_lots
from devtools.rpc import RpcError

LOT = "stock.lot"
#: First key of the add-on's advisory lock on an audit chain (models/esign_ledger_store.py).
LOCK_NAMESPACE = 0x45534155
LOST = "The connection to the database was lost"


def _terminate_idle_odoo_backends(live: Live) -> int:
    rows = live.cluster.sql(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s"
        " AND application_name LIKE 'odoo-%%' AND state = 'idle'",
        "postgres",
        (live.db,),
    )
    time.sleep(0.5)  # the FATAL message reaches the clients
    return len(rows)


def test_requests_after_the_server_closed_the_pooled_connections_succeed(live: Live) -> None:
    """Verifies: S10

    Every idle pooled connection of both servers is closed by the server; the requests that
    follow, as many as the pools held, all succeed at once, with no ERROR line."""
    clients = [live.client(server, "live_ra") for server in (live.a, live.b)]
    for _ in range(6):
        for client in clients:
            client.call("res.users", "search_count", [])
    marks = live.marks()
    assert _terminate_idle_odoo_backends(live) >= 2
    for _ in range(8):
        for client in clients:
            assert client.call("res.users", "search_count", []) > 0
    lot = new_lots(live, 1)[0]
    clients[0].sign(LOT, lot, PASSWORD, login="live_ra")
    assert live.errors(marks) == []


def test_a_request_whose_connection_is_lost_gets_a_clear_message(live: Live) -> None:
    """Verifies: S10

    The tamper twin: the connection of a signature in progress is closed by the server while
    the signature waits for the audit chain's lock. The signer gets the translated "lost"
    message as a user error (no traceback), nothing of the signature is written, and signing
    again works."""
    lots = new_lots(live, 2)
    signer = live.client(live.b, "live_ra2")
    signer.sign(LOT, lots[0], PASSWORD, login="live_ra2")  # the chain exists
    chain = live.sql(
        "SELECT chain_id FROM esign_audit_entry WHERE operation = 'sign' AND res_model = %s"
        " AND res_id = %s",
        (LOT, lots[0]),
    )[0][0]
    meta = live.cluster.meta
    holder = psycopg2.connect(
        host="127.0.0.1",
        port=meta["port"],
        dbname=live.db,
        user=meta["superuser"],
        password=meta["superuser_password"],
    )
    holder.autocommit = True
    outcome: dict = {}

    def sign() -> None:
        try:
            outcome["ok"] = signer.sign(LOT, lots[1], PASSWORD, login="live_ra2")
        except RpcError as exc:
            outcome["error"] = exc

    try:
        with holder.cursor() as cur:
            cur.execute("SELECT pg_advisory_lock(%s, %s)", (LOCK_NAMESPACE, chain))
            worker = threading.Thread(target=sign, daemon=True)
            worker.start()
            waiting = []
            deadline = time.monotonic() + 60
            while not waiting and time.monotonic() < deadline:
                cur.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = %s AND wait_event ="
                    " 'advisory' AND application_name LIKE 'odoo-%%'",
                    (live.db,),
                )
                waiting = [r[0] for r in cur.fetchall()]
                time.sleep(0.05)
            assert waiting, "the signature never waited for the chain's lock"
            cur.execute("SELECT pg_terminate_backend(%s)", (waiting[0],))
            worker.join(60)
            cur.execute("SELECT pg_advisory_unlock_all()")
    finally:
        holder.close()
    assert "ok" not in outcome
    error = outcome["error"]
    assert_user_error(error, "odoo.exceptions.UserError")
    assert LOST in error.message
    assert "Traceback" not in error.debug
    assert live.sql(
        "SELECT count(*) FROM esign_signature WHERE res_model = %s AND res_id = %s",
        (LOT, lots[1]),
    ) == [(0,)]
    state = live.sql("SELECT esign_release_state FROM stock_lot WHERE id = %s", (lots[1],))
    assert state[0][0] != "released"
    signer.sign(LOT, lots[1], PASSWORD, login="live_ra2")
    assert live.sql(
        "SELECT count(*) FROM esign_audit_entry WHERE operation = 'sign' AND res_model = %s"
        " AND res_id = %s",
        (LOT, lots[1]),
    ) == [(1,)]
