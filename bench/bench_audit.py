#!/usr/bin/env python3
"""Benchmark: the cost of the tamper-evident audit trail, next to OCA auditlog.

Run ``python3 bench/bench_audit.py`` from anywhere. It prints figures and never asserts speed.

The file has two halves:

* the driver (``main``), run by you: it installs the OCA ``auditlog`` wheel into a cache folder
  outside the repository, creates the throw-away database ``bench_audit`` (``meddev_esign`` and
  ``auditlog`` side by side) on the project's private PostgreSQL cluster (``scripts/dev.py``),
  runs the three measurements through ``odoo shell``, prints a table and drops the database;
* the measurements, run *inside* Odoo by ``odoo shell``:

  - ``measure_writes``: per-write cost on ``purchase.order`` with no audit, with our audit
    trail, and with auditlog in its 'fast' and 'full' modes, interleaved in rounds on the same
    kind of write. It works in the shell's single transaction, which Odoo rolls back;
  - ``measure_verify``: bulk-loads a bench chain of 1,000,000 entries (COPY, hashes computed
    with ``services.audit``) and times ``chain._verify()``. It commits;
  - ``measure_parallel``: 8 threads, each with its own cursor, write purchase orders and
    commit; every write appends to the company's chain. It commits.

See bench/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import io
import itertools
import json
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench_signing import Runner, load_dev, log, newest_18_version

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
MODULE = "meddev_esign"
DB_AUDIT = "bench_audit"
DB_AUDITLOG = "bench_auditlog"  # --auditlog-alone: auditlog without meddev_esign
AUDITLOG_PROJECT = "odoo-addon-auditlog"
AUDITLOG_TARGET = "oca-auditlog"  # folder under the cache; see ensure_auditlog()
FAST_REF_MS, FULL_REF_MS = 2.8, 9.5  # auditlog's overheads the target was set against
VERIFY_TARGET = 1_500_000  # entries/s
RESULT_MARK = "BENCH_RESULT "
MODE_LABELS = {
    "baseline": "no audit (baseline)",
    "ours": "meddev_esign audit trail",
    "auditlog_fast": "OCA auditlog, fast",
    "auditlog_full": "OCA auditlog, full",
}


# =========================================================================== inside Odoo
def emit(result: dict) -> None:
    """Print a measurement result on one line that the driver picks out of the shell output."""
    print(RESULT_MARK + json.dumps(result), flush=True)


def _timed(env, func):
    """Run ``func`` on a cold ORM cache, then flush and run the pre-commit hooks.

    Returns (seconds, SQL queries, value). The cache is emptied first, as at the start of an
    HTTP request. ``cr.flush()`` writes the deferred UPDATE/INSERT statements *and* runs the
    pre-commit callbacks (mail tracking messages, anything an audit trail defers to the end of
    the transaction): what a request pays before its COMMIT. Nothing is committed.
    """
    env.cr.flush()
    env.invalidate_all()
    cr = env.cr
    queries = cr.sql_log_count
    start = time.perf_counter()
    value = func()
    cr.flush()
    env.flush_all()
    return time.perf_counter() - start, cr.sql_log_count - queries, value


def _summary(seconds: list[float], queries: list[int]) -> dict:
    return {
        "n": len(seconds),
        "median_ms": 1000 * statistics.median(seconds),
        "mean_ms": 1000 * statistics.fmean(seconds),
        "p90_ms": 1000 * statistics.quantiles(seconds, n=10)[-1] if len(seconds) > 1 else None,
        "max_ms": 1000 * max(seconds),
        "queries_median": statistics.median(queries),
        "queries_mean": statistics.fmean(queries),
    }


def _bench_users(env, prefix: str, count: int):
    """``count`` purchasing managers (they write the orders) who can also be buyers."""
    from odoo import Command  # noqa: PLC0415 - this function runs inside Odoo only

    group = env.ref("purchase.group_purchase_manager")
    return env["res.users"].create(
        [
            {
                "name": f"Bench {prefix.title()} {i}",
                "login": f"bench.{prefix}.{i}",
                "email": f"bench.{prefix}.{i}@example.com",
                "notification_type": "inbox",  # assignment notices stay in Odoo, no mail.mail
                "tz": "UTC",
                "groups_id": [Command.set([group.id])],
            }
            for i in range(count)
        ]
    )


def _bench_orders(env, count: int, tag: str):
    """``count`` draft purchase orders with one line each, made by the superuser."""
    from odoo import Command  # noqa: PLC0415 - this function runs inside Odoo only

    vendor = env["res.partner"].create({"name": f"Bench Vendor {tag}"})
    product = env["product.product"].create(
        {"name": f"Bench Component {tag}", "purchase_ok": True, "standard_price": 10.0}
    )
    return env["purchase.order"].create(
        [
            {
                "partner_id": vendor.id,
                "order_line": [
                    Command.create({"product_id": product.id, "product_qty": 5, "price_unit": 10})
                ],
            }
            for _ in range(count)
        ]
    )


class _Writes:
    """Values for successive writes: every write changes four fields of its order.

    ``partner_ref``, ``notes`` (HTML) and ``date_planned`` take a value never used before; the
    buyer (``user_id``, a many2one that Odoo also tracks in the chatter) flips between two users
    on every write to the same order.
    """

    def __init__(self, buyers) -> None:
        from datetime import datetime  # noqa: PLC0415 - inside Odoo only

        self.buyers = buyers.ids
        self.start = datetime(2026, 12, 1, 8, 0, 0)
        self.counter = 0
        self.per_order: dict[int, int] = {}

    def next(self, order_id: int) -> dict:
        from datetime import timedelta  # noqa: PLC0415 - inside Odoo only

        self.counter += 1
        count = self.per_order[order_id] = self.per_order.get(order_id, 0) + 1
        i = self.counter
        return {
            "partner_ref": f"VREF-{i:06d}",
            "notes": f"<p>Bench terms, revision {i}</p>",
            "date_planned": self.start + timedelta(minutes=i),
            "user_id": self.buyers[count % 2],
        }


class _AuditSwitch:
    """Turns each kind of audit on and off inside this process, between timed writes.

    * ours: ``audit_base.Base._esign_audit_enabled`` is replaced by a function that answers
      False for the baseline and auditlog modes, and restored for ours. There is no context
      key that turns the audit trail off: this in-process patch is the bench's only way;
    * auditlog: one ``auditlog.rule`` on purchase.order (log_write, log_create, log_unlink),
      whose ``log_type`` is set before ``subscribe()``; ``subscribe()`` patches the model
      class at once (``_register_hook`` -> ``_patch_methods``), so no registry reload is
      needed in this process; ``unsubscribe()`` restores the original methods.
    """

    def __init__(self, env, auditlog: bool = True) -> None:
        self.env = env
        self.audit_base = None
        self.original = None
        if "esign.audit.entry" in env:
            from odoo.addons.meddev_esign.models import (  # noqa: PLC0415 - inside Odoo only
                audit_base,
            )

            self.audit_base = audit_base
            self.original = audit_base.Base.__dict__["_esign_audit_enabled"]
        self.rule = None
        if auditlog and "auditlog.rule" in env:
            self.rule = env["auditlog.rule"].create(
                {
                    "name": "Bench purchase orders",
                    "model_id": env.ref("purchase.model_purchase_order").id,
                    "log_read": False,
                    "log_write": True,
                    "log_create": True,
                    "log_unlink": True,
                    "log_export_data": False,
                    "log_type": "fast",
                }
            )

    @property
    def modes(self) -> list[str]:
        modes = ["baseline"]
        if self.audit_base:
            modes.append("ours")
        if self.rule:
            modes += ["auditlog_fast", "auditlog_full"]
        return modes

    def _ours(self, enabled: bool) -> None:
        if self.audit_base:
            value = self.original if enabled else (lambda self: False)
            self.audit_base.Base._esign_audit_enabled = value

    def enter(self, mode: str) -> None:
        self._ours(mode == "ours")
        if mode.startswith("auditlog_"):
            self.rule.write({"log_type": mode.removeprefix("auditlog_")})
            self.rule.subscribe()
            model = self.env.registry["purchase.order"]
            if not hasattr(model.write, "origin"):
                raise RuntimeError("auditlog did not patch purchase.order.write")

    def leave(self, mode: str) -> None:
        if mode.startswith("auditlog_"):
            self.rule.unsubscribe()
        self._ours(True)

    def restore(self) -> None:
        if self.rule and self.rule.state == "subscribed":
            self.rule.unsubscribe()
        self._ours(True)


def measure_writes(env, n_writes: int, n_warmup: int, rounds: int) -> dict:
    """Per-write cost on purchase.order under each kind of audit, interleaved in rounds.

    Each round writes ``n_writes / rounds`` orders once per mode, the modes in a rotating
    order, so that a drift of the machine or of table sizes spreads over all modes alike.
    """
    switch = _AuditSwitch(env)
    modes = switch.modes
    writers = _bench_users(env, "writer", 1)
    buyers = _bench_users(env, "buyer", 2)
    writer = writers[0]
    per_round = max(1, -(-n_writes // rounds))
    orders = _bench_orders(env, per_round * rounds + n_warmup, "writes")
    writes = _Writes(buyers)
    timings: dict[str, list[float]] = {m: [] for m in modes}
    queries: dict[str, list[int]] = {m: [] for m in modes}
    last_order = {}
    try:
        # Warm-up: every mode writes the warm-up orders, untimed (patched methods, caches).
        warm = orders[:n_warmup].with_user(writer)
        for mode in modes:
            switch.enter(mode)
            for order_id in warm.ids:
                order = warm.browse(order_id)
                _timed(env, lambda order=order: order.write(writes.next(order.id)))
            switch.leave(mode)
        timed_orders = orders[n_warmup:].with_user(writer)
        for index in range(rounds):
            chunk = timed_orders[index * per_round : (index + 1) * per_round]
            order_modes = modes[index % len(modes) :] + modes[: index % len(modes)]
            for mode in order_modes:
                switch.enter(mode)
                # Two untimed writes after each switch: subscribing an auditlog rule creates an
                # action, which clears Odoo's ormcache; the first write after it would pay.
                for order_id in warm.ids[:2]:
                    order = warm.browse(order_id)
                    _timed(env, lambda order=order: order.write(writes.next(order.id)))
                for order_id in chunk.ids:
                    order = chunk.browse(order_id)  # on its own: no batch prefetch
                    vals = writes.next(order.id)
                    seconds, count, _v = _timed(
                        env, lambda order=order, vals=vals: order.write(vals)
                    )
                    timings[mode].append(seconds)
                    queries[mode].append(count)
                    last_order[mode] = order.id
                switch.leave(mode)
    finally:
        switch.restore()

    result = {
        "modes": modes,
        "rounds": rounds,
        "warmup_per_mode": n_warmup,
        "fields_written": ["partner_ref", "notes", "date_planned", "user_id"],
        "writes": {m: _summary(timings[m], queries[m]) for m in modes},
        "checks": {},
    }
    env.invalidate_all()
    # Writes each mode made: timed, warm-up, and the two after each switch.
    expected = len(timings["baseline"]) + len(warm) + rounds * min(2, len(warm))
    result["expected_per_mode"] = expected
    if "ours" in modes:
        result["checks"]["ours"] = _check_ours(env, last_order["ours"], len(timings["ours"]))
    for mode in ("auditlog_fast", "auditlog_full"):
        if mode in modes:
            result["checks"][mode] = _check_auditlog(env, last_order[mode], mode)
    return result


def _check_ours(env, order_id: int, timed: int) -> dict:
    """What our trail recorded for the last timed write, and how many write entries there are."""
    entries = env["esign.audit.entry"].sudo()
    last = entries.search(
        [("res_model", "=", "purchase.order"), ("res_id", "=", order_id)],
        order="seq desc",
        limit=1,
    )
    payload = json.loads(last.payload) if last else {}
    changes = payload.get("changes") or []
    return {
        "entries_on_purchase_orders": entries.search_count(
            [("res_model", "=", "purchase.order"), ("operation", "=", "write")]
        ),
        "timed_writes": timed,
        "last_operation": last.operation if last else None,
        "last_changes": [c[0] for c in changes if isinstance(c, list) and c],
        "last_changes_sample": changes[:4],
    }


def _check_auditlog(env, order_id: int, mode: str) -> dict:
    """What auditlog recorded for the last write of ``mode`` (field names, old -> new)."""
    log = env["auditlog.log"].search(
        [
            ("res_id", "=", order_id),
            ("model_id", "=", env.ref("purchase.model_purchase_order").id),
            ("method", "=", "write"),
            ("log_type", "=", mode.removeprefix("auditlog_")),
        ],
        order="id desc",
        limit=1,
    )
    return {
        "logs": env["auditlog.log"].search_count(
            [("log_type", "=", mode.removeprefix("auditlog_")), ("method", "=", "write")]
        ),
        "last_fields": sorted(log.line_ids.mapped("field_id.name")),
        "last_lines_sample": [
            [line.field_id.name, line.old_value_text, line.new_value_text]
            for line in log.line_ids[:4]
        ],
    }


# --------------------------------------------------------------------- 2. verification
def _copy_escape(text: str) -> str:
    """Escape a value for PostgreSQL's COPY text format."""
    return (
        text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    )


