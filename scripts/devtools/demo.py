"""Serving the demo: Odoo with the add-on and its own demo data (no Odoo generic demo), PKI
signatures timestamped by a loopback TSA, a keystore master key and a SoftHSM2 token made once
in ``.state/``."""

from __future__ import annotations

import argparse
import ast
import base64
import hashlib
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path

from .cluster import PORT_ATTEMPTS, Cluster, port_is_free
from .common import MODULE, ROOT, STATE, DevError, run, say
from .demo_history import history_script
from .install import bootstrap
from .odoo import fetch_odoo, find_odoo, odoo_command, prefork_args, stop
from .tsa import DemoTsa, report_death

DEMO_DB = os.environ.get("MEDDEV_DEMO_DB", "meddev_demo")
DEMO_PORT = int(os.environ.get("MEDDEV_HTTP_PORT", "8069"))
DEMO_GEVENT_PORT = int(os.environ.get("MEDDEV_GEVENT_PORT", "8072"))


#: A new demo database also gets Simplified Chinese: the demo company is in Suzhou, and every
#: user can switch to it in their preferences.
NEW_DB_OPTIONS = ("--load-language=zh_CN",)


def http_interface() -> str:
    """Where Odoo listens: loopback unless ``MEDDEV_HTTP_INTERFACE`` says otherwise (every
    demo password equals its log-in)."""
    return os.environ.get("MEDDEV_HTTP_INTERFACE", "127.0.0.1")


HTTP_INTERFACE = http_interface()
ADMIN_LOGIN = ("E-signature administrator", "admin")


def demo_logins(root: Path = ROOT) -> list[tuple[str, str]]:
    """(name, log-in) of every demo user: the ``res.users`` records of the manifest's demo
    files, in their order, then Odoo's ``admin``. The banner prints this list and a test holds
    the README's table to it, so neither can forget a user."""
    manifest = ast.literal_eval((root / "__manifest__.py").read_text())
    logins = []
    for name in manifest.get("demo", []):
        for record in ET.parse(root / name).getroot().iter("record"):
            if record.get("model") != "res.users":
                continue
            fields = {f.get("name"): (f.text or "").strip() for f in record.iter("field")}
            if fields.get("login"):
                logins.append((fields.get("name") or fields["login"], fields["login"]))
    return [*logins, ADMIN_LOGIN]


def readme_logins(readme: str) -> list[str]:
    """The log-ins of the README's "Demo log-ins" table, in its order."""
    section = readme.split("## Demo log-ins", 1)[-1].split("\n## ", 1)[0]
    return re.findall(r"^\|[^|\n]*\|\s*`([^`]+)`\s*\|", section, flags=re.M)


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


# Loads the add-on's demo files into a database made without demo data, as Odoo would at
# install (the demo flag of this module only), so Odoo's generic demo never enters it.
LOAD_OWN_DEMO = """
from odoo.modules.graph import Graph
from odoo.modules.loading import load_data
graph = Graph()
env.cr.execute("SELECT name FROM ir_module_module WHERE state = 'installed'")
graph.add_modules(env.cr, [name for name, in env.cr.fetchall()])
package = next(p for p in graph if p.name == {module!r})
load_data(env(su=True), {{}}, {mode!r}, kind="demo", package=package)
env.cr.execute("UPDATE ir_module_module SET demo = TRUE WHERE name = %s", [{module!r}])
env.cr.commit()
print("MEDDEV-DONE")
"""

# PKI on for the demo company: its CA, the loopback TSA and its root, a certificate for every
# demo signer (enrolled by the administrator), as an administrator would set them up.
SETUP_PKI = """
company = env.ref("base.main_company")
admin = env.ref("base.user_admin")
Cert = env["esign.certificate"].with_user(admin)
settings = {{
    "esign_tsa_urls": {url!r},
    "esign_tsa_roots_pem": {root!r},
    "esign_tsa_timeout": 5.0,
    "esign_tsa_offline": "refuse",
}}
changed = {{k: v for k, v in settings.items() if company[k] != v}}
# The installer sets the demo up, as data files do: applied directly (a superuser environment,
# still recorded under the administrator), not held for a second administrator's approval.
if changed:
    company.with_user(admin).sudo().write(changed)
if not company.esign_ca_id:
    env["esign.ca"].with_user(admin)._generate(company)
groups = ("meddev_esign.group_esign_signer", "meddev_esign.group_esign_release_authority",
          "meddev_esign.group_esign_qa")
signers = env["res.users"].search([("share", "=", False)]).filtered(
    lambda u: any(u.has_group(g) for g in groups))
enrolled = 0
for user in signers:
    if not Cert.sudo().search_count([("user_id", "=", user.id),
                                     ("company_id", "=", company.id), ("state", "=", "active")]):
        Cert._enrol(user, "other", "Demo user of make demo: no identity document was checked "
                    "(demo data only).", company)
        enrolled += 1
if not company.esign_pki_enabled:
    company.with_user(admin).sudo().write({{"esign_pki_enabled": True}})
# Regulated reports print sealed (PAdES B-LT, timestamped by the demo's TSA).
if not Cert.sudo().search_count([("purpose", "=", "seal"), ("company_id", "=", company.id),
                                 ("state", "=", "active")]):
    Cert._enrol_seal(company)
if not company.esign_seal_enabled:
    company.with_user(admin).sudo().write({{"esign_seal_enabled": True}})
env.cr.commit()
print("MEDDEV-DONE", enrolled)
"""


