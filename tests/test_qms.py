from datetime import timedelta

from freezegun import freeze_time

from odoo import Command, fields
from odoo.exceptions import UserError, ValidationError
from odoo.tests import tagged

from .common_qms import QmsCase


@tagged("post_install", "-at_install")
class TestSupplierQualification(QmsCase):
    """S2: critical components are bought only from a supplier qualified for them.

    Verifies: S2
    """

    def _approved_qualification(self, **vals):
        qual = self.make_qualification(**vals)
        self.sign(self.qa, qual)
        qual.with_user(self.qe).action_approve()
        return qual

    def test_unqualified_critical_po_refused(self):
        order = self.make_order()
        exc = self.refused(order.button_confirm)
        self.assertIn("T Critical Sensor", str(exc))
        self.assertIn("T Sensor Supplier", str(exc))
        self.assertEqual(order.state, "draft")

    def test_non_critical_po_needs_no_qualification(self):
        order = self.make_order(product=self.plain)
        order.button_confirm()
        self.assertEqual(order.state, "purchase")

    def test_approval_needs_signature_then_po_confirms(self):
        """Verifies: R21"""
        qual = self.make_qualification()
        self.assertTrue(qual.name.startswith("SQ/"))
        exc = self.refused(qual.with_user(self.qe).action_approve)
        self.assertIn("QA supplier approval", str(exc))
        self.assertEqual(qual.state, "draft")
        self.refused(self.sign, self.qe, qual)  # the author may not approve their own
        self.sign(self.qa, qual)
        qual.with_user(self.qe).action_approve()
        self.assertEqual(qual.state, "approved")
        self.assertEqual(self.signatures(qual).meaning_code, "approved")
        # A contact of the qualified company and a sub-category are covered.
        contact = self.env["res.partner"].create(
            {"name": "T Sales Rep", "parent_id": self.supplier.id}
        )
        order = self.make_order(partner=contact)
        order.button_confirm()
        self.assertEqual(order.state, "purchase")

    def test_other_category_or_supplier_refused(self):
        self._approved_qualification(product_category_ids=[Command.set(self.categ_other.ids)])
        order = self.make_order()
        self.refused(order.button_confirm)
        other = self.env["res.partner"].create({"name": "T Other Supplier"})
        self._approved_qualification(partner_id=other.id)
        self.refused(order.button_confirm)
        self.assertEqual(order.state, "draft")

    def test_expired_qualification_refused(self):
        today = fields.Date.today()
        self._approved_qualification(valid_until=today + timedelta(days=30))
        order = self.make_order()
        with freeze_time(today + timedelta(days=31)):
            exc = self.refused(order.button_confirm)
            self.assertIn("no approved, valid supplier qualification", str(exc))
            self.env["esign.supplier.qualification"]._cron_expire()
        self.assertEqual(order.state, "draft")
        qual = self.env["esign.supplier.qualification"].search(
            [("partner_id", "=", self.supplier.id)]
        )
        self.assertEqual(qual.state, "expired")

    def test_expired_qualification_cannot_be_approved(self):
        qual = self.make_qualification(valid_until=fields.Date.today() - timedelta(days=1))
        self.sign(self.qa, qual)
        exc = self.refused(qual.with_user(self.qe).action_approve)
        self.assertIn("expired", str(exc))
        self.assertEqual(qual.state, "draft")

    def test_revoked_qualification_refused(self):
        qual = self._approved_qualification()
        qual.with_user(self.qa).action_revoke()
        self.refused(qual.with_user(self.qa).action_revoke)  # only an approved one
        self.refused(self.make_order().button_confirm)

    def test_changed_qualification_needs_new_approval(self):
        """Verifies: R11"""
        qual = self._approved_qualification()
        qual.with_user(self.qe).with_context(
            esign_change_reason="Scope extended"
        ).product_category_ids = [Command.link(self.categ_other.id)]
        self.assertEqual(qual.state, "draft")
        self.assertEqual(self.signatures(qual).status, "changed")
        self.refused(self.make_order().button_confirm)