def _bench_rows(chain_id: int, count: int, user, columns: list[str]):
    """Yield (COPY line, entry hash) for ``count`` entries of a bench chain.

    The payloads have the keys, shape and size of what ``esign.audit.entry._append`` writes for
    a purchase-order write that changes four fields; the searchable columns agree with the
    payload (``_verify`` checks that too). The hashes come from ``services.audit``.
    """
    from odoo.addons.meddev_esign.services import audit  # noqa: PLC0415 - inside Odoo only

    start = 1_795_000_000  # 2026-11-18, seconds since the epoch
    previous = audit.GENESIS
    uid = user.id
    payload_user = [uid, user.login, user.name]
    buyer_a, buyer_b = [uid, user.name], [uid + 1, "Bench Buyer"]
    for seq in range(1, count + 1):
        stamp = time.gmtime(start + seq)
        at_iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", stamp)
        res_id = 1000 + seq % 5000
        record = f"P{res_id:05d}"
        payload = {
            "v": 1,
            "seq": seq,
            "chain": chain_id,
            "at": at_iso,
            "user": payload_user,
            "model": "purchase.order",
            "res_id": res_id,
            "record": record,
            "op": "write",
            "changes": [
                [
                    "date_planned",
                    f"2026-12-01 08:{seq % 60:02d}:00",
                    f"2026-12-02 09:{seq % 60:02d}:00",
                ],
                [
                    "notes",
                    f"<p>Bench terms, revision {seq - 1}</p>",
                    f"<p>Bench terms, revision {seq}</p>",
                ],
                ["partner_ref", f"VREF-{seq - 1:07d}", f"VREF-{seq:07d}"],
                ["user_id", buyer_a if seq % 2 else buyer_b, buyer_b if seq % 2 else buyer_a],
            ],
            "reason": "",
            "ip": None,
            "session": None,
        }
        text = audit.payload_text(payload)
        entry_hash = audit.link_hash(previous, audit.payload_digest(text))
        at_sql = time.strftime("%Y-%m-%d %H:%M:%S", stamp)
        values = {
            "chain_id": str(chain_id),
            "seq": str(seq),
            "at": at_sql,
            "user_id": str(uid),
            "res_model": "purchase.order",
            "res_id": str(res_id),
            "record_name": record,
            "operation": "write",
            "reason": "\\N",  # what _append stores for no reason
            "ip_address": "\\N",
            "session_hash": "\\N",
            "payload": _copy_escape(text),
            "previous_hash": previous,
            "entry_hash": entry_hash,
            "retention_until": "2036-12-31",
            "create_uid": str(uid),
            "create_date": at_sql,
            "write_uid": str(uid),
            "write_date": at_sql,
        }
        yield "\t".join(values[c] for c in columns) + "\n", entry_hash
        previous = entry_hash


