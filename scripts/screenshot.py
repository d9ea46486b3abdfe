#!/usr/bin/env python3
"""Screenshot an Odoo page as a given user, with headless Chromium over CDP.

Usage: python3 scripts/screenshot.py LOGIN PASSWORD URL_PATH OUT.png [--base http://localhost:8069]
Logs in through /web/session/authenticate, hands the session cookie to Chromium, loads the
page, waits for the web client to settle and writes a PNG. A dev tool for looking at forms as
a user would; the browser tours are the tests.
"""

from __future__ import annotations

import argparse
import base64
import json
import shutil
import subprocess
import tempfile
import time
import urllib.request

import websocket


def authenticate(base: str, db: str | None, login: str, password: str) -> str:
    payload = {"jsonrpc": "2.0", "params": {"db": db, "login": login, "password": password}}
    req = urllib.request.Request(
        f"{base}/web/session/authenticate",
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        body = json.loads(resp.read())
        if body.get("error"):
            raise SystemExit(f"login failed: {body['error']['data']['message']}")
        cookie = resp.headers.get("Set-Cookie", "")
    return cookie.split("session_id=")[1].split(";")[0]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("login")
    ap.add_argument("password")
    ap.add_argument("path")
    ap.add_argument("out")
    ap.add_argument("--base", default="http://localhost:8069")
    ap.add_argument("--db", default="meddev_demo")
    ap.add_argument("--wait", type=float, default=4.0)
    ap.add_argument("--size", default="1400,900")
    args = ap.parse_args()
    session = authenticate(args.base, args.db, args.login, args.password)
    port = 9333
    profile = tempfile.mkdtemp(prefix="meddev-chromium-")
    chrome = subprocess.Popen(
        [
            shutil.which("chromium") or "chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            f"--remote-debugging-port={port}",
            f"--window-size={args.size}",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(50):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/json", timeout=2) as r:
                    targets = [t for t in json.loads(r.read()) if t["type"] == "page"]
                if targets:
                    break
            except OSError:
                pass
            time.sleep(0.2)
        ws = websocket.create_connection(targets[0]["webSocketDebuggerUrl"], timeout=60)
        counter = iter(range(1, 10**6))

        def cdp(method: str, **params):
            msg_id = next(counter)
            ws.send(json.dumps({"id": msg_id, "method": method, "params": params}))
            while True:
                msg = json.loads(ws.recv())
                if msg.get("id") == msg_id:
                    return msg.get("result", {})

        host = args.base.split("//")[1].split(":")[0]
        cdp("Network.enable")
        cdp("Network.setCookie", name="session_id", value=session, domain=host, path="/")
        cdp("Page.enable")
        cdp("Page.navigate", url=args.base + args.path)
        time.sleep(args.wait)
        shot = cdp("Page.captureScreenshot", format="png")
        with open(args.out, "wb") as fh:
            fh.write(base64.b64decode(shot["data"]))
        print(f"wrote {args.out}")
    finally:
        chrome.terminate()
        chrome.wait(timeout=10)
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    main()