def odoo_shell(odoo_root: Path, cluster: Cluster, wk_dir: Path | None, script: str, **kw) -> str:
    """Run ``script`` in ``odoo shell`` on the demo database; its output, or a DevError."""
    argv, env = odoo_command(
        odoo_root, cluster, wk_dir, "-d", DEMO_DB, "--no-http", "--log-level=warn",
        sub="shell", **kw,
    )  # fmt: skip
    res = subprocess.run(argv, env=env, input=script, text=True, capture_output=True)
    if "MEDDEV-DONE" not in res.stdout:
        output = (res.stdout + res.stderr)[-3000:]
        raise DevError(f"setting up the demo database failed:\n{output}")
    return res.stdout


def generic_demo_loaded(cluster: Cluster) -> bool:
    """Whether the demo database holds Odoo's generic demo data (as older runs made it)."""
    rows = cluster.sql("SELECT demo FROM ir_module_module WHERE name = 'base'", dbname=DEMO_DB)
    return bool(rows and rows[0][0])


def own_demo_loaded(cluster: Cluster) -> bool:
    """Whether the add-on's demo data is in the demo database (its module's demo flag)."""
    rows = cluster.sql(
        "SELECT demo FROM ir_module_module WHERE name = %s", dbname=DEMO_DB, params=(MODULE,)
    )
    return bool(rows and rows[0][0])


def build_database(odoo_root: Path, cluster: Cluster, wk_dir: Path | None, options: dict) -> bool:
    """Make or update the demo database; return whether anything was (re)built."""
    stamp = STATE / f"demo-{DEMO_DB}.stamp"
    fingerprint = module_fingerprint()
    exists = cluster.db_exists(DEMO_DB)
    if exists and generic_demo_loaded(cluster):
        kept = f"{DEMO_DB}_generic_{time.strftime('%Y%m%d%H%M%S')}"
        say(
            f"the demo database {DEMO_DB} holds Odoo's generic demo data (an older make demo); "
            f"keeping it as {kept} and building {DEMO_DB} without it"
        )
        cluster.sql(f'ALTER DATABASE "{DEMO_DB}" RENAME TO "{kept}"')
        exists = False
    if exists and stamp.exists() and stamp.read_text() == fingerprint:
        say(f"reusing the demo database {DEMO_DB}")
        return False
    # Read before ``-u``, which clears the flag (Odoo finds no demo flag on the dependencies).
    loaded = exists and own_demo_loaded(cluster)  # else a first run stopped before loading it
    if exists:
        say(f"the add-on changed since the demo database was built; updating {MODULE}")
    else:
        say(f"creating the demo database {DEMO_DB} with {MODULE} and its own demo data")
    argv, env = odoo_command(
        odoo_root, cluster, wk_dir, "-d", DEMO_DB,
        *(["-u", MODULE] if exists else ["-i", MODULE, "--without-demo=all", *NEW_DB_OPTIONS]),
        "--stop-after-init", "--no-http", "--log-level=warn", **options,
    )  # fmt: skip
    run(argv, env=env)
    script = LOAD_OWN_DEMO.format(module=MODULE, mode="update" if loaded else "init")
    odoo_shell(odoo_root, cluster, wk_dir, script, **options)
    stamp.write_text(fingerprint)
    return True


def setup_pki(
    odoo_root: Path, cluster: Cluster, wk_dir: Path | None, tsa: DemoTsa, options: dict
) -> None:
    """Switch PKI on against the loopback TSA, unless done already for this URL and root."""
    done = STATE / f"demo-{DEMO_DB}.pki.json"
    want = {
        "url": tsa.url,
        "root": hashlib.sha256(tsa.root_pem.encode()).hexdigest(),
        "seal": True,  # a marker from before sealing existed makes the set-up run again
    }
    if done.exists() and json.loads(done.read_text()) == want:
        return
    say("switching PKI on for the demo company (CA, TSA, signer certificates, report seal)")
    script = SETUP_PKI.format(url=tsa.url, root=tsa.root_pem)
    out = odoo_shell(odoo_root, cluster, wk_dir, script, **options)
    enrolled = out.split("MEDDEV-DONE", 1)[1].split()[0]
    say(f"PKI is on; {enrolled} demo signer certificate(s) issued")
    done.write_text(json.dumps(want))


def sign_history(odoo_root: Path, cluster: Cluster, wk_dir: Path | None, options: dict) -> None:
    """Sign the demo's month of change requests (once: the script finds them made before)."""
    out = odoo_shell(odoo_root, cluster, wk_dir, history_script(), **options)
    made = int(out.split("MEDDEV-DONE", 1)[1].split()[0])
    if made:
        say(f"signed this month's demo history: {made} e-signatures on five change requests")