@tagged("post_install", "-at_install")
class TestChangeRequest(QmsCase):
    """S1: authored, reviewed in parallel, approved, BoM applied, verified by a non-author.

    Verifies: S1
    """

    def setUp(self):
        super().setUp()
        self.old_bom = self.env["mrp.bom"].create(
            {"product_tmpl_id": self.device.product_tmpl_id.id, "code": "rev C"}
        )
        self.new_bom = self.env["mrp.bom"].create(
            {"product_tmpl_id": self.device.product_tmpl_id.id, "code": "rev D", "active": False}
        )
        self.cr = (
            self.env["esign.change.request"]
            .with_user(self.rd)
            .create(
                {
                    "title": "Thicker tubing",
                    "change_type": "engineering",
                    "product_ids": [Command.set(self.device.ids)],
                    "bom_ids": [Command.set(self.old_bom.ids)],
                    "new_bom_id": self.new_bom.id,
                    "description": "Tubing kinks at low flow.",
                    "impact_description": "Flow verification to repeat.",
                    "risk_assessment": "<p>Occlusion risk 12 before, 4 after.</p>",
                    "risk_level": "medium",
                }
            )
        )

    def _to_review(self):
        self.sign(self.rd, self.cr)
        self.cr.with_user(self.rd).action_submit()

    def _to_implementation(self):
        self._to_review()
        self.sign(self.qe, self.cr)
        self.sign(self.rd_lead, self.cr)
        self.cr.with_user(self.rd).action_request_approval()
        self.sign(self.qa, self.cr)
        self.cr.with_user(self.qa).action_approve()

    def test_full_flow(self):
        """Verifies: R13"""
        cr = self.cr.with_user(self.rd)
        self.assertTrue(cr.name.startswith("CR/"))
        self.assertEqual(cr.author_id, self.rd)
        self.assertIn("Authored", str(self.refused(cr.action_submit)))
        self.sign(self.rd, cr)  # the author signs Authored
        cr.action_submit()
        self.assertEqual(cr.state, "review")
        # Parallel review: QA before R&D is fine; approval waits for both.
        self.sign(self.qe, cr)
        self.assertIn("reviews", str(self.refused(cr.action_request_approval)))
        self.refused(cr.action_approve)  # not in approval yet
        self.sign(self.rd_lead, cr)
        cr.action_request_approval()
        self.assertEqual(cr.state, "approval")
        self.assertIn("QA approval", str(self.refused(cr.with_user(self.qa).action_approve)))
        self.assertFalse(self.new_bom.active)  # not applied before approval
        self.sign(self.qa, cr)
        cr.with_user(self.qa).action_approve()
        self.assertEqual(cr.state, "implementation")
        self.assertTrue(cr.bom_change_applied)
        self.assertTrue(self.new_bom.active)
        self.assertFalse(self.old_bom.active)
        cr.action_to_verification()
        self.assertIn("Verification", str(self.refused(cr.action_close)))
        # SoD: the author is named as verifier but may not verify their own change.
        self.assertIn("no signature to give", str(self.refused(self.sign, self.rd, cr)))
        self.sign(self.qa2, cr)
        cr.action_close()
        self.assertEqual(cr.state, "closed")
        self.assertEqual(
            self.signatures(cr).mapped("meaning_code"),
            ["authored", "reviewed", "reviewed", "approved", "verified"],
        )
        self.assertEqual(set(self.signatures(cr).mapped("status")), {"valid"})

    def _told(self, record):
        """Who has an e-signature to-do on ``record``, and who finds it in Waiting for Me."""
        todos = record.activity_ids.filtered(lambda a: "E-signature" in (a.summary or ""))
        waiting = (
            self.env["esign.request"]
            .search([("res_model", "=", record._name), ("res_id", "=", record.id)])
            .next_signer_ids
        )
        return set(todos.user_id.ids), set(waiting.ids)

    def test_first_signers_are_told_at_each_stage(self):
        """Quality records tell their signers as soon as each stage opens: the author at
        creation (Authored), then both reviewers at submission, then QA at approval."""
        todos, waiting = self._told(self.cr)
        self.assertIn(self.rd.id, todos, "the author's Authored signature is asked at once")
        self.assertIn(self.rd.id, waiting)
        self._to_review()
        todos, waiting = self._told(self.cr)
        self.assertTrue({self.qe.id, self.rd_lead.id} <= todos)
        self.assertTrue({self.qe.id, self.rd_lead.id} <= waiting)
        self.assertNotIn(self.rd.id, todos, "the author's own to-do closed with their signature")

    def test_nobody_is_told_before_the_stage_opens(self):
        """The twin: the reviewers are not asked while the request is still in proposal."""
        todos, waiting = self._told(self.cr)
        self.assertFalse({self.qe.id, self.rd_lead.id} & todos)
        self.assertFalse({self.qe.id, self.rd_lead.id} & waiting)

    def test_bad_transitions_refused(self):
        cr = self.cr.with_user(self.rd)
        for action in (cr.action_request_approval, cr.action_to_verification, cr.action_close):
            self.refused(action)
        cr.write({"impact_description": False})
        self.sign(self.rd, cr)
        self.assertIn("impact", str(self.refused(cr.action_submit)))
        self.assertEqual(cr.state, "proposal")

    def test_author_may_not_review(self):
        """Verifies: R14"""
        self.policy_cr_approve.step_ids[0].user_ids = [Command.link(self.rd.id)]
        self._to_review()
        self.assertIn("no signature to give", str(self.refused(self.sign, self.rd, self.cr)))

    def test_k_of_n_reviewers(self):
        """Any 2 of 3 reviewers, where the policy says so.

        Verifies: R13
        """
        self.policy_cr_approve.step_ids[:2].unlink()
        self.policy_cr_approve.step_ids = [
            Command.create(
                {
                    "name": "Review board",
                    "sequence": 10,
                    "meaning_id": self.env.ref("meddev_esign.meaning_reviewed").id,
                    "mode": "k_of_n",
                    "k": 2,
                    "signer_type": "users",
                    "user_ids": [Command.set((self.rd_lead | self.qe | self.qa2).ids)],
                }
            )
        ]
        self._to_review()
        self.sign(self.qa2, self.cr)
        self.refused(self.cr.action_request_approval)
        self.sign(self.qe, self.cr)
        self.refused(self.sign, self.rd_lead, self.cr)  # the third is not needed
        self.cr.action_request_approval()
        self.assertEqual(self.cr.state, "approval")

    def test_edit_after_approval_returns_to_review(self):
        """Verifies: R11"""
        self._to_implementation()
        approval = self.signatures(self.cr).filtered(lambda s: s.meaning_code == "approved")
        self.cr.with_user(self.rd).with_context(
            esign_change_reason="Severity re-rated after field data"
        ).risk_assessment = "<p>Occlusion risk 16 before, 4 after.</p>"
        self.assertEqual(self.cr.state, "review")
        self.assertEqual(self.cr.esign_version, 2)
        self.assertEqual(approval.status, "changed")
        bodies = " ".join(self.cr.message_ids.mapped("body"))
        self.assertIn("Severity re-rated after field data", bodies)
        self.assertIn("back in review", bodies)
        # Re-review and re-approval bring it back to implementation.
        self.sign(self.qe, self.cr)
        self.sign(self.rd_lead, self.cr)
        self.cr.action_request_approval()
        self.sign(self.qa, self.cr)
        self.cr.action_approve()
        self.assertEqual(self.cr.state, "implementation")

    def test_edit_of_unsigned_field_or_before_approval_keeps_state(self):
        self._to_implementation()
        self.cr.author_id = self.rd_lead  # not signed content
        self.assertEqual(self.cr.state, "implementation")
        cr2 = self.cr.copy({"title": "Other change"})
        cr2.description = "Edited in proposal"
        self.assertEqual(cr2.state, "proposal")

    def test_rejections(self):
        """Verifies: R16"""
        self._to_review()
        self.reject(self.qe, self.cr, "Impact on sterilisation not assessed")
        self.assertEqual(self.cr.state, "proposal")
        rejected = self.cr.esign_request_ids.filtered(lambda r: r.state == "rejected")
        self.assertEqual(rejected.reject_reason, "Impact on sterilisation not assessed")
        self.cr.with_user(self.rd).action_submit()  # the Authored signature still holds
        self.sign(self.qe, self.cr)
        self.sign(self.rd_lead, self.cr)
        self.cr.action_request_approval()
        self.sign(self.qa, self.cr)
        self.cr.action_approve()
        self.cr.action_to_verification()
        self.reject(self.qa2, self.cr, "Flow test report missing")
        self.assertEqual(self.cr.state, "implementation")
        with self.assertRaises(UserError):  # nobody but a current signer rejects
            self.reject(self.outsider, self.cr, "no")

    def test_cancel(self):
        self.cr.with_user(self.rd).action_cancel()
        self.assertEqual(self.cr.state, "cancelled")
        self.refused(self.cr.with_user(self.rd).action_cancel)


