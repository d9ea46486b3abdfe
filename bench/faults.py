#!/usr/bin/env python3
"""Fault battery over HTTP: each fault under load against Odoo with ``--workers 4``, each
followed by the invariant check of ``bench_load.py``.

1. SIGKILL of the Odoo worker serving a signature while it holds the record's lock.
2. PostgreSQL restarted (``pg_ctl restart -m fast``) mid-load.
3. TSA down: strict mode (refused, no row), then deferred mode (pending, stamped by the cron).
4. PKCS#11 token unusable (a server with a wrong PIN): clear error, no row, an alert.
5. Lock timeout while the audit chain's head is contended: "busy, try again", no gap.
6. Two Odoo servers (separate processes and ports) on one database signing at once.

    python3 bench/faults.py            # every fault, more load
    python3 bench/faults.py --quick    # every fault, lighter load (about 3 minutes)
    python3 bench/faults.py --only 1,5 # some faults

The last line is ``invariants: hold`` or ``invariants: BROKEN <what>`` (exit status 1).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _server  # noqa: E402
import bench_load as load  # noqa: E402
from _server import Env, OdooServer, Rpc, RpcError, Stats, log  # noqa: E402

#: First key of the add-on's advisory lock on an audit chain (models/esign_ledger_store.py).
LOCK_NAMESPACE = 0x45534155
BUSY = "The audit trail is busy"


class Lots:
    """Quarantined bench lots handed out one at a time (thread-safe)."""

    def __init__(self, ids: list[int]) -> None:
        self.ids = list(ids)
        self.lock = threading.Lock()

    def take(self, n: int = 1) -> list[int]:
        with self.lock:
            taken, self.ids = self.ids[:n], self.ids[n:]
        if len(taken) < n:
            raise RuntimeError("the bench ran out of quarantined lots")
        return taken


class Background:
    """Release authorities signing lots one by one until stopped; what they saw committed."""

    def __init__(self, urls: list[str], db: str, lots: Lots, users: range) -> None:
        self.urls, self.db, self.lots = urls, db, lots
        self.stats = Stats()
        self.committed: set[int] = set()
        self.signed_lots: list[int] = []
        self.failed_lots: list[int] = []
        self.ok_times: list[float] = []
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.work, args=(i,), daemon=True) for i in users]

    def __enter__(self) -> Background:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *_exc) -> None:
        self.stop.set()
        for t in self.threads:
            t.join()

    def work(self, index: int) -> None:
        rpc = None
        while not self.stop.is_set():
            try:
                if rpc is None:
                    rpc = Rpc(
                        self.urls[index % len(self.urls)],
                        self.db,
                        f"bench.ra{index + 1:02d}",
                        stats=self.stats,
                        timeout=120,
                    )
                    rpc.authenticate()
                lot = self.lots.take()[0]
            except Exception as exc:  # noqa: BLE001 - counted; the server may be down now
                self.stats.error("log-in", exc)
                rpc = None
                self.stop.wait(0.5)
                continue
            try:
                ids = load.release_one(rpc, lot)
            except Exception as exc:  # noqa: BLE001
                self.stats.error("release one lot", exc)
                with self.lock:
                    self.failed_lots.append(lot)
                self.stop.wait(0.3)
                continue
            with self.lock:
                self.committed.update(ids)
                self.signed_lots.append(lot)
                self.ok_times.append(time.time())

    def wait_signed(self, n: int, timeout: float = 120) -> None:
        deadline = time.time() + timeout
        while len(self.signed_lots) < n and time.time() < deadline:
            time.sleep(0.2)


class Battery:
    def __init__(self, env: Env, db: str, quick: bool, workers: int) -> None:
        self.env, self.db, self.quick, self.workers = env, db, quick, workers
        self.server = OdooServer(env, db, workers=workers, name="faults")
        self.lots = Lots(load.lot_ids(env, db, "S", 400) + load.lot_ids(env, db, "F", 120))
        self.broken: list[str] = []
        self.committed: set[int] = set()
        self.signed_lots: list[int] = []
        self.users = range(0, 3 if quick else 6)

    def sql(self, query: str, *params):
        return self.env.cluster.sql(query, dbname=self.db, params=params)

    def expect(self, ok: bool, label: str, detail: str = "") -> None:
        print(
            f"  {'ok ' if ok else 'BROKEN'}  {label}{(': ' + detail) if detail else ''}",
            flush=True,
        )
        if not ok:
            self.broken.append(label)

    def session(self, login: str, url: str | None = None) -> Rpc:
        """A session whose messages are in English (the demo users' language may be
        Chinese), so that the checks can read them."""
        rpc = Rpc(url or self.server.url, self.db, login, timeout=120)
        rpc.authenticate()
        rpc.context["lang"] = "en_US"
        return rpc

    def lot_signatures(self, lot: int) -> tuple[int, int]:
        sigs = self.sql(
            "SELECT count(*) FROM esign_signature WHERE res_model = 'stock.lot' AND res_id = %s",
            lot,
        )[0][0]
        audit = self.sql(
            "SELECT count(*) FROM esign_audit_entry WHERE operation = 'sign'"
            " AND res_model = 'stock.lot' AND res_id = %s",
            lot,
        )[0][0]
        return sigs, audit

    def absorb(self, bg: Background) -> None:
        self.committed |= bg.committed
        self.signed_lots += bg.signed_lots
        print(
            f"  background: {len(bg.signed_lots)} lots signed, "
            f"{sum(bg.stats.errors.values())} request(s) failed",
            flush=True,
        )

    def invariants(self, name: str, url: str | None = None) -> None:
        broken = load.check_invariants(
            self.env, self.db, self.signed_lots, self.committed, url or self.server.url
        )
        self.broken += [f"{name}: {b}" for b in broken]

    def background(self, urls: list[str] | None = None) -> Background:
        return Background(urls or [self.server.url], self.db, self.lots, self.users)

    # ------------------------------------------------------------------ the chain's lock
    @contextlib.contextmanager
    def chain_held(self):
        """Hold the audit chain's append lock from outside Odoo while the block runs."""
        import psycopg2  # noqa: PLC0415

        meta = self.env.cluster.meta
        conn = psycopg2.connect(
            host="127.0.0.1",
            port=meta["port"],
            dbname=self.db,
            user=meta["superuser"],
            password=meta["superuser_password"],
        )
        conn.autocommit = True
        chain = self.sql("SELECT id FROM esign_audit_chain ORDER BY id LIMIT 1")[0][0]
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT pg_advisory_lock(%s, %s)", (LOCK_NAMESPACE, chain))
            yield chain
        finally:
            with contextlib.suppress(Exception), conn.cursor() as cur:
                cur.execute("SELECT pg_advisory_unlock_all()")
            conn.close()

    # ================================================================== 1. SIGKILL
    def fault_kill(self) -> None:
        print("\nfault 1: SIGKILL of the worker serving a signature that holds the lot's lock")
        lot = self.lots.take()[0]
        victim = self.session("bench.ra10")
        outcome: dict = {}

        def sign() -> None:
            try:
                outcome["ids"] = load.release_one(victim, lot)
            except Exception as exc:  # noqa: BLE001
                outcome["error"] = exc

        with self.background() as bg, self.chain_held():
            bg.wait_signed(2, 60)
            client = threading.Thread(target=sign, daemon=True)
            client.start()
            backend = self._backend_locking_lot(lot, timeout=60)
            worker = self._worker_of_backend(backend) if backend else None
            self.expect(
                bool(backend and worker),
                "found the worker whose transaction holds the lot's row lock",
                f"backend {backend}, worker {worker}",
            )
            if worker:
                os.kill(worker, signal.SIGKILL)
                log(f"killed Odoo worker {worker} (PostgreSQL backend {backend})")
            client.join(60)
            time.sleep(1)
        self.absorb(bg)
        error = outcome.get("error")
        self.expect(
            error is not None and "ids" not in outcome,
            "the client got an error",
            type(error).__name__ if error else "no error",
        )
        time.sleep(2)  # the orphaned backend notices its client is gone and rolls back
        sigs, audit = self.lot_signatures(lot)
        self.expect(
            (sigs, audit) == (0, 0),
            "no signature and no audit entry of the killed request",
            f"{sigs} signature(s), {audit} entry(ies)",
        )
        retry = self.session("bench.ra10")
        ids = load.release_one(retry, lot)
        self.committed.update(ids)
        self.signed_lots.append(lot)
        self.expect(self.lot_signatures(lot) == (1, 1), "the retry signed the lot, once")
        self.expect(
            len(self.server.worker_pids()) >= self.workers,
            "Odoo replaced the killed worker",
            str(self.server.worker_pids()),
        )

    def _backend_locking_lot(self, lot: int, timeout: float) -> int | None:
        """The PostgreSQL backend whose open transaction has locked the lot's row (its xmax),
        once that transaction waits for the audit chain's lock."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            rows = self.sql(
                "SELECT a.pid FROM stock_lot l JOIN pg_stat_activity a"
                " ON a.backend_xid = l.xmax::text::xid WHERE l.id = %s AND a.wait_event_type"
                " = 'Lock' AND a.wait_event = 'advisory'",
                lot,
            )
            if rows:
                return rows[0][0]
            time.sleep(0.05)
        return None

    def _worker_of_backend(self, backend: int) -> int | None:
        """The Odoo worker process connected to PostgreSQL backend ``backend``."""
        import psutil  # noqa: PLC0415 - an Odoo dependency

        port = self.sql("SELECT client_port FROM pg_stat_activity WHERE pid = %s", backend)[0][0]
        for pid in self.server.worker_pids():
            with contextlib.suppress(psutil.Error):
                process = psutil.Process(pid)
                listing = getattr(process, "net_connections", None) or process.connections
                for conn in listing(kind="tcp"):
                    if conn.laddr and conn.laddr.port == port:
                        return pid
        return None

    # ================================================================== 2. PostgreSQL restart
    def fault_pg_restart(self) -> None:
        print("\nfault 2: PostgreSQL restarted (pg_ctl restart -m fast) mid-load")
        with self.background() as bg:
            bg.wait_signed(4, 60)
            before = len(bg.signed_lots)
            restarted = time.time()
            self._restart_postgres()
            time.sleep(12 if self.quick else 25)
        self.absorb(bg)
        after = [t for t in bg.ok_times if t > restarted + 0.5]
        failures = sum(bg.stats.errors.values())
        self.expect(
            len(after) > 0,
            "signing recovered without restarting Odoo",
            f"{before} signed before, {len(after)} after, {failures} request(s) failed meanwhile",
        )
        samples = bg.stats.error_samples
        raw = [s for s in samples if "OperationalError" in s or "InterfaceError" in s]
        self.expect(
            not raw,
            "no raw OperationalError reached a client (a cut-off request gets the clear message)",
            raw[0][:200] if raw else f"{failures} failed: " + "; ".join(s[:110] for s in samples),
        )
        tracebacks = [s for s in samples if "Traceback" in s]
        self.expect(
            not tracebacks,
            "failed requests ended with an error reply, not a hang",
            samples[0][:160] if samples else "none failed",
        )
        # The pool alone: every connection idle when the server restarts (no request in
        # flight), then one request after another. Each worker's first request used to get a
        # pooled connection the server had closed.
        probe = self.session("bench.ra09")
        for _ in range(2 * self.workers):
            probe.call_kw("warm", "stock.lot", "search_count", [[]])
        self._restart_postgres()
        time.sleep(1)
        failed = []
        for i in range(4 * self.workers):
            try:
                probe.call_kw("after restart", "stock.lot", "search_count", [[]])
            except Exception as exc:  # noqa: BLE001 - what the check reports
                failed.append(f"#{i}: {exc}"[:200])
        self.expect(
            not failed,
            f"after a restart with every pooled connection idle, {4 * self.workers} requests in a"
            " row all succeed, the session kept",
            "; ".join(failed[:3]),
        )
        lot = self.lots.take()[0]
        ids = load.release_one(probe, lot)
        self.committed.update(ids)
        self.signed_lots.append(lot)
        self.expect(self.lot_signatures(lot) == (1, 1), "and a signature right after it")

    def _restart_postgres(self) -> None:
        cluster = self.env.cluster
        started = time.time()
        subprocess.run(
            cluster._as_owner(
                [
                    str(cluster.bindir / "pg_ctl"),
                    "restart",
                    "-m",
                    "fast",
                    "-w",
                    "-D",
                    cluster.meta["datadir"],
                ]
            ),
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        log(f"PostgreSQL restarted in {time.time() - started:.1f} s")

    # ================================================================== 3. TSA down
    def fault_tsa(self) -> None:
        print("\nfault 3: TSA down, strict mode then deferred mode")
        env = self.env
        rpc = self.session("bench.ra09")
        env.tsa.stop()
        try:
            lot = self.lots.take()[0]
            try:
                load.release_one(rpc, lot)
                error = None
            except RpcError as exc:
                error = exc
            self.expect(
                bool(error and error.user_error and "timestamp authority" in error.message),
                "strict mode: a clear error",
                error.message[:120] if error else "signed",
            )
            self.expect(self.lot_signatures(lot) == (0, 0), "strict mode: no row")
            env.set_tsa(self.db, offline="pending")
            lot = self.lots.take()[0]
            ids = load.release_one(rpc, lot)
            self.committed.update(ids)
            self.signed_lots.append(lot)
            pending = self.sql(
                "SELECT pki_timestamp_pending FROM esign_signature WHERE id = %s", ids[0]
            )[0][0]
            self.expect(pending is True, "deferred mode: signed, timestamp pending")
        finally:
            env.tsa.start()
            env.set_tsa(self.db, url=env.tsa.url)
        # The cron worker runs the pending-timestamp job when triggered, as ir.cron._trigger
        # does: a trigger row and the notification the cron worker listens to.
        cron = self.sql(
            "SELECT res_id FROM ir_model_data WHERE module = 'meddev_esign'"
            " AND name = 'ir_cron_esign_pending_timestamps'"
        )[0][0]
        self.sql(
            "INSERT INTO ir_cron_trigger (cron_id, call_at, create_date, write_date)"
            " VALUES (%s, now() at time zone 'UTC', now(), now())",
            cron,
        )
        # Odoo's cron workers listen in the "postgres" database (ir.cron._notifydb).
        self.env.cluster.sql("SELECT pg_notify('cron_trigger', %s)", params=(self.db,))
        deadline = time.time() + 150
        stamped = False
        while time.time() < deadline and not stamped:
            # The late timestamp is a record of its own (the signature keeps its flag).
            stamped = bool(
                self.sql("SELECT 1 FROM esign_signature_timestamp WHERE signature_id = %s", ids[0])
            )
            time.sleep(1)
        self.expect(stamped, "deferred mode: the cron stamped it once the TSA was back")
        env.set_tsa(self.db, offline="refuse")

    # ================================================================== 4. PKCS#11
    def fault_token(self) -> None:
        print("\nfault 4: PKCS#11 token unusable (a server started with a wrong PIN)")
        pkcs11 = dict(self.env.options["pkcs11"] or {})
        if not pkcs11:
            self.expect(False, "SoftHSM2 is installed (the demo's token)")
            return
        pkcs11["meddev_esign_pkcs11_pin"] = "0000"
        wrong = OdooServer(self.env, self.db, workers=2, name="faults-wrong-pin", pkcs11=pkcs11)
        try:
            alerts_before = self._token_alerts()
            rpc = self.session("bench.hsm", wrong.url)
            lot = self.lots.take()[0]
            error = None
            try:
                load.release_one(rpc, lot)
            except RpcError as exc:
                error = exc
            self.expect(
                bool(error and error.user_error and "PIN" in error.message),
                "a clear error",
                error.message[:140] if error else "signed",
            )
            self.expect(self.lot_signatures(lot) == (0, 0), "no row")
            alerts = self._token_alerts() - alerts_before
            self.expect(alerts > 0, "an administrator alert", f"{alerts} new to-do(s)")
            # The right PIN (the main server) signs with the same certificate.
            ids = load.release_one(self.session("bench.hsm"), lot)
            self.committed.update(ids)
            self.signed_lots.append(lot)
            self.expect(self.lot_signatures(lot) == (1, 1), "with the right PIN it signs")
        finally:
            wrong.stop()

    def _token_alerts(self) -> int:
        return self.sql(
            "SELECT count(*) FROM mail_activity WHERE res_model = 'esign.certificate'"
            " AND summary LIKE 'Signing token unavailable%%'"
        )[0][0]

    # ================================================================== 5. lock timeout
    def fault_lock_timeout(self) -> None:
        print("\nfault 5: lock timeout while the audit chain's head is contended")
        self.sql(f"ALTER DATABASE \"{self.db}\" SET lock_timeout = '2s'")
        server = OdooServer(self.env, self.db, workers=self.workers, name="faults-lock-timeout")
        try:
            rpc = self.session("bench.ra09", server.url)
            lot = self.lots.take()[0]
            error = None
            with self.chain_held():
                try:
                    load.release_one(rpc, lot)
                except RpcError as exc:
                    error = exc
            self.expect(
                bool(error and error.user_error and BUSY in error.message),
                'the client gets "busy, try again", not a traceback',
                (error.name + ": " + error.message[:120]) if error else "signed",
            )
            self.expect(self.lot_signatures(lot) == (0, 0), "nothing of it was written")
            ids = load.release_one(rpc, lot)
            self.committed.update(ids)
            self.signed_lots.append(lot)
            self.expect(self.lot_signatures(lot) == (1, 1), "trying again signs")
            tracebacks = [
                ln
                for ln in server.log_lines("ERROR")
                if "LockNotAvailable" in ln or "bad query" in ln
            ]
            self.expect(
                not tracebacks,
                "no ERROR line for it in the server log",
                tracebacks[0][:160] if tracebacks else "",
            )
        finally:
            server.stop()
            self.sql(f'ALTER DATABASE "{self.db}" RESET lock_timeout')

    # ================================================================== 6. two servers
    def fault_two_servers(self) -> None:
        print("\nfault 6: two Odoo servers (processes and ports) on one database, signing")
        mark = self.server.log_mark()  # earlier faults (a PostgreSQL restart) logged errors
        other = OdooServer(self.env, self.db, workers=self.workers, name="faults-second")
        try:
            with self.background([self.server.url, other.url]) as bg:
                time.sleep(15 if self.quick else 40)
            self.absorb(bg)
            self.expect(
                len(bg.signed_lots) > 0 and not bg.stats.errors,
                "both servers signed with no failed request",
                f"{len(bg.signed_lots)} signed, errors {bg.stats.errors}",
            )
            for name, server, since in (("first", self.server, mark), ("second", other, 0)):
                errors = server.log_lines("ERROR", since)
                self.expect(
                    not errors,
                    f"no ERROR line in the {name} server's log",
                    errors[0][:160] if errors else "",
                )
        finally:
            other.stop()


#: Faults that get the battery's background load around them (the others make their own).
UNDER_LOAD = (3, 4, 5)

FAULTS = {
    1: Battery.fault_kill,
    2: Battery.fault_pg_restart,
    3: Battery.fault_tsa,
    4: Battery.fault_token,
    5: Battery.fault_lock_timeout,
    6: Battery.fault_two_servers,
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="lighter load")
    parser.add_argument("--only", default="", help="comma-separated fault numbers (1-6)")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--keep", action="store_true", help="keep the database")
    args = parser.parse_args()
    chosen = [int(n) for n in args.only.split(",") if n.strip()] or sorted(FAULTS)
    env = Env()
    db = f"{_server.BENCH_DB_PREFIX}_faults"
    battery = None
    broken: list[str] = []
    try:
        env.clone(env.esign_template(load.setup_esign_script()), db)
        env.set_tsa(db, url=env.tsa.url)
        battery = Battery(env, db, args.quick, args.workers)
        for number in chosen:
            try:
                if number in UNDER_LOAD:
                    # Release authorities keep signing on the first server meanwhile.
                    with battery.background() as bg:
                        FAULTS[number](battery)
                    battery.absorb(bg)
                else:  # the fault runs its own background load
                    FAULTS[number](battery)
            except Exception as exc:  # noqa: BLE001 - a fault that cannot run is a failure
                battery.broken.append(f"fault {number} did not run: {exc}")
                print(f"  BROKEN  fault {number} did not run: {exc!r}", flush=True)
            # Checked once nothing runs any more: counts taken a statement apart agree.
            battery.invariants(f"fault {number}")
        broken = battery.broken
    finally:
        if battery:
            battery.server.stop()
        if not args.keep:
            env.cluster.drop_db(db)
        env.close()
    return load.finish(broken)


if __name__ == "__main__":
    sys.exit(main())
