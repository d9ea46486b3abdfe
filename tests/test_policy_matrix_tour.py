from odoo import Command
from odoo.tests import HttpCase, new_test_user, tagged

TOUR_PASSWORD = "tour-Pass-42"


@tagged("post_install", "-at_install")
class TestPolicyMatrixTour(HttpCase):
    """A new administrator adds "orders over 50,000 also need the finance manager" as one
    conditional step of the purchase-order policy, in the policy form, without code.

    Verifies: R21, S9
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        env = cls.env
        cls.admin = new_test_user(
            env,
            login="tour_matrix_admin",
            password=TOUR_PASSWORD,
            name="Tour Matrix Admin",
            groups="meddev_esign.group_esign_admin,purchase.group_purchase_user",
        )
        cls.finance_manager = new_test_user(
            env,
            login="tour_finance_manager",
            password=TOUR_PASSWORD,
            name="Tour Finance Manager",
            groups="meddev_esign.group_esign_signer,purchase.group_purchase_user",
        )
        cls.finance_group = env["res.groups"].create(
            {"name": "Tour Finance Managers", "users": [Command.link(cls.finance_manager.id)]}
        )
        env["esign.policy"].search([("model", "=", "purchase.order")]).active = False
        cls.policy = env["esign.policy"].create(
            {
                "name": "Tour PO approval",
                "model_id": env["ir.model"]._get_id("purchase.order"),
                "trigger": "po_confirm",
                "step_ids": [
                    Command.create(
                        {
                            "name": "Purchase approval",
                            "meaning_id": env.ref("meddev_esign.meaning_approved").id,
                            "mode": "k_of_n",
                            "k": 1,
                            "signer_type": "group",
                            "group_id": env.ref("purchase.group_purchase_manager").id,
                        }
                    )
                ],
            }
        )
        cls.second_admin = new_test_user(
            env,
            login="tour_matrix_admin_2",
            password=TOUR_PASSWORD,
            name="Tour Matrix Second Admin",
            groups="meddev_esign.group_esign_admin",
        )
        cls.partner = env["res.partner"].create({"name": "Tour Matrix Supplier"})
        cls.item = env["product.product"].create(
            {"name": "Tour Matrix Item", "supplier_taxes_id": []}
        )

    def _order(self, amount):
        return self.env["purchase.order"].create(
            {
                "partner_id": self.partner.id,
                "order_line": [
                    Command.create(
                        {"product_id": self.item.id, "product_qty": 1, "price_unit": amount}
                    )
                ],
            }
        )

    def _assert_finance_step_applies(self):
        """After the tour's save: 60,000 needs the finance step, 10,000 does not."""
        self.policy.invalidate_recordset()
        self.assertGreater(self.policy.version, 1)  # a new version of the rules
        finance = self.policy.step_ids.filtered(lambda s: s.name == "Finance approval")
        self.assertEqual(len(finance), 1)
        self.assertEqual(finance.group_id, self.finance_group)
        self.assertEqual(
            self.env["esign.policy"]._eval_domain(finance.condition),
            [("amount_total", ">", 50000)],
        )
        big, small = self._order(60000), self._order(10000)
        self.assertIn(finance.id, [s.step_id for s in self.policy._spec(big).steps])
        self.assertNotIn(finance.id, [s.step_id for s in self.policy._spec(small).steps])
        request = big.esign_request_ids.filtered(lambda r: r.policy_id == self.policy)
        self.assertIn("Finance approval", request.line_ids.mapped("name"))
        request = small.esign_request_ids.filtered(lambda r: r.policy_id == self.policy)
        self.assertNotIn("Finance approval", request.line_ids.mapped("name"))

    def _approve_pending_change(self):
        """Change control: the administrator's save is held as a pending configuration change,
        with the old rules in force, until a second administrator signs it Approved."""
        change = self.env["esign.config.change"].search(
            [("policy_id", "=", self.policy.id), ("state", "=", "pending")]
        )
        self.assertEqual(len(change), 1)
        self.assertEqual(change.proposer_id, self.admin)
        self.assertFalse(self.policy.step_ids.filtered(lambda s: s.name == "Finance approval"))
        wizards = self.env["esign.sign.wizard"].with_user(self.second_admin)
        action = wizards._action_open(change.with_user(self.second_admin))
        wizard = wizards.browse(action["res_id"])
        wizard.write({"login": self.second_admin.login, "reason": "Finance step approved."})
        wizard.action_sign(password=TOUR_PASSWORD)
        self.assertEqual(change.state, "applied")

    def test_tour_add_conditional_step(self):
        self.start_tour(
            "/odoo/action-meddev_esign.esign_policy_action?debug=1",
            "meddev_esign_policy_matrix",
            login=self.admin.login,
        )
        self._approve_pending_change()
        self._assert_finance_step_applies()