def _probe_host() -> str:
    return "127.0.0.1" if HTTP_INTERFACE in ("", "0.0.0.0") else HTTP_INTERFACE


def _answers(port: int) -> bool:
    try:
        with socket.create_connection((_probe_host(), port), timeout=1):
            return True
    except OSError:
        return False


def _free(port: int, bind_host: str, label: str, taken: tuple[int, ...] = ()) -> int:
    """``port``, or the next free one (said aloud)."""
    free = port
    while free in taken or not port_is_free(free, bind_host):
        free = Cluster._free_port(free + 1) if bind_host == "127.0.0.1" else free + 1
    if free != port:
        say(f"{label} port {port} is taken; using {free}")
    return free


def serve(argv: list[str], env: dict, port: int, banner, workers: int = 0) -> int:  # noqa: ANN001
    """Run Odoo until Ctrl-C; a port taken as Odoo binds it moves it to the next one.

    With ``workers``, Odoo runs in prefork mode as in production: that many HTTP worker
    processes, a cron worker, and the gevent worker (websocket, live updates) on its own
    port (``MEDDEV_GEVENT_PORT``, 8072 by default).
    """
    bind_host = HTTP_INTERFACE or "0.0.0.0"
    for _attempt in range(PORT_ATTEMPTS):
        port = _free(port, bind_host, "HTTP")
        gevent_port = _free(DEMO_GEVENT_PORT, bind_host, "gevent", (port,)) if workers else None
        server = subprocess.Popen(
            [*argv, "--http-interface", HTTP_INTERFACE, "--http-port", str(port),
             *prefork_args(workers, gevent_port)],
            env=env, stderr=subprocess.PIPE, text=True, bufsize=1, start_new_session=True,
        )  # fmt: skip
        taken = threading.Event()

        def echo(stream=server.stderr, taken=taken) -> None:  # noqa: ANN001
            for line in stream:
                if "Address already in use" in line:
                    taken.set()
                sys.stderr.write(line)

        threading.Thread(target=echo, daemon=True).start()
        try:
            while server.poll() is None and not _answers(port):
                time.sleep(0.5)
            if server.poll() is not None:
                server.wait()
                time.sleep(0.2)  # let the echo thread read the last lines
                if taken.is_set():
                    say(f"HTTP port {port} was taken as Odoo started; trying the next one")
                    port += 1
                    continue
                return server.returncode
            banner(port, gevent_port) if workers else banner(port)
            return server.wait()
        except KeyboardInterrupt:
            say("stopping Odoo")
            stop(server)
            return 0
    raise DevError(f"Odoo found no free HTTP port in {PORT_ATTEMPTS} tries")


def cmd_demo(args: argparse.Namespace) -> int:
    workers = getattr(args, "workers", 0) or 0
    if workers < 0:
        raise DevError("--workers takes 0 (threaded server) or more")
    wk_dir = bootstrap("requirements.txt")
    odoo_root, how = find_odoo()
    if odoo_root is None:
        odoo_root = fetch_odoo()
    cluster = Cluster()
    cluster.ensure()
    tsa = DemoTsa(STATE / "tsa")
    try:
        tsa.start(on_death=report_death)
        say(f"the demo's timestamp authority is up on {tsa.url}")
        options = {"master_key": demo_master_key(), "pkcs11": demo_softhsm()}
        if build_database(odoo_root, cluster, wk_dir, options):
            (STATE / f"demo-{DEMO_DB}.pki.json").unlink(missing_ok=True)
        setup_pki(odoo_root, cluster, wk_dir, tsa, options)
        sign_history(odoo_root, cluster, wk_dir, options)
        argv, env = odoo_command(
            odoo_root, cluster, wk_dir, "-d", DEMO_DB, f"--db-filter=^{DEMO_DB}$", **options
        )

        def banner(port: int, gevent_port: int | None = None) -> None:
            print_demo_banner(odoo_root, how, port, tsa, workers, gevent_port)

        return serve(argv, env, DEMO_PORT, banner, workers=workers)
    finally:
        tsa.stop()
        if cluster.started_here:  # leave a cluster that something else started running
            cluster.stop()


def print_demo_banner(
    odoo_root: Path,
    how: str,
    port: int,
    tsa: DemoTsa,
    workers: int = 0,
    gevent_port: int | None = None,
) -> None:
    host = "localhost" if HTTP_INTERFACE == "127.0.0.1" else HTTP_INTERFACE or "0.0.0.0"
    print(f"\n  Odoo 18.0 ({odoo_root}, found by {how}) with {MODULE} and its demo data")
    print(f"  URL: http://{host}:{port}   database: {DEMO_DB}   listening on {HTTP_INTERFACE}")
    if workers:
        print(
            f"  Prefork: {workers} HTTP workers, 1 cron worker; websocket (gevent) on port "
            f"{gevent_port}. Behind a proxy, route /websocket to that port."
        )
    print(f"  PKI signatures on; timestamps from the demo's TSA at {tsa.url}")
    print("  Log-ins (password = log-in; demo only):")
    for name, login in demo_logins():
        print(f"    {login:18} {name}")
    print("  Ctrl-C stops the server, the TSA and the database cluster.\n", flush=True)