def _entry_columns(env) -> list[str]:
    """The columns of esign_audit_entry the generator fills; fail on a required one it lacks.

    The searchable columns (seq, at, user, model...) are generated by PostgreSQL from the
    payload and are left out of the COPY.
    """
    known = {
        "chain_id", "seq", "at", "user_id", "res_model", "res_id", "record_name", "operation",
        "reason", "ip_address", "session_hash", "payload", "previous_hash", "entry_hash",
        "retention_until", "create_uid", "create_date", "write_uid", "write_date",
    }  # fmt: skip
    env.cr.execute(
        """SELECT column_name, is_nullable, column_default FROM information_schema.columns
            WHERE table_name = 'esign_audit_entry' AND column_name != 'id'
              AND is_generated = 'NEVER'
         ORDER BY ordinal_position"""
    )
    columns = []
    for name, nullable, default in env.cr.fetchall():
        if name in known:
            columns.append(name)
        elif nullable == "NO" and default is None:
            raise RuntimeError(f"esign_audit_entry.{name} is required and unknown to the bench")
    return columns


def _postgres_cpu(env) -> float | None:
    """CPU seconds used so far by the PostgreSQL cluster of ``env``'s connection: its
    postmaster's live children (backends, parallel workers) plus the children it reaped.
    None where ``/proc`` does not tell (another machine, another user)."""
    tick = os.sysconf("SC_CLK_TCK")

    def stat(pid: int) -> tuple[int, int, int]:
        text = Path(f"/proc/{pid}/stat").read_text()
        fields = text[text.rindex(")") + 2 :].split()
        return int(fields[1]), int(fields[11]) + int(fields[12]), int(fields[13]) + int(fields[14])

    try:
        env.cr.execute("SELECT pg_backend_pid()")
        postmaster = stat(env.cr.fetchone()[0])[0]
        _parent, own, reaped = stat(postmaster)
        total = own + reaped
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    parent, used, _reaped = stat(int(entry.name))
                except (OSError, ValueError, IndexError):
                    continue
                if parent == postmaster:
                    total += used
        return total / tick
    except (OSError, ValueError, IndexError):
        return None


