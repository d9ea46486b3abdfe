"""Scenario 2 of SCENARIOS.md in the browser, design change control: each user clicks
through the change request form and the sign wizard; the test sets up its own users, BoMs and
policies, then checks what the database holds after each user's session."""

from odoo import Command
from odoo.exceptions import UserError
from odoo.tests import HttpCase, new_test_user, tagged

PASSWORD = "Scenario-Pass-42"  # SCENARIO_PASSWORD in static/tests/tours/esign_scenario_common.js
GROUPS = "meddev_esign.group_esign_signer,mrp.group_mrp_user,stock.group_stock_user"
MODEL = "esign.change.request"


@tagged("post_install", "-at_install")
class TestScenarioChangeTour(HttpCase):
    """Verifies: S1"""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        env = cls.env
        cls.author = cls._user("tour_cr_author", "Tour Cr Author")
        cls.rd_lead = cls._user("tour_cr_rd_lead", "Tour Cr Rd Lead")
        cls.qa_reviewer = cls._user("tour_cr_qa_reviewer", "Tour Cr QA Reviewer")
        cls.qa_manager = cls._user("tour_cr_qa_manager", "Tour Cr QA Manager")
        cls.verifier = cls._user("tour_cr_verifier", "Tour Cr Verifier")
        env["esign.policy"].search([("model", "=", MODEL)]).active = False
        author = {
            "signer_type": "field",
            "user_field_id": env["ir.model.fields"]._get(MODEL, "author_id").id,
        }
        cls._policy(
            "cr_submit",
            [("Authored", 10, "authored", author)],
            prerequisite="[('state', '=', 'proposal')]",
            author_may_not_sign=False,
        )
        cls.approve_policy = cls._policy(
            "cr_approve",
            [
                ("R&D review", 10, "reviewed", cls._users(cls.rd_lead)),
                ("QA review", 10, "reviewed", cls._users(cls.qa_reviewer)),
                ("QA approval", 20, "approved", cls._users(cls.qa_manager)),
            ],
            prerequisite="[('state', 'in', ('review', 'approval'))]",
        )
        # The author is named among the verifiers: segregation of duties keeps them out.
        cls._policy(
            "cr_close",
            [
                (
                    "Verification",
                    10,
                    "verified",
                    {**cls._users(cls.author | cls.verifier), "mode": "k_of_n", "k": 1},
                )
            ],
            prerequisite="[('state', '=', 'verification')]",
        )
        cls.pump = env["product.product"].create({"name": "Tour Cr Pump", "is_storable": True})
        cls.old_bom = env["mrp.bom"].create(
            {"product_tmpl_id": cls.pump.product_tmpl_id.id, "code": "PUMP-BOM-C"}
        )
        cls.new_bom = env["mrp.bom"].create(
            {"product_tmpl_id": cls.pump.product_tmpl_id.id, "code": "PUMP-BOM-D", "active": False}
        )

    # ------------------------------------------------------------------ helpers
    @classmethod
    def _user(cls, login, name):
        return new_test_user(
            cls.env, login=login, password=PASSWORD, name=name, groups=GROUPS, tz="Europe/Paris"
        )

    @staticmethod
    def _users(users):
        return {"signer_type": "users", "user_ids": [Command.set(users.ids)]}

    @classmethod
    def _policy(cls, trigger, steps, prerequisite, author_may_not_sign=True):
        """An active policy; ``steps`` are (name, sequence, meaning code, signer values)."""
        env = cls.env
        return env["esign.policy"].create(
            {
                "name": f"Tour {trigger}",
                "model_id": env["ir.model"]._get_id(MODEL),
                "trigger": trigger,
                "prerequisite_domain": prerequisite,
                "author_may_not_sign": author_may_not_sign,
                "one_step_per_person": True,
                "step_ids": [
                    Command.create(
                        {
                            "name": name,
                            "sequence": sequence,
                            "meaning_id": env.ref(f"meddev_esign.meaning_{meaning}").id,
                            "mode": "all",
                            **signers,
                        }
                    )
                    for name, sequence, meaning, signers in steps
                ],
            }
        )

    def signatures(self, record):
        return self.env["esign.signature"].search(
            [("res_model", "=", record._name), ("res_id", "=", record.id)], order="id"
        )

    def request(self, record, trigger):
        return record.esign_request_ids.filtered(
            lambda r: r.trigger == trigger and r.state not in ("rejected", "cancelled")
        )

    def assert_boms(self, new_active, old_active):
        (self.new_bom | self.old_bom).invalidate_recordset()
        self.assertEqual(self.new_bom.active, new_active)
        self.assertEqual(self.old_bom.active, old_active)

    # ------------------------------------------------------------------ scenario 2
    def test_scenario_2_design_change_control(self):
        env = self.env

        # 1. The R&D engineer drafts the change, signs Authored and submits it.
        self.start_tour(
            "/odoo/action-meddev_esign.esign_change_request_action",
            "meddev_esign_scenario_change_draft",
            login="tour_cr_author",
        )
        cr = env[MODEL].search([("title", "=", "Replace pressure sensor PS-10 by PS-12")])
        self.assertEqual(len(cr), 1)
        self.assertTrue(cr.name.startswith("CR/"))
        self.assertEqual((cr.author_id, cr.create_uid), (self.author, self.author))
        self.assertEqual(cr.state, "review")
        self.assertEqual(cr.change_type, "engineering")
        self.assertEqual(cr.product_ids, self.pump)
        self.assertEqual(cr.bom_ids, self.old_bom)
        self.assertEqual(cr.new_bom_id, self.new_bom)
        self.assertIn("drift", cr.description)
        self.assertIn("Occlusion alarm verification", cr.impact_description)
        self.assertIn("risk 12 before, 4 after", cr.risk_assessment)
        authored = self.signatures(cr)
        self.assertEqual(authored.user_id, self.author)
        self.assertEqual(authored.meaning_code, "authored")
        self.assertEqual(authored.reason, "Change request drafted and complete.")
        self.assertEqual(authored.auth_method, "login_password")
        self.assertEqual(self.request(cr, "cr_submit").state, "completed")
        approve = self.request(cr, "cr_approve")
        self.assertEqual(approve.state, "waiting")
        self.assertEqual(approve.next_signer_ids, self.rd_lead | self.qa_reviewer)
        self.assert_boms(new_active=False, old_active=True)

        # 2. QA reviews first (the order is free); approval waits for the R&D review too.
        url = f"/odoo/action-meddev_esign.esign_change_request_action/{cr.id}"
        self.start_tour(
            url, "meddev_esign_scenario_change_review_first", login="tour_cr_qa_reviewer"
        )
        cr.invalidate_recordset()
        self.assertEqual(cr.state, "review")
        self.assertEqual(approve.state, "in_progress")
        self.assertEqual(approve.next_signer_ids, self.rd_lead)
        self.start_tour(url, "meddev_esign_scenario_change_review_second", login="tour_cr_rd_lead")
        cr.invalidate_recordset()
        self.assertEqual(cr.state, "approval")
        reviews = approve.signature_ids
        self.assertEqual(reviews.user_id, self.qa_reviewer | self.rd_lead)
        self.assertEqual(set(reviews.mapped("meaning_code")), {"reviewed"})
        # QA's review came first although R&D's step comes first in the policy.
        self.assertEqual(reviews.sorted("id").user_id[:1], self.qa_reviewer)
        self.assertEqual(approve.next_signer_ids, self.qa_manager)
        self.assert_boms(new_active=False, old_active=True)

        # 3. The QA manager signs Approved and approves: only now is the BoM change applied.
        self.start_tour(url, "meddev_esign_scenario_change_approve", login="tour_cr_qa_manager")
        cr.invalidate_recordset()
        self.assertEqual(cr.state, "implementation")
        self.assertEqual(approve.state, "completed")
        approval = approve.signature_ids.filtered(lambda s: s.meaning_code == "approved")
        self.assertEqual(approval.user_id, self.qa_manager)
        self.assertEqual(approval.step_name, "QA approval")
        self.assertEqual(approval.reason, "Change approved for implementation.")
        self.assertTrue(cr.bom_change_applied)
        self.assertTrue(cr.bom_applied_date)
        self.assert_boms(new_active=True, old_active=False)

        # 4. Verification: the author is refused (SoD); the verifier signs and closes.
        self.start_tour(url, "meddev_esign_scenario_change_implemented", login="tour_cr_author")
        cr.invalidate_recordset()
        self.assertEqual(cr.state, "verification")
        self.assertFalse(cr.with_user(self.author).esign_can_sign)
        wizard = env["esign.sign.wizard"].with_user(self.author)
        with self.assertRaisesRegex(UserError, "no signature to give"):
            wizard._action_open(cr.with_user(self.author))
        self.assertEqual(self.request(cr, "cr_close").next_signer_ids, self.verifier)
        self.start_tour(url, "meddev_esign_scenario_change_verify", login="tour_cr_verifier")
        cr.invalidate_recordset()
        self.assertEqual(cr.state, "closed")
        verified = self.request(cr, "cr_close").signature_ids
        self.assertEqual(verified.user_id, self.verifier)
        self.assertEqual(verified.meaning_code, "verified")
        self.assertEqual(self.request(cr, "cr_close").state, "completed")
        # The history: every signature, all on the one signed version.
        signatures = self.signatures(cr)
        self.assertEqual(
            signatures.mapped("meaning_code"),
            ["authored", "reviewed", "reviewed", "approved", "verified"],
        )
        self.assertEqual(set(signatures.mapped("status")), {"valid"})
        self.assertEqual(set(signatures.mapped("record_version")), {1})
        self.assertEqual(cr.esign_version, 1)

        # 5. The R&D lead re-rates the risk after approval: refused without a reason, then
        # saved with one; the approval no longer covers the record and review starts again.
        self.start_tour(url, "meddev_esign_scenario_change_edit", login="tour_cr_rd_lead")
        cr.invalidate_recordset()
        self.assertIn("risk 16 before, 4 after", cr.risk_assessment)
        self.assertEqual(cr.esign_version, 2)
        self.assertEqual(cr.state, "review")
        self.assertEqual(approval.status, "changed")
        self.assertEqual(set(signatures.mapped("status")), {"changed"})
        approve.invalidate_recordset()
        self.assertIn(approve.state, ("waiting", "in_progress"))
        self.assertFalse(approve.completed_at)
        lines = {line.name: line.state for line in approve.line_ids}
        self.assertEqual(
            lines, {"R&D review": "current", "QA review": "current", "QA approval": "pending"}
        )
        self.assertEqual(approve.next_signer_ids, self.rd_lead | self.qa_reviewer)
        entries = env["esign.audit.entry"].search(
            [
                ("res_model", "=", MODEL),
                ("res_id", "=", cr.id),
                ("reason", "=", "Severity re-rated after field data"),
            ]
        )
        self.assertEqual(len(entries), 1)
        self.assertEqual(entries.operation, "write")
        self.assertEqual(entries.user_id, self.rd_lead)
        self.assertIn("risk_assessment", entries.payload)
        bodies = " ".join(cr.message_ids.mapped("body"))
        self.assertIn("Severity re-rated after field data", bodies)
        self.assertIn("back in review", bodies)
