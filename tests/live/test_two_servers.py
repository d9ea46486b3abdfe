"""What must hold across processes, with two real Odoo servers on one database.

Server A runs in prefork mode (its HTTP workers are processes too), server B threaded; both
serve the same database, and every check reads what the other one committed.
"""

from __future__ import annotations

import json
import threading
import time

import pytest
from conftest import PASSWORD, Live, assert_user_error, new_lots
from devtools.rpc import Client, RpcError

LOT = "stock.lot"


def _signatures(live: Live, lots: list[int]) -> list[dict]:
    return live.admin().call(
        "esign.signature",
        "search_read",
        [("res_model", "=", LOT), ("res_id", "in", lots)],
        ["res_id", "auth_method", "user_id"],
    )


def _user_state(live: Live, login: str, server=None) -> dict:
    return live.admin(server).call(
        "res.users",
        "read",
        [live.ids["users"][login]],
        ["esign_failed_attempts", "esign_locked"],
    )[0]


def test_the_gevent_worker_answers_in_prefork_mode(live: Live) -> None:
    """The websocket (gevent) worker is up beside the HTTP workers: the web client's live
    updates work with workers. (It dies at once when Odoo cannot be re-executed.)"""
    client = Client(live.a.gevent_port)
    status, body = client.get("/websocket/health")
    assert status == 200 and json.loads(body) == {"status": "pass"}
    text = "\n".join(live.a.lines())
    assert "NameError" not in text
    assert "Evented Service (longpolling) running on" in text


def _websocket(live: Live, login: str):
    """``login``'s web client connected to A's websocket (gevent) worker, subscribed to its
    own channels from the last notification on (as the web client does after loading)."""
    import websocket  # noqa: PLC0415 - the browser tests' dependency

    session = live.client(live.a, login).session_id
    ws = websocket.create_connection(
        f"ws://127.0.0.1:{live.a.gevent_port}/websocket",
        cookie=f"session_id={session}",
        origin=f"http://127.0.0.1:{live.a.gevent_port}",  # behind a proxy, one host for both
        timeout=10,
    )
    last = live.sql("SELECT COALESCE(max(id), 0) FROM bus_bus")[0][0]
    ws.send(json.dumps({"event_name": "subscribe", "data": {"channels": [], "last": last}}))
    return ws


def _postgres_sessions(live: Live) -> int:
    return live.cluster.sql("SELECT sessions FROM pg_stat_database WHERE datname = 'postgres'")[0][
        0
    ]


def test_a_signature_on_one_server_updates_the_counter_of_a_client_on_the_other(
    live: Live,
) -> None:
    """A release authority's web client, connected to server A, is told at once that a lot
    released on server B took away their due to-do (the activity counter drops). B woke the
    listeners through the one connection to the ``postgres`` database it keeps, not through
    a new connection per signature as Odoo's bus opens."""
    lots = new_lots(live, 5)
    ra2 = live.ids["users"]["live_ra2"]
    due = live.sql(
        "SELECT count(*) FROM mail_activity WHERE res_model = 'stock.lot' AND res_id = %s"
        " AND user_id = %s AND date_deadline <= (now() AT TIME ZONE 'UTC')::date",
        (lots[0], ra2),
    )[0][0]
    assert due == 1, "a due to-do of the second release authority on the lot"
    ws = _websocket(live, "live_ra2")
    try:
        signer = live.client(live.b, "live_ra")
        signer.sign(LOT, lots[0], PASSWORD, login="live_ra")
        deadline = time.monotonic() + 10
        seen = []
        while time.monotonic() < deadline:
            for notification in json.loads(ws.recv()):
                seen.append(notification["message"])
            if {"type": "mail.activity/updated", "payload": {"activity_deleted": True}} in seen:
                break
        else:
            pytest.fail(f"no live update of the to-do counter; received {seen}")
    finally:
        ws.close()
    before = _postgres_sessions(live)
    for lot in lots[1:]:
        signer.sign(LOT, lot, PASSWORD)
    # Four signatures: at most the kept connection's first session, the query's own and
    # one of a job that may run meanwhile, where Odoo's bus opens one per signature (5).
    assert _postgres_sessions(live) - before <= 3