def _cpu_timed(env, func):
    """(value, wall seconds, CPU seconds of this process and its children, PostgreSQL CPU)."""
    pg_before = _postgres_cpu(env)
    before = os.times()
    start = time.perf_counter()
    value = func()
    seconds = time.perf_counter() - start
    after = os.times()
    pg_after = _postgres_cpu(env)
    cpu = sum(after[:4]) - sum(before[:4])  # user, system, children user, children system
    pg = pg_after - pg_before if pg_before is not None and pg_after is not None else None
    return value, seconds, cpu, pg


def measure_verify(env, n_entries: int, runs: int, sample: int) -> dict:
    """Bulk-load a bench chain of ``n_entries`` (COPY) and time ``chain._verify()``."""
    from odoo.addons.meddev_esign.services import audit  # noqa: PLC0415 - inside Odoo only

    chains = env["esign.audit.chain"].sudo()
    chain = chains.create({"name": "bench"})
    env.cr.flush()
    env.cr.commit()
    columns = _entry_columns(env)
    user = env.ref("base.user_admin")
    copy_sql = f"COPY esign_audit_entry ({', '.join(columns)}) FROM STDIN"

    # 1. Generate and COPY in chunks (generation and COPY share the figure).
    start = time.perf_counter()
    gen_s = 0.0
    rows = _bench_rows(chain.id, n_entries, user, columns)
    while True:
        t0 = time.perf_counter()
        chunk = list(itertools.islice(rows, 50_000))
        gen_s += time.perf_counter() - t0
        if not chunk:
            break
        env.cr.copy_expert(copy_sql, io.StringIO("".join(line for line, _h in chunk)))
    load_s = time.perf_counter() - start
    env.cr.commit()  # the chain's head is its last entry: nothing else to update
    t0 = time.perf_counter()
    # What autovacuum does to a table that only grows (PostgreSQL 13 and later vacuum on
    # inserts too): the statistics, and the visibility map that lets the verification read
    # the covering index alone.
    env.cr.commit()
    env.cr._cnx.autocommit = True
    try:
        env.cr._cnx.cursor().execute("VACUUM ANALYZE esign_audit_entry")
    finally:
        env.cr._cnx.autocommit = False
    analyze_s = time.perf_counter() - t0
    env.cr.execute(
        "SELECT pg_total_relation_size('esign_audit_entry'), "
        "pg_relation_size('esign_audit_entry'), "
        "(SELECT count(*) FROM esign_audit_entry WHERE chain_id = %s)",
        (chain.id,),
    )
    total_bytes, heap_bytes, stored = env.cr.fetchone()

    # 2. chain._verify(), several runs (the first one may read from disk), each paired with
    # the daily check, which recomputes every hash (chain._verify(recompute=True)). Paired
    # in time, so that the machine's drift touches both alike. Each is timed by the wall
    # clock and by CPU: this process with its children, and the PostgreSQL cluster (backends
    # and parallel workers).
    verify_runs = []
    verdict = None
    for _ in range(runs):
        env.invalidate_all()
        chain = chains.browse(chain.id)
        verdict, seconds, cpu, pg_cpu = _cpu_timed(env, chain._verify)
        env.invalidate_all()
        streamed_verdict, stream_s, stream_cpu, stream_pg = _cpu_timed(
            env, lambda chain=chain: chain._verify(recompute=True)
        )
        verify_runs.append(
            {
                "seconds": seconds,
                "entries_per_s": verdict.checked / seconds if seconds else None,
                "process_cpu_s": cpu,
                "postgres_cpu_s": pg_cpu,
                "ok": bool(verdict.ok),
                "checked": verdict.checked,
                "stream_seconds": stream_s,
                "stream_per_s": streamed_verdict.checked / stream_s if stream_s else None,
                "stream_process_cpu_s": stream_cpu,
                "stream_postgres_cpu_s": stream_pg,
                "same_verdict": streamed_verdict == verdict,
            }
        )
    links = None
    with env.registry.cursor() as cr:
        t0 = time.perf_counter()
        streamed = 0
        with cr._cnx.cursor(name="bench_stream") as named:
            named.itersize = 10_000
            named.execute(
                "SELECT seq, previous_hash, entry_hash, payload FROM esign_audit_entry "
                "WHERE chain_id = %s ORDER BY seq",
                (chain.id,),
            )
            for _row in named:
                streamed += 1
        fetch_s = time.perf_counter() - t0
        cr.execute(
            "SELECT seq, previous_hash, entry_hash, payload FROM esign_audit_entry "
            "WHERE chain_id = %s AND seq <= %s ORDER BY seq",
            (chain.id, sample),
        )
        in_memory = cr.fetchall()
    t0 = time.perf_counter()
    sample_verdict = audit.verify_rows(in_memory)
    hash_s = time.perf_counter() - t0

    return {
        "entries": n_entries,
        "stored": stored,
        "columns": columns,
        "load_s": load_s,
        "generate_s": gen_s,
        "load_entries_per_s": n_entries / load_s,
        "analyze_s": analyze_s,
        "table_mb": total_bytes / 1e6,
        "heap_mb": heap_bytes / 1e6,
        "avg_payload_bytes": len(in_memory[-1][3].encode()) if in_memory else None,
        "verify_runs": verify_runs,
        "verdict": {
            "ok": bool(verdict.ok),
            "checked": verdict.checked,
            "kind": verdict.kind,
            "first_break_seq": verdict.first_break_seq,
            "message": verdict.message,
        },
        "links_only": links,
        "stream_only": {"rows": streamed, "seconds": fetch_s, "rows_per_s": streamed / fetch_s},
        "hash_only": {
            "rows": len(in_memory),
            "seconds": hash_s,
            "rows_per_s": len(in_memory) / hash_s if hash_s else None,
            "ok": bool(sample_verdict.ok),
        },
    }


