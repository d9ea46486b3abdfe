"""What the HTTP benchmarks share: the private cluster, cached template databases, the loopback
TSA, Odoo launched in prefork mode, a JSON-RPC client that calls what the browser calls, and
the invariant checks.

Odoo runs through the project's one launcher: ``scripts.devtools.odoo`` (``odoo_command`` for
a shell or an install, ``serve`` for a server), which starts ``scripts/odoo_bin.py``, a real
script, so that in prefork mode Odoo can re-execute ``sys.argv[0]`` for its gevent
(long-polling) worker. :class:`OdooServer` only adds what the benches need around ``serve``:
a port range of their own, a retry when another program takes the port first, and the log.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from http.client import HTTPConnection
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
BENCH_DB_PREFIX = "bench_http"
PASSWORD_SUFFIX = ""  # every bench user's password is its log-in, as in the demo

sys.path.insert(0, str(ROOT / "scripts"))
# The demo's helpers build "the demo database"; point them at our template instead.
TEMPLATE_DB = os.environ.setdefault("MEDDEV_DEMO_DB", f"{BENCH_DB_PREFIX}_tpl")

from devtools import demo as _demo  # noqa: E402
from devtools.cluster import Cluster, port_is_free  # noqa: E402
from devtools.common import CACHE, STATE, DevError  # noqa: E402
from devtools.install import bootstrap  # noqa: E402
from devtools.odoo import (  # noqa: E402
    addons_path,
    fetch_odoo,
    find_odoo,
    odoo_command,
    serve,
    stop,
)
from devtools.tsa import DemoTsa  # noqa: E402

OCA_TEMPLATE_DB = f"{BENCH_DB_PREFIX}_oca_tpl"
OCA_WHEELS = {
    "base_tier_validation": "odoo-addon-base-tier-validation==18.0.3.5.2",
    "purchase_tier_validation": "odoo-addon-purchase-tier-validation==18.0.1.0.0.11",
    "base_tier_validation_confirm_auth": (
        "odoo-addon-base-tier-validation-confirm-auth==18.0.1.0.0.4"
    ),
}
LOGS = STATE / "bench-logs"


def log(msg: str) -> None:
    print(f"[bench] {time.strftime('%H:%M:%S')} {msg}", file=sys.stderr, flush=True)


def free_port(start: int) -> int:
    return Cluster._free_port(start)


def addon_fingerprint() -> str:
    """The add-on's files (what a module update would load): no bench, no hidden folder such as
    ``.ruff_cache``, which a lint run rewrites."""
    digest = hashlib.sha256()
    for path in sorted(ROOT.rglob("*")):
        rel = path.relative_to(ROOT)
        hidden = any(part.startswith(".") for part in rel.parts)
        if (
            path.is_file()
            and not hidden
            and rel.parts[0] != "bench"
            and "__pycache__" not in rel.parts
        ):
            digest.update(str(rel).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


# =========================================================================== environment
class Env:
    """Odoo, the cluster, the TSA and the demo's keystore options, found or started once."""

    def __init__(self) -> None:
        self.wk_dir = bootstrap("requirements.txt")
        root, _how = find_odoo()
        self.odoo_root = root or fetch_odoo()
        self.cluster = Cluster()
        self.cluster.ensure()
        self.tsa = DemoTsa(STATE / "bench-tsa")
        self.tsa.start()
        self.options = {"master_key": _demo.demo_master_key(), "pkcs11": _demo.demo_softhsm()}
        LOGS.mkdir(parents=True, exist_ok=True)

    def close(self) -> None:
        self.tsa.stop()
        if self.cluster.started_here:
            self.cluster.stop()

    # ------------------------------------------------------------------ databases
    def shell(self, db: str, script: str, addons: str | None = None, pkcs11=None) -> str:
        """Run ``script`` in ``odoo shell`` on ``db``; it must print MEDDEV-DONE."""
        argv, env = self.command(
            db, "--no-http", "--log-level=warn", sub="shell", addons=addons, pkcs11=pkcs11
        )
        res = subprocess.run(argv, env=env, input=script, text=True, capture_output=True)
        if "MEDDEV-DONE" not in res.stdout:
            raise RuntimeError(f"odoo shell on {db} failed:\n{(res.stdout + res.stderr)[-4000:]}")
        return res.stdout

    def command(self, db, *args, sub="server", addons=None, pkcs11=None, conf_name=None):
        """argv and environment of Odoo (``sub``: ``server``, ``shell``) on ``db``, through the
        project's launcher; ``addons`` replaces the add-ons path (the OCA peer's)."""
        opts = dict(self.options)
        if pkcs11 is not None:
            opts["pkcs11"] = pkcs11
        # One configuration file per database or server: a re-executed gevent worker reads it
        # again, and the project's own .state/odoo.conf stays as the other tools left it.
        conf = STATE / f"{conf_name or 'bench-' + db}.conf"
        extra = [f"--addons-path={addons}"] if addons else []
        return odoo_command(
            self.odoo_root, self.cluster, self.wk_dir, *extra, "-d", db, *args,
            sub=sub, conf=conf, **opts,
        )  # fmt: skip

    def template(self, db: str, fingerprint: str, build) -> None:
        """Build ``db`` with ``build()`` unless its stamp says it is current."""
        stamp = STATE / f"{db}.stamp"
        if self.cluster.db_exists(db) and stamp.exists() and stamp.read_text() == fingerprint:
            log(f"reusing the template database {db}")
            return
        self.cluster.drop_db(db)
        stamp.unlink(missing_ok=True)
        started = time.time()
        build()
        stamp.write_text(fingerprint)
        log(f"template {db} built in {time.time() - started:.0f} s")

    def clone(self, template: str, name: str) -> str:
        """A fresh database ``name`` copied from ``template`` (CREATE DATABASE ... TEMPLATE)."""
        self.cluster.drop_db(name)
        started = time.time()
        self.cluster.sql(
            f'CREATE DATABASE "{name}" TEMPLATE "{template}"'
            f' OWNER "{self.cluster.meta["odoo_user"]}"'
        )
        log(f"database {name} copied from {template} in {time.time() - started:.1f} s")
        return name

    def esign_template(self, setup_script: str) -> str:
        """The demo database with the bench's users, certificates and lots, cached.

        Made once from the demo data; when only the add-on changed since, it is updated in
        place (``-u``, as ``make demo`` does) and the setup script, which makes only what is
        missing, runs again.
        """
        fingerprint = hashlib.sha256((setup_script + self.tsa.root_pem).encode()).hexdigest()
        stamp = STATE / f"{TEMPLATE_DB}.stamp"
        module = addon_fingerprint()
        done = stamp.read_text().split() if stamp.exists() else []
        exists = self.cluster.db_exists(TEMPLATE_DB)
        # No stamp: a build stopped after the demo database was made; its setup is redone.
        if not exists or (done and done[0] != fingerprint):
            self.cluster.drop_db(TEMPLATE_DB)
            stamp.unlink(missing_ok=True)
            (STATE / f"demo-{TEMPLATE_DB}.stamp").unlink(missing_ok=True)
            (STATE / f"demo-{TEMPLATE_DB}.pki.json").unlink(missing_ok=True)
            log(f"building {TEMPLATE_DB} from the demo data (a few minutes, once)")
        elif done == [fingerprint, module]:
            log(f"reusing the template database {TEMPLATE_DB}")
            return TEMPLATE_DB
        started = time.time()
        _demo.build_database(self.odoo_root, self.cluster, self.wk_dir, self.options)
        _demo.setup_pki(self.odoo_root, self.cluster, self.wk_dir, self.tsa, self.options)
        self.shell(TEMPLATE_DB, setup_script)
        stamp.write_text(f"{fingerprint} {module}")
        log(f"template {TEMPLATE_DB} ready in {time.time() - started:.0f} s")
        return TEMPLATE_DB

    def oca_addons(self) -> str:
        """The OCA modules (pip wheels, no dependencies) in a cache folder of their own; the
        addons path with them. Nothing from OCA enters this repository."""
        target = CACHE / "oca-load"
        addons = target / "odoo" / "addons"
        if not all((addons / m / "__manifest__.py").exists() for m in OCA_WHEELS):
            log(f"installing {', '.join(OCA_WHEELS.values())} into {target}")
            shutil.rmtree(target, ignore_errors=True)
            subprocess.run(
                [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target",
                 str(target), *OCA_WHEELS.values()],
                check=True, cwd="/tmp",
            )  # fmt: skip
        return f"{addons_path(self.odoo_root)},{addons}"

    def oca_template(self, setup_script: str) -> tuple[str, str]:
        addons = self.oca_addons()
        fingerprint = hashlib.sha256((json.dumps(OCA_WHEELS) + setup_script).encode()).hexdigest()

        def build() -> None:
            log(f"building {OCA_TEMPLATE_DB} (purchase + OCA tier validation with confirm auth)")
            argv, env = self.command(
                OCA_TEMPLATE_DB,
                "-i",
                "purchase_tier_validation,base_tier_validation_confirm_auth",
                "--without-demo=all",
                "--stop-after-init",
                "--no-http",
                "--log-level=warn",
                addons=addons,
            )
            subprocess.run(argv, env=env, check=True)
            self.shell(OCA_TEMPLATE_DB, setup_script, addons=addons)

        self.template(OCA_TEMPLATE_DB, fingerprint, build)
        return OCA_TEMPLATE_DB, addons

    def defer_overdue_crons(self, db: str) -> int:
        """Move the scheduled jobs of ``db`` that are overdue to one interval from now, as if
        a server had been running them, and drop their triggers that are due; return how
        many jobs moved.

        A bench database is a copy of a template made earlier, so every job whose next call
        fell in between (the auto-vacuum, the mail queue, the reminders...) is overdue, and a
        new server's cron worker runs them all in one burst at a moment of its choosing (up
        to a minute after start): seconds of CPU, in the middle of the timed load, that a
        server in service spreads over the day. Jobs that the load itself triggers (the mail
        queue woken at commit) still run during it, as in service.
        """
        rows = self.cluster.sql(
            "WITH moved AS ("
            " UPDATE ir_cron SET nextcall = (now() AT TIME ZONE 'UTC')"
            "   + (interval_number || ' ' || interval_type)::interval"
            " WHERE active AND nextcall <= (now() AT TIME ZONE 'UTC') RETURNING id),"
            " dropped AS (DELETE FROM ir_cron_trigger"
            "   WHERE call_at <= (now() AT TIME ZONE 'UTC'))"
            " SELECT count(*) FROM moved",
            dbname=db,
        )
        return rows[0][0]

    def set_tsa(self, db: str, url: str | None = None, offline: str | None = None) -> None:
        """Point the bench company at the TSA's current URL (it may move between runs)."""
        sets, params = [], []
        if url is not None:
            sets.append("esign_tsa_urls = %s")
            params.append(url)
        if offline is not None:
            sets.append("esign_tsa_offline = %s")
            params.append(offline)
        self.cluster.sql(
            f"UPDATE res_company SET {', '.join(sets)}", dbname=db, params=tuple(params)
        )


