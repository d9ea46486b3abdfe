#!/usr/bin/env python3
"""Benchmark: how long an e-signature takes on the server, next to OCA tier validation.

Run ``python3 bench/bench_signing.py`` from anywhere. It prints figures and never asserts speed.

The file has two halves:

* the driver (``main``), run by you: it installs the OCA wheels into a cache folder outside
  the repository, creates the throw-away databases ``bench_esign`` and ``bench_oca`` on the
  project's private PostgreSQL cluster (``scripts/dev.py``), runs the measurements through
  ``odoo shell`` and prints a table; it drops both databases at the end;
* the measurements (``measure_esign`` and ``measure_oca``), run *inside* Odoo by ``odoo shell``.
  They work in the shell's single transaction, which Odoo rolls back when the shell ends.

See bench/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
MODULE = "meddev_esign"
DB_ESIGN = "bench_esign"
DB_OCA = "bench_oca"
BASE_TIER_WHEEL = "odoo-addon-base-tier-validation==18.0.3.5.2"
PURCHASE_TIER_PROJECT = "odoo-addon-purchase-tier-validation"
BULK_TARGET_S = 5.0
SINGLE_TARGET_MS = 10.0
# What the issue gives for OCA's approval (validate_tier, with notifications) on the
# reference machine; a run on another machine is scaled by its own OCA figure.
OCA_REFERENCE_MS = 10.7
PASSWORD = "Bench-Release-Authority-42!"  # set on the throw-away bench users only
RESULT_MARK = "BENCH_RESULT "


# =========================================================================== inside Odoo
def emit(result: dict) -> None:
    """Print a measurement result on one line that the driver picks out of the shell output."""
    print(RESULT_MARK + json.dumps(result), flush=True)


def _timed(env, func):
    """Run ``func`` on a cold ORM cache, flush its writes; return (seconds, SQL queries, value).

    Each call stands for one HTTP request of its own:

    * before: ``cr.flush()`` runs what the previous "request" left for its commit, and the
      cache is emptied, as at the start of an HTTP request. Records made before (lots, orders)
      then count as existing ones: Odoo tracks changes to those, not to records created in the
      same transaction.
    * after: ``cr.flush()`` writes the deferred UPDATE/INSERT statements *and* runs the
      pre-commit hooks (Odoo's tracking messages, such as the lot's release state), which
      Odoo runs just before COMMIT. The COMMIT itself is left out.
    """
    cr = env.cr
    cr.flush()
    env.invalidate_all()
    queries = cr.sql_log_count
    start = time.perf_counter()
    value = func()
    cr.flush()
    return time.perf_counter() - start, cr.sql_log_count - queries, value


def _summary(seconds: list[float], queries: list[int]) -> dict:
    return {
        "n": len(seconds),
        "median_ms": 1000 * statistics.median(seconds),
        "mean_ms": 1000 * statistics.fmean(seconds),
        "p90_ms": 1000 * statistics.quantiles(seconds, n=10)[-1] if len(seconds) > 1 else None,
        "queries_median": statistics.median(queries),
        "queries_mean": statistics.fmean(queries),
    }


def measure_esign(env, n_single: int, n_warmup: int, n_bulk: int) -> dict:
    """Lot-release signatures of meddev_esign: one by one, then 500 under one authentication."""
    from odoo import Command  # noqa: PLC0415 - this function runs inside Odoo only

    policy = env.ref("meddev_esign.policy_lot_release")
    release_authority = env["res.users"].create(
        {
            "name": "Bench Release Authority",
            "login": "bench.release.authority",
            "password": PASSWORD,
            "tz": "Asia/Shanghai",
            "groups_id": [
                Command.set(
                    [
                        env.ref("meddev_esign.group_esign_release_authority").id,
                        env.ref("stock.group_stock_user").id,
                    ]
                )
            ],
        }
    )
    signers = policy.step_ids.group_id.users
    device = env["product.product"].create(
        {
            "name": "Bench Infusion Pump",
            "is_storable": True,
            "tracking": "lot",
            "esign_device_class": "II",
        }
    )

    def make_lots(prefix, count):
        # Made by the superuser, so the release authority is not their author (SoD).
        return env["stock.lot"].create(
            [
                {
                    "name": f"{prefix}-{i:05d}",
                    "product_id": device.id,
                    "company_id": env.company.id,
                }
                for i in range(count)
            ]
        )

    ra = release_authority
    ra_policy = policy.with_user(ra)
    ra_step = policy.step_ids.with_user(ra)
    requests = env["esign.request"].with_user(ra)

    def sign(lot, request, expected, lock):
        return request._sign(
            lot,
            ra_step,
            reason="Batch record reviewed",
            auth_method="login_password",
            expected_hash=expected,
            lock=lock,
        )

    # 1. One signature at a time, without the password check. Lots alternate between
    #    a. request + signature in one timed block: what action_sign does per record, in one
    #       HTTP request (the lot's request is opened by its first signature);
    #    b. the signature alone, on a request opened in an earlier (untimed) block: the
    #       counterpart of OCA's validate_tier, whose review was requested beforehand.
    lots = make_lots("BENCH-ONE", 2 * (n_warmup + n_single)).with_user(ra)
    total, sign_only, queries, sign_queries = [], [], [], []
    for index, lot_id in enumerate(lots.ids):
        lot = lots.browse(lot_id)  # on its own, as a request reads it: no batch prefetch
        expected = lot.sudo()._esign_content_hash()  # what the wizard stores when it opens
        if index % 2 == 0:
            seconds, count, _sig = _timed(
                env,
                # _for_record(create=True) takes the lot's lock, so _sign does not take it again
                lambda lot=lot, expected=expected: sign(
                    lot, requests._for_record(lot, ra_policy, create=True), expected, lock=False
                ),
            )
            seconds_list, count_list = total, queries
        else:
            _s, _q, request = _timed(
                env, lambda lot=lot: requests._for_record(lot, ra_policy, create=True)
            )
            # A click of its own: it takes the lot's lock, as action_sign does first.
            seconds, count, _sig = _timed(
                env,
                lambda lot=lot, request=request, expected=expected: sign(
                    lot, request, expected, lock=True
                ),
            )
            seconds_list, count_list = sign_only, sign_queries
        if index >= 2 * n_warmup:
            seconds_list.append(seconds)
            count_list.append(count)
    released = lots.filtered(lambda lot: lot.esign_release_state == "released")
    signatures = env["esign.signature"].search_count(
        [("res_model", "=", "stock.lot"), ("res_id", "in", lots.ids)]
    )
    chain_ok = all(
        env["esign.signature"]._verify_chain("stock.lot", lot.id).ok for lot in lots[-5:]
    )

    # The password check alone (PBKDF2), which action_sign does once per call.
    ra_user = ra.with_user(ra)
    credential = {"type": "password", "login": ra.login, "password": PASSWORD}
    password_s = []
    for _ in range(5):
        seconds, _q, _v = _timed(
            env, lambda: ra_user._check_credentials(credential, {"interactive": True})
        )
        password_s.append(seconds)

    # 2. The bulk wizard: n_bulk lot releases under one authentication.
    bulk_lots = make_lots("BENCH-BULK", n_bulk).with_user(ra)
    wizards = env["esign.sign.wizard"].with_user(ra)
    open_s, _q, wizard = _timed(
        env, lambda: wizards.browse(wizards._action_open(bulk_lots)["res_id"])
    )
    wizard.write({"login": ra.login, "reason": "Batch records reviewed"})
    bulk_s, bulk_q, action = _timed(env, lambda: wizard.action_sign(password=PASSWORD))
    bulk_released = bulk_lots.filtered(lambda lot: lot.esign_release_state == "released")

    return {
        "signers_on_step": len(signers | ra),
        "single": {
            "request_and_sign": _summary(total, queries),
            "sign_only": _summary(sign_only, sign_queries),
            "warmup": n_warmup,
            "lots_released": len(released),
            "signatures": signatures,
            "chain_ok_last5": chain_ok,
        },
        "password_check_ms": 1000 * statistics.median(password_s),
        "bulk": {
            "lots": n_bulk,
            "open_s": open_s,
            "action_sign_s": bulk_s,
            "per_lot_ms": 1000 * bulk_s / n_bulk,
            "queries": bulk_q,
            "signatures": len(action["infos"]["signature_ids"]),
            "lots_released": len(bulk_released),
        },
    }


def measure_oca(env, n_single: int, n_warmup: int) -> dict:
    """OCA base_tier_validation on purchase orders: one reviewer, notifications on."""
    from odoo import Command  # noqa: PLC0415 - this function runs inside Odoo only

    def user(login, name):
        return env["res.users"].create(
            {
                "name": name,
                "login": login,
                "password": PASSWORD,
                "tz": "Asia/Shanghai",
                "groups_id": [Command.set([env.ref("purchase.group_purchase_user").id])],
            }
        )

    requester = user("bench.purchaser", "Bench Purchaser")
    reviewer = user("bench.reviewer", "Bench Reviewer")
    vendor = env["res.partner"].create({"name": "Bench Vendor", "email": "vendor@example.com"})
    product = env["product.product"].create(
        {"name": "Bench Component", "purchase_ok": True, "standard_price": 10.0}
    )
    tier = env["tier.definition"].create(
        {
            "name": "Bench purchase approval",
            "model_id": env.ref("purchase.model_purchase_order").id,
            "review_type": "individual",
            "reviewer_id": reviewer.id,
            "definition_domain": "[]",
            "notify_on_create": True,
            "notify_on_accepted": True,
        }
    )
    orders = (
        env["purchase.order"]
        .with_user(requester)
        .create(
            [
                {
                    "partner_id": vendor.id,
                    "order_line": [
                        Command.create(
                            {"product_id": product.id, "product_qty": 5, "price_unit": 10.0}
                        )
                    ],
                }
                for _ in range(n_warmup + n_single)
            ]
        )
    )
    total, approve, queries, approve_queries = [], [], [], []
    for index, order_id in enumerate(orders.ids):
        order = orders.browse(order_id)  # on its own: no batch prefetch over the other orders
        t_req, q_req, _reviews = _timed(env, order.with_user(requester).request_validation)
        t_val, q_val, _res = _timed(env, order.with_user(reviewer).validate_tier)
        if index >= n_warmup:
            total.append(t_req + t_val)
            approve.append(t_val)
            queries.append(q_req + q_val)
            approve_queries.append(q_val)
    validated = orders.filtered(lambda o: o.validation_status == "validated")
    return {
        "tier_definition": tier.name,
        "request_and_validate": _summary(total, queries),
        "validate_only": _summary(approve, approve_queries),
        "warmup": n_warmup,
        "orders_validated": len(validated),
    }


# =========================================================================== the driver
def load_dev():
    """The project's dev tool (Odoo discovery, the private cluster, Odoo's command line)."""
    sys.path.insert(0, str(ROOT / "scripts"))
    import dev  # noqa: PLC0415 - found only once scripts/ is on the path

    return dev


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version))


def newest_18_version(project: str) -> str:
    """The newest 18.0.* release of ``project``, asked of the package index through pip."""
    res = subprocess.run(
        [sys.executable, "-m", "pip", "index", "versions", project],
        capture_output=True,
        text=True,
        cwd=tempfile.gettempdir(),
    )
    match = re.search(r"Available versions: (.*)", res.stdout)
    versions = [v.strip() for v in match.group(1).split(",")] if match else []
    versions = [v for v in versions if v.startswith("18.0.")]
    if not versions:
        raise RuntimeError(f"pip index versions {project} lists no 18.0.* release")
    return max(versions, key=_version_key)


def ensure_oca_addons(cache: Path) -> Path:
    """pip-install the two OCA wheels (no dependencies) into ``cache/oca``; return addons dir."""
    target = cache / "oca"
    purchase_version = newest_18_version(PURCHASE_TIER_PROJECT)
    wheels = [BASE_TIER_WHEEL, f"{PURCHASE_TIER_PROJECT}=={purchase_version}"]
    wanted = [w.replace("-", "_").replace("==", "-") + ".dist-info" for w in wheels]
    if not all((target / name).is_dir() for name in wanted):
        log(f"installing {', '.join(wheels)} into {target}")
        res = subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--upgrade"]
            + ["--target", str(target), *wheels],
            capture_output=True,
            text=True,
            cwd=tempfile.gettempdir(),
        )
        if res.returncode != 0:
            raise RuntimeError(f"pip install failed: {res.stderr.strip()[-800:]}")
    addons = target / "odoo" / "addons"
    for module in ("base_tier_validation", "purchase_tier_validation"):
        manifest = addons / module / "__manifest__.py"
        if not manifest.exists():
            raise RuntimeError(f"{manifest} is missing after pip install")
        depends = re.search(r'"depends":\s*\[([^\]]*)\]', manifest.read_text())
        log(f"{module} depends on {depends.group(1).strip() if depends else '?'}")
    return addons


class Runner:
    """Runs Odoo 18 against the private cluster with a throw-away data folder."""

    def __init__(
        self, dev, odoo_root: Path, cluster, data_dir: Path, module: str = "bench_signing"
    ) -> None:
        self.dev = dev
        self.odoo_root = odoo_root
        self.cluster = cluster
        self.data_dir = data_dir
        self.module = module  # the bench script whose functions ``measure`` calls

    def command(self, db: str, *args: str, addons: Path | None = None, sub: str = "server"):
        extra = [f"--data-dir={self.data_dir}", "--no-http", "--log-level=warn", "-d", db]
        if addons:  # on the command line: the shared .state/odoo.conf stays as the tool writes it
            extra.append(f"--addons-path={self.dev.addons_path(self.odoo_root)},{addons}")
        return self.dev.odoo_command(self.odoo_root, self.cluster, None, *extra, *args, sub=sub)

    def start_install(self, db: str, modules: str, addons: Path | None = None):
        """Start creating ``db`` with ``modules`` (no demo data); return the running process."""
        self.cluster.drop_db(db)
        argv, env = self.command(
            db, "-i", modules, "--without-demo=all", "--stop-after-init", addons=addons
        )
        proc = subprocess.Popen(
            argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        return db, modules, proc, time.perf_counter()

    @staticmethod
    def finish_install(job) -> None:
        db, modules, proc, start = job
        _out, err = proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError(
                f"installing {modules} on {db} failed (exit {proc.returncode}):\n" + err[-3000:]
            )
        log(f"{db}: installed {modules} in {time.perf_counter() - start:.0f} s")

    def measure(self, db: str, call: str, addons: Path | None = None) -> dict:
        """Run ``<module>.<call>`` inside ``odoo shell`` on ``db``; return its result."""
        script = (
            "import sys\n"
            "sys.dont_write_bytecode = True\n"  # no __pycache__ left in bench/
            f"sys.path.insert(0, {str(HERE)!r})\n"
            f"import {self.module}\n"
            f"{self.module}.emit({self.module}.{call})\n"
        )
        argv, env = self.command(db, addons=addons, sub="shell")
        res = subprocess.run(argv, env=env, input=script, capture_output=True, text=True)
        for line in res.stdout.splitlines():
            if line.startswith(RESULT_MARK):
                return json.loads(line[len(RESULT_MARK) :])
        raise RuntimeError(
            f"odoo shell on {db} gave no result (exit {res.returncode}):\n" + res.stderr[-4000:]
        )


def fmt_ms(value: float) -> str:
    return f"{value:.1f} ms"


def build_rows(ours: dict, oca: dict | None) -> list[tuple[str, str, str, str]]:
    single = ours["single"]["request_and_sign"]
    sign = ours["single"]["sign_only"]
    bulk = ours["bulk"]
    per_lot_target_ms = 1000 * BULK_TARGET_S / bulk["lots"]

    def vs_oca(value: float, key: str, field: str) -> str:
        if not oca:
            return "n/a (no OCA figure)"
        ref = oca[key][field]
        return f"{value / ref:.2f} ours/OCA" if ref else "n/a"

    rows = [
        (
            f"meddev_esign: request + signature, median (n={single['n']})",
            fmt_ms(single["median_ms"]),
            "-",
            vs_oca(single["median_ms"], "request_and_validate", "median_ms"),
        ),
        (
            "meddev_esign: request + signature, mean",
            fmt_ms(single["mean_ms"]),
            "-",
            vs_oca(single["mean_ms"], "request_and_validate", "mean_ms"),
        ),
        (
            "meddev_esign: _sign only, median",
            fmt_ms(sign["median_ms"]),
            "-",
            vs_oca(sign["median_ms"], "validate_only", "median_ms"),
        ),
        (
            "meddev_esign: SQL queries per signature (request + sign)",
            f"{single['queries_median']:.0f}",
            "-",
            vs_oca(single["queries_median"], "request_and_validate", "queries_median"),
        ),
        (
            "meddev_esign: SQL queries, _sign only",
            f"{sign['queries_median']:.0f}",
            "-",
            vs_oca(sign["queries_median"], "validate_only", "queries_median"),
        ),
        (
            "password check (PBKDF2), once per action_sign",
            fmt_ms(ours["password_check_ms"]),
            "-",
            "-",
        ),
        (
            f"bulk wizard: {bulk['lots']} lot releases, one action_sign",
            f"{bulk['action_sign_s']:.2f} s",
            f"< {BULK_TARGET_S:.0f} s",
            f"{bulk['action_sign_s'] / BULK_TARGET_S:.2f} of target",
        ),
        (
            "bulk wizard: per lot",
            fmt_ms(bulk["per_lot_ms"]),
            f"< {per_lot_target_ms:.0f} ms",
            f"{bulk['per_lot_ms'] / per_lot_target_ms:.2f} of target",
        ),
        (
            "bulk wizard: SQL queries per lot",
            f"{bulk['queries'] / bulk['lots']:.1f}",
            "-",
            "-",
        ),
        (
            f"bulk wizard: opening it on {bulk['lots']} lots (not in the figure above)",
            f"{bulk['open_s']:.2f} s",
            "-",
            "-",
        ),
    ]
    if oca:
        req = oca["request_and_validate"]
        val = oca["validate_only"]
        # One click each: our request + signature, or signature alone, over OCA's
        # validate_tier of the same round; then scaled to the reference machine,
        # where OCA's validate_tier measures OCA_REFERENCE_MS (this machine's speed drifts).
        paired = ours["paired_vs_validate"]  # set by combine_rounds whenever OCA ran
        labels = (("request + signature", "request_and_sign"), ("_sign only", "sign_only"))
        for label, key in labels:
            rows.append(
                (
                    f"meddev_esign: {label} / OCA validate_tier (one click each)",
                    f"{paired[key]:.2f}",
                    f"<= {SINGLE_TARGET_MS / OCA_REFERENCE_MS:.2f}",
                    "-",
                )
            )
        for label, key in labels:
            scaled = paired[key] * OCA_REFERENCE_MS
            rows.append(
                (
                    f"meddev_esign: {label}, scaled to OCA validate_tier = {OCA_REFERENCE_MS} ms",
                    fmt_ms(scaled),
                    f"<= {SINGLE_TARGET_MS:.0f} ms",
                    f"{scaled / SINGLE_TARGET_MS:.2f} of target",
                )
            )
        rows += [
            (
                f"OCA: request_validation + validate_tier, median (n={req['n']})",
                fmt_ms(req["median_ms"]),
                "-",
                "reference",
            ),
            ("OCA: request_validation + validate_tier, mean", fmt_ms(req["mean_ms"]), "-", "-"),
            ("OCA: validate_tier only, median", fmt_ms(val["median_ms"]), "-", "reference"),
            (
                "OCA: SQL queries per approval (request + validate)",
                f"{req['queries_median']:.0f}",
                "-",
                "reference",
            ),
            ("OCA: SQL queries, validate_tier only", f"{val['queries_median']:.0f}", "-", "-"),
        ]
    return rows


def _median_tree(values: list):
    """The median of each number across ``values`` (dicts of the same shape). A boolean
    holds if it holds in every round; a value equal in every round (a count) is kept."""
    first = values[0]
    if isinstance(first, dict):
        return {key: _median_tree([value[key] for value in values]) for key in first}
    if isinstance(first, bool):
        return all(values)
    if all(value == first for value in values):  # counts and checks, equal in every round
        return first
    if isinstance(first, int | float) and all(isinstance(v, int | float) for v in values):
        return statistics.median(values)
    return first


def _paired(ours: dict, oca: dict) -> dict:
    """One round's ratios of one click each, ours over OCA's validate_tier, same round."""
    validate = oca["validate_only"]["median_ms"]
    single = ours["single"]
    return {
        "request_and_sign": single["request_and_sign"]["median_ms"] / validate,
        "sign_only": single["sign_only"]["median_ms"] / validate,
    }


def combine_rounds(rounds: list[tuple[dict, dict | None]]) -> tuple[dict, dict | None]:
    """Medians over the rounds; the ratios to OCA are the medians of each round's ratios."""
    ours = _median_tree([pair[0] for pair in rounds])
    complete = [pair for pair in rounds if pair[1]]
    if len(complete) != len(rounds):
        return ours, None
    oca = _median_tree([pair[1] for pair in complete])
    paired = [_paired(*pair) for pair in complete]
    ours["paired_vs_validate"] = {
        key: statistics.median(ratios[key] for ratios in paired) for key in paired[0]
    }
    return ours, oca