@tagged("post_install", "-at_install")
class TestCapa(QmsCase):
    """S4: plan approval, rejection back to investigation, closure needs every step.

    Verifies: S4
    """

    def setUp(self):
        super().setUp()
        self.capa = (
            self.env["esign.capa"]
            .with_user(self.qe)
            .create(
                {
                    "title": "Late occlusion alarm",
                    "source": "complaint",
                    "source_reference": "CC-1",
                    "description": "Alarm after 4 minutes instead of 2.",
                }
            )
        )

    def _plan(self):
        capa = self.capa
        capa.action_start_investigation()
        capa.write(
            {
                "root_cause": "Pressure threshold too high",
                "action_plan": "<p>Lower the threshold; update the firmware.</p>",
                "effectiveness_criteria": "No recurrence in 3 months",
            }
        )
        capa.action_submit_plan()

    def _to_effectiveness(self):
        self._plan()
        self.sign(self.qa2, self.capa)
        self.sign(self.qa, self.capa)
        self.capa.action_approve_plan()
        self.capa.action_to_effectiveness()

    def test_the_policy_names_the_state_a_rejection_returns_to(self):
        """The signing matrix, not code, says where a rejected record goes (R13, S9).

        Verifies: R13, S9
        """
        policy = self.capa._esign_policies("capa_plan")
        self.assertFalse(policy.reject_state)  # the model's default: investigation
        options = dict(policy._fields["reject_state"]._description_selection(self.env))
        self.assertIn("esign.capa:initiation", options)
        self.assertIn("esign.change.request:proposal", options)
        with self.assertRaises(ValidationError):  # a state of another model
            policy.sudo().reject_state = "esign.change.request:proposal"
        policy.sudo().reject_state = "esign.capa:initiation"
        self._plan()
        self.sign(self.qa2, self.capa)
        self.reject(self.qa, self.capa, "Start over: wrong complaint linked")
        self.assertEqual(self.capa.state, "initiation")

    def test_submit_plan_needs_root_cause(self):
        self.assertTrue(self.capa.name.startswith("CAPA/"))
        self.refused(self.capa.action_submit_plan)  # still in initiation
        self.capa.action_start_investigation()
        self.assertIn("root cause", str(self.refused(self.capa.action_submit_plan)))
        self.assertEqual(self.capa.state, "investigation")

    def test_plan_rejection_returns_to_investigation(self):
        self._plan()
        self.refused(self.capa.action_approve_plan)
        self.sign(self.qa2, self.capa)
        self.reject(self.qa, self.capa, "Root cause not proven")
        self.assertEqual(self.capa.state, "investigation")
        old = self.capa.esign_request_ids.filtered(lambda r: r.state == "rejected")
        self.assertEqual(old.reject_reason, "Root cause not proven")
        self.assertEqual(len(old.signature_ids), 1)  # the earlier signature stays as history
        self.assertTrue(any("Root cause not proven" in m.body for m in self.capa.message_ids))
        self.refused(self.capa.action_approve_plan)
        # Back round: a new request; the history is kept.
        self.capa.root_cause = "Firmware threshold and tubing compliance"
        self.capa.action_submit_plan()
        self.sign(self.qa2, self.capa)
        self.sign(self.qa, self.capa)
        self.capa.action_approve_plan()
        self.assertEqual(self.capa.state, "implementation")
        self.assertEqual(len(self.capa.esign_request_ids), 2)
        self.assertEqual(len(self.signatures(self.capa)), 3)

    def test_closure_needs_every_step(self):
        self._to_effectiveness()
        capa = self.capa
        self.assertIn("effectiveness result", str(self.refused(capa.action_close)))
        capa.effectiveness_result = "No recurrence in 3 months of field data"
        self.assertIn("Effectiveness verification", str(self.refused(capa.action_close)))
        self.refused(self.sign, self.qe, capa)  # the owner may not verify
        self.sign(self.qa2, capa)
        with self.assertRaises(UserError):  # the signed result needs a reason to change
            capa.effectiveness_result = "Changed afterwards"
        # With a reason, the change voids the closure signature only: the plan approval does
        # not cover the result and stays valid (per-trigger signed fields).
        capa.with_context(
            esign_change_reason="Field data updated"
        ).effectiveness_result = "No recurrence in 4 months of field data"
        by_trigger = {s.request_id.trigger: s.status for s in self.signatures(capa)}
        self.assertEqual(by_trigger, {"capa_plan": "valid", "capa_close": "changed"})
        self.assertIn("Effectiveness verification", str(self.refused(capa.action_close)))
        self.sign(self.qa2, capa)
        capa.action_close()
        self.assertEqual(capa.state, "closed")
        self.assertEqual(
            self.signatures(capa).mapped("meaning_code"),
            ["reviewed", "approved", "verified", "verified"],
        )

    def test_closure_refused_when_plan_changed_after_approval(self):
        """Verifies: R11"""
        self._to_effectiveness()
        self.capa.with_context(esign_change_reason="scope").action_plan = "<p>Other plan</p>"
        self.capa.effectiveness_result = "Fine"
        self.refused(self.capa.action_close)
        self.assertEqual(self.capa.state, "effectiveness")

    def test_effectiveness_result_only_during_check(self):
        self._plan()
        with self.assertRaises(UserError):
            self.capa.effectiveness_result = "Too early"