# =========================================================================== Odoo servers
class OdooServer:
    """Odoo in prefork mode (``--workers``) with its gevent port, on one database, started by
    the project's launcher (:func:`devtools.odoo.serve`)."""

    def __init__(
        self,
        env: Env,
        db: str,
        workers: int = 4,
        addons: str | None = None,
        name: str | None = None,
        pkcs11=None,
        extra=(),
    ) -> None:
        self.env, self.db, self.workers = env, db, workers
        self.name = name or db
        opts = dict(env.options)
        if pkcs11 is not None:
            opts["pkcs11"] = pkcs11
        args = [
            "--limit-time-real=300", "--limit-time-cpu=240", "--log-level=info",
            *([f"--addons-path={addons}"] if addons else []), *extra,
        ]  # fmt: skip
        for _attempt in range(5):
            # Away from 8069 and from the other developers' usual ports; a port taken as
            # Odoo binds it ("Address already in use") moves on to another one.
            self.port = free_port(random.randrange(21000, 29000, 2))
            self.gevent_port = free_port(self.port + 1)
            self.logfile.unlink(missing_ok=True)
            try:
                self.proc = serve(
                    db, workers=workers, http_port=self.port, gevent_port=self.gevent_port,
                    args=args, logfile=self.logfile, name=f"bench-{self.name}",
                    odoo_root=env.odoo_root, cluster=env.cluster, wk_dir=env.wk_dir, **opts,
                )  # fmt: skip
            except DevError:
                text = self.logfile.read_text(errors="replace") if self.logfile.exists() else ""
                if "Address already in use" in text:
                    continue
                raise RuntimeError(f"Odoo {self.name} did not start; see {self.logfile}") from None
            self.url = f"http://127.0.0.1:{self.port}"
            log(
                f"Odoo {self.name} up on {self.url} ({workers} workers, gevent port "
                f"{self.gevent_port}, pid {self.proc.pid})"
            )
            return
        raise RuntimeError(f"Odoo found no free port; see {self.logfile}")

    @property
    def logfile(self) -> Path:
        return LOGS / f"{self.name}.log"

    def gevent_up(self, timeout: float = 60) -> bool:
        """Whether the gevent (long-polling) worker listens, waiting for it up to ``timeout``:
        the prefork master starts it after the HTTP workers."""
        deadline = time.time() + timeout
        while True:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.gevent_port)) == 0:
                    return True
            if time.time() > deadline:
                return False
            time.sleep(0.5)

    def worker_pids(self) -> list[int]:
        out = subprocess.run(
            ["ps", "-o", "pid=", "--ppid", str(self.proc.pid)], capture_output=True, text=True
        ).stdout
        return [int(p) for p in out.split()]

    def log_lines(self, level: str, since: int = 0) -> list[str]:
        """The log's lines of ``level`` (``ERROR``), from line number ``since`` on."""
        if not self.logfile.exists():
            return []
        marker = f" {level} "
        lines = self.logfile.read_text(errors="replace").splitlines()[since:]
        return [ln for ln in lines if marker in ln]

    def log_mark(self) -> int:
        """The number of lines the log has now (for ``log_lines(since=...)``)."""
        if not self.logfile.exists():
            return 0
        return len(self.logfile.read_text(errors="replace").splitlines())

    def stop(self) -> None:
        stop(self.proc)