# --------------------------------------------------------------------- 3. parallel writers
def measure_parallel(env, n_threads: int, writes_per_thread: int, odoo_writes: int) -> dict:
    """``n_threads`` writers, one cursor each, committing purchase-order writes; then verify.

    Runs: one writer (reference), ``n_threads`` writers with a quick retry (a serialisation
    failure is retried after 1-10 ms, as often as needed), the same with the audit trail off
    (reference), and ``n_threads`` writers retrying as Odoo's HTTP layer does
    (``odoo.service.model.retrying``: at most 5 tries, sleeping uniform(0, 2**try) s between
    them), where a write that fails 5 times is an error the user would see.

    Everything here is committed: the bench database is thrown away afterwards.
    """
    from psycopg2 import errors  # noqa: PLC0415 - inside Odoo only

    import odoo  # noqa: PLC0415
    from odoo.service.model import MAX_TRIES_ON_CONCURRENCY_FAILURE  # noqa: PLC0415

    retryable = (
        errors.SerializationFailure,
        errors.LockNotAvailable,
        errors.DeadlockDetected,
        errors.UniqueViolation,  # a (chain_id, seq) clash would land here: counted apart
    )
    writers = _bench_users(env, "parallel", n_threads)
    buyers = _bench_users(env, "pbuyer", 2)
    orders = _bench_orders(env, n_threads, "parallel")
    chains = env["esign.audit.chain"].sudo()
    chain = chains._for_company(env.company)
    env.cr.flush()
    env.cr.commit()
    result = {
        "threads": n_threads,
        "writes_per_thread": writes_per_thread,
        "odoo_retry_writes_per_thread": odoo_writes,
        "odoo_max_tries": MAX_TRIES_ON_CONCURRENCY_FAILURE,
        "runs": {},
    }

    def run(threads: int, label: str, writes: int, audit: bool = True, policy: str = "quick"):
        env.invalidate_all()
        env.cr.rollback()  # a fresh snapshot
        head_before = chains.browse(chain.id).head_seq
        registry = env.registry
        barrier = threading.Barrier(threads + 1)
        stats = [
            {"ok": 0, "gave_up": 0, "retries": {}, "per_write": [], "latency": [], "error": None}
            for _ in range(threads)
        ]

        def worker(t: int) -> None:
            st = stats[t]
            rng = random.Random(t)
            try:
                with registry.cursor() as cr:
                    # Without this, Environment() calls Registry(dbname): a global lock.
                    cr.transaction = odoo.api.Transaction(registry)
                    wenv = odoo.api.Environment(cr, writers[t % len(writers)].id, {})
                    order = wenv["purchase.order"].browse(orders[t].id)
                    barrier.wait()
                    for i in range(writes):
                        vals = {
                            "partner_ref": f"{label}-T{t}-{i:05d}",
                            "notes": f"<p>{label} thread {t}, write {i}</p>",
                            "user_id": buyers[i % 2].id,
                        }
                        t0 = time.perf_counter()
                        tries = 0
                        while True:
                            tries += 1
                            try:
                                order.write(vals)
                                cr.commit()
                                st["ok"] += 1
                                break
                            except retryable as exc:
                                cr.rollback()
                                name = type(exc).__name__
                                st["retries"][name] = st["retries"].get(name, 0) + 1
                                if policy == "quick":
                                    time.sleep(rng.uniform(0.001, 0.010))
                                elif tries >= MAX_TRIES_ON_CONCURRENCY_FAILURE:
                                    st["gave_up"] += 1
                                    break
                                else:
                                    time.sleep(rng.uniform(0.0, 2**tries))
                        st["per_write"].append(tries - 1)
                        st["latency"].append(time.perf_counter() - t0)
            except Exception as exc:  # noqa: BLE001 - reported in the result, not raised
                st["error"] = f"{type(exc).__name__}: {exc}"[:500]
                if barrier.n_waiting and not barrier.broken:
                    barrier.abort()

        pool = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
        switch = _AuditSwitch(env, auditlog=False)
        if not audit:
            switch.enter("baseline")  # in this process only: every thread writes unaudited
        try:
            for thread in pool:
                thread.start()
            try:
                barrier.wait(timeout=120)
            except threading.BrokenBarrierError:
                pass
            start = time.perf_counter()
            for thread in pool:
                thread.join()
            wall = time.perf_counter() - start
        finally:
            switch.restore()
        env.invalidate_all()
        env.cr.rollback()  # a fresh snapshot that sees the threads' commits
        head_after = chains.browse(chain.id).head_seq
        appended = head_after - head_before
        retries: dict[str, int] = {}
        for st in stats:
            for name, n in st["retries"].items():
                retries[name] = retries.get(name, 0) + n
        latency = [s for st in stats for s in st["latency"]]
        per_write = [n for st in stats for n in st["per_write"]]
        committed = sum(st["ok"] for st in stats)
        return {
            "threads": threads,
            "audit": audit,
            "policy": policy,
            "writes_attempted": len(per_write),
            "writes_committed": committed,
            "writes_given_up": sum(st["gave_up"] for st in stats),
            "entries_appended": appended,
            "wall_s": wall,
            "entries_per_s": appended / wall if wall else None,
            "writes_per_s": committed / wall if wall else None,
            "retries": retries,
            "retries_total": sum(retries.values()),
            "retries_per_write_max": max(per_write, default=0),
            "writes_retried_4_times_or_more": sum(
                1 for n in per_write if n >= MAX_TRIES_ON_CONCURRENCY_FAILURE - 1
            ),
            "latency_median_ms": 1000 * statistics.median(latency) if latency else None,
            "latency_p90_ms": (
                1000 * statistics.quantiles(latency, n=10)[-1] if len(latency) > 1 else None
            ),
            "errors": [st["error"] for st in stats if st["error"]],
        }

    runs = result["runs"]
    runs["1"] = run(1, "SEQ", writes_per_thread)
    runs[str(n_threads)] = run(n_threads, "PAR", writes_per_thread)
    runs[f"{n_threads}_no_audit"] = run(n_threads, "OFF", writes_per_thread, audit=False)
    if odoo_writes:
        runs[f"{n_threads}_odoo_retry"] = run(n_threads, "ODOO", odoo_writes, policy="odoo")

    # The chain after both runs: verified, and checked for gaps and forks in SQL too.
    env.invalidate_all()
    chain = chains.browse(chain.id)
    t0 = time.perf_counter()
    verdict = chain._verify()
    verify_s = time.perf_counter() - t0
    env.cr.execute(
        """SELECT count(*), min(seq), max(seq), count(DISTINCT seq),
                  count(DISTINCT previous_hash), count(DISTINCT entry_hash)
             FROM esign_audit_entry WHERE chain_id = %s""",
        (chain.id,),
    )
    count, min_seq, max_seq, distinct_seq, distinct_prev, distinct_hash = env.cr.fetchone()
    result["chain"] = {
        "head_seq": chain.head_seq,
        "entries": count,
        "min_seq": min_seq,
        "max_seq": max_seq,
        "no_gaps": count == max_seq == chain.head_seq and min_seq == 1 and distinct_seq == count,
        "no_forks": distinct_prev == count and distinct_hash == count,
        "verify_ok": bool(verdict.ok),
        "verify_checked": verdict.checked,
        "verify_message": verdict.message,
        "verify_s": verify_s,
    }
    return result


