#!/usr/bin/env python3
"""Benchmark: how fast E-Signatures > Reporting opens on a year of signing data.

Run ``python3 bench/bench_kpi.py`` from anywhere. It prints figures and never asserts speed.

* The driver (``main``) creates the throw-away database ``bench_kpi`` (``meddev_esign`` with no
  demo data) on the project's private PostgreSQL cluster, runs ``measure_kpi`` through
  ``odoo shell`` and drops the database (``--keep`` keeps it).
* ``measure_kpi``, run inside Odoo, generates one year of history in SQL (by default 50,000
  signing requests over 12 months under two policies, their steps and signatures, and an audit
  trail of 6 entries per request of which 3% are changes after signing), commits it, and then
  times what the web client asks for when each Reporting menu opens: the chart or pivot's
  ``read_group`` and the list's first page with its count, each on a fresh cache.

The rows are written in SQL rather than signed one by one: signing 50,000 requests would take
the better part of an hour, and these views only read the tables. The audit rows are not a
valid chain (their hashes are placeholders); nothing here verifies them.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_signing import RESULT_MARK, Runner, load_dev, log

HERE = Path(__file__).resolve().parent
DB_KPI = "bench_kpi"
TARGET_S = 1.0


# =========================================================================== inside Odoo
def emit(result: dict) -> None:
    """Print a measurement result on one line that the driver picks out of the shell output."""
    print(RESULT_MARK + json.dumps(result), flush=True)


def generate(env, n_requests: int) -> dict:
    """Write ``n_requests`` requests of the last 12 months, with lines, signatures and audit
    entries, in a few INSERT ... SELECT statements; commit. Return the row counts."""
    cr = env.cr
    lot_policy = env.ref("meddev_esign.policy_lot_release")
    cr_policy = env.ref("meddev_esign.policy_cr_approve")  # review, then approval
    chain = env["esign.audit.chain"]._for_company(env.company)
    user = env.ref("base.user_admin")
    env.flush_all()
    started = time.perf_counter()
    # Requests: one in three is a change request's review and approval, the others lot
    # releases. Opened uniformly over the year; 92% completed after 1-72 h, 3% rejected, the
    # rest open.
    cr.execute(
        """
        INSERT INTO esign_request (policy_id, policy_version, trigger, company_id, res_model,
                                   res_id, record_name, state, create_date, write_date,
                                   completed_at, create_uid, write_uid)
        SELECT CASE WHEN g %% 3 = 0 THEN %(cr_policy)s ELSE %(lot_policy)s END, 1,
               CASE WHEN g %% 3 = 0 THEN %(cr_trigger)s ELSE %(lot_trigger)s END,
               %(company)s,
               CASE WHEN g %% 3 = 0 THEN 'esign.change.request' ELSE 'stock.lot' END,
               g, 'BENCH-' || g,
               CASE WHEN r < 0.92 THEN 'completed' WHEN r < 0.95 THEN 'rejected'
                    WHEN r < 0.98 THEN 'in_progress' ELSE 'waiting' END,
               opened, opened,
               CASE WHEN r < 0.92 THEN opened + (1 + random() * 71) * interval '1 hour' END,
               %(uid)s, %(uid)s
          FROM (SELECT g, random() AS r,
                       (now() AT TIME ZONE 'UTC') - random() * interval '365 days' AS opened
                  FROM generate_series(1, %(n)s) AS g) AS src
        """,
        {
            "n": n_requests,
            "cr_policy": cr_policy.id,
            "lot_policy": lot_policy.id,
            "cr_trigger": cr_policy.trigger,
            "lot_trigger": lot_policy.trigger,
            "company": env.company.id,
            "uid": user.id,
        },
    )
    steps = env["esign.policy.step"].search([("policy_id", "in", (lot_policy | cr_policy).ids)])
    step_rows = [(s.policy_id.id, s.id, s.sequence, s.name, s.meaning_id.id) for s in steps]
    cr.execute(
        "CREATE TEMP TABLE bench_steps (policy_id int, step_id int, sequence int,"
        " name varchar, meaning_id int) ON COMMIT DROP"
    )
    cr.executemany("INSERT INTO bench_steps VALUES (%s, %s, %s, %s, %s)", step_rows)
    # A line per step; a completed request has every step done.
    cr.execute(
        """
        INSERT INTO esign_request_line (request_id, step_id, sequence, name, meaning_id,
                                        required, signed_count, state)
        SELECT r.id, s.step_id, s.sequence, s.name, s.meaning_id, 1,
               CASE WHEN r.state = 'completed' THEN 1 ELSE 0 END,
               CASE WHEN r.state = 'completed' THEN 'done' ELSE 'current' END
          FROM esign_request r JOIN bench_steps s ON s.policy_id = r.policy_id
         WHERE r.record_name LIKE 'BENCH-%%'
        """
    )
    # A signature per done step, spread between the opening and the completion.
    cr.execute(
        """
        INSERT INTO esign_signature (request_id, policy_id, policy_version, step_id, step_name,
                                     company_id, user_id, printed_name, login, meaning_id,
                                     meaning_code, meaning_name, signed_at, signer_tz,
                                     auth_method, res_model, res_id, record_name,
                                     record_version, content_hash, previous_hash,
                                     signature_hash, create_date, create_uid)
        SELECT r.id, r.policy_id, 1, l.step_id, l.name, r.company_id, %(uid)s, 'Bench Signer',
               'bench', l.meaning_id, 'bench', 'Bench',
               r.create_date + (r.completed_at - r.create_date) * (l.sequence / 20.0),
               'UTC', 'password', r.res_model, r.res_id, r.record_name, 1,
               md5(r.id::text) || md5(l.id::text), repeat('0', 64),
               md5(l.id::text) || md5(r.id::text), r.create_date, %(uid)s
          FROM esign_request r JOIN esign_request_line l ON l.request_id = r.id
         WHERE r.state = 'completed' AND r.record_name LIKE 'BENCH-%%'
        """,
        {"uid": user.id},
    )
    # The audit trail: 6 entries per request, 3% of requests with a change after signing.
    cr.execute(
        "SELECT coalesce(max(seq), 0) FROM esign_audit_entry WHERE chain_id = %s", [chain.id]
    )
    (seq0,) = cr.fetchone()
    cr.execute(
        """
        INSERT INTO esign_audit_entry (chain_id, payload, previous_hash, entry_hash)
        SELECT %(chain)s,
               json_build_object(
                   'seq', %(seq0)s + row_number() OVER (),
                   'at', to_char(r.create_date + k * interval '1 minute',
                                 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
                   'user', json_build_array(%(uid)s, 'bench'),
                   'model', r.res_model, 'res_id', r.res_id, 'record', r.record_name,
                   'op', CASE WHEN k = 3 AND r.id %% 33 = 0 THEN 'write'
                              WHEN k < 3 THEN 'create' ELSE 'sign' END,
                   'reason', CASE WHEN k = 3 AND r.id %% 33 = 0 THEN 'Bench correction'
                                  ELSE '' END
               )::text,
               repeat('0', 64), repeat('0', 64)
          FROM esign_request r CROSS JOIN generate_series(1, 6) AS k
         WHERE r.record_name LIKE 'BENCH-%%'
        """,
        {"chain": chain.id, "seq0": seq0, "uid": user.id},
    )
    cr.execute("ANALYZE")
    counts = {}
    for table in ("esign_request", "esign_request_line", "esign_signature", "esign_audit_entry"):
        cr.execute(f"SELECT count(*) FROM {table}")  # noqa: S608 - fixed table names
        counts[table] = cr.fetchone()[0]
    cr.commit()
    counts["generated_in_s"] = round(time.perf_counter() - started, 1)
    return counts


def _opening(env, model: str, view: str, fields_: list[str], groupby: list[str]) -> float:
    """Seconds for what the web client asks when a report opens on ``view``."""
    env.invalidate_all()
    records = env[model]
    started = time.perf_counter()
    if view == "list":
        records.web_search_read([], {f: {} for f in fields_}, limit=80, count_limit=10001)
    else:
        records.web_read_group([], fields_, groupby, lazy=False)
    return time.perf_counter() - started


#: (menu, model, view, fields or measures, group-bys): what each Reporting menu first shows.
OPENINGS = [
    (
        "Signing Requests: chart",
        "esign.kpi.request",
        "graph",
        ["request_count:sum"],
        ["opened_at:month", "state"],
    ),
    (
        "Signing Requests: pivot",
        "esign.kpi.request",
        "pivot",
        [
            "request_count:sum",
            "first_pass_count:sum",
            "overdue_count:sum",
            "changed_count:sum",
            "cycle_hours:avg",
        ],
        ["policy_id", "opened_at:month"],
    ),
    (
        "Signing Requests: list",
        "esign.kpi.request",
        "list",
        [
            "record_name",
            "policy_id",
            "state",
            "opened_at",
            "completed_at",
            "cycle_hours",
            "open_age_days",
            "overdue",
            "first_pass",
            "changed_after_signing",
        ],
        [],
    ),
    (
        "Cycle Time and First Pass: chart",
        "esign.kpi.cycle",
        "graph",
        ["median_hours:avg"],
        ["month:month", "policy_id"],
    ),
    (
        "Cycle Time and First Pass: pivot",
        "esign.kpi.cycle",
        "pivot",
        ["median_hours:avg", "p90_hours:max", "first_pass_rate:avg"],
        ["policy_id", "month:month"],
    ),
    (
        "Cycle Time per Step: pivot",
        "esign.kpi.step",
        "pivot",
        ["median_hours:avg", "p90_hours:max"],
        ["policy_id", "step_id", "month:month"],
    ),
    (
        "Overdue Requests: list",
        "esign.kpi.request",
        "list",
        ["record_name", "policy_id", "state", "opened_at", "open_age_days", "overdue"],
        [],
    ),
    (
        "Signatures per Signer: chart",
        "esign.signature",
        "graph",
        ["__count"],
        ["user_id", "meaning_id"],
    ),
    (
        "Paperless Ratio: chart",
        "esign.kpi.paperless",
        "graph",
        ["signature_count:sum"],
        ["month:month", "origin"],
    ),
]


def measure_kpi(env, n_requests: int, runs: int) -> dict:
    env.cr.execute("SELECT count(*) FROM esign_request WHERE record_name LIKE 'BENCH-%%'")
    if env.cr.fetchone()[0]:  # --reuse: the year is there already
        counts = {"generated_in_s": 0.0}
        for table in ("esign_request", "esign_request_line", "esign_signature"):
            env.cr.execute(f"SELECT count(*) FROM {table}")  # noqa: S608 - fixed names
            counts[table] = env.cr.fetchone()[0]
        env.cr.execute("SELECT count(*) FROM esign_audit_entry")
        counts["esign_audit_entry"] = env.cr.fetchone()[0]
    else:
        counts = generate(env, n_requests)
    rows = []
    for label, model, view, fields_, groupby in OPENINGS:
        times = [_opening(env, model, view, fields_, groupby) for _ in range(runs)]
        rows.append({"label": label, "median_s": statistics.median(times), "max_s": max(times)})
    return {"counts": counts, "rows": rows}


# =========================================================================== driver
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=50_000, help="requests in the year")
    parser.add_argument("--runs", type=int, default=5, help="timed openings per report")
    parser.add_argument("--keep", action="store_true", help="keep the bench_kpi database")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="update the add-on on a kept bench_kpi and measure its data again",
    )
    args = parser.parse_args()

    dev = load_dev()
    odoo_root, how = dev.find_odoo()
    if odoo_root is None:
        log(f"Odoo 18.0 not found: {how}")
        return 1
    cluster = dev.Cluster()
    cluster.ensure()
    runner = Runner(
        dev,
        odoo_root,
        cluster,
        Path(tempfile.mkdtemp(prefix="bench_odoo_data_")),
        module="bench_kpi",
    )
    try:
        if args.reuse:
            argv, env = runner.command(DB_KPI, "-u", "meddev_esign", "--stop-after-init")
            subprocess.run(argv, env=env, check=True, capture_output=True)
        else:
            log("creating the bench database (a few minutes)")
            runner.finish_install(runner.start_install(DB_KPI, "meddev_esign"))
        result = runner.measure(DB_KPI, f"measure_kpi(env, {args.requests}, {args.runs})")
    finally:
        if not args.keep:
            cluster.drop_db(DB_KPI)
    counts = result["counts"]
    print(
        f"Data: {counts['esign_request']:,} requests, {counts['esign_request_line']:,} steps, "
        f"{counts['esign_signature']:,} signatures, {counts['esign_audit_entry']:,} audit "
        f"entries (generated in {counts['generated_in_s']} s)"
    )
    print(f"\n| Report opening (median of {args.runs}, fresh cache) | median | worst |")
    print("|---|---|---|")
    worst = 0.0
    for row in result["rows"]:
        worst = max(worst, row["median_s"])
        print(
            f"| {row['label']} | {row['median_s'] * 1000:.0f} ms | {row['max_s'] * 1000:.0f} ms |"
        )
    verdict = "met" if worst < TARGET_S else "NOT met"
    print(f"\nSlowest opening: {worst * 1000:.0f} ms; target under {TARGET_S:.0f} s: {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
