"""Bad input over real HTTP, as an attacker sends it to ``/web/dataset/call_kw``.

Each attempt gets a clear user error (never a ValueError/TypeError traceback, never an ERROR
line in the server's log), counts toward the lock-out where a password was involved, and
leaves no signature behind.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
from conftest import PASSWORD, Live, assert_user_error, new_lots
from devtools.rpc import Client, RpcError

LOT = "stock.lot"
WIZARD = "esign.sign.wizard"
ADDON = Path(__file__).resolve().parents[2]


def _failures(live: Live, login: str) -> int:
    uid = live.ids["users"][login]
    return live.sql("SELECT esign_failed_attempts FROM res_users WHERE id = %s", (uid,))[0][0] or 0


def _reset(live: Live, login: str) -> None:
    uid = live.ids["users"][login]
    live.sql(
        "UPDATE res_users SET esign_failed_attempts = 0, esign_locked = FALSE WHERE id = %s",
        (uid,),
    )


def _signed(live: Live, lots: list[int]) -> int:
    return live.sql(
        "SELECT count(*) FROM esign_signature WHERE res_model = %s AND res_id IN %s",
        (LOT, tuple(lots)),
    )[0][0]


def _refused(call, *names: str) -> RpcError:  # noqa: ANN001
    with pytest.raises(RpcError) as exc:
        call()
    assert_user_error(exc.value, *names)
    return exc.value


@pytest.fixture
def attacker(live: Live):
    """live_other, signed in on A, with no failure counted; no ERROR line logged by the test."""
    _reset(live, "live_other")
    marks = live.marks()
    client = live.client(live.a, "live_other")
    yield client
    assert not live.errors(marks)
    _reset(live, "live_other")


def test_action_sign_on_no_record(live: Live, attacker: Client) -> None:
    _refused(lambda: attacker.call(LOT, "action_esign_sign", []))
    _refused(lambda: attacker.call(WIZARD, "action_sign", [], password=PASSWORD))
    _refused(lambda: attacker.call(LOT, "action_esign_sign", [2_000_000_000]))
    _refused(lambda: attacker.call(WIZARD, "action_sign", [2_000_000_000], password=PASSWORD))
    _refused(lambda: attacker.call(LOT, "action_esign_sign", ["1; DROP TABLE x"]))
    assert _failures(live, "live_other") == 0  # no credential was checked


def test_action_sign_on_a_record_of_another_company(live: Live, attacker: Client) -> None:
    lot = new_lots(live, 1, company="other_company")[0]
    _refused(lambda: attacker.call(LOT, "action_esign_sign", [lot]))
    # Through the wizard directly, naming the other company's lot.
    policy = live.sql(
        "SELECT res_id FROM ir_model_data WHERE module = 'meddev_esign'"
        " AND name = 'policy_lot_release'"
    )[0][0]
    step = live.sql("SELECT id FROM esign_policy_step WHERE policy_id = %s LIMIT 1", (policy,))
    _refused(
        lambda: attacker.call(
            WIZARD,
            "create",
            {"res_model": LOT, "res_ids": json.dumps([lot]), "policy_id": policy,
             "step_id": step[0][0]},
        )
    )  # fmt: skip
    assert _signed(live, [lot]) == 0


@pytest.mark.parametrize(
    "password",
    [12345, ["Live-Pass-42"], {"password": "Live-Pass-42"}, True, "x" * (1024 * 1024)],
    ids=["number", "list", "dict", "bool", "1MB"],
)
def test_a_password_of_the_wrong_form_is_refused_and_counted(
    live: Live, attacker: Client, password: object
) -> None:
    lot = new_lots(live, 1)[0]
    wizard = attacker.call(LOT, "action_esign_sign", [lot])["res_id"]
    attacker.call(WIZARD, "write", [wizard], {"login": "live_other"})
    exc = _refused(lambda: attacker.call(WIZARD, "action_sign", [wizard], password=password))
    assert "attempt(s) left" in exc.message
    assert _failures(live, "live_other") == 1
    assert _signed(live, [lot]) == 0


def test_a_wizard_of_another_user(live: Live, attacker: Client) -> None:
    lot = new_lots(live, 1)[0]
    owner = live.client(live.b, "live_ra2")
    wizard = owner.call(LOT, "action_esign_sign", [lot])["res_id"]
    _refused(lambda: attacker.call(WIZARD, "action_sign", [wizard], password=PASSWORD))
    _refused(lambda: attacker.call(WIZARD, "write", [wizard], {"login": "live_other"}))
    assert _signed(live, [lot]) == 0
    # The owner's wizard is intact: its owner still signs with it.
    owner.call(WIZARD, "write", [wizard], {"login": "live_ra2"})
    owner.call(WIZARD, "action_sign", [wizard], password=PASSWORD)
    assert _signed(live, [lot]) == 1


def test_a_request_replayed_after_log_out(live: Live, attacker: Client) -> None:
    lot = new_lots(live, 1)[0]
    wizard = attacker.call(LOT, "action_esign_sign", [lot])["res_id"]
    attacker.call(WIZARD, "write", [wizard], {"login": "live_other"})
    replay = Client(live.a.port)
    for cookie in attacker.jar:  # what a captured request carries: the session cookie
        replay.jar.set_cookie(cookie)
    attacker.logout()
    _refused(
        lambda: replay.call(WIZARD, "action_sign", [wizard], password=PASSWORD),
        "odoo.http.SessionExpiredException",
    )
    _refused(
        lambda: replay.call(LOT, "action_esign_sign", [lot]), "odoo.http.SessionExpiredException"
    )
    assert _signed(live, [lot]) == 0


def _routes() -> list[dict]:
    """Every ``@http.route`` of the add-on's controllers, with its keyword arguments."""
    found = []
    for path in sorted((ADDON / "controllers").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.FunctionDef):
                continue
            for deco in node.decorator_list:
                if isinstance(deco, ast.Call) and getattr(deco.func, "attr", "") == "route":
                    kwargs = {k.arg: ast.literal_eval(k.value) for k in deco.keywords}
                    found.append({"path": ast.literal_eval(deco.args[0]), **kwargs})
    return found


