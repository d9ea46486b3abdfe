"""Signed configuration changes: a change of the signing configuration waits, as an
``esign.config.change``, for a second E-Signature Administrator's approval by e-signature."""

import json

from odoo import Command, api
from odoo.exceptions import AccessError, UserError
from odoo.tests import new_test_user, tagged

from .common import PASSWORD, EsignCase


@tagged("post_install", "-at_install")
class TestConfigChange(EsignCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.admin2 = new_test_user(
            cls.env,
            login="t_admin2",
            groups="meddev_esign.group_esign_admin",
            password=PASSWORD,
            name="T Admin Two",
        )
        cls.Change = cls.env["esign.config.change"]
        cls.review_step = cls.mo_policy.step_ids.filtered(lambda s: s.sequence == 10)

    # ------------------------------------------------------------------ helpers
    def pending(self, target=None):
        domain = [("state", "=", "pending")]
        if target is not None:
            domain += [("target_model", "=", target._name), ("target_id", "=", target.id)]
        return self.Change.search(domain, order="id desc")

    def propose_reminder(self, days=5, user=None):
        self.mo_policy.with_user(user or self.esign_admin).write({"reminder_days": days})
        change = self.pending(self.mo_policy)[:1]
        self.assertTrue(change)
        return change

    def entries(self, record, operation=None):
        domain = [("res_model", "=", record._name), ("res_id", "=", record.id)]
        if operation:
            domain.append(("operation", "=", operation))
        return self.env["esign.audit.entry"].search(domain, order="seq")

    # ------------------------------------------------------------------ capture
    def test_write_captured_old_config_stays_in_force(self):
        """Verifies: R28"""
        version = self.mo_policy.version
        change = self.propose_reminder(7)
        self.assertEqual(self.mo_policy.reminder_days, 2, "the old configuration stays in force")
        self.assertEqual(self.mo_policy.version, version)
        self.assertEqual(change.operation, "write")
        self.assertEqual(change.proposer_id, self.esign_admin)
        self.assertEqual(change.policy_id, self.mo_policy)
        self.assertEqual(json.loads(change.values_json), {"reminder_days": 7})
        self.assertEqual(json.loads(change.old_json), {"reminder_days": 2})
        self.assertEqual(self.mo_policy.esign_pending_change_count, 1)
        self.assertIn("awaits the approval", change.message_ids[:1].body)
        self.assertTrue(change.esign_request_ids, "the approval request opens at once")
        # The proposal is in the audit trail under the proposer's name.
        proposal = self.entries(change)
        self.assertEqual(proposal[:1].operation, "config")
        self.assertEqual(proposal[:1].user_id, self.esign_admin)

    def test_superuser_applies_directly(self):
        """Module install, data files and the add-on's own sudo() are not held.

        Verifies: R28
        """
        self.mo_policy.write({"reminder_days": 4})
        self.mo_policy.with_user(self.esign_admin).sudo().write({"reminder_days": 5})
        self.assertEqual(self.mo_policy.reminder_days, 5)
        self.assertFalse(self.pending(self.mo_policy))

    def test_rpc_write_with_any_context_is_captured(self):
        """Verifies: R28"""
        model = self.env["esign.policy"].with_user(self.esign_admin)
        for context in (
            {},
            {"install_mode": True, "module": "meddev_esign"},
            {"esign_no_version": True},
        ):
            api.call_kw(
                model.with_context(**context),
                "write",
                [[self.mo_policy.id], {"name": "Hijack"}],
                {},
            )
        self.assertEqual(self.mo_policy.name, "Test MO review")
        self.assertEqual(len(self.pending(self.mo_policy)), 3)

    def test_non_admin_write_refused_not_captured(self):
        """Verifies: R28, R12"""
        with self.assertRaises(AccessError):
            self.mo_policy.with_user(self.qe).write({"reminder_days": 9})
        self.assertFalse(self.pending(self.mo_policy))

    def test_meaning_step_groups_and_pki_settings_captured(self):
        """Verifies: R28"""
        meaning = self.env.ref("meddev_esign.meaning_reviewed")
        meaning.with_user(self.esign_admin).write({"name": "Looked at"})
        self.assertEqual(meaning.name, "Reviewed")
        self.assertEqual(self.pending(meaning).operation, "write")

        group = self.env.ref("meddev_esign.group_esign_qa")
        self.review_step.with_user(self.esign_admin).write(
            {"signer_type": "group", "group_id": group.id}
        )
        self.assertEqual(self.review_step.signer_type, "users")
        step_change = self.pending(self.review_step)
        self.assertEqual(step_change.policy_id, self.mo_policy)
        self.assertIn(group.name, step_change.diff_html)

        company = self.env.company
        before = company.esign_tsa_urls
        company.with_user(self.esign_admin).write(
            {"esign_tsa_urls": "http://127.0.0.1:1/tsa", "report_header": "Meridian Medical"}
        )
        self.assertEqual(company.esign_tsa_urls, before, "the TSA setting waits")
        self.assertIn("Meridian Medical", company.report_header, "the rest is written at once")
        change = self.pending(company)
        self.assertEqual(
            json.loads(change.values_json), {"esign_tsa_urls": "http://127.0.0.1:1/tsa"}
        )
        self.sign(self.admin2, change)
        self.assertEqual(company.esign_tsa_urls, "http://127.0.0.1:1/tsa")

    def test_create_and_unlink_captured(self):
        """Verifies: R28"""
        created = (
            self.env["esign.meaning"]
            .with_user(self.esign_admin)
            .create({"name": "Witnessed", "code": "witnessed"})
        )
        # Made archived, so the form has a record to show and nothing of it is in force.
        self.assertTrue(created)
        self.assertFalse(created.active)
        self.assertFalse(self.env["esign.meaning"].search([("code", "=", "witnessed")]))
        change = self.Change.search([("operation", "=", "create")], order="id desc", limit=1)
        self.assertEqual((change.target_model, change.target_id), ("esign.meaning", created.id))
        self.assertIn("Witnessed", change.diff_html)
        self.sign(self.admin2, change)
        meaning = self.env["esign.meaning"].search([("code", "=", "witnessed")])
        self.assertEqual(meaning, created)
        self.assertEqual(change.created_id, meaning.id)

        self.review_step.with_user(self.esign_admin).unlink()
        self.assertTrue(self.review_step.exists())
        self.assertEqual(self.pending(self.review_step).operation, "unlink")

    def test_new_policy_is_archived_until_approved_and_stays_so_if_rejected(self):
        """Verifies: R28
        A new policy from the form is made archived (nothing gated by it) and is put in force
        by the approval; the twin: rejected, it stays archived."""
        Policy = self.env["esign.policy"].with_user(self.esign_admin)
        vals = {
            "name": "Deviation witness",
            "model_id": self.env["ir.model"]._get_id("mrp.production"),
            "trigger": "mrp_done",
            "step_ids": [
                Command.create(
                    {
                        "name": "Witness",
                        "meaning_id": self.env.ref("meddev_esign.meaning_reviewed").id,
                        "mode": "k_of_n",
                        "k": 1,
                        "signer_type": "users",
                        "user_ids": [Command.set(self.qa.ids)],
                    }
                )
            ],
        }
        self.mo_policy.active = False  # the trigger is free for the new policy
        first, second = Policy.create([vals, {**vals, "name": "Second witness"}])
        self.assertFalse(first.active or second.active)
        self.assertEqual(len(first.step_ids), 1, "its steps are made with it")
        self.assertNotIn(first.id, self.env["esign.policy"]._esign_active_ids("mrp.production"))
        change = self.Change.search(
            [("target_model", "=", "esign.policy"), ("target_id", "=", first.id)]
        )
        self.assertEqual(change.operation, "create")
        self.assertEqual(first.esign_pending_change_count, 1)
        self.sign(self.admin2, change)
        self.assertTrue(first.active)
        self.assertEqual(change.state, "applied")
        rejected = self.Change.search(
            [("target_model", "=", "esign.policy"), ("target_id", "=", second.id)]
        )
        self.env["esign.reject.wizard"].with_user(self.admin2).create(
            {"res_model": rejected._name, "res_id": rejected.id, "reason": "One is enough."}
        ).action_reject()
        self.assertEqual(rejected.state, "rejected")
        self.assertFalse(second.active)

    # ------------------------------------------------------------------ approval
    def test_second_admin_approval_applies_through_policy_write(self):
        """Verifies: R28, R15"""
        version = self.mo_policy.version
        group = self.env.ref("meddev_esign.group_esign_qa")
        self.mo_policy.with_user(self.esign_admin).write(
            {
                "one_step_per_person": False,
                "step_ids": [
                    Command.update(
                        self.review_step.id, {"signer_type": "group", "group_id": group.id}
                    )
                ],
            }
        )
        change = self.pending(self.mo_policy)
        self.assertIn("Review", change.diff_html)
        self.assertIn(group.name, change.diff_html)
        self.sign(self.admin2, change)
        self.assertEqual(change.state, "applied")
        self.assertEqual(change.approver_id, self.admin2)
        self.assertFalse(self.mo_policy.one_step_per_person)
        self.assertEqual(self.review_step.group_id, group)
        self.assertEqual(self.mo_policy.version, version + 1, "a versioned change, as any")
        applied = self.entries(self.mo_policy, "config")[-1]
        self.assertEqual(applied.user_id, self.admin2, "applied under the approver's name")
        self.assertIn(change.name, applied.reason)
        self.assertTrue(self.entries(change, "sign"), "the approval signature is in the trail")
        self.assertEqual(self.entries(change)[:1].user_id, self.esign_admin)

    def test_another_companys_admin_neither_sees_nor_approves(self):
        """Verifies: R12, R28
        A change belongs to the company of what it changes: an administrator of another
        company finds nothing and cannot approve it; the twin: the second administrator of
        the same company can."""
        change = self.propose_reminder()
        other = self.env["res.company"].create({"name": "Other Devices Ltd"})
        outsider = new_test_user(
            self.env,
            login="t_admin_other",
            groups="meddev_esign.group_esign_admin",
            password=PASSWORD,
            company_id=other.id,
            company_ids=[Command.set(other.ids)],
        )
        self.assertFalse(self.Change.with_user(outsider).search([("id", "=", change.id)]))
        with self.assertRaises(UserError):  # an AccessError is one too
            self.sign(outsider, change)
        self.assertEqual(change.state, "pending")
        self.assertEqual(self.mo_policy.reminder_days, 2)
        self.assertTrue(self.Change.with_user(self.admin2).search([("id", "=", change.id)]))
        self.sign(self.admin2, change)
        self.assertEqual(change.state, "applied")

    def test_proposer_cannot_approve_own_change(self):
        """Verifies: R14, R28"""
        change = self.propose_reminder()
        error = self.refused(self.sign, self.esign_admin, change)
        self.assertIn("no signature to give", str(error))
        self.assertEqual(change.state, "pending")
        self.assertEqual(self.mo_policy.reminder_days, 2)

    def test_non_admin_cannot_approve(self):
        """Verifies: R12, R28"""
        change = self.propose_reminder()
        with self.assertRaises(UserError):  # an AccessError is one too
            self.sign(self.qa, change)
        self.assertEqual(change.state, "pending")
        with self.assertRaises(UserError):  # an AccessError is one too
            change.with_user(self.admin2).write({"values_json": '{"reminder_days": 99}'})

    def test_wrong_password_refused_and_counted(self):
        """Verifies: R3, R5, R28"""
        change = self.propose_reminder()
        error = self.refused(self.sign, self.admin2, change, password="wrong")
        self.assertIn("credentials are wrong", str(error))
        self.assertEqual(self.admin2.sudo().esign_failed_attempts, 1)
        self.assertEqual(change.state, "pending")
        self.assertEqual(self.mo_policy.reminder_days, 2)
        self.sign(self.admin2, change)
        self.assertEqual(self.mo_policy.reminder_days, 5)

    def test_stale_change_refused(self):
        """Verifies: R28"""
        change = self.propose_reminder()
        self.mo_policy.write({"prerequisite_message": "Moved on"})  # applied meanwhile
        error = self.refused(self.sign, self.admin2, change)
        self.assertIn("configuration changed since this proposal", str(error))
        self.assertEqual(change.state, "pending")
        self.assertEqual(self.mo_policy.reminder_days, 2)

    def test_reject_discards_with_reason(self):
        """Verifies: R16, R28"""
        change = self.propose_reminder()
        Reject = self.env["esign.reject.wizard"].with_user(self.admin2)
        wizard = Reject.create(
            {"res_model": change._name, "res_id": change.id, "reason": "Not validated"}
        )
        wizard.action_reject()
        self.assertEqual(change.state, "rejected")
        self.assertEqual(change.reject_reason, "Not validated")
        self.assertEqual(self.mo_policy.reminder_days, 2)
        self.assertTrue(self.entries(change, "reject"))
        with self.assertRaises(UserError):
            self.sign(self.admin2, change)

    def test_reject_needs_reason(self):
        """Verifies: R16, R28"""
        change = self.propose_reminder()
        request = change.esign_request_ids[:1].with_user(self.admin2)
        with self.assertRaises(UserError):
            request._reject(change.with_user(self.admin2), "  ")
        self.assertEqual(change.state, "pending")

    def test_diff_readable_in_chinese(self):
        """Verifies: R28"""
        self.env["res.lang"]._activate_lang("zh_CN")
        self.env["ir.module.module"]._load_module_terms(
            ["meddev_esign"], ["zh_CN"], overwrite=True
        )
        change = self.propose_reminder(6)
        zh = change.with_context(lang="zh_CN")
        label = self.env["esign.policy"]._fields["reminder_days"]._description_string(zh.env)
        self.assertNotEqual(label, "Remind After (days)")
        self.assertIn(label, zh.diff_html)
        self.assertIn("Remind After (days)", change.with_context(lang="en_US").diff_html)

    def test_demo_has_an_approved_and_a_pending_policy_change(self):
        """Verifies: R28"""
        admin = self.env.ref("base.user_admin")
        purchase = self.env.ref("meddev_esign.demo_policy_po_approval")
        approved = self.Change.search([("policy_id", "=", purchase.id)])
        self.assertEqual(approved.mapped("state"), ["applied"])
        self.assertEqual(approved.proposer_id, admin)
        self.assertEqual(approved.approver_id, self.env.ref("meddev_esign.demo_user_it_admin"))
        self.assertIn("quotation", purchase.prerequisite_message)
        review = self.env.ref("meddev_esign.demo_policy_mo_review")
        waiting = self.Change.search([("policy_id", "=", review.id)])
        self.assertEqual(waiting.mapped("state"), ["pending"])
        self.assertEqual(review.reminder_days, 2, "the pending change is not in force")
        self.assertIn("QA approval of the batch record", waiting.diff_html)