# =========================================================================== JSON-RPC client
class RpcError(Exception):
    def __init__(self, kind: str, error: dict) -> None:
        data = error.get("data") or {}
        self.name = data.get("name") or ""
        self.message = data.get("message") or error.get("message") or str(error)
        self.debug = data.get("debug") or ""
        super().__init__(f"{kind}: {self.name}: {self.message}")

    @property
    def user_error(self) -> bool:
        """A clear message for the user (no traceback of a programming error)."""
        return self.name.startswith(
            (
                "odoo.exceptions.UserError",
                "odoo.exceptions.AccessError",
                "odoo.exceptions.ValidationError",
            )
        )


class Stats:
    """Latencies per call type, errors, and what each flow achieved; thread-safe."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latency: dict[str, list[float]] = {}
        self.errors: dict[str, int] = {}
        self.error_samples: list[str] = []
        self.counters: dict[str, int] = {}

    def record(self, kind: str, seconds: float) -> None:
        with self.lock:
            self.latency.setdefault(kind, []).append(seconds)

    def error(self, kind: str, exc: BaseException) -> None:
        with self.lock:
            self.errors[kind] = self.errors.get(kind, 0) + 1
            if len(self.error_samples) < 20:
                self.error_samples.append(f"{kind}: {str(exc)[:300]}")

    def count(self, key: str, n: int = 1) -> None:
        with self.lock:
            self.counters[key] = self.counters.get(key, 0) + n


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, int(round(q / 100 * (len(ordered) - 1)))))
    return ordered[index]


class Rpc:
    """One browser session: logs in, then calls JSON-RPC routes as the web client does.

    Plain ``http.client``, one connection per call as Odoo's prefork workers close each
    one: the load generator shares the server's cores here, and ``requests`` cost it about
    three times the CPU per call. Real browsers run on their own machines.
    """

    def __init__(
        self,
        url: str,
        db: str,
        login: str,
        password: str | None = None,
        stats: Stats | None = None,
        timeout: float = 300,
    ) -> None:
        parts = urlsplit(url)
        self.url, self.db, self.login = url, db, login
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.password = password if password is not None else login
        self.stats = stats or Stats()
        self.timeout = timeout
        self.session_id = ""
        self.context: dict = {}
        self.uid = None
        self._id = 0

    def _exchange(self, path: str, body: bytes) -> tuple[int, bytes]:
        headers = {"Content-Type": "application/json"}
        if self.session_id:
            headers["Cookie"] = f"session_id={self.session_id}"
        connection = HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            connection.request("POST", path, body, headers)
            reply = connection.getresponse()
            data = reply.read()
            for cookie in reply.headers.get_all("Set-Cookie") or ():
                name, _, rest = cookie.partition("=")
                if name.strip() == "session_id":
                    self.session_id = rest.split(";", 1)[0]
            return reply.status, data
        finally:
            connection.close()

    def post(self, kind: str, path: str, params: dict):
        self._id += 1
        body = json.dumps({"jsonrpc": "2.0", "method": "call", "id": self._id, "params": params})
        started = time.perf_counter()
        status, data = self._exchange(path, body.encode())
        elapsed = time.perf_counter() - started
        if status != 200:
            text = data.decode(errors="replace")
            title = re.search(r"<title>(.*?)</title>", text, flags=re.S)
            detail = title.group(1).strip() if title else text[:120]
            raise RpcError(kind, {"message": f"HTTP {status} {detail}"})
        reply = json.loads(data)
        if "error" in reply:
            raise RpcError(kind, reply["error"])
        self.stats.record(kind, elapsed)
        return reply.get("result")

    def authenticate(self):
        info = self.post(
            "authenticate",
            "/web/session/authenticate",
            {"db": self.db, "login": self.login, "password": self.password},
        )
        self.uid = info["uid"]
        self.context = dict(info.get("user_context") or {})
        companies = (info.get("user_companies") or {}).get("current_company")
        if companies:
            self.context["allowed_company_ids"] = [companies]
        return info

    def call_kw(self, kind: str, model: str, method: str, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        kwargs.setdefault("context", self.context)
        return self.post(
            kind,
            f"/web/dataset/call_kw/{model}/{method}",
            {"model": model, "method": method, "args": list(args), "kwargs": kwargs},
        )

    def call_button(self, kind: str, model: str, method: str, ids, context=None):
        return self.post(
            kind,
            f"/web/dataset/call_button/{model}/{method}",
            {
                "model": model,
                "method": method,
                "args": [ids],
                "kwargs": {"context": {**self.context, **(context or {})}},
            },
        )

    def run_action(self, kind: str, action_id: int, context: dict):
        return self.post(
            kind,
            "/web/action/run",
            {"action_id": action_id, "context": {**self.context, **context}},
        )


def wait_port_free(port: int, timeout: float = 30) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline and not port_is_free(port):
        time.sleep(0.2)
