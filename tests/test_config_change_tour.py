from odoo.tests import HttpCase, new_test_user, tagged

TOUR_PASSWORD = "tour-Pass-42"


@tagged("post_install", "-at_install")
class TestConfigChangeTour(HttpCase):
    """Administrator A changes a signing policy in the browser: the change waits. Administrator
    B opens Configuration Changes, reads the old -> new difference and signs it Approved with
    his password: the policy changes.

    Verifies: R28, R14
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        groups = "meddev_esign.group_esign_admin"
        cls.admin_a = new_test_user(
            cls.env, login="tour_cfg_a", password=TOUR_PASSWORD, name="Tour Admin A", groups=groups
        )
        cls.admin_b = new_test_user(
            cls.env, login="tour_cfg_b", password=TOUR_PASSWORD, name="Tour Admin B", groups=groups
        )
        cls.policy = cls.env.ref("meddev_esign.policy_lot_release")
        cls.policy.reminder_days = 2

    def test_tour_change_then_approve(self):
        self.start_tour(
            "/odoo/action-meddev_esign.esign_policy_action",
            "meddev_esign_config_change_propose",
            login="tour_cfg_a",
        )
        self.assertEqual(self.policy.reminder_days, 2, "A's change is held")
        change = self.env["esign.config.change"].search(
            [("policy_id", "=", self.policy.id), ("state", "=", "pending")]
        )
        self.assertEqual(change.proposer_id, self.admin_a)
        self.start_tour(
            "/odoo/action-meddev_esign.esign_config_change_action",
            "meddev_esign_config_change_approve",
            login="tour_cfg_b",
        )
        self.assertEqual(change.state, "applied")
        self.assertEqual(change.approver_id, self.admin_b)
        self.assertEqual(self.policy.reminder_days, 4)
