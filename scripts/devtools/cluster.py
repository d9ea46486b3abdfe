"""The private PostgreSQL cluster in ``.state/`` (never as root, never as ``postgres``)."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

from .common import MODULE, ROOT, STATE, DevError, is_root, run, say

PG_SYSTEM_USER = "meddev-pg"


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
            return [system_tool("runuser"), "-u", PG_SYSTEM_USER, "--", *cmd]
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
