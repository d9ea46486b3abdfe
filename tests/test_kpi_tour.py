from odoo.tests import HttpCase, new_test_user, tagged

TOUR_PASSWORD = "tour-Pass-42"


@tagged("post_install", "-at_install")
class TestKpiTour(HttpCase):
    """A QA manager reads the cycle time and the overdue requests in E-Signatures > Reporting.

    Verifies: S11
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.qa_manager = new_test_user(
            cls.env,
            login="tour_qa_manager",
            password=TOUR_PASSWORD,
            name="Tour QA Manager",
            groups="meddev_esign.group_esign_qa",
        )
        ra = new_test_user(
            cls.env,
            login="tour_kpi_ra",
            password=TOUR_PASSWORD,
            name="Tour Release Authority",
            groups="meddev_esign.group_esign_release_authority,stock.group_stock_user",
        )
        product = cls.env["product.product"].create(
            {
                "name": "Tour KPI Infusion Set",
                "is_storable": True,
                "tracking": "lot",
                "esign_device_class": "II",
            }
        )
        Lot = cls.env["stock.lot"]
        done = Lot.create({"name": "TOUR-KPI-DONE", "product_id": product.id})
        waiting = Lot.create({"name": "TOUR-KPI-OPEN", "product_id": product.id})
        policy = cls.env.ref("meddev_esign.policy_lot_release")
        wizard_model = cls.env["esign.sign.wizard"].with_user(ra)
        wizard = wizard_model.browse(wizard_model._action_open(done.with_user(ra))["res_id"])
        wizard.write({"login": ra.login, "reason": "Batch record reviewed"})
        wizard.action_sign(password=TOUR_PASSWORD)
        policy.reminder_days = 2
        cls.env.flush_all()
        cls.env.cr.execute(
            "UPDATE esign_request SET create_date = create_date - interval '10 days'"
            " WHERE res_model = 'stock.lot' AND res_id = %s",
            [waiting.id],
        )

    def test_tour_qa_reporting(self):
        self.start_tour("/odoo", "meddev_esign_qa_reporting", login="tour_qa_manager")