#: Public endpoints that a client calls without a browser session, and that only read:
#: - an RFC 6960 OCSP client POSTs a DER request and cannot send a CSRF token;
#: - the verification upload takes a sealed PDF from anyone (an inspector, curl, a JSON
#:   client), answers whether it is authentic, and stores nothing: a forged post gains nothing,
#:   and a token would need a session for every anonymous visitor.
CSRF_EXEMPT = {"/meddev_esign/ocsp/<int:company_id>", "/meddev_esign/verify"}


def test_every_post_route_needs_a_csrf_token_unless_a_public_protocol_endpoint() -> None:
    routes = _routes()
    assert routes
    for route in routes:
        methods = route.get("methods") or ["GET", "POST"]
        if (
            route.get("type", "http") == "http"
            and "POST" in methods
            and not route.get("csrf", True)
        ):
            assert route["path"] in CSRF_EXEMPT, route
            assert route.get("auth") == "public" and route.get("save_session") is False, route


def test_a_post_without_csrf_token_to_the_public_ocsp_route(live: Live) -> None:
    """The one POST route without a token answers a forged or broken body with an OCSP
    error response, and writes nothing (nor logs an ERROR)."""
    marks = live.marks()
    client = Client(live.a.port)
    company = live.ids["company"]
    before = live.sql("SELECT count(*) FROM esign_audit_entry")[0][0]
    for body in (b"", b"not DER", b"\x30\x03\x02\x01\x01", b"x" * 100_000):
        status, answer = client.post(
            f"/meddev_esign/ocsp/{company}", body, {"Content-Type": "application/ocsp-request"}
        )
        assert status in (200, 404)
    assert live.sql("SELECT count(*) FROM esign_audit_entry")[0][0] == before
    assert not live.errors(marks)


def test_a_form_post_without_csrf_token_is_refused(live: Live, attacker: Client) -> None:
    """Twin: a session's form POST to a route that needs the token is refused (400) before
    it reaches any code: here the log-out, and the session stays open."""
    status, _body = attacker.post(
        "/web/session/logout",
        b"redirect=/web",
        {"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert status == 400
    still = attacker.call("res.users", "read", [attacker.uid], ["login"])
    assert still[0]["login"] == "live_other"
