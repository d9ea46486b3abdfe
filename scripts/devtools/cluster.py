"""The private PostgreSQL cluster in ``.state/`` (never as root, never as ``postgres``)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

from .common import MODULE, ROOT, STATE, DevError, is_root, run, say

PG_SYSTEM_USER = "meddev-pg"
#: How many further ports a start tries when its port was taken in the meantime.
PORT_ATTEMPTS = 20
#: What PostgreSQL logs when another process holds its port.
PORT_TAKEN = re.compile(r"Address already in use|could not create any TCP/IP sockets")


def system_tool(name: str) -> str:
    """The path of an administration tool (``runuser``, ``useradd``), which Debian keeps in
    ``/usr/sbin``: a root shell started with a plain ``PATH=/usr/local/bin:/usr/bin:/bin``
    (as CI may be) does not have it on its ``PATH``."""
    found = shutil.which(name) or shutil.which(name, path="/usr/local/sbin:/usr/sbin:/sbin")
    if not found:
        raise DevError(f"{name} was not found (it is part of Debian's util-linux / passwd)")
    return found


class Cluster:
    """A private PostgreSQL cluster, reached over loopback TCP only."""

    def __init__(self, state: Path | None = None) -> None:
        self.state = state or STATE
        self.meta_file = self.state / "pg.json"
        self.meta = self._read_meta()
        self.bindir = self._bindir()
        self.started_here = False
        self.fresh = False  # made by this process: its role is created without a remark

    def _read_meta(self) -> dict:
        if not self.meta_file.exists():
            return {}
        try:
            meta = json.loads(self.meta_file.read_text())
        except ValueError:
            meta = None
        keys = {"datadir", "port", "superuser", "superuser_password", "odoo_user", "odoo_password"}
        if not isinstance(meta, dict) or not keys <= meta.keys():
            say(f"{self.meta_file} is unreadable or incomplete; the cluster it names is rebuilt")
            return {"broken": True}
        return meta

    def _write_meta(self) -> None:
        tmp = self.meta_file.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.meta, indent=2))
        tmp.chmod(0o600)
        tmp.replace(self.meta_file)

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
            return [system_tool("runuser"), "-u", PG_SYSTEM_USER, "--", *cmd]
        return cmd

    def _datadir(self) -> Path:
        if "datadir" in self.meta:
            return Path(self.meta["datadir"])
        local = self.state / "pgdata"
        if not is_root():
            return local
        self._ensure_system_user()
        # The cluster's owner must reach the folder; root's home directory is not reachable.
        reach = subprocess.run(self._as_owner(["test", "-x", str(self.state)]))
        if reach.returncode == 0:
            return local
        # One folder per state folder (the default one keeps the key it always had).
        where = ROOT if self.state == STATE else self.state
        key = hashlib.sha256(str(where).encode()).hexdigest()[:12]
        return Path(tempfile.gettempdir()) / f"{MODULE}-{key}" / "pgdata"

    @staticmethod
    def _ensure_system_user() -> None:
        if subprocess.run(["id", PG_SYSTEM_USER], capture_output=True).returncode != 0:
            run(
                [
                    system_tool("useradd"),
                    "--system",
                    "--no-create-home",
                    "--shell",
                    "/usr/sbin/nologin",
                    PG_SYSTEM_USER,
                ]
            )

    @staticmethod
    def _free_port(start: int) -> int:
        """The first loopback port from ``start`` on that nothing listens on and we may bind.

        Another process may still take it before our server binds it: :meth:`start` then
        moves on to the next port.
        """
        for port in range(start, start + 200):
            if port_is_free(port):
                return port
        raise DevError(f"no free TCP port near {start}")

    def init(self) -> None:
        """Make the cluster, unless ``pg.json`` names one whose data folder is complete.

        What an interrupted first run leaves is said aloud and redone: a ``pg.json`` whose
        cluster was never made is rebuilt (it holds no database), and a complete cluster
        that has lost its ``pg.json`` is kept with its databases and given new passwords.
        """
        if self.meta.get("datadir") and (Path(self.meta["datadir"]) / "PG_VERSION").exists():
            return
        self.state.mkdir(parents=True, exist_ok=True)
        if self.meta.get("broken"):
            self.meta = {}
        elif self.meta:
            say(
                f"{self.meta_file} names a cluster in {self.meta['datadir']} that was never "
                "made (an interrupted first run); making it now"
            )
        datadir = self._datadir()
        if (datadir / "PG_VERSION").exists():
            self._adopt(datadir)
            return
        datadir.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(datadir, ignore_errors=True)  # an initdb that stopped half-way
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
        try:
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
        finally:
            pwfile.unlink(missing_ok=True)
        with open(datadir / "postgresql.conf", "a") as conf:
            conf.write(
                "\n# meddev_esign private cluster: loopback TCP only\n"
                "listen_addresses = '127.0.0.1'\n"
                f"port = {self.meta['port']}\n"
                "unix_socket_directories = ''\n"
                "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
                "max_connections = 100\n"
            )
        self._write_meta()
        self.fresh = True

    def _adopt(self, datadir: Path) -> None:
        """Keep a complete cluster whose ``pg.json`` is gone: new passwords, same databases."""
        say(
            f"found a PostgreSQL cluster in {datadir} but no usable {self.meta_file}; keeping "
            "it and its databases, with new passwords"
        )
        conf = (datadir / "postgresql.conf").read_text()
        ports = re.findall(r"^port = (\d+)", conf, flags=re.M)
        self.meta = {
            "datadir": str(datadir),
            "port": int(ports[-1]) if ports else 5432,
            "superuser": "pgadmin",
            "superuser_password": secrets.token_urlsafe(24),
            "odoo_user": "odoo",
            "odoo_password": secrets.token_urlsafe(24),
        }
        self._write_meta()
        self._reset_superuser_password()

    def running(self) -> bool:
        res = subprocess.run(
            self._as_owner([str(self.bindir / "pg_ctl"), "status", "-D", self.meta["datadir"]]),
            capture_output=True,
        )
        return res.returncode == 0

    def _set_port(self, port: int) -> None:
        """Move the (stopped) cluster to ``port``: its ``postgresql.conf`` and ``pg.json``."""
        conf = Path(self.meta["datadir"]) / "postgresql.conf"
        text = conf.read_text()
        if re.search(r"^port = \d+", text, flags=re.M):
            text = re.sub(r"^port = \d+", f"port = {port}", text, flags=re.M)
        else:
            text += f"\nport = {port}\n"
        conf.write_text(text)
        self.meta["port"] = port
        self._write_meta()

    def start(self) -> None:
        """Start the cluster; when its port was taken meanwhile, on the next free port."""
        if self.running():
            return
        log = Path(self.meta["datadir"]).parent / "postgresql.log"
        for _attempt in range(PORT_ATTEMPTS):
            seen = log.stat().st_size if log.exists() else 0
            res = subprocess.run(
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
                stderr=subprocess.PIPE,
                text=True,
            )
            if res.returncode == 0:
                break
            new_lines = log.read_bytes()[seen:].decode(errors="replace") if log.exists() else ""
            if not PORT_TAKEN.search(new_lines + res.stderr):
                tail = "\n".join((new_lines + res.stderr).strip().splitlines()[-8:])
                raise DevError(f"PostgreSQL did not start (log: {log}):\n{tail}")
            taken = int(self.meta["port"])
            port = self._free_port(taken + 1)
            say(f"port {taken} was taken as PostgreSQL started; moving the cluster to {port}")
            self._set_port(port)
        else:
            raise DevError(f"PostgreSQL found no free port in {PORT_ATTEMPTS} tries (log: {log})")
        self.started_here = True
        say(f"PostgreSQL is up on 127.0.0.1:{self.meta['port']}")

    def stop(self) -> None:
        if self.meta and not self.meta.get("broken") and self.running():
            run(
                self._as_owner(
                    [str(self.bindir / "pg_ctl"), "stop", "-m", "fast", "-D", self.meta["datadir"]]
                ),
                stdout=subprocess.DEVNULL,
            )
            say("PostgreSQL stopped")

    def ensure(self) -> None:
        """Make or repair the cluster, start it, and check that Odoo's role can log in."""
        self.init()
        self.start()
        self._check_roles()

    def _reset_superuser_password(self) -> None:
        """Set the superuser's password to ``pg.json``'s, in single-user mode (no log-in
        needed); the cluster is stopped for it and started again if it ran."""
        was_running = self.running()
        if was_running:
            self.stop()
        statement = "ALTER ROLE {u} WITH LOGIN PASSWORD '{p}';\n".format(
            u=self.meta["superuser"], p=self.meta["superuser_password"]
        )
        res = subprocess.run(
            self._as_owner(
                [str(self.bindir / "postgres"), "--single", "-D", self.meta["datadir"], "postgres"]
            ),
            input=statement,
            capture_output=True,
            text=True,
        )
        if res.returncode != 0 or "ERROR" in res.stdout + res.stderr:
            raise DevError(
                f"could not reset the superuser password of the cluster in "
                f"{self.meta['datadir']}: {(res.stdout + res.stderr).strip()[-500:]}"
            )
        if was_running:
            self.start()

    def _check_roles(self) -> None:
        """Repair what an interrupted run leaves: a superuser or ``odoo`` role whose password
        is not ``pg.json``'s, or no ``odoo`` role. Each repair is said in one line."""
        try:
            import psycopg2  # noqa: PLC0415 - installed by bootstrap, not before
        except ImportError:
            return
        try:
            self.sql("SELECT 1")
        except psycopg2.OperationalError as exc:
            if "password authentication failed" not in str(exc):
                raise
            say(
                f"the cluster's superuser password did not match {self.meta_file}; resetting "
                "it (the databases are kept)"
            )
            self._reset_superuser_password()
        user = self.meta["odoo_user"]
        if not self.sql("SELECT 1 FROM pg_roles WHERE rolname = %s", params=(user,)):
            if not self.fresh:
                say(f"the role {user!r} was missing (a first run stopped early); creating it")
            self._create_odoo_role()
            return
        try:
            psycopg2.connect(
                host="127.0.0.1",
                port=self.meta["port"],
                dbname="postgres",
                user=user,
                password=self.meta["odoo_password"],
            ).close()
        except psycopg2.OperationalError as exc:
            if "password authentication failed" not in str(exc):
                raise
            say(f"the role {user!r} had another password than {self.meta_file}; setting it")
            self.sql(f"ALTER ROLE {user} WITH LOGIN PASSWORD '{self.meta['odoo_password']}'")

    def sql(self, statement: str, dbname: str = "postgres", params: tuple = ()) -> list[tuple]:
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
                cur.execute(statement, params or None)
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


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether nothing listens on ``host:port`` and a server could bind it now."""
    with socket.socket() as probe:
        if probe.connect_ex((host, port)) == 0:
            return False
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True
