"""Live tests: real Odoo servers on the private cluster, driven over HTTP JSON-RPC.

Odoo's own test cases never commit, so what must hold between processes (the lock-out, the
continuous-session rule, the audit chain, caches, crons) is shown here instead: two Odoo
servers, A in prefork mode (two HTTP workers, a cron worker and the gevent worker) and B
threaded, serve one database with committed data, and JSON-RPC clients log in through
``/web/session/authenticate`` as the browser does.

The database is a copy of a template: ``meddev_esign_live_tmpl``, made once per version of
the add-on (installed without demo data) and kept in the cluster, or ``MEDDEV_LIVE_TEMPLATE_DB``
when set (a database of your own with the add-on installed and ``admin``/``admin``).

Run alone: ``python3 -m pytest -q tests/live`` (after ``make test-quick`` installed what is
needed).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

from devtools import odoo as odoo_tools  # noqa: E402
from devtools.cluster import Cluster  # noqa: E402
from devtools.common import MODULE, STATE  # noqa: E402
from devtools.demo import module_fingerprint  # noqa: E402
from devtools.rpc import Client  # noqa: E402

DB = f"{MODULE}_live"
TEMPLATE = f"{MODULE}_live_tmpl"
ADMIN = ("admin", "admin")
#: The password of every user the live tests make.
PASSWORD = "Live-Pass-42"
#: The signing master key of the servers' software keystore (test only).
MASTER_KEY = "4c6976652d746573742d6d61737465722d6b65792c206e6f742061207365637265"[:64]


@dataclass
class Server:
    name: str
    proc: object
    log: Path
    port: int
    gevent_port: int | None

    def mark(self) -> int:
        return self.log.stat().st_size if self.log.exists() else 0

    def lines(self, since: int = 0) -> list[str]:
        with self.log.open("rb") as fh:
            fh.seek(since)
            return fh.read().decode(errors="replace").splitlines()

    def errors(self, since: int = 0) -> list[str]:
        """The ERROR and CRITICAL lines logged since ``since``."""
        return [
            ln
            for ln in self.lines(since)
            if (m := odoo_tools.LOG_LINE.match(ln)) and m.group(1) in {"ERROR", "CRITICAL"}
        ]


@dataclass
class Live:
    db: str
    a: Server
    b: Server
    cluster: Cluster
    ids: dict = field(default_factory=dict)
    admins: dict = field(default_factory=dict)
    approvers: dict = field(default_factory=dict)

    def client(self, server: Server, login: str | None = None, password: str = PASSWORD):
        c = Client(server.port)
        if login:
            c.authenticate(self.db, login, password)
        return c

    def admin(self, server: Server | None = None) -> Client:
        """The administrator's session on ``server`` (A unless given), logged in once: every
        log-in costs a password hash."""
        server = server or self.a
        if server.name not in self.admins:
            self.admins[server.name] = self.client(server, *ADMIN)
        return self.admins[server.name]

    def configure(self, model: str, res_id: int, vals: dict, server: Server | None = None) -> None:
        """Change the signing configuration as administrators must (change control): ``admin``
        proposes it on ``server``, the second administrator signs it Approved there, and only
        then is it in force."""
        server = server or self.a
        self.admin(server).call(model, "write", [res_id], vals)
        change = self.admin(server).call(
            "esign.config.change",
            "search",
            [("state", "=", "pending"), ("target_model", "=", model), ("target_id", "=", res_id)],
            order="id desc",
            limit=1,
        )
        assert change, f"no pending configuration change of {model} {res_id}"
        first = server.name not in self.approvers
        if first:
            self.approvers[server.name] = self.client(server, "live_admin2")
        self.approvers[server.name].sign(
            "esign.config.change", change[0], PASSWORD, login="live_admin2" if first else None
        )

    def marks(self) -> tuple[int, int]:
        return self.a.mark(), self.b.mark()

    def errors(self, marks: tuple[int, int]) -> list[str]:
        time.sleep(0.3)  # the log lines of the last request
        return self.a.errors(marks[0]) + self.b.errors(marks[1])

    def sql(self, statement: str, params: tuple = ()) -> list[tuple]:
        return self.cluster.sql(statement, self.db, params)


def _build_template(cluster: Cluster, odoo_root: Path) -> str:
    stamp = STATE / f"{TEMPLATE}.stamp"
    fingerprint = module_fingerprint()
    if cluster.db_exists(TEMPLATE) and stamp.exists() and stamp.read_text() == fingerprint:
        return TEMPLATE
    cluster.drop_db(TEMPLATE)
    log = STATE / f"{TEMPLATE}.log"
    log.unlink(missing_ok=True)
    argv, env = odoo_tools.odoo_command(
        odoo_root, cluster, None, "-d", TEMPLATE, "-i", MODULE, "--without-demo=all",
        "--stop-after-init", "--no-http", "--log-level=warn", f"--logfile={log}",
        conf=STATE / "odoo-live-template.conf",
    )  # fmt: skip
    subprocess.run(argv, env=env, check=True)
    stamp.write_text(fingerprint)
    return TEMPLATE


def _copy_database(cluster: Cluster, template: str) -> None:
    cluster.drop_db(DB)
    cluster.sql(
        f'CREATE DATABASE "{DB}" OWNER "{cluster.meta["odoo_user"]}" TEMPLATE "{template}"'
    )
    filestore = STATE / "odoo-data" / "filestore"
    shutil.rmtree(filestore / DB, ignore_errors=True)
    if (filestore / template).is_dir():
        shutil.copytree(filestore / template, filestore / DB)


def _ref(admin: Client, xmlid: str) -> int:
    module, name = xmlid.split(".")
    return admin.call("ir.model.data", "check_object_reference", module, name)[1]


def _setup(live: Live) -> None:
    """Signers, a second company, and a lot-tracked device to release lots of."""
    admin = live.admin()
    ids = live.ids
    ids["ra_group"] = _ref(admin, "meddev_esign.group_esign_release_authority")
    ids["stock_group"] = _ref(admin, "stock.group_stock_user")
    ids["admin_group"] = _ref(admin, "meddev_esign.group_esign_admin")
    ids["company"] = _ref(admin, "base.main_company")
    ids["other_company"] = admin.call("res.company", "create", {"name": "Live Other Co"})
    users = {}
    for login in ("live_ra", "live_ra2", "live_lock", "live_other"):
        users[login] = admin.call(
            "res.users",
            "create",
            {
                "name": login.replace("_", " ").title(),
                "login": login,
                "password": PASSWORD,
                "company_id": ids["company"],
                "company_ids": [(6, 0, [ids["company"]])],
                "groups_id": [(6, 0, [ids["ra_group"], ids["stock_group"]])],
            },
        )
    ids["users"] = users
    # The second E-Signature Administrator, who approves the configuration changes of admin.
    ids["admin2"] = admin.call(
        "res.users",
        "create",
        {
            "name": "Live Admin Two",
            "login": "live_admin2",
            "password": PASSWORD,
            "company_id": ids["company"],
            "company_ids": [(6, 0, [ids["company"]])],
            "groups_id": [(6, 0, [ids["admin_group"], ids["stock_group"]])],
        },
    )
    ids["product"] = admin.call(
        "product.product",
        "create",
        {"name": "Live Pump", "is_storable": True, "tracking": "lot", "esign_device_class": "II"},
    )
    ids["other_product"] = admin.call(
        "product.product",
        "create",
        {
            "name": "Other Co Pump",
            "is_storable": True,
            "tracking": "lot",
            "esign_device_class": "II",
            "company_id": ids["other_company"],
        },
        context={"allowed_company_ids": [ids["company"], ids["other_company"]]},
    )


_lot_numbers = iter(range(1, 1_000_000))


def new_lots(live: Live, count: int, company: str = "company") -> list[int]:
    """Fresh lots in quarantine, ready for release."""
    admin = live.admin()
    product = live.ids["product" if company == "company" else "other_product"]
    return [
        admin.call(
            "stock.lot",
            "create",
            {
                "name": f"LIVE-{os.getpid()}-{next(_lot_numbers)}",
                "product_id": product,
                "company_id": live.ids[company],
            },
            context={"allowed_company_ids": [live.ids["company"], live.ids["other_company"]]},
        )
        for _ in range(count)
    ]


@pytest.fixture(scope="session")
def live():
    odoo_root, how = odoo_tools.find_odoo()
    assert odoo_root, f"Odoo 18.0 not found: {how}"
    cluster = Cluster()
    cluster.ensure()
    template = os.environ.get("MEDDEV_LIVE_TEMPLATE_DB") or _build_template(cluster, odoo_root)
    _copy_database(cluster, template)
    logs = {name: STATE / f"live-{name}.log" for name in "AB"}
    for log in logs.values():
        log.unlink(missing_ok=True)
    common = {
        "odoo_root": odoo_root,
        "cluster": cluster,
        "test_addons": True,
        "master_key": MASTER_KEY,
    }
    started = []
    try:
        a = odoo_tools.serve(DB, workers=2, logfile=logs["A"], name="live-A", **common)
        started.append(a)
        b = odoo_tools.serve(
            DB, workers=0, logfile=logs["B"], name="live-B", args=["--max-cron-threads=1"],
            **common,
        )  # fmt: skip
        started.append(b)
        live = Live(
            DB,
            Server("A", a, logs["A"], a.http_port, a.gevent_port),
            Server("B", b, logs["B"], b.http_port, None),
            cluster,
        )
        _setup(live)
        yield live
    finally:
        for proc in started:
            odoo_tools.stop(proc, timeout=5)
        if not os.environ.get("MEDDEV_LIVE_KEEP_DB"):
            cluster.drop_db(DB)
            shutil.rmtree(STATE / "odoo-data" / "filestore" / DB, ignore_errors=True)


def assert_user_error(exc, *names: str) -> None:
    """A clear error for the user: one of ``names`` (UserError... by default), a message,
    and no ValueError/TypeError behind it."""
    allowed = names or (
        "odoo.exceptions.UserError",
        "odoo.exceptions.AccessError",
        "odoo.exceptions.MissingError",
        "odoo.exceptions.ValidationError",
    )
    assert exc.name in allowed, (exc.name, exc.message, exc.debug[-1500:])
    assert exc.message.strip()
    assert not re.search(r"^(ValueError|TypeError|KeyError|AttributeError)\b", exc.debug, re.M)
