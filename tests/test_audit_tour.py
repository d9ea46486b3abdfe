from odoo.tests import HttpCase, new_test_user, tagged

TOUR_PASSWORD = "tour-Pass-42"


@tagged("post_install", "-at_install")
class TestAuditTour(HttpCase):
    """The audit trail as people use it: a reason is demanded in the form, the change shows
    in the record's trail, and an auditor verifies the chain."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.editor = new_test_user(
            cls.env,
            login="tour_editor",
            password=TOUR_PASSWORD,
            name="Tour Editor",
            groups="meddev_esign.group_esign_signer,stock.group_stock_user",
        )
        cls.auditor = new_test_user(
            cls.env,
            login="tour_auditor",
            password=TOUR_PASSWORD,
            name="Tour Auditor",
            groups="meddev_esign.group_esign_auditor",
        )
        product = cls.env["product.product"].create(
            {"name": "Tour Syringe Pump", "is_storable": True, "tracking": "lot"}
        )
        cls.lot = cls.env["stock.lot"].create(
            {"name": "TOUR-AUDIT-1", "product_id": product.id, "ref": "TOUR-REF-1"}
        )
        cls.lot.sudo().esign_release_state = "released"

    def test_tour_reason_then_trail(self):
        """Verifies: R15"""
        self.start_tour(
            f"/odoo/stock.lot/{self.lot.id}", "meddev_esign_audit_change", login="tour_editor"
        )
        entry = self.env["esign.audit.entry"].search(
            [
                ("res_model", "=", "stock.lot"),
                ("res_id", "=", self.lot.id),
                ("operation", "=", "write"),
            ]
        )
        self.assertEqual(len(entry), 1)
        self.assertEqual(entry.reason, "Label typo corrected")
        self.assertEqual(entry.user_id, self.editor)
        self.assertTrue(entry.ip_address)
        self.assertTrue(entry.session_hash)

    def test_tour_auditor_verifies(self):
        """Verifies: R15, S6"""
        self.start_tour(
            "/odoo/action-meddev_esign.esign_audit_chain_action",
            "meddev_esign_audit_verify",
            login="tour_auditor",
        )
        verification = self.env["esign.audit.verification"].search([], limit=1)
        self.assertEqual(verification.verdict, "intact")
        self.assertEqual(verification.create_uid, self.auditor)