def test_failed_attempts_on_one_server_lock_out_on_the_other(live: Live) -> None:
    marks = live.marks()
    lots = new_lots(live, 2)
    on_a = live.client(live.a, "live_lock")
    on_b = live.client(live.b, "live_lock")
    for client in (on_a, on_b):  # the first failure on A, the second on B
        with pytest.raises(RpcError) as exc:
            client.sign(LOT, lots[0], "wrong password", login="live_lock")
        assert_user_error(exc.value)
    assert _user_state(live, "live_lock", live.a)["esign_failed_attempts"] == 2
    with pytest.raises(RpcError):
        on_a.sign(LOT, lots[0], "wrong again", login="live_lock")
    state = _user_state(live, "live_lock", live.b)
    assert state == {**state, "esign_failed_attempts": 3, "esign_locked": True}
    # Locked everywhere: the right password is refused on either server now.
    for client in (on_b, on_a):
        with pytest.raises(RpcError) as exc:
            client.sign(LOT, lots[1], PASSWORD, login="live_lock")
        assert "locked" in exc.value.message
    assert not _signatures(live, lots)
    # Unlocked on B by an administrator: A lets the user sign again, and the count is reset.
    live.admin(live.b).call("res.users", "action_esign_unlock", [live.ids["users"]["live_lock"]])
    on_a.sign(LOT, lots[1], PASSWORD, login="live_lock")
    assert _user_state(live, "live_lock", live.b)["esign_failed_attempts"] == 0
    assert len(_signatures(live, lots)) == 1
    assert not live.errors(marks)


def test_the_continuous_session_rule_holds_across_servers(live: Live) -> None:
    """A session that gave every component on A signs with the password alone on B; another
    session of the same person, on either server, still needs every component."""
    marks = live.marks()
    lots = new_lots(live, 4)
    session = live.client(live.a, "live_ra2")
    session.sign(LOT, lots[0], PASSWORD, login="live_ra2")
    same_on_b = Client(live.b.port)  # the same browser, load-balanced to the other server
    for cookie in session.jar:
        same_on_b.jar.set_cookie(cookie)
    same_on_b.sign(LOT, lots[1], PASSWORD)
    other = live.client(live.b, "live_ra2")  # a new log-in: a new session
    with pytest.raises(RpcError) as exc:
        other.sign(LOT, lots[2], PASSWORD)  # password alone
    assert_user_error(exc.value)
    other.sign(LOT, lots[3], PASSWORD, login="live_ra2")
    methods = {s["res_id"]: s["auth_method"] for s in _signatures(live, lots)}
    assert methods == {
        lots[0]: "login_password",
        lots[1]: "password_session",
        lots[3]: "login_password",
    }
    # The failed attempt of the other session counted; the success after it reset the count.
    assert _user_state(live, "live_ra2")["esign_failed_attempts"] == 0
    # The session table names sessions by a hash, never by their id.
    rows = live.sql("SELECT session_hash FROM esign_signing_session")
    assert session.session_id not in {h for (h,) in rows}
    assert len(rows) >= 2
    assert not live.errors(marks)