# =========================================================================== the driver
def ensure_auditlog(cache: Path, odoo_root: Path) -> tuple[Path, str]:
    """pip-install the newest 18.0 auditlog wheel (no dependencies); return (addons, version).

    It goes to a folder of its own, ``cache/oca-auditlog``, not to ``cache/oca`` where
    bench_signing.py keeps the tier-validation wheels: every OCA wheel ships the same top
    folder ``odoo/``, and ``pip install --target`` into a folder that has one either skips the
    new wheel's ``odoo/`` (a warning) or, with ``--upgrade``, replaces it and drops the
    modules already there.
    """
    target = cache / AUDITLOG_TARGET
    version = newest_18_version(AUDITLOG_PROJECT)
    wheel = f"{AUDITLOG_PROJECT}=={version}"
    if not (target / f"odoo_addon_auditlog-{version}.dist-info").is_dir():
        log(f"installing {wheel} into {target}")
        res = subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--upgrade"]
            + ["--target", str(target), wheel],
            capture_output=True,
            text=True,
            cwd=tempfile.gettempdir(),
        )
        if res.returncode != 0:
            raise RuntimeError(f"pip install failed: {res.stderr.strip()[-800:]}")
    addons = target / "odoo" / "addons"
    manifest = addons / "auditlog" / "__manifest__.py"
    if not manifest.exists():
        raise RuntimeError(f"{manifest} is missing after pip install")
    match = re.search(r'"depends":\s*\[([^\]]*)\]', manifest.read_text())
    depends = re.findall(r'"([^"]+)"', match.group(1)) if match else []
    core = [odoo_root / "odoo" / "addons", odoo_root / "addons"]
    foreign = [d for d in depends if not any((p / d / "__manifest__.py").exists() for p in core)]
    if foreign:
        raise RuntimeError(f"auditlog needs modules that are not in Odoo core: {foreign}")
    log(f"auditlog {version} depends on {', '.join(depends)} (all Odoo core)")
    return addons, version


# --------------------------------------------------------------------- the report
def fmt_ms(value: float | None, sign: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value:+.2f} ms" if sign else f"{value:.2f} ms"


def write_rows(writes: dict, title: str) -> list[tuple[str, str, str, str]]:
    """Rows of the write table: per mode, median and mean, overhead, ratio to auditlog."""
    figures = writes["writes"]
    base = figures["baseline"]
    over = {
        m: (f["median_ms"] - base["median_ms"], f["mean_ms"] - base["mean_ms"])
        for m, f in figures.items()
    }
    rows = []
    for mode in writes["modes"]:
        f = figures[mode]
        med, mean = over[mode]
        ratio = "-"
        if mode == "ours":
            parts = []
            for ref in ("auditlog_fast", "auditlog_full"):
                if ref in over and over[ref][0] > 0:
                    parts.append(f"{med / over[ref][0]:.2f} ours/{ref.removeprefix('auditlog_')}")
            ratio = ", ".join(parts) or "n/a (no auditlog figure)"
        elif mode != "baseline":
            ratio = "reference"
        rows.append(
            (
                f"{title}{MODE_LABELS[mode]} (n={f['n']})",
                f"{f['median_ms']:.2f} / {f['mean_ms']:.2f} ms",
                "-" if mode == "baseline" else f"{med:+.2f} / {mean:+.2f} ms",
                f"{f['queries_median']:.0f}",
                ratio,
            )
        )
    return rows


def print_table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    line = "  ".join("-" * w for w in widths)
    print(line)
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print(line)
    for row in rows:
        cells = [row[0].ljust(widths[0])]
        cells += [c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)]
        print("  ".join(cells))
    print(line)


