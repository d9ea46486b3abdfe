#!/usr/bin/env python3
"""Benchmark: one user signing from 1, 2 and 4 browser sessions at once, over HTTP.

Odoo serves in prefork mode (``--workers 4`` by default, through ``devtools.odoo.serve``, the
same launch as ``scripts/dev.py serve``). Every session logs in through
``/web/session/authenticate`` and signs fresh lots exactly as the browser does: the Sign
button (``action_esign_sign``, whose action carries what the wizard's form shows), then the
wizard's Sign button (``action_sign`` with the password), typing the log-in too when the form
asks for it. Each session's first signature gives every component and is not timed; the timed
ones are within the continuous session, unless another session took the window away (counted
as "log-in asked again").

It reports, per number of sessions: signatures made / tried, p50 and p95 latency of one
signature (the two calls), the rate (signatures per second of wall time), the ERROR lines
and the serialization retries in Odoo's log. Figures only; it asserts nothing about speed.

``--compare REF`` also measures another version of the add-on (a git ref of this repository,
exported with ``git archive`` to a temporary folder) side by side, each on its own database
installed by that version; ``python3 bench/bench_sessions.py --compare main`` gives the
before/after table. The machine's load moves every figure: compare ratios within one run.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "scripts"))

from devtools import odoo as odoo_tools  # noqa: E402
from devtools.cluster import Cluster  # noqa: E402
from devtools.common import MODULE, STATE  # noqa: E402
from devtools.rpc import Client, RpcError  # noqa: E402

PASSWORD = "Bench-Pass-42"
LOGIN = "bench_ra"
#: Signatures per session for 1, 2 and 4 sessions (the same totals as the first probe).
DEFAULT_PLAN = {1: 12, 2: 8, 4: 5}


def install(cluster: Cluster, odoo_root: Path, db: str, addon_root: Path) -> None:
    """A fresh database with the add-on of ``addon_root``, without demo data."""
    cluster.drop_db(db)
    log = STATE / f"{db}-install.log"
    log.unlink(missing_ok=True)
    argv, env = odoo_tools.odoo_command(
        odoo_root, cluster, None, "-d", db, "-i", MODULE, "--without-demo=all",
        "--stop-after-init", "--no-http", "--log-level=warn", f"--logfile={log}",
        conf=STATE / f"odoo-{db}.conf", addon_root=addon_root,
    )  # fmt: skip
    subprocess.run(argv, env=env, check=True)


def setup(port: int, db: str) -> tuple[int, int]:
    """The release authority and a lot-tracked device; (user id, product id)."""
    admin = Client(port)
    admin.authenticate(db, "admin", "admin")

    def ref(xmlid: str) -> int:
        return admin.call("ir.model.data", "check_object_reference", *xmlid.split("."))[1]

    groups = [ref("meddev_esign.group_esign_release_authority"), ref("stock.group_stock_user")]
    user = admin.call(
        "res.users",
        "create",
        {"name": "Bench RA", "login": LOGIN, "password": PASSWORD, "groups_id": [(6, 0, groups)]},
    )
    product = admin.call(
        "product.product",
        "create",
        {"name": "Bench Pump", "is_storable": True, "tracking": "lot", "esign_device_class": "II"},
    )
    return user, product


def make_lots(port: int, db: str, product: int, count: int, tag: str) -> list[int]:
    admin = Client(port)
    admin.authenticate(db, "admin", "admin")
    return [
        admin.call("stock.lot", "create", {"name": f"B-{tag}-{i}", "product_id": product})
        for i in range(count)
    ]


def sign_as_browser(client: Client, lot: int) -> bool:
    """One signature as the browser makes it; whether the form asked for the log-in too (a
    full re-authentication: the first in a session, or a session whose window was lost)."""
    action = client.call("stock.lot", "action_esign_sign", [lot])
    wizard = action["res_id"]
    # The form takes what the Sign button sent with the action (as the web client does).
    form = action["context"]["esign_preload"]["record"]
    # The person types the log-in in the field the form shows; it goes with the password.
    values = {"login": LOGIN} if form["needs_login"] else {}
    client.call("esign.sign.wizard", "action_sign", [wizard], password=PASSWORD, values=values)
    return bool(form["needs_login"])


def run_sessions(port: int, db: str, product: int, sessions: int, each: int, tag: str) -> dict:
    clients = []
    warm = make_lots(port, db, product, sessions, f"{tag}-w")
    for lot in warm:  # each session's first signature gives every component; not timed
        client = Client(port, timeout=300)
        client.authenticate(db, LOGIN, PASSWORD)
        sign_as_browser(client, lot)
        clients.append(client)
    lots = make_lots(port, db, product, sessions * each, tag)
    latencies: list[float] = []
    errors: list[str] = []
    asked: list[bool] = []
    barrier = threading.Barrier(sessions + 1)

    def work(client: Client, mine: list[int]) -> None:
        barrier.wait()
        for lot in mine:
            t0 = time.monotonic()
            try:
                asked.append(sign_as_browser(client, lot))
                latencies.append(time.monotonic() - t0)
            except RpcError as exc:
                errors.append(str(exc)[:200])

    threads = [
        threading.Thread(target=work, args=(c, lots[i * each : (i + 1) * each]))
        for i, c in enumerate(clients)
    ]
    for t in threads:
        t.start()
    barrier.wait()
    t0 = time.monotonic()
    for t in threads:
        t.join()
    wall = time.monotonic() - t0
    ordered = sorted(latencies)
    return {
        "sessions": sessions,
        "tried": len(lots),
        "signed": len(latencies),
        "p50": statistics.median(ordered) if ordered else float("nan"),
        "p95": ordered[max(0, round(0.95 * len(ordered)) - 1)] if ordered else float("nan"),
        "rate": len(latencies) / wall if wall else 0.0,
        "client_errors": errors,
        "relogins": sum(asked),
    }


def measure(label: str, addon_root: Path, args: argparse.Namespace, odoo_root, cluster) -> list:  # noqa: ANN001
    db = f"bench_sessions_{label}"
    print(f"[{label}] installing {MODULE} from {addon_root} into {db}", flush=True)
    install(cluster, odoo_root, db, addon_root)
    log = STATE / f"{db}.log"
    log.unlink(missing_ok=True)
    proc = odoo_tools.serve(
        db, workers=args.workers, logfile=log, addon_root=addon_root,
        args=["--log-level=info", "--max-cron-threads=0", "--db_maxconn=32"],
    )  # fmt: skip
    rows = []
    try:
        _user, product = setup(proc.http_port, db)
        for sessions, each in args.plan.items():
            mark = log.stat().st_size
            row = run_sessions(proc.http_port, db, product, sessions, each, f"{label}{sessions}")
            time.sleep(0.5)
            with log.open("rb") as fh:
                fh.seek(mark)
                text = fh.read().decode(errors="replace").splitlines()
            row["error_lines"] = sum(
                1
                for ln in text
                if (m := odoo_tools.LOG_LINE.match(ln)) and m.group(1) in {"ERROR", "CRITICAL"}
            )
            row["retries"] = sum(1 for ln in text if "serializ" in ln.lower())
            row["label"] = label
            rows.append(row)
            print(fmt(row), flush=True)
    finally:
        odoo_tools.stop(proc, timeout=10)
        if not args.keep:
            cluster.drop_db(db)
    return rows


def fmt(row: dict) -> str:
    return (
        f"{row['label']:>8} {row['sessions']:>2} session(s): {row['signed']:>3}/{row['tried']:<3}"
        f" signed  p50 {row['p50'] * 1000:7.0f} ms  p95 {row['p95'] * 1000:7.0f} ms"
        f"  {row['rate']:5.2f}/s  ERROR lines {row['error_lines']}"
        f"  retries {row['retries']}  log-in asked again {row['relogins']}"
        + (f"  client errors {len(row['client_errors'])}" if row["client_errors"] else "")
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--compare", metavar="REF", help="also measure this git ref (e.g. main)")
    parser.add_argument(
        "--plan",
        default=",".join(f"{k}x{v}" for k, v in DEFAULT_PLAN.items()),
        help="sessions x signatures each, comma-separated (default %(default)s)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the databases")
    args = parser.parse_args()
    args.plan = {int(a): int(b) for a, b in (p.split("x") for p in args.plan.split(","))}
    odoo_root, how = odoo_tools.find_odoo()
    if not odoo_root:
        print(f"Odoo 18.0 not found: {how}", file=sys.stderr)
        return 2
    cluster = Cluster()
    cluster.ensure()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-sessions-") as tmp:
        if args.compare:
            before = Path(tmp) / MODULE
            before.mkdir()
            archive = subprocess.run(
                ["git", "-C", str(ROOT), "archive", args.compare], check=True, capture_output=True
            ).stdout
            subprocess.run(["tar", "-x", "-C", str(before)], input=archive, check=True)
            rows += measure("before", before, args, odoo_root, cluster)
        rows += measure("after", ROOT, args, odoo_root, cluster)
    print(f"\nOne user, --workers {args.workers}, JSON-RPC as the browser (PKI off):")
    for row in rows:
        print(fmt(row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
