import os
import random
import threading
import time
from unittest.mock import patch

import psycopg2
from psycopg2 import errorcodes

from odoo import SUPERUSER_ID, api
from odoo.modules.registry import Registry
from odoo.tests import BaseCase, tagged
from odoo.tests.common import get_db_name
from odoo.tools import mute_logger

from ..models import esign_ledger_store
from ..services import audit as ledger

SUPERUSER_DSN_VAR = "MEDDEV_ESIGN_TEST_PG_SUPERUSER_DSN"
TRIGGER = "esign_audit_entry_append_only_row"
RETRY_CODES = (
    errorcodes.SERIALIZATION_FAILURE,
    errorcodes.DEADLOCK_DETECTED,
    errorcodes.LOCK_NOT_AVAILABLE,
)


@tagged("post_install", "-at_install")
class TestAuditTamperAndConcurrency(BaseCase):
    """The trail against a hostile database superuser, and under 8 parallel writers.

    These tests commit (the tamper needs a second connection to see the data; the writers
    need real transactions); each tamper works on its own fresh chain, so the company's trail
    stays intact. The test database is thrown away after the run.

    The superuser's credentials come from ``scripts/dev.py test``, which runs the suite; the
    trigger lets only a superuser through, as in production.

    Verifies: R15
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.registry = Registry(get_db_name())
        cls.dsn = os.environ.get(SUPERUSER_DSN_VAR)

    def superuser(self):
        if not self.dsn:
            self.skipTest(
                f"{SUPERUSER_DSN_VAR} is not set: run the suite through `make test`, which "
                "passes the private cluster's superuser to these tamper tests"
            )
        return psycopg2.connect(f"{self.dsn} dbname={get_db_name()}")

    def fresh_chain(self, name, count=10):
        """A new chain with ``count`` entries appended by the real appender, committed."""
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            chain = env["esign.audit.chain"].create({"name": name})
            env["esign.audit.entry"]._append(
                [
                    {
                        "chain_id": chain.id,
                        "model": "esign.deviation",
                        "res_id": n,
                        "record": f"DEV {n}",
                        "op": "write",
                        "changes": [["title", f"old {n}", f"new {n}"]],
                        "reason": "",
                    }
                    for n in range(1, count + 1)
                ]
            )
            return chain.id

    def tamper(self, *statements):
        """Run statements as the superuser with the append-only trigger disabled."""
        conn = self.superuser()
        try:
            with conn, conn.cursor() as cur:
                cur.execute(f"ALTER TABLE esign_audit_entry DISABLE TRIGGER {TRIGGER}")
                for statement, params in statements:
                    cur.execute(statement, params)
                cur.execute(f"ALTER TABLE esign_audit_entry ENABLE TRIGGER {TRIGGER}")
        finally:
            conn.close()

    def verify(self, chain_id):
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            return env["esign.audit.chain"].browse(chain_id)._verify()

    # ------------------------------------------------------------------ tamper
    def test_superuser_edits_are_named_by_the_verifier(self):
        chain = self.fresh_chain("Tamper: altered value")
        self.assertTrue(self.verify(chain).ok)
        self.tamper(
            (
                "UPDATE esign_audit_entry SET payload = replace(payload, 'new 5', 'NEW 5')"
                " WHERE chain_id = %s AND seq = 5",
                (chain,),
            )
        )
        verdict = self.verify(chain)
        self.assertEqual(
            (verdict.ok, verdict.kind, verdict.first_break_seq), (False, "altered", 5)
        )

        # The searchable columns are generated from the hashed payload: even a superuser
        # cannot set one. Detaching it from the payload first is a schema change that the
        # verifier reports.
        chain = self.fresh_chain("Tamper: altered column")
        with self.assertRaises(psycopg2.errors.GeneratedAlways):
            self.tamper(
                ("UPDATE esign_audit_entry SET reason = 'x' WHERE chain_id = %s", (chain,))
            )
        try:
            self.tamper(
                ("ALTER TABLE esign_audit_entry ALTER COLUMN reason DROP EXPRESSION", ()),
                (
                    "UPDATE esign_audit_entry SET reason = 'made up'"
                    " WHERE chain_id = %s AND seq = 3",
                    (chain,),
                ),
            )
            verdict = self.verify(chain)
            self.assertEqual((verdict.ok, verdict.kind), (False, "altered"))
            self.assertIn("reason", verdict.message)
        finally:
            with self.registry.cursor() as cr:  # the add-on's own repair: regenerate
                api.Environment(cr, SUPERUSER_ID, {})["esign.audit.entry"].init()
        self.assertTrue(self.verify(chain).ok)

    def test_superuser_deletion_is_missing(self):
        chain = self.fresh_chain("Tamper: deleted row")
        self.tamper(("DELETE FROM esign_audit_entry WHERE chain_id = %s AND seq = 7", (chain,)))
        verdict = self.verify(chain)
        self.assertEqual(
            (verdict.ok, verdict.kind, verdict.first_break_seq), (False, "missing", 7)
        )

    def test_superuser_forged_row_is_inserted(self):
        chain = self.fresh_chain("Tamper: forged row")
        conn = self.superuser()
        with conn, conn.cursor() as cur:
            cur.execute(
                "SELECT entry_hash FROM esign_audit_entry WHERE chain_id = %s AND seq = 3",
                (chain,),
            )
            link = cur.fetchone()[0]
        conn.close()
        # A forger who knows the formula makes a valid-looking entry 4 linked to entry 3,
        # and renumbers the later entries to make room (their numbers are in their payloads).
        row = ledger.next_links(
            3,
            link,
            [
                {
                    "at": "2026-01-01T00:00:00Z",
                    "user": [SUPERUSER_ID, "__system__", "OdooBot"],
                    "op": "write",
                    "model": "esign.deviation",
                    "res_id": 99,
                }
            ],
        )[0]
        shifts = [
            (
                "UPDATE esign_audit_entry SET payload = replace(payload, %s, %s)"
                " WHERE chain_id = %s AND seq = %s",
                (f'"seq":{n},', f'"seq":{n + 1},', chain, n),
            )
            for n in range(10, 3, -1)
        ]
        self.tamper(
            *shifts,
            (
                "INSERT INTO esign_audit_entry (chain_id, payload, previous_hash, entry_hash,"
                " retention_until) VALUES (%s, %s, %s, %s, '2099-01-01')",
                (chain, row[3], row[1], row[2]),
            ),
        )
        verdict = self.verify(chain)
        self.assertEqual((verdict.kind, verdict.first_break_seq), ("inserted", 4))

    def test_superuser_swap_is_reordered(self):
        chain = self.fresh_chain("Tamper: swapped rows")
        swap = (
            "UPDATE esign_audit_entry SET payload = replace(payload, %s, %s) WHERE chain_id = %s"
        )
        self.tamper(
            (swap + " AND seq = 3", ('"seq":3,', '"seq":-1,', chain)),
            (swap + " AND seq = 4", ('"seq":4,', '"seq":3,', chain)),
            (swap + " AND seq = -1", ('"seq":-1,', '"seq":4,', chain)),
        )
        verdict = self.verify(chain)
        self.assertEqual((verdict.kind, verdict.first_break_seq), ("reordered", 3))

    def test_database_check_names_what_a_full_stream_names(self):
        """``_verify`` checks in PostgreSQL and streams only from the last good entry on; its
        verdict (kind, place, count, message) is the one of streaming the whole chain."""
        entry = "UPDATE esign_audit_entry SET %s WHERE chain_id = %%s AND seq = %s"
        tampers = {
            "first payload": (entry % ("payload = replace(payload, 'new 1', 'x')", 1),),
            "last payload": (entry % ("payload = replace(payload, 'new 12', 'x')", 12),),
            "stored hash": (entry % ("entry_hash = md5(entry_hash) || md5(entry_hash)", 6),),
            "link": (entry % ("previous_hash = repeat('1', 64)", 9),),
            "first deleted": ("DELETE FROM esign_audit_entry WHERE chain_id = %s AND seq = 1",),
            "two deleted": (
                "DELETE FROM esign_audit_entry WHERE chain_id = %s AND seq IN (5, 6)",
            ),
            "tail cut": ("DELETE FROM esign_audit_entry WHERE chain_id = %s AND seq > 10",),
        }
        for label, statements in tampers.items():
            with self.subTest(label):
                chain = self.fresh_chain(f"Tamper: {label}", count=12)
                self.tamper(*((statement, (chain,)) for statement in statements))
                with self.registry.cursor() as cr:
                    record = api.Environment(cr, SUPERUSER_ID, {})["esign.audit.chain"]
                    record = record.browse(chain)
                    streamed = ledger.verify_rows(record._stream_rows(1))
                    self.assertEqual(streamed.ok, label == "tail cut")
                    # The stored hashes in one pass, the same in two halves at once (the
                    # first through a second connection), and every hash recomputed.
                    self.assertEqual(record._verify(), streamed)
                    with patch.object(esign_ledger_store, "SPLIT_MIN_ENTRIES", 2):
                        self.assertEqual(record._verify(), streamed)
                    self.assertEqual(record._verify(recompute=True), streamed)

    def test_two_halves_meet_at_the_boundary(self):
        """A break exactly where the halves meet, and one in each half, are found; an intact
        chain checked in halves counts every entry once."""
        chain = self.fresh_chain("Tamper: halves", count=12)
        # The first half is read through a second connection, in a thread: it sees the
        # committed entries and finds what this cursor finds.
        with self.registry.cursor() as cr:
            for low, high in ((1, 6), (7, 12)):
                args = (chain, low, high, 1, ledger.GENESIS)
                side = esign_ledger_store._SideScan(cr.dbname, args)
                self.assertEqual(side.result(), esign_ledger_store._scan_stored(cr, *args))
                self.assertEqual(side.result(), (6, None))
        with patch.object(esign_ledger_store, "SPLIT_MIN_ENTRIES", 2):
            verdict = self.verify(chain)
            self.assertEqual((verdict.ok, verdict.checked), (True, 12))
            for seq in (7, 6, 2, 11):  # the second half starts at entry 7
                with self.subTest(seq=seq):
                    chain = self.fresh_chain(f"Tamper: halves {seq}", count=12)
                    self.tamper(
                        (
                            "UPDATE esign_audit_entry SET previous_hash = repeat('2', 64)"
                            " WHERE chain_id = %s AND seq = %s",
                            (chain, seq),
                        )
                    )
                    verdict = self.verify(chain)
                    self.assertEqual((verdict.ok, verdict.first_break_seq), (False, seq))

    def test_hash_computed_by_the_database_cannot_be_detached(self):
        """The stored-hash check relies on ``computed_hash`` being generated as shipped: with a
        plain column or another expression every hash is recomputed (and the changed payload
        named), another function is reported, and a module update regenerates the column."""
        detach = {
            "plain column": (
                "ALTER TABLE esign_audit_entry ALTER COLUMN computed_hash DROP EXPRESSION",
                "UPDATE esign_audit_entry SET payload = replace(payload, 'new 4', 'x'),"
                " computed_hash = entry_hash WHERE chain_id = %s AND seq = 4",
            ),
            "other expression": (
                "ALTER TABLE esign_audit_entry DROP COLUMN computed_hash",
                "ALTER TABLE esign_audit_entry ADD COLUMN computed_hash varchar"
                " GENERATED ALWAYS AS (entry_hash) STORED",
                "UPDATE esign_audit_entry SET payload = replace(payload, 'new 4', 'x')"
                " WHERE chain_id = %s AND seq = 4",
            ),
            "other function": (
                "CREATE OR REPLACE FUNCTION esign_audit_link_hash(text, text) RETURNS varchar"
                " LANGUAGE sql IMMUTABLE AS $$ SELECT 'forged'::varchar $$",
            ),
        }
        for label, statements in detach.items():
            with self.subTest(label):
                chain = self.fresh_chain(f"Tamper: computed hash, {label}")
                try:
                    self.tamper(
                        *(
                            (statement, (chain,) if "%s" in statement else ())
                            for statement in statements
                        )
                    )
                    verdict = self.verify(chain)
                    if label == "other function":  # no entry changed: the schema is named
                        self.assertEqual((verdict.ok, verdict.kind), (False, "altered"))
                        self.assertIn("computed_hash", verdict.message)
                    else:  # the stored hashes are not trusted: every hash is recomputed
                        self.assertEqual(
                            (verdict.ok, verdict.kind, verdict.first_break_seq),
                            (False, "altered", 4),
                        )
                finally:
                    with self.registry.cursor() as cr:  # the add-on's own repair
                        api.Environment(cr, SUPERUSER_ID, {})["esign.audit.entry"].init()
                with self.registry.cursor() as cr:
                    entries = api.Environment(cr, SUPERUSER_ID, {})["esign.audit.entry"]
                    self.assertEqual(entries._plain_generated_columns(), [])
                verdict = self.verify(chain)
                # Regenerated from the evidence: a payload changed meanwhile is now named.
                if label == "other function":
                    self.assertTrue(verdict.ok, verdict.message)
                else:
                    self.assertEqual(
                        (verdict.ok, verdict.kind, verdict.first_break_seq), (False, "altered", 4)
                    )

    @mute_logger("odoo.addons.meddev_esign.models.esign_audit")  # the break's alert
    def test_function_swapped_for_a_moment_is_caught_by_recomputing(self):
        """A superuser who replaces the hashing function, rewrites a payload so that the
        database stores the old hash for it, then puts the function back, leaves a schema as
        shipped: the daily check recomputes every hash and names the entry."""
        chain = self.fresh_chain("Tamper: swapped function")
        conn = self.superuser()
        with conn, conn.cursor() as cur:
            cur.execute(
                "SELECT entry_hash FROM esign_audit_entry WHERE chain_id = %s AND seq = 5",
                (chain,),
            )
            original = cur.fetchone()[0]
            cur.execute("SELECT prosrc FROM pg_proc WHERE proname = 'esign_audit_link_hash'")
            body = cur.fetchone()[0]
        conn.close()
        try:
            self.tamper(
                (
                    "CREATE OR REPLACE FUNCTION esign_audit_link_hash(text, text)"
                    " RETURNS varchar LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS"
                    " $f$ SELECT %s::varchar $f$",
                    (original,),
                ),
                (
                    "UPDATE esign_audit_entry SET payload = replace(payload, 'new 5', 'NEW 5')"
                    " WHERE chain_id = %s AND seq = 5",
                    (chain,),
                ),
                (esign_ledger_store.LINK_FUNCTION_SQL, ()),
            )
            with self.registry.cursor() as cr:
                cr.execute("SELECT prosrc FROM pg_proc WHERE proname = 'esign_audit_link_hash'")
                self.assertEqual(cr.fetchone()[0], body)  # the schema looks as shipped
                record = api.Environment(cr, SUPERUSER_ID, {})["esign.audit.chain"].browse(chain)
                verification = record._run_verification("cron")
                self.assertTrue(verification.hashes_recomputed)
                self.assertEqual(
                    (verification.verdict, verification.break_kind, verification.break_seq),
                    ("broken", "altered", 5),
                )
                cr.rollback()
        finally:
            with self.registry.cursor() as cr:  # the shipped function, whatever happened
                api.Environment(cr, SUPERUSER_ID, {})["esign.audit.entry"].init()

    @mute_logger("odoo.addons.meddev_esign.models.esign_audit")  # the trail's one logger
    def test_daily_check_alerts_administrators_on_a_break(self):
        chain = self.fresh_chain("Tamper: daily alert")
        self.tamper(("DELETE FROM esign_audit_entry WHERE chain_id = %s AND seq = 2", (chain,)))
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            record = env["esign.audit.chain"].browse(chain)
            verification = record._run_verification("cron")
            self.assertEqual(verification.verdict, "broken")
            self.assertEqual(verification.break_kind, "missing")
            admins = env.ref("meddev_esign.group_esign_admin").users.filtered(
                lambda u: u.id != SUPERUSER_ID
            )
            if admins:
                self.assertEqual(
                    set(record.activity_ids.user_id.ids) & set(admins.ids), set(admins.ids)
                )
            self.assertIn("integrity break", record.message_ids[:1].subject or "")
            cr.rollback()

    # ------------------------------------------------------------------ concurrency
    def test_eight_parallel_writers_no_fork_no_gap(self):
        writers, writes = 8, 6
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            deviations = env["esign.deviation"].create(
                [{"title": f"Parallel {n}"} for n in range(writers)]
            )
            chain = env["esign.audit.chain"]._for_company(env.company)
            ids, chain_id, start = deviations.ids, chain.id, chain.head_seq
        errors, retries = [], []
        barrier = threading.Barrier(writers)

        def writer(record_id):
            # Environment() would call Registry(dbname), which waits for the test runner's
            # lock: hand it the transaction directly.
            cr = self.registry.cursor()
            try:
                cr.transaction = api.Transaction(self.registry)
                env = api.Environment(cr, SUPERUSER_ID, {})
                barrier.wait(timeout=30)
                for n in range(writes):
                    for _attempt in range(50):
                        try:
                            env["esign.deviation"].browse(record_id).write(
                                {"description": f"write {n} by {record_id}"}
                            )
                            cr.commit()  # pylint: disable=invalid-commit
                            break
                        except psycopg2.OperationalError as exc:
                            if exc.pgcode not in RETRY_CODES:
                                raise
                            cr.rollback()
                            env.invalidate_all()
                            retries.append(exc.pgcode)
                            time.sleep(random.uniform(0, 0.02))
                    else:
                        raise AssertionError("a writer never got through")
            except Exception as exc:  # noqa: BLE001 - reported by the main thread
                errors.append(exc)
            finally:
                cr.close()

        threads = [threading.Thread(target=writer, args=(rid,)) for rid in ids]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        self.assertFalse(errors, errors)
        # Appending only INSERTs under the chain's lock: no writer had to be replayed.
        self.assertEqual(retries, [])

        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            chain = env["esign.audit.chain"].browse(chain_id)
            self.assertEqual(chain.head_seq - start, writers * writes)
            cr.execute(
                "SELECT count(*), count(DISTINCT seq), count(DISTINCT previous_hash),"
                " min(seq), max(seq) FROM esign_audit_entry WHERE chain_id = %s AND seq > %s",
                (chain_id, start),
            )
            total, distinct_seq, distinct_prev, low, high = cr.fetchone()
            self.assertEqual(total, writers * writes)
            self.assertEqual(distinct_seq, total)  # no fork: one entry per place
            self.assertEqual(distinct_prev, total)  # no fork: one entry per link
            self.assertEqual((low, high), (start + 1, start + total))  # no gap
            verdict = chain._verify()
            self.assertTrue(verdict.ok, verdict.message)