def report_writes(writes: dict, alone: dict | None) -> None:
    print("1. Per audited write on purchase.order (median / mean; overhead = mode - baseline)")
    rows = write_rows(writes, "")
    if alone:
        rows += write_rows(alone, "[auditlog alone] ")
    print_table(("mode", "per write", "overhead", "SQL", "ratio (median overheads)"), rows)
    fig = writes["writes"]
    if "ours" in fig:
        over = fig["ours"]["median_ms"] - fig["baseline"]["median_ms"]
        target = fig.get("auditlog_fast")
        if target:
            fast = target["median_ms"] - fig["baseline"]["median_ms"]
            verdict = "met" if over <= fast else "NOT met"
            print(
                f"target: our overhead <= auditlog fast's: {over:+.2f} ms vs {fast:+.2f} ms "
                f"({verdict}); reference on this kind of machine: fast +{FAST_REF_MS} ms, "
                f"full +{FULL_REF_MS} ms"
            )
    for mode, check in writes.get("checks", {}).items():
        if mode == "ours":
            print(
                f"checks: ours: {check['entries_on_purchase_orders']} write entries on purchase "
                f"orders, {writes.get('expected_per_mode')} expected; the last one records "
                f"{check['last_changes']}; sample: {check['last_changes_sample']}"
            )
        else:
            print(
                f"        {mode}: {check['logs']} write logs, {writes.get('expected_per_mode')} "
                f"expected; the last one has lines for {check['last_fields']}; sample: "
                f"{check['last_lines_sample']}"
            )


def report_verify(verify: dict) -> None:
    print()
    print(f"2. Verification of a chain of {verify['entries']:,} entries streamed from PostgreSQL")
    rows = []

    def cpu(run: dict, prefix: str = "") -> str:
        own, pg = run.get(prefix + "process_cpu_s"), run.get(prefix + "postgres_cpu_s")
        if own is None:
            return "-"
        return f"CPU: Odoo {own:.2f} s, PostgreSQL " + ("?" if pg is None else f"{pg:.2f} s")

    for i, run in enumerate(verify["verify_runs"], 1):
        rate = run["entries_per_s"]
        rows.append(
            (
                f"chain._verify(), run {i}",
                f"{run['seconds']:.2f} s",
                f"{rate:,.0f} /s",
                f">= {VERIFY_TARGET:,} /s",
                f"{rate / VERIFY_TARGET:.2f} of target; {cpu(run)}",
            )
        )
        if run.get("stream_seconds"):
            rows.append(
                (
                    f"  chain._verify(recompute=True) (the daily check), run {i}",
                    f"{run['stream_seconds']:.2f} s",
                    f"{run['stream_per_s']:,.0f} /s",
                    "-",
                    f"_verify() x{run['stream_seconds'] / run['seconds']:.2f}; "
                    f"{cpu(run, 'stream_')}; same verdict: {run['same_verdict']}",
                )
            )
    stream, hashing = verify["stream_only"], verify["hash_only"]
    rows += [
        (
            "  streaming the rows alone (named cursor, no hashing)",
            f"{stream['seconds']:.2f} s",
            f"{stream['rows_per_s']:,.0f} /s",
            "-",
            "-",
        ),
        (
            f"  verify_rows on {hashing['rows']:,} rows already in memory",
            f"{hashing['seconds']:.2f} s",
            f"{hashing['rows_per_s']:,.0f} /s",
            "-",
            "-",
        ),
        (
            "bulk load: generate + hash + COPY",
            f"{verify['load_s']:.1f} s",
            f"{verify['load_entries_per_s']:,.0f} /s",
            "-",
            f"generation {verify['generate_s']:.1f} s",
        ),
    ]
    print_table(("metric", "time", "rate", "target", "ratio"), rows)
    v = verify["verdict"]
    print(
        f"checks: verdict ok={v['ok']}, checked {v['checked']:,} of {verify['stored']:,} stored; "
        f"{v['message']}; table {verify['table_mb']:.0f} MB (heap {verify['heap_mb']:.0f} MB), "
        f"payload ~{verify['avg_payload_bytes']} bytes"
    )


def report_parallel(par: dict) -> None:
    print()
    print(f"3. Appends with {par['threads']} parallel writers (one cursor each, commit per write)")
    rows = []
    for run in par["runs"].values():
        if not run.get("audit", True):
            what = "audit off (reference)"
        elif run.get("policy") == "odoo":
            what = "audited, Odoo's retry"
        else:
            what = "audited, quick retry"
        rows.append(
            (
                f"{run['threads']} writer(s), {what}",
                f"{run['writes_committed']}/{run['writes_attempted']} in {run['wall_s']:.1f} s",
                f"{run['writes_per_s']:,.1f} /s",
                f"{run['entries_per_s']:,.1f} /s" if run.get("audit", True) else "-",
                str(run["entries_appended"]),
                f"{run['retries_total']} (max {run['retries_per_write_max']}/write)",
                str(run["writes_given_up"]) if run.get("policy") == "odoo" else "-",
                fmt_ms(run["latency_median_ms"]),
                fmt_ms(run["latency_p90_ms"]),
            )
        )
    print_table(
        (
            "writers",
            "committed",
            "writes",
            "entries",
            "total",
            "retries",
            "gave up",
            "latency median",
            "p90",
        ),
        rows,
    )
    c = par["chain"]
    errors = [e for run in par["runs"].values() for e in run["errors"]]
    kinds = sorted({k for run in par["runs"].values() for k in run["retries"]})
    print(
        f"checks: chain head {c['head_seq']}, {c['entries']} entries, no gaps: {c['no_gaps']}, "
        f"no forks: {c['no_forks']}; _verify(): ok={c['verify_ok']}, checked "
        f"{c['verify_checked']} ({c['verify_message']}); retried on: {', '.join(kinds) or '-'}; "
        f"'gave up' = failed {par['odoo_max_tries']} tries (an error for the user in Odoo)"
    )
    if errors:
        print("        writer errors: " + "; ".join(errors))