def _sign_concurrently(live: Live, clients: list[Client], lots_each: int) -> list[float]:
    """Every client signs ``lots_each`` fresh lots at the same time; their latencies."""
    lots = new_lots(live, len(clients) * lots_each)
    latencies: list[float] = []
    failures: list[BaseException] = []
    start = threading.Barrier(len(clients))

    def run(client: Client, mine: list[int]) -> None:
        start.wait()
        for lot in mine:
            t0 = time.monotonic()
            try:
                client.sign(LOT, lot, PASSWORD)
            except BaseException as exc:  # noqa: BLE001 - reported below
                failures.append(exc)
            latencies.append(time.monotonic() - t0)

    threads = [
        threading.Thread(target=run, args=(c, lots[i * lots_each : (i + 1) * lots_each]))
        for i, c in enumerate(clients)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, failures
    assert len(_signatures(live, lots)) == len(lots)
    return latencies


def test_concurrent_sessions_of_one_user_never_collide(live: Live) -> None:
    """Four sessions of one person, two on each server, sign at once: no serialization
    failure (nothing shared is written), no retry, no ERROR line."""
    marks = live.marks()
    clients = []
    for server in (live.a, live.b, live.a, live.b):
        client = live.client(server, "live_ra")
        client.sign(LOT, new_lots(live, 1)[0], PASSWORD, login="live_ra")  # full once each
        clients.append(client)
    _sign_concurrently(live, clients, 2)
    logged = live.a.lines(marks[0]) + live.b.lines(marks[1])
    assert not [ln for ln in logged if "serializ" in ln.lower()]
    assert not live.errors(marks)


def test_concurrent_signing_on_both_servers_keeps_one_chain(live: Live) -> None:
    """Signers on both servers append to one company chain at once: it verifies, with a
    gap-free numbering and no fork (no sequence number twice)."""
    marks = live.marks()
    clients = []
    for server, login in ((live.a, "live_ra"), (live.b, "live_ra2"), (live.b, "live_ra")):
        client = live.client(server, login)
        client.sign(LOT, new_lots(live, 1)[0], PASSWORD, login=login)
        clients.append(client)
    _sign_concurrently(live, clients, 2)
    rows = live.sql(
        "SELECT chain_id, count(*), count(DISTINCT seq), min(seq), max(seq)"
        " FROM esign_audit_entry GROUP BY chain_id"
    )
    for _chain, count, distinct, low, high in rows:
        assert count == distinct == high - low + 1
    admin = live.admin(live.b)
    for chain in admin.call("esign.audit.chain", "search", []):
        action = admin.call("esign.audit.chain", "action_verify", [chain])
        verdict = admin.call("esign.audit.verification", "read", [action["res_id"]], ["verdict"])
        assert verdict[0]["verdict"] == "intact"
    assert not live.errors(marks)


def test_a_policy_changed_on_one_server_applies_at_once_on_the_other(live: Live) -> None:
    """The active policies are cached per process; a change on A is signalled to B through
    the database (Odoo's registry signalling), so B never serves the stale list."""
    marks = live.marks()
    lot = new_lots(live, 1)[0]
    policy = live.admin().call(
        "ir.model.data", "check_object_reference", "meddev_esign", "policy_lot_release"
    )[1]
    on_b = live.client(live.b, "live_ra")
    assert on_b.call(LOT, "action_esign_sign", [lot])["res_model"] == "esign.sign.wizard"
    live.configure("esign.policy", policy, {"active": False})  # approved on A
    try:
        with pytest.raises(RpcError) as exc:
            on_b.call(LOT, "action_esign_sign", [lot])
        assert_user_error(exc.value)
    finally:
        live.configure("esign.policy", policy, {"active": True})
    assert on_b.call(LOT, "action_esign_sign", [lot])["res_model"] == "esign.sign.wizard"
    assert not live.errors(marks)


def test_a_signer_who_leaves_the_release_group_on_one_server_is_refused_on_the_other(
    live: Live,
) -> None:
    """The members of a signing group are cached per process (every signature asks). A user
    taken out of the group on A is refused on B at once, and put back, signs there at once."""
    marks = live.marks()
    lots = new_lots(live, 2)
    user = live.ids["users"]["live_ra2"]
    on_b = live.client(live.b, "live_ra2")
    on_b.sign(LOT, lots[0], PASSWORD, login="live_ra2")  # B has the group's members cached
    groups = live.ids["ra_group"]
    live.admin().call("res.users", "write", [user], {"groups_id": [(3, groups)]})  # on A
    try:
        with pytest.raises(RpcError) as exc:
            on_b.sign(LOT, lots[1], PASSWORD)
        assert_user_error(exc.value)
        assert len(_signatures(live, lots)) == 1
    finally:
        live.admin().call("res.users", "write", [user], {"groups_id": [(4, groups)]})
    on_b.sign(LOT, lots[1], PASSWORD)
    assert {s["res_id"] for s in _signatures(live, lots)} == set(lots)
    assert not live.errors(marks)


CRONS = (
    "meddev_esign.ir_cron_esign_remind",
    "meddev_esign.ir_cron_esign_audit_daily",
    "meddev_esign.ir_cron_esign_pending_timestamps",
)


def test_crons_that_must_run_once_run_once_with_two_servers(live: Live) -> None:
    """Both servers' cron runners wake at the same moment for the same due jobs: each job
    runs once (Odoo's ir.cron takes each job with a row lock, SKIP LOCKED)."""
    marks = live.marks()
    admin = live.admin(live.b)  # B's registry is loaded: its cron thread serves this database
    crons = [
        admin.call("ir.model.data", "check_object_reference", *xmlid.split("."))[1]
        for xmlid in CRONS
    ]
    runs = "SELECT cron_id, count(*) FROM ir_cron_progress WHERE cron_id IN %s GROUP BY cron_id"
    for _round in range(2):
        before = dict(live.sql(runs, (tuple(crons),)))
        live.sql(
            "UPDATE ir_cron SET nextcall = now() at time zone 'utc' - interval '1 minute',"
            " active = TRUE WHERE id IN %s",
            (tuple(crons),),
        )
        live.sql("SELECT pg_notify('cron_trigger', %s)", (live.db,))
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            due = live.sql(
                "SELECT count(*) FROM ir_cron WHERE id IN %s"
                " AND nextcall <= now() at time zone 'utc'",
                (tuple(crons),),
            )[0][0]
            if not due:
                break
            live.sql("SELECT pg_notify('cron_trigger', %s)", (live.db,))
            time.sleep(1)
        time.sleep(2)  # a second runner that would run a job again has had its chance
        after = dict(live.sql(runs, (tuple(crons),)))
        assert {c: after.get(c, 0) - before.get(c, 0) for c in crons} == dict.fromkeys(crons, 1)
    assert not live.errors(marks)


def test_a_certificate_revoked_on_one_server_never_signs_on_the_other(live: Live) -> None:
    """B signs with a PKI certificate (and keeps its opened key in its process cache); the
    certificate is revoked on A; B's next signature with it is refused. Which certificate
    signs is read from the database for each signature, never from a process cache."""
    marks = live.marks()
    admin = live.admin(live.a)
    company, user = live.ids["company"], live.ids["users"]["live_ra2"]
    admin.call("res.company", "action_esign_generate_ca", [company])
    enrol = admin.call(
        "esign.certificate.enrol.wizard",
        "create",
        {
            "user_id": user,
            "company_id": company,
            "identity_method": "other",
            "identity_evidence": "Live test signer; no document checked.",
        },
    )
    certificate = admin.call("esign.certificate.enrol.wizard", "action_enrol", [enrol])["res_id"]
    # The second administrator signs configuration changes, under PKI too: a certificate.
    enrol_admin2 = admin.call(
        "esign.certificate.enrol.wizard",
        "create",
        {
            "user_id": live.ids["admin2"],
            "company_id": company,
            "identity_method": "other",
            "identity_evidence": "Live test administrator; no document checked.",
        },
    )
    admin.call("esign.certificate.enrol.wizard", "action_enrol", [enrol_admin2])
    # No TSA in these tests: signatures are made with their timestamp pending.
    live.configure(
        "res.company",
        company,
        {
            "esign_tsa_urls": "http://127.0.0.1:9/tsa",
            "esign_tsa_offline": "pending",
            "esign_pki_enabled": True,
        },
    )
    try:
        lots = new_lots(live, 3)
        on_b = live.client(live.b, "live_ra2")
        on_b.sign(LOT, lots[0], PASSWORD, login="live_ra2")
        on_b.sign(LOT, lots[1], PASSWORD)  # the key from B's cache
        revoke = admin.call(
            "esign.certificate.revoke.wizard",
            "create",
            {"certificate_ids": [(6, 0, [certificate])], "reason": "key_compromise"},
        )
        admin.call("esign.certificate.revoke.wizard", "action_revoke", [revoke])
        with pytest.raises(RpcError) as exc:
            on_b.sign(LOT, lots[2], PASSWORD)
        assert_user_error(exc.value)
        assert "revoked" in exc.value.message
        assert sorted(s["res_id"] for s in _signatures(live, lots)) == sorted(lots[:2])
    finally:
        live.configure("res.company", company, {"esign_pki_enabled": False})
    assert not live.errors(marks)
