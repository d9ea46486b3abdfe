"""A JSON-RPC client that talks to Odoo as the web client does: a log-in through
``/web/session/authenticate`` (a real session cookie), then ``/web/dataset/call_kw``.

Standard library only. Used by the multi-process tests and the benchmarks; one client is one
browser session (its own cookie jar), and a client is used by one thread at a time.
"""

from __future__ import annotations

import http.cookiejar
import itertools
import json
import urllib.error
import urllib.request

_ids = itertools.count(1)


class RpcError(Exception):
    """Odoo answered with a JSON-RPC error.

    :ivar name: the exception's class path (``odoo.exceptions.UserError``...).
    :ivar message: its message, as the user sees it.
    :ivar debug: Odoo's traceback text, when it sent one.
    """

    def __init__(self, error: dict) -> None:
        data = error.get("data") or {}
        self.name = data.get("name") or ""
        self.message = data.get("message") or error.get("message") or ""
        self.debug = data.get("debug") or ""
        self.error = error
        super().__init__(f"{self.name}: {self.message}")


class Client:
    """One browser session on ``http://host:port``."""

    def __init__(self, port: int, host: str = "127.0.0.1", timeout: float = 120) -> None:
        self.base = f"http://{host}:{port}"
        self.timeout = timeout
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        self.uid: int | None = None

    @property
    def session_id(self) -> str | None:
        return next((c.value for c in self.jar if c.name == "session_id"), None)

    def post(self, path: str, body: bytes, headers: dict | None = None) -> tuple[int, bytes]:
        """A raw POST; (status, body) whatever the status."""
        req = urllib.request.Request(self.base + path, data=body, headers=headers or {})
        try:
            with self.opener.open(req, timeout=self.timeout) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def get(self, path: str) -> tuple[int, bytes]:
        try:
            with self.opener.open(self.base + path, timeout=self.timeout) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def jsonrpc(self, path: str, params: dict):  # noqa: ANN201 - any JSON value
        """POST a JSON-RPC call; its result, or :class:`RpcError`."""
        payload = {"jsonrpc": "2.0", "method": "call", "id": next(_ids), "params": params}
        status, body = self.post(
            path, json.dumps(payload).encode(), {"Content-Type": "application/json"}
        )
        try:
            answer = json.loads(body)
        except ValueError:
            raise RpcError({"message": f"HTTP {status}: {body[:200]!r}"}) from None
        if answer.get("error"):
            raise RpcError(answer["error"])
        return answer.get("result")

    def authenticate(self, db: str, login: str, password: str) -> int:
        result = self.jsonrpc(
            "/web/session/authenticate", {"db": db, "login": login, "password": password}
        )
        self.uid = result["uid"]
        return self.uid

    def logout(self) -> None:
        self.get("/web/session/logout?redirect=/web/login")

    def call(self, model: str, method: str, *args, **kwargs):  # noqa: ANN002, ANN003, ANN201
        """``model.method(*args, **kwargs)`` through ``/web/dataset/call_kw``."""
        return self.jsonrpc(
            f"/web/dataset/call_kw/{model}/{method}",
            {"model": model, "method": method, "args": list(args), "kwargs": kwargs},
        )

    def sign(self, model: str, res_id: int, password: str, login: str | None = None) -> dict:
        """Sign ``res_id`` as the browser does: the Sign button opens the wizard, whose own
        Sign button calls ``action_sign`` with the password and what was typed in the form
        (the log-in, when asked)."""
        action = self.call(model, "action_esign_sign", [res_id])
        wizard_id = action["res_id"]
        values = {} if login is None else {"login": login}
        return self.call(
            "esign.sign.wizard", "action_sign", [wizard_id], password=password, values=values
        )