def machine_facts(dev, cluster) -> dict:
    facts = {
        "nproc": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    try:
        cpu = Path("/proc/cpuinfo").read_text()
        match = re.search(r"model name\s*:\s*(.*)", cpu)
        facts["cpu"] = match.group(1).strip() if match else None
    except OSError:
        facts["cpu"] = None
    try:
        facts["postgresql"] = cluster.sql("SHOW server_version")[0][0]
        facts["shared_buffers"] = cluster.sql("SHOW shared_buffers")[0][0]
    except Exception as exc:  # noqa: BLE001 - informational only
        facts["postgresql"] = f"unknown ({exc})"
    return facts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writes", type=int, default=300, help="timed writes per mode")
    parser.add_argument("--warmup", type=int, default=20, help="untimed writes per mode first")
    parser.add_argument("--rounds", type=int, default=6, help="interleaved rounds of the modes")
    parser.add_argument("--entries", type=int, default=1_000_000, help="entries to verify")
    parser.add_argument("--verify-runs", type=int, default=3, help="timed chain._verify() runs")
    parser.add_argument("--threads", type=int, default=8, help="parallel writers")
    parser.add_argument("--thread-writes", type=int, default=100, help="writes per writer")
    parser.add_argument(
        "--odoo-retry-writes",
        type=int,
        default=20,
        help="writes per writer in the run that retries like Odoo's HTTP layer (0: skip it)",
    )
    parser.add_argument("--no-oca", action="store_true", help="skip auditlog")
    parser.add_argument(
        "--auditlog-alone",
        action="store_true",
        help="also time auditlog in a database without meddev_esign (bench_auditlog)",
    )
    parser.add_argument(
        "--only",
        choices=["writes", "verify", "parallel"],
        action="append",
        help="run only these parts (repeatable)",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the bench_* databases (for inspection)"
    )
    args = parser.parse_args()
    parts = args.only or ["writes", "verify", "parallel"]

    dev = load_dev()
    odoo_root, how = dev.find_odoo()
    if odoo_root is None:
        log(f"Odoo 18.0 not found: {how}")
        return 1
    log(f"Odoo 18.0 at {odoo_root} (found by {how})")
    cluster = dev.Cluster()
    cluster.ensure()  # a no-op when the cluster already runs
    data_dir = Path(tempfile.mkdtemp(prefix="bench_odoo_data_"))
    runner = Runner(dev, odoo_root, cluster, data_dir, module="bench_audit")
    addons, oca_version, oca_problem = None, None, None
    results: dict = {"parts": parts}
    try:
        results["machine"] = machine_facts(dev, cluster)
        if args.no_oca:
            oca_problem = "skipped (--no-oca)"
        else:
            try:
                addons, oca_version = ensure_auditlog(dev.CACHE, odoo_root)
            except (RuntimeError, OSError) as exc:
                oca_problem = f"auditlog wheel unavailable: {exc}"
        results["auditlog_version"] = oca_version

        log("creating the bench database (a few minutes)")
        modules = f"{MODULE},auditlog" if addons else MODULE
        job = runner.start_install(DB_AUDIT, modules, addons)
        alone_job = None
        if addons and args.auditlog_alone and "writes" in parts:
            alone_job = runner.start_install(DB_AUDITLOG, "purchase,auditlog", addons)
        try:
            runner.finish_install(job)
        except RuntimeError as exc:
            if not addons:
                raise
            # auditlog next to meddev_esign failed: measure ours alone, say why.
            oca_problem = f"auditlog did not install next to {MODULE}: {exc}"
            addons = None
            runner.finish_install(runner.start_install(DB_AUDIT, MODULE))
        if alone_job:
            runner.finish_install(alone_job)

        if "writes" in parts:
            log(f"measuring writes on {DB_AUDIT}")
            call = f"measure_writes(env, {args.writes}, {args.warmup}, {args.rounds})"
            results["writes"] = runner.measure(DB_AUDIT, call, addons=addons)
            if alone_job:
                log(f"measuring auditlog alone on {DB_AUDITLOG}")
                results["writes_auditlog_alone"] = runner.measure(DB_AUDITLOG, call, addons)
        if "verify" in parts:
            log(f"loading {args.entries:,} entries and verifying them on {DB_AUDIT}")
            results["verify"] = runner.measure(
                DB_AUDIT,
                f"measure_verify(env, {args.entries}, {args.verify_runs}, 200000)",
                addons=addons,
            )
        if "parallel" in parts:
            log(f"{args.threads} parallel writers on {DB_AUDIT}")
            results["parallel"] = runner.measure(
                DB_AUDIT,
                f"measure_parallel(env, {args.threads}, {args.thread_writes}, "
                f"{args.odoo_retry_writes})",
                addons=addons,
            )
    finally:
        if not args.keep:
            for db in (DB_AUDIT, DB_AUDITLOG):
                cluster.drop_db(db)
        shutil.rmtree(data_dir, ignore_errors=True)
        if cluster.started_here:  # never stop a cluster that something else started
            cluster.stop()

    m = results["machine"]
    print()
    print(
        f"meddev_esign audit-trail benchmark (one Odoo process, real PostgreSQL): "
        f"{m['nproc']} CPU(s) {m.get('cpu') or ''}, PostgreSQL {m.get('postgresql')}, "
        f"Python {m['python']}; auditlog {oca_version or 'not measured'}"
    )
    if "writes" in results:
        report_writes(results["writes"], results.get("writes_auditlog_alone"))
    if "verify" in results:
        report_verify(results["verify"])
    if "parallel" in results:
        report_parallel(results["parallel"])
    if oca_problem:
        print(f"OCA comparison: {oca_problem}")
        results["oca_problem"] = oca_problem
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "audit_latest.json").write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
