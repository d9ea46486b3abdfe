"""Serving the demo: Odoo with the add-on and its demo data, a keystore master key and a
SoftHSM2 token made once in ``.state/``."""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import secrets
import shutil
import signal
import subprocess
from pathlib import Path

from .cluster import Cluster
from .common import MODULE, ROOT, STATE, run, say
from .install import bootstrap
from .odoo import fetch_odoo, find_odoo, odoo_command

DEMO_DB = os.environ.get("MEDDEV_DEMO_DB", "meddev_demo")
DEMO_PORT = int(os.environ.get("MEDDEV_HTTP_PORT", "8069"))
DEMO_LOGINS = [
    ("QA manager", "qa.manager"),
    ("Production supervisor", "prod.supervisor"),
    ("Quality engineer", "quality.engineer"),
    ("Purchaser", "purchaser"),
    ("Release authority", "release.authority"),
    ("Auditor (read-only)", "auditor"),
    ("Purchasing manager", "purchase.manager"),
    ("E-signature administrator", "admin"),
]


def demo_master_key() -> str:
    """The demo's keystore master key, made once and kept in ``.state/`` (never committed).

    Losing it makes every key sealed under it unusable, so it is never regenerated.
    """
    path = STATE / "keystore-master.key"
    if not path.exists():
        path.write_text(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())
        path.chmod(0o600)
    return path.read_text().strip()


SOFTHSM_LIBRARY = Path("/usr/lib/softhsm/libsofthsm2.so")
DEMO_TOKEN_LABEL = "meddev-demo"


def demo_softhsm() -> dict[str, str] | None:
    """The demo's PKCS#11 token: a SoftHSM2 token in ``.state/softhsm``, made once.

    Its PINs are random and kept in ``.state/softhsm/token.json`` (never committed). Returns
    the Odoo options that point the PKCS#11 keystore at it, plus ``SOFTHSM2_CONF``; ``None``
    (said aloud) when SoftHSM2 is not installed, and the demo then offers the software
    keystore only.
    """
    util = shutil.which("softhsm2-util")
    if not util or not SOFTHSM_LIBRARY.exists():
        say("SoftHSM2 is not installed: the demo's PKCS#11 keystore is not configured")
        return None
    root = STATE / "softhsm"
    conf, tokens, meta = root / "softhsm2.conf", root / "tokens", root / "token.json"
    tokens.mkdir(parents=True, exist_ok=True)
    root.chmod(0o700)
    conf.write_text(
        f"directories.tokendir = {tokens}\n"
        "objectstore.backend = file\n"
        "log.level = ERROR\n"
        "slots.removable = false\n"
    )
    if not meta.exists() or not any(tokens.iterdir()):
        pins = {"pin": secrets.token_hex(8), "so_pin": secrets.token_hex(8)}
        run(
            [util, "--init-token", "--free", "--label", DEMO_TOKEN_LABEL,
             "--so-pin", pins["so_pin"], "--pin", pins["pin"]],
            env={**os.environ, "SOFTHSM2_CONF": str(conf)},
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        meta.write_text(json.dumps(pins))
        meta.chmod(0o600)
        say(f"initialised the demo's SoftHSM2 token {DEMO_TOKEN_LABEL!r} in {root}")
    return {
        "meddev_esign_pkcs11_library": str(SOFTHSM_LIBRARY),
        "meddev_esign_pkcs11_token": DEMO_TOKEN_LABEL,
        "meddev_esign_pkcs11_pin": json.loads(meta.read_text())["pin"],
        "SOFTHSM2_CONF": str(conf),
    }


def module_fingerprint() -> str:
    h = hashlib.sha256()
    for p in sorted(ROOT.rglob("*")):
        rel = p.relative_to(ROOT)
        if (
            p.is_file()
            and rel.parts[0] not in {".git", ".state", "bench"}
            and "__pycache__" not in rel.parts
        ):
            h.update(str(rel).encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def cmd_demo(_args: argparse.Namespace) -> int:
    wk_dir = bootstrap("requirements.txt")
    odoo_root, how = find_odoo()
    if odoo_root is None:
        odoo_root = fetch_odoo()
    cluster = Cluster()
    cluster.ensure()
    stamp = STATE / f"demo-{DEMO_DB}.stamp"
    fingerprint = module_fingerprint()
    token = demo_softhsm()
    try:
        exists = cluster.db_exists(DEMO_DB)
        if exists and stamp.exists() and stamp.read_text() == fingerprint:
            say(f"reusing the demo database {DEMO_DB}")
        else:
            if exists:
                say(f"the add-on changed since the demo database was built; updating {MODULE}")
            else:
                say(f"creating the demo database {DEMO_DB} with {MODULE} and its demo data")
            argv, env = odoo_command(
                odoo_root,
                cluster,
                wk_dir,
                "-d",
                DEMO_DB,
                "-u" if exists else "-i",
                MODULE,
                "--stop-after-init",
                "--log-level=warn",
                master_key=demo_master_key(),
                pkcs11=token,
            )
            run(argv, env=env)
            stamp.write_text(fingerprint)
        argv, env = odoo_command(
            odoo_root,
            cluster,
            wk_dir,
            "-d",
            DEMO_DB,
            f"--db-filter=^{DEMO_DB}$",
            "--http-port",
            str(DEMO_PORT),
            master_key=demo_master_key(),
            pkcs11=token,
        )
        print_demo_banner(odoo_root, how)
        server = subprocess.Popen(argv, env=env)
        try:
            return server.wait()
        except KeyboardInterrupt:
            say("stopping Odoo")
            server.send_signal(signal.SIGINT)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
            return 0
    finally:
        if cluster.started_here:  # leave a cluster that something else started running
            cluster.stop()


def print_demo_banner(odoo_root: Path, how: str) -> None:
    print(f"\n  Odoo 18.0 ({odoo_root}, found by {how}) with {MODULE} and demo data")
    print(f"  URL: http://localhost:{DEMO_PORT}   database: {DEMO_DB}")
    print("  Log-ins (password = log-in; demo only):")
    for role, login in DEMO_LOGINS:
        print(f"    {role:28} {login}")
    print("  Ctrl-C stops the server and the database cluster.\n", flush=True)