@tagged("post_install", "-at_install")
class TestDeviation(QmsCase):
    """R21: a deviation closes only with QA's signed approval of its disposition.

    Verifies: R21, S4
    """

    def setUp(self):
        super().setUp()
        self.dev = (
            self.env["esign.deviation"]
            .with_user(self.supervisor)
            .create(
                {
                    "title": "Wall thickness low",
                    "product_id": self.component.id,
                    "description": "3 of 32 samples below tolerance",
                }
            )
        )

    def _to_disposition(self):
        self.dev.action_start_investigation()
        self.dev.write({"disposition": "return_to_supplier", "disposition_reason": "Out of spec"})
        self.dev.action_propose_disposition()

    def test_close_gated(self):
        self.assertTrue(self.dev.name.startswith("DEV/"))
        self._to_disposition()
        self.assertIn("QA disposition approval", str(self.refused(self.dev.action_close)))
        self.refused(self.sign, self.supervisor, self.dev)  # the reporter may not approve
        self.sign(self.qa, self.dev)
        self.dev.action_close()
        self.assertEqual(self.dev.state, "closed")

    def test_disposition_needed(self):
        self.dev.action_start_investigation()
        self.assertIn("disposition", str(self.refused(self.dev.action_propose_disposition)))
        self.refused(self.dev.action_close)
        self.assertEqual(self.dev.state, "investigation")

    def test_rejected_disposition_returns_to_investigation(self):
        self._to_disposition()
        self.reject(self.qa, self.dev, "Use as is not justified")
        self.assertEqual(self.dev.state, "investigation")
        self.refused(self.dev.action_close)