def print_rounds(rounds: list[tuple[dict, dict | None]]) -> None:
    for number, (ours, oca) in enumerate(rounds, 1):
        single = ours["single"]
        line = (
            f"round {number}: request + signature "
            f"{fmt_ms(single['request_and_sign']['median_ms'])}, _sign only "
            f"{fmt_ms(single['sign_only']['median_ms'])}, "
            f"bulk {ours['bulk']['action_sign_s']:.2f} s"
        )
        if oca:
            ratios = _paired(ours, oca)
            line += (
                f"; OCA validate_tier {fmt_ms(oca['validate_only']['median_ms'])}"
                f"; ours/OCA {ratios['request_and_sign']:.2f} and {ratios['sign_only']:.2f}"
            )
        print(line)


def print_table(rows: list[tuple[str, str, str, str]]) -> None:
    header = ("metric", "value", "target", "ratio")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    line = "  ".join("-" * w for w in widths)
    print(line)
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print(line)
    for row in rows:
        cells = [row[0].ljust(widths[0])]
        cells += [c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)]
        print("  ".join(cells))
    print(line)


def print_checks(ours: dict, oca: dict | None) -> None:
    single, bulk = ours["single"], ours["bulk"]
    # Half the lots are signed in one block with their request, half on an opened request.
    lots = single["request_and_sign"]["n"] + single["sign_only"]["n"] + 2 * single["warmup"]
    print(
        f"checks: {single['signatures']} single signatures, {single['lots_released']} of "
        f"{lots} lots released, chain of the last 5 verifies: "
        f"{single['chain_ok_last5']}; bulk: {bulk['signatures']} signatures, "
        f"{bulk['lots_released']} of {bulk['lots']} lots released; signers on the release "
        f"step: {ours['signers_on_step']}"
    )
    if oca:
        print(
            f"        OCA: {oca['orders_validated']} of {oca['request_and_validate']['n']} + "
            f"{oca['warmup']} warm-up purchase orders validated"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--single", type=int, default=200, help="signatures timed one by one")
    parser.add_argument("--warmup", type=int, default=20, help="untimed signatures first")
    parser.add_argument("--bulk", type=int, default=500, help="lots in the bulk wizard")
    parser.add_argument("--no-oca", action="store_true", help="skip the OCA comparison")
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="rounds of (ours, then OCA), each timing --single signatures per side",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the bench_* databases (for inspection)"
    )
    args = parser.parse_args()

    dev = load_dev()
    odoo_root, how = dev.find_odoo()
    if odoo_root is None:
        log(f"Odoo 18.0 not found: {how}")
        return 1
    log(f"Odoo 18.0 at {odoo_root} (found by {how})")
    cluster = dev.Cluster()
    cluster.ensure()  # a no-op when the cluster already runs
    data_dir = Path(tempfile.mkdtemp(prefix="bench_odoo_data_"))
    runner = Runner(dev, odoo_root, cluster, data_dir)
    oca_addons, oca_problem = None, None
    try:
        if args.no_oca:
            oca_problem = "skipped (--no-oca)"
        else:
            try:
                oca_addons = ensure_oca_addons(dev.CACHE)
            except (RuntimeError, OSError) as exc:
                oca_problem = f"OCA wheels unavailable: {exc}"

        # Both databases are created at once (two processes), to save time.
        log("creating the bench databases (a few minutes)")
        ours_job = runner.start_install(DB_ESIGN, MODULE)
        oca_job = None
        if oca_addons:
            oca_job = runner.start_install(DB_OCA, "purchase_tier_validation", oca_addons)
        runner.finish_install(ours_job)
        if oca_job:
            try:
                runner.finish_install(oca_job)
            except RuntimeError as exc:
                oca_problem = f"purchase_tier_validation did not install: {exc}"
                oca_addons = None

        # Measurements run one after the other, never in parallel. Ours and OCA's alternate
        # in rounds, so that a drift of the machine's speed touches both sides of a round
        # alike: the ratios are taken within each round.
        rounds = []
        for number in range(1, max(1, args.rounds) + 1):
            log(f"round {number}: measuring meddev_esign on {DB_ESIGN}")
            ours_round = runner.measure(
                DB_ESIGN, f"measure_esign(env, {args.single}, {args.warmup}, {args.bulk})"
            )
            oca_round = None
            if oca_addons:
                log(f"round {number}: measuring OCA tier validation on {DB_OCA}")
                try:
                    oca_round = runner.measure(
                        DB_OCA,
                        f"measure_oca(env, {args.single}, {args.warmup})",
                        addons=oca_addons,
                    )
                except RuntimeError as exc:
                    oca_problem = f"the OCA measurement failed: {exc}"
                    oca_addons = None
            rounds.append((ours_round, oca_round))
        ours, oca = combine_rounds(rounds)
    finally:
        if not args.keep:
            for db in (DB_ESIGN, DB_OCA):
                cluster.drop_db(db)
        shutil.rmtree(data_dir, ignore_errors=True)
        if cluster.started_here:  # never stop a cluster that something else started
            cluster.stop()

    print()
    print("meddev_esign signing benchmark (server side, one Odoo process, real PostgreSQL)")
    print(f"{len(rounds)} round(s); figures are medians over the rounds")
    print_table(build_rows(ours, oca))
    print_rounds(rounds)
    print_checks(ours, oca)
    if oca_problem:
        print(f"OCA comparison: {oca_problem}")
    results = HERE / "results"
    results.mkdir(exist_ok=True)
    (results / "latest.json").write_text(
        json.dumps(
            {"meddev_esign": ours, "oca": oca, "oca_problem": oca_problem, "rounds": rounds},
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
