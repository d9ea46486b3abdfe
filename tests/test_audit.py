import base64
import io
import json
import subprocess
import sys
import tempfile
import zipfile
from datetime import date
from pathlib import Path

import psycopg2

from odoo import Command, fields
from odoo.exceptions import UserError, ValidationError
from odoo.tests import tagged
from odoo.tools import SQL, mute_logger

from ..services import audit as ledger
from .common import EsignCase

ADDON_ROOT = Path(__file__).resolve().parent.parent


@tagged("post_install", "-at_install")
class TestAuditTrail(EsignCase):
    """R15, R17-R19, R27-R28: what the trail records, and what it refuses."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.chain = cls.env["esign.audit.chain"]._for_company(cls.env.company)

    # ------------------------------------------------------------------ helpers
    def entries(self, record, operation=None):
        domain = [("res_model", "=", record._name), ("res_id", "=", record.id)]
        if operation:
            domain.append(("operation", "=", operation))
        return self.env["esign.audit.entry"].search(domain, order="seq")

    def payload(self, entry):
        return json.loads(entry.payload)

    def head(self):
        self.chain.invalidate_recordset()
        return self.chain.head_seq

    def assert_chain_ok(self):
        verdict = self.chain._verify()
        self.assertTrue(verdict.ok, verdict.message)
        return verdict

    def make_deviation(self, user=None, **vals):
        return (
            self.env["esign.deviation"]
            .with_user(user or self.qe)
            .create({"title": "Scratched housing", **vals})
        )

    # ------------------------------------------------------------------ what is recorded
    def test_create_write_unlink_are_recorded_old_to_new(self):
        """Verifies: R15"""
        start = self.head()
        dev = self.make_deviation(product_id=self.device.id)
        created = self.entries(dev, "create")
        self.assertEqual(len(created), 1)
        changes = {c[0]: c for c in self.payload(created)["changes"]}
        self.assertEqual(changes["title"], ["title", None, "Scratched housing"])
        # many2one as id plus display name
        self.assertEqual(changes["product_id"][2], [self.device.id, self.device.display_name])

        dev.with_user(self.qe).write({"title": "Scratched lid", "description": "Lot A"})
        written = self.entries(dev, "write")
        self.assertEqual(len(written), 1)
        payload = self.payload(written)
        self.assertEqual(
            payload["changes"],
            [["description", None, "Lot A"], ["title", "Scratched housing", "Scratched lid"]],
        )
        self.assertEqual(payload["user"][:2], [self.qe.id, self.qe.login])
        self.assertEqual(written.user_id, self.qe)
        self.assertEqual(written.record_name, dev.display_name)
        self.assertIn("Scratched lid", written.changes_html)

        # a write that changes nothing is not an entry
        dev.with_user(self.qe).write({"title": "Scratched lid"})
        self.assertEqual(len(self.entries(dev, "write")), 1)

        name = dev.display_name
        dev.with_user(self.esign_admin).sudo().unlink()
        removed = self.env["esign.audit.entry"].search(
            [("res_model", "=", "esign.deviation"), ("operation", "=", "unlink")], order="seq"
        )[-1:]
        self.assertEqual(removed.record_name, name)
        self.assertIn(["title", "Scratched lid", None], self.payload(removed)["changes"])
        self.assertEqual(self.head(), start + 3)
        self.assert_chain_ok()

    def test_money_at_currency_precision_and_gap_free_numbering(self):
        """Verifies: R15"""
        order = self.env["purchase.order"].create(
            {
                "partner_id": self.env["res.partner"].create({"name": "Vendor A"}).id,
                "order_line": [
                    Command.create(
                        {"product_id": self.component.id, "product_qty": 3, "price_unit": 0.1}
                    )
                ],
            }
        )
        values = order._esign_field_values(["amount_untaxed"])
        self.assertEqual(str(values["amount_untaxed"]), "0.30")
        start = self.head()
        for ref in ("A", "B", "C"):
            order.write({"partner_ref": ref})
        seqs = self.entries(order, "write").mapped("seq")
        self.assertEqual(seqs, [start + 1, start + 2, start + 3])
        self.assert_chain_ok()

    def test_configuration_changes_are_audited(self):
        """Verifies: R28"""
        # As applied (an approved configuration change applies under sudo, as its approver).
        self.mo_policy.with_user(self.esign_admin).sudo().write({"name": "MO review v2"})
        entry = self.entries(self.mo_policy)[-1]
        self.assertEqual(entry.operation, "config")
        self.assertIn(["__action__", None, "write"], self.payload(entry)["changes"])
        self.assertIn(["name", "Test MO review", "MO review v2"], self.payload(entry)["changes"])

        params = self.env["ir.config_parameter"].sudo()
        params.set_param("meddev_esign.max_failed_attempts", "5")
        param = params.search([("key", "=", "meddev_esign.max_failed_attempts")])
        self.assertIn(["value", "3", "5"], self.payload(self.entries(param)[-1])["changes"])
        params.set_param("some.other.key", "x")
        other = params.search([("key", "=", "some.other.key")])
        self.assertFalse(self.entries(other))

    def test_append_after_ddl_on_the_trail_does_not_wait_for_itself(self):
        """A module update alters the entry table (its trigger, its columns), then loads data
        that is audited, in one transaction. Reading the committed head through a second
        connection would wait forever for this transaction's own table lock (it hung `make
        demo` once); the append goes on and the chain stays intact.

        Verifies: R15
        """
        self.env.cr.execute("LOCK TABLE esign_audit_entry IN ACCESS EXCLUSIVE MODE")
        # As in a fresh update transaction: the committed head has not been read yet.
        self.env.cr.postrollback.data.pop("esign_audit_heads", None)
        chain = self.env["esign.audit.chain"].sudo()._for_company(self.env.company)
        self.assertTrue(chain._holds_entry_table())
        self.mo_policy.with_user(self.esign_admin).sudo().write(
            {"name": "MO review during update"}
        )
        entry = self.entries(self.mo_policy)[-1]
        self.assertIn(["name", "Test MO review", "MO review during update"],
                      self.payload(entry)["changes"])  # fmt: skip
        self.assertTrue(chain._verify().ok)

    def test_company_esign_settings_are_audited_others_not(self):
        """Verifies: R28"""
        company = self.env.company
        company.write({"esign_tsa_urls": "http://127.0.0.1:1/tsa"})
        entry = self.entries(company)[-1]
        self.assertEqual(entry.operation, "config")
        self.assertIn(
            ["esign_tsa_urls", None, "http://127.0.0.1:1/tsa"], self.payload(entry)["changes"]
        )
        count = len(self.entries(company))
        company.write({"phone": "+86 21 5555 0101"})
        self.assertEqual(len(self.entries(company)), count)

    def test_rule_adds_a_model_and_is_itself_audited(self):
        """Verifies: R15, R28"""
        # the demo data audits partners already: start from no rule
        self.env["esign.audit.rule"].with_context(active_test=False).search(
            [("model", "=", "res.partner")]
        ).unlink()
        partner = self.env["res.partner"].create({"name": "Acme"})
        partner.write({"name": "Acme Ltd"})
        self.assertFalse(self.entries(partner))
        rule = (
            self.env["esign.audit.rule"]
            .with_user(self.esign_admin)
            .create(
                {
                    "model_id": self.env.ref("base.model_res_partner").id,
                    "field_ids": [
                        Command.set(
                            self.env["ir.model.fields"]
                            .search([("model", "=", "res.partner"), ("name", "=", "name")])
                            .ids
                        )
                    ],
                }
            )
        )
        self.assertEqual(self.entries(rule).operation, "config")
        partner.write({"name": "Acme Group", "comment": "not audited"})
        self.assertEqual(
            self.payload(self.entries(partner, "write"))["changes"],
            [["name", "Acme Ltd", "Acme Group"]],
        )
        rule.with_user(self.esign_admin).active = False
        partner.write({"name": "Acme Again"})
        self.assertEqual(len(self.entries(partner)), 1)
        with self.assertRaises(ValidationError):
            self.env["esign.audit.rule"].create(
                {"model_id": self.env.ref("meddev_esign.model_esign_audit_entry").id}
            )

    def test_signature_and_rejection_are_entries(self):
        """Verifies: R15, R16"""
        mo = self._make_mo()
        self.sign(self.qe, mo)
        sign = self.entries(mo, "sign")
        self.assertEqual(len(sign), 1)
        signature = self.signatures(mo)
        changes = dict((c[0], c[2]) for c in self.payload(sign)["changes"])
        self.assertEqual(changes["signature_hash"], signature.signature_hash)
        self.assertEqual(changes["meaning"], "reviewed")
        self.assertEqual(sign.reason, "ok")
        request = self.env["esign.request"]._for_record(mo, self.mo_policy)
        request.with_user(self.qa)._reject(mo, "Wrong quantity")
        reject = self.entries(mo, "reject")
        self.assertEqual(reject.reason, "Wrong quantity")
        self.assertEqual(reject.user_id, self.qa)
        self.assert_chain_ok()

    # ------------------------------------------------------------------ reason for change
    def test_signed_record_change_needs_a_reason(self):
        """Verifies: R11, R15"""
        mo = self._make_mo()
        self.sign(self.qe, mo)
        self.assertTrue(mo.esign_reason_required)
        start = self.head()
        error = self.refused(mo.with_user(self.supervisor).write, {"product_qty": 7})
        self.assertIn("needs a reason for change", str(error))
        mo.invalidate_recordset()
        self.assertEqual(mo.product_qty, 5)
        self.assertEqual(self.head(), start)

        mo.with_user(self.supervisor).write(
            {"product_qty": 7, "esign_change_reason": "Customer order raised"}
        )
        entry = self.entries(mo, "write")[-1]
        self.assertEqual(entry.reason, "Customer order raised")
        self.assertIn(["product_qty", "5.00", "7.00"], self.payload(entry)["changes"])
        # the context works too (imports, server actions)
        mo.with_user(self.supervisor).with_context(esign_change_reason="Back to 5").write(
            {"product_qty": 5}
        )
        self.assertEqual(self.entries(mo, "write")[-1].reason, "Back to 5")

    def test_released_lot_change_needs_a_reason(self):
        """Verifies: R15, R20"""
        self.lot.sudo().esign_release_state = "released"
        with self.assertRaises(UserError):
            self.lot.with_user(self.supervisor).write({"ref": "changed"})
        self.lot.with_user(self.supervisor).write(
            {"ref": "changed", "esign_change_reason": "typo"}
        )
        self.assertEqual(self.entries(self.lot, "write")[-1].reason, "typo")

    def test_unsigned_record_needs_no_reason(self):
        """Verifies: R15"""
        dev = self.make_deviation()
        self.assertFalse(dev.esign_reason_required)
        dev.with_user(self.qe).write({"title": "No reason needed"})

    # ------------------------------------------------------------------ append-only
    def test_orm_cannot_create_change_or_delete_entries(self):
        """Verifies: R15"""
        self.make_deviation()
        entry = self.env["esign.audit.entry"].search([], limit=1)
        with self.assertRaises(UserError):
            entry.sudo().write({"reason": "forged"})
        with self.assertRaises(UserError):
            entry.sudo().unlink()
        with self.assertRaises(UserError):
            self.env["esign.audit.entry"].sudo().create({"seq": 1})
        self.assertFalse(
            self.env["esign.audit.entry"].with_user(self.esign_admin).has_access("write")
        )

    @mute_logger("odoo.sql_db")
    def test_database_refuses_update_delete_truncate(self):
        """Verifies: R15"""
        self.make_deviation()
        self.chain._checkpoint("manual")
        entry = self.env["esign.audit.entry"].search([], limit=1)
        for statement in (
            SQL("UPDATE esign_audit_entry SET payload = '{}' WHERE id = %s", entry.id),
            SQL("DELETE FROM esign_audit_entry WHERE id = %s", entry.id),
            SQL("TRUNCATE esign_audit_entry"),
            SQL("UPDATE esign_audit_checkpoint SET seq = seq + 1"),
            SQL("DELETE FROM esign_audit_checkpoint"),
        ):
            with self.assertRaises(psycopg2.errors.InsufficientPrivilege), self.env.cr.savepoint():
                self.env.cr.execute(statement)

    def test_rolled_back_change_leaves_nothing(self):
        """Verifies: R15"""
        dev = self.make_deviation()
        start = self.head()
        count = self.env["esign.audit.entry"].search_count([])
        with self.assertRaises(ZeroDivisionError), self.env.cr.savepoint():
            dev.write({"title": "Never happened"})
            _ = 1 / 0
        self.env.invalidate_all()
        self.assertEqual(self.head(), start)
        self.assertEqual(self.env["esign.audit.entry"].search_count([]), count)
        self.assert_chain_ok()

    # ------------------------------------------------------------------ verification
    def test_verify_button_report_and_checkpoint(self):
        """Verifies: R15"""
        self.make_deviation()
        verification = self.chain.with_user(self.auditor)._run_verification("manual")
        self.assertEqual(verification.verdict, "intact")
        self.assertEqual(verification.checked, self.head())
        html = (
            self.env["ir.actions.report"]
            ._render_qweb_html("meddev_esign.action_report_audit_integrity", verification.ids)[0]
            .decode()
        )
        self.assertIn("Audit Trail Integrity Report", html)
        self.assertIn("INTACT", html)
        self.assertIn(verification.head_hash, html)
        pdf, _fmt = (
            self.env["ir.actions.report"]
            .with_context(force_report_rendering=True)
            ._render_qweb_pdf("meddev_esign.action_report_audit_integrity", verification.ids)
        )
        self.assertTrue(pdf.startswith(b"%PDF"))
        checkpoint = self.chain._checkpoint("manual")
        self.assertEqual(checkpoint.seq, self.head())
        self.assertEqual(checkpoint.entry_hash, self.chain.head_hash)
        with self.assertRaises(UserError):
            checkpoint.write({"seq": 1})
        with self.assertRaises(UserError):
            verification.write({"verdict": "broken"})

    def test_interval_checkpoints(self):
        """Verifies: R15"""
        self.env["ir.config_parameter"].sudo().set_param(
            "meddev_esign.audit_checkpoint_interval", "2"
        )
        dev = self.make_deviation()
        for title in ("a", "b", "c", "d"):
            dev.write({"title": title})
        seqs = self.chain.checkpoint_ids.filtered(lambda c: c.trigger == "interval").mapped("seq")
        self.assertTrue(seqs and all(seq % 2 == 0 for seq in seqs))

    def test_audit_trail_button_and_form(self):
        """Verifies: S6"""
        dev = self.make_deviation()
        action = dev.with_user(self.qe).action_esign_audit_trail()
        self.assertEqual(self.env["esign.audit.entry"].search(action["domain"]), self.entries(dev))
        arch = dev.get_view(view_type="form")["arch"]
        self.assertIn("action_esign_audit_trail", arch)
        self.assertIn("esign_change_reason", arch)
        policy_arch = self.env["esign.policy"].get_view(view_type="form")["arch"]
        self.assertIn("action_esign_audit_trail", policy_arch)

    # ------------------------------------------------------------------ export
    def test_filtered_export_verifies_offline_and_detects_tampering(self):
        """Verifies: R15, R18"""
        dev = self.make_deviation()
        dev.write({"title": "Exported change"})
        other = self.make_deviation(title="Not exported")
        other.write({"title": "Still not exported"})
        selected = self.entries(dev)
        wizard = (
            self.env["esign.audit.export"]
            .with_user(self.auditor)
            .with_context(active_model="esign.audit.entry", active_ids=selected.ids)
            .create({"file_format": "csv"})
        )
        self.assertEqual(wizard.entry_count, len(selected))
        action = wizard.action_export()
        self.assertIn("/web/content/esign.audit.export/", action["url"])
        archive = zipfile.ZipFile(io.BytesIO(base64.b64decode(wizard.file_data)))
        names = archive.namelist()
        proof = next(n for n in names if n.endswith(".jsonl"))
        csv_name = next(n for n in names if n.endswith(".csv"))
        self.assertIn("services/audit_cli.py", names)
        self.assertIn("Exported change", archive.read(csv_name).decode())
        self.assertNotIn("Still not exported", archive.read(proof).decode())

        verdict = ledger.verify_export(archive.read(proof).decode().splitlines())
        self.assertTrue(verdict.ok, (verdict.chain.message, verdict.problems))
        self.assertEqual(verdict.selected, len(selected))
        self.assertGreaterEqual(verdict.proofs, 2)

        with tempfile.TemporaryDirectory() as tmp:
            archive.extractall(tmp)
            run = subprocess.run(
                [sys.executable, "-m", "services.audit_cli", proof],
                cwd=tmp,
                capture_output=True,
                text=True,
                check=False,
            )
            self.assertEqual(run.returncode, 0, run.stdout + run.stderr)
            self.assertIn("VERDICT: INTACT", run.stdout)
            path = Path(tmp) / proof
            path.write_text(
                path.read_text(encoding="utf-8").replace("Exported change", "Exported chango"),
                encoding="utf-8",
            )
            run = subprocess.run(
                [sys.executable, "-m", "services.audit_cli", proof],
                cwd=tmp,
                capture_output=True,
                text=True,
                check=False,
            )
            self.assertEqual(run.returncode, 1, run.stdout + run.stderr)
            self.assertIn("altered", run.stdout)

    def test_export_of_nothing_is_refused(self):
        """Verifies: R18"""
        wizard = self.env["esign.audit.export"].create({"domain": "[('id', '=', 0)]"})
        with self.assertRaises(UserError):
            wizard.action_export()
        wizard.domain = "this is not a domain"
        with self.assertRaises(UserError):
            wizard.action_export()

    # ------------------------------------------------------------------ review (R17)
    def test_review_is_signed_and_becomes_an_entry(self):
        """Verifies: R17"""
        self.make_deviation()
        review = (
            self.env["esign.audit.review"]
            .with_user(self.auditor)
            .create(
                {
                    "date_from": fields.Datetime.now().replace(hour=0, minute=0, second=0),
                    "date_to": fields.Datetime.now().replace(hour=23, minute=59, second=59),
                }
            )
        )
        review.action_submit()
        self.assertEqual(review.state, "to_review")
        self.assertEqual(review.verdict, "intact")
        self.assertGreater(review.entry_count, 0)
        self.sign(self.auditor, review)
        self.assertEqual(review.state, "reviewed")
        entry = self.entries(review, "review")
        self.assertEqual(len(entry), 1)
        changes = dict((c[0], c[2]) for c in self.payload(entry)["changes"])
        self.assertEqual(changes["reviewed_hash"], review.head_hash)
        self.assertEqual(len(self.entries(review, "sign")), 1)
        self.assert_chain_ok()

    def test_review_of_an_empty_period_is_refused(self):
        """Verifies: R17"""
        review = (
            self.env["esign.audit.review"]
            .with_user(self.auditor)
            .create({"date_from": "2001-01-01 00:00:00", "date_to": "2001-01-02 00:00:00"})
        )
        with self.assertRaises(UserError):
            review.action_submit()
        with self.assertRaises(UserError):
            self.env["esign.audit.review"].create(
                {"date_from": "2001-01-02 00:00:00", "date_to": "2001-01-01 00:00:00"}
            )

    # ------------------------------------------------------------------ retention (R19)
    def _old_chain(self, count, retention):
        """A chain whose entries were written long ago (inserted as the appender does)."""
        chain = self.env["esign.audit.chain"].sudo().create({"name": "Old trail"})
        payloads = [
            {
                "at": "2001-01-01T00:00:00Z",
                "model": "esign.deviation",
                "res_id": n,
                "op": "write",
                "user": [self.env.uid, "", ""],
                "reason": "",
            }
            for n in range(count)
        ]
        rows = ledger.next_links(0, ledger.GENESIS, payloads)
        for _seq, previous, entry_hash, text in rows:
            self.env.cr.execute(
                "INSERT INTO esign_audit_entry (chain_id, payload, previous_hash, entry_hash,"
                " retention_until) VALUES (%s, %s, %s, %s, %s)",
                (chain.id, text, previous, entry_hash, retention),
            )
        chain.invalidate_recordset()
        return chain

    @mute_logger("odoo.sql_db")
    def test_retention_purge_only_past_retention(self):
        """Verifies: R19"""
        chain = self._old_chain(6, date(2001, 1, 1))
        self.assertTrue(chain._verify().ok)
        chain_hash = self._hash(chain, 4)
        self.env["esign.audit.checkpoint"]._store(chain.id, 4, chain_hash, "daily")
        self.env["esign.audit.chain"]._cron_purge_expired()
        chain.invalidate_recordset()
        self.assertEqual(chain.purged_seq, 4)
        self.assertEqual(chain.purged_hash, chain_hash)
        self.assertEqual(
            self.env["esign.audit.entry"].search([("chain_id", "=", chain.id)]).mapped("seq"),
            [7, 6, 5],  # the purge itself is entry 7
        )
        self.assertTrue(chain._verify().ok)

        young = self._old_chain(3, date(2999, 1, 1))
        self.env["esign.audit.checkpoint"]._store(young.id, 3, self._hash(young, 3), "daily")
        self.env["esign.audit.chain"]._cron_purge_expired()
        self.assertEqual(
            self.env["esign.audit.entry"].search_count([("chain_id", "=", young.id)]), 3
        )
        with self.assertRaises(psycopg2.errors.InsufficientPrivilege), self.env.cr.savepoint():
            self.env.cr.execute("DELETE FROM esign_audit_entry WHERE chain_id = %s", (young.id,))

    def _hash(self, chain, seq):
        return (
            self.env["esign.audit.entry"]
            .search([("chain_id", "=", chain.id), ("seq", "=", seq)])
            .entry_hash
        )

    # ------------------------------------------------------------------ uninstall (R19)
    def test_uninstall_refused_once_people_made_entries(self):
        """Verifies: R19"""
        self.make_deviation()
        module = self.env["ir.module.module"].search([("name", "=", "meddev_esign")])
        with self.assertRaises(UserError) as ctx:
            module.button_uninstall()
        self.assertIn("audit trail", str(ctx.exception))
