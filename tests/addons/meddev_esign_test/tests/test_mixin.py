"""esign.signable.mixin on a throw-away model: its hooks, independent of PO, MO and lot.

Verifies: R9, R11, R15.
"""

from lxml import etree

from odoo import Command
from odoo.exceptions import UserError
from odoo.tests import tagged

from odoo.addons.meddev_esign.services import snapshot as snap
from odoo.addons.meddev_esign.tests.common import EsignCase


@tagged("post_install", "-at_install")
class TestSignableMixin(EsignCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        env = cls.env
        cls.policy = env["esign.policy"].create(
            {
                "name": "Test document confirmation",
                "model_id": env["ir.model"]._get_id("meddev.esign.test.document"),
                "trigger": "test_confirm",
                "domain": "[('amount', '>', 100)]",
                "prerequisite_domain": "[('state', '=', 'submitted')]",
                "author_may_not_sign": True,
                "one_step_per_person": True,
                "step_ids": [
                    Command.create(
                        {
                            "sequence": 10,
                            "name": "Check",
                            "meaning_id": env.ref("meddev_esign.meaning_reviewed").id,
                            "signer_type": "users",
                            "mode": "all",
                            "user_ids": [Command.set([cls.qe.id])],
                        }
                    )
                ],
            }
        )

    def _document(self, amount=500.0, state="submitted"):
        return (
            self.env["meddev.esign.test.document"]
            .with_user(self.supervisor)
            .create(
                {
                    "name": "Doc",
                    "amount": amount,
                    "state": state,
                    "line_ids": [Command.create({"name": "Line A", "qty": 2.0})],
                }
            )
        )

    def _signed(self):
        doc = self._document()
        self.sign(self.qe, doc)
        self.assertEqual(doc.esign_state, "completed")
        return doc

    def _valid(self, doc):
        sigs = self.signatures(doc)
        sigs.invalidate_recordset(["status"])
        return set(sigs.mapped("status")) == {"valid"}

    # -------------------------------------------------------------- snapshot hooks
    def test_snapshot_has_fields_and_lines(self):
        doc = self._document()
        values = doc._esign_snapshot_values("test_confirm")
        self.assertEqual(values["name"], "Doc")
        self.assertEqual(
            values["lines"], [{"id": doc.line_ids.id, "name": "Line A", "qty": "2.00"}]
        )
        self.assertTrue(doc._esign_content_hash("test_confirm").startswith(snap.SNAPSHOT_VERSION))

    def test_unsigned_field_and_line_column_change_nothing(self):
        """Twin: what is not declared is not signed."""
        doc = self._signed()
        doc.note = "free text"
        doc.line_ids.comment = "free text"
        self.assertTrue(self._valid(doc))
        self.assertEqual(doc.esign_state, "completed")

    def test_forged_version_1_hash_vouches_for_nothing(self):
        """Bad input: rows declared after version 1 cannot be rebuilt under it."""
        doc = self._document()
        forged = snap.SNAPSHOT_V1 + ":sha256:" + "0" * 64
        self.assertIsNone(doc._esign_live_hash(forged, "test_confirm"))

    # -------------------------------------------------------------- requests and gate
    def test_request_opens_at_the_signing_state(self):
        doc = self._document(state="draft")
        self.assertFalse(doc.esign_request_ids)
        doc.state = "submitted"
        self.assertEqual(doc.esign_request_ids.state, "waiting")
        self.assertEqual(doc.esign_request_ids.next_signer_ids, self.qe)

    def test_gate(self):
        doc = self._document()
        self.refused(doc.action_confirm)
        self.sign(self.qe, doc)
        doc.action_confirm()
        self.assertEqual(doc.state, "confirmed")

    def test_policy_that_does_not_apply_opens_nothing(self):
        doc = self._document(amount=50.0)
        self.assertFalse(doc.esign_request_ids)
        self.assertEqual(doc.esign_state, "none")
        doc.action_confirm()
        self.assertEqual(doc.state, "confirmed")

    def test_rejection_returns_to_the_reject_state(self):
        doc = self._document()
        self.env["esign.reject.wizard"].with_user(self.qe).create(
            {"res_model": doc._name, "res_id": doc.id, "reason": "Amount unclear"}
        ).action_reject()
        self.assertEqual(doc.state, "draft")
        self.assertEqual(doc.esign_request_ids.state, "rejected")

    def test_author_may_not_sign(self):
        doc = self._document()
        doc.owner_id = self.qe
        with self.assertRaises(UserError):
            self.sign(self.qe, doc)

    # -------------------------------------------------------------- change tracking
    def test_field_change_needs_reason_and_voids(self):
        doc = self._signed()
        with self.assertRaises(UserError):
            doc.write({"amount": 600.0})
        self.assertTrue(self._valid(doc))
        doc.write({"amount": 600.0, "esign_change_reason": "Corrected"})
        self.assertFalse(self._valid(doc))
        self.assertEqual(doc.esign_version, 2)

    def test_line_change_needs_reason_and_voids(self):
        doc = self._signed()
        line = doc.line_ids
        with self.assertRaises(UserError):
            line.write({"qty": 3.0})
        with self.assertRaises(UserError):
            self.env["meddev.esign.test.line"].create({"document_id": doc.id, "name": "B"})
        with self.assertRaises(UserError):
            line.unlink()
        self.assertTrue(self._valid(doc))
        line.with_context(esign_change_reason="Recount").write({"qty": 3.0})
        self.assertFalse(self._valid(doc))
        self.assertNotEqual(doc.esign_request_ids.state, "completed")
        entry = self.env["esign.audit.entry"].search(
            [("res_model", "=", doc._name), ("res_id", "=", doc.id), ("reason", "=", "Recount")]
        )
        self.assertIn([f"lines[{line.id}].qty", "2.00", "3.00"], entry._changes())

    def test_line_moved_to_another_document_changes_both(self):
        doc, other = self._signed(), self._signed()
        with self.assertRaises(UserError):
            doc.line_ids.write({"document_id": other.id})
        doc.line_ids.with_context(esign_change_reason="Filed wrongly").write(
            {"document_id": other.id}
        )
        self.assertFalse(self._valid(doc))
        self.assertFalse(self._valid(other))

    def test_signed_document_cannot_be_deleted(self):
        doc = self._signed()
        with self.assertRaises(UserError):
            doc.unlink()

    # -------------------------------------------------------------- form parts
    def test_form_gets_the_signing_parts(self):
        arch = self.env["meddev.esign.test.document"].get_view(view_type="form")["arch"]
        form = etree.fromstring(arch)
        header = form.find("header")
        self.assertEqual(header[0].get("name"), "action_esign_sign")
        self.assertEqual(header[1].get("name"), "action_esign_reject")
        self.assertTrue(form.xpath("//field[@name='esign_panel_html']"))
        self.assertTrue(form.xpath("//field[@name='esign_change_reason']"))
        self.assertTrue(form.xpath("//button[@name='action_esign_signatures']"))

    def test_form_parts_in_chinese(self):
        self.env["res.lang"]._activate_lang("zh_CN")
        self.env["ir.module.module"]._load_module_terms(
            ["meddev_esign"], ["zh_CN"], overwrite=True
        )
        arch = (
            self.env["meddev.esign.test.document"]
            .with_context(lang="zh_CN")
            .get_view(view_type="form")["arch"]
        )
        sign = etree.fromstring(arch).xpath("//button[@name='action_esign_sign']")[0]
        self.assertEqual(sign.get("string"), "签名")
