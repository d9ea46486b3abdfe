from psycopg2 import IntegrityError

from odoo.exceptions import AccessError, ValidationError
from odoo.tests import TransactionCase, new_test_user, tagged
from odoo.tools import mute_logger


@tagged("post_install", "-at_install")
class TestFoundation(TransactionCase):
    """The add-on's groups, seeded meanings, device master data and demo users."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.signer = new_test_user(
            cls.env, login="t_signer", groups="meddev_esign.group_esign_signer"
        )
        cls.auditor = new_test_user(
            cls.env, login="t_auditor", groups="meddev_esign.group_esign_auditor"
        )

    def test_groups_exist_and_imply(self):
        """Verifies: R12"""
        release = self.env.ref("meddev_esign.group_esign_release_authority")
        signer = self.env.ref("meddev_esign.group_esign_signer")
        self.assertIn(signer, release.implied_ids)
        for xmlid in ("group_esign_admin", "group_esign_auditor"):
            group = self.env.ref(f"meddev_esign.{xmlid}")
            self.assertEqual(group.category_id, self.env.ref("meddev_esign.module_category_esign"))
        # Being an administrator is no right to sign or release (segregation of duties).
        admin = self.env.ref("meddev_esign.group_esign_admin")
        self.assertNotIn(signer, admin.trans_implied_ids)

    def test_meanings_seeded_and_translated(self):
        """Verifies: R8"""
        meanings = self.env["esign.meaning"].search([])
        codes = set(meanings.mapped("code"))
        self.assertTrue(
            {
                "authored",
                "reviewed",
                "approved",
                "verified",
                "released",
                "rejected",
                "responsibility",
            }
            <= codes
        )
        self.env["res.lang"]._activate_lang("zh_CN")
        self.env["ir.module.module"]._load_module_terms(
            ["meddev_esign"], ["zh_CN"], overwrite=True
        )
        approved = self.env.ref("meddev_esign.meaning_approved").with_context(lang="zh_CN")
        self.assertEqual(approved.name, "批准")

    def test_meaning_code_rules(self):
        """Verifies: R8"""
        with self.assertRaises(ValidationError):
            self.env["esign.meaning"].create({"name": "Bad", "code": "Not Valid!"})
        with mute_logger("odoo.sql_db"), self.assertRaises(IntegrityError), self.cr.savepoint():
            self.env["esign.meaning"].create({"name": "Dup", "code": "approved"})

    def test_meanings_read_only_for_signers_and_auditors(self):
        """Verifies: R8, R28"""
        meaning = self.env.ref("meddev_esign.meaning_reviewed")
        for user in (self.signer, self.auditor):
            self.assertEqual(meaning.with_user(user).name, "Reviewed")
            with self.assertRaises(AccessError):
                meaning.with_user(user).write({"name": "Forged"})
            with self.assertRaises(AccessError):
                self.env["esign.meaning"].with_user(user).create({"name": "X", "code": "x"})

    def test_gtin_normalised_and_validated(self):
        """Verifies: R26"""
        product = self.env["product.template"].create(
            {"name": "Test Device", "esign_gtin": "4006381333931", "esign_device_class": "III"}
        )
        self.assertEqual(product.esign_gtin, "04006381333931")

    def test_gtin_bad_check_digit_refused(self):
        """Verifies: R26"""
        count = self.env["product.template"].search_count([])
        with self.assertRaises(ValidationError) as ctx:
            self.env["product.template"].create({"name": "Bad", "esign_gtin": "4006381333932"})
        self.assertIn("GTIN", str(ctx.exception))
        with self.assertRaises(ValidationError):
            self.env["product.template"].create({"name": "Bad", "esign_gtin": "40063813339AB"})
        self.assertEqual(self.env["product.template"].search_count([]), count)

    def test_demo_data(self):
        """The demo carries the six roles, devices with valid GTINs and lots with expiry."""
        if not self.env.ref("meddev_esign.demo_user_qa_manager", raise_if_not_found=False):
            self.skipTest("installed without demo data")
        users = {
            "qa.manager": "group_esign_signer",
            "prod.supervisor": "group_esign_signer",
            "quality.engineer": "group_esign_signer",
            "purchaser": "group_esign_signer",
            "release.authority": "group_esign_release_authority",
            "auditor": "group_esign_auditor",
        }
        for login, group in users.items():
            user = self.env["res.users"].search([("login", "=", login)])
            self.assertTrue(user.has_group(f"meddev_esign.{group}"), login)
        auditor = self.env["res.users"].search([("login", "=", "auditor")])
        self.assertFalse(auditor.has_group("meddev_esign.group_esign_signer"))
        pump = self.env.ref("meddev_esign.demo_product_infusion_pump")
        self.assertEqual(pump.esign_device_class, "II")
        self.assertEqual(len(pump.esign_gtin), 14)
        bom = self.env.ref("meddev_esign.demo_bom_infusion_pump")
        self.assertTrue(any(bom.bom_line_ids.product_id.mapped("esign_is_critical")))
        lot = self.env.ref("meddev_esign.demo_lot_pump_a")
        self.assertTrue(lot.expiration_date)
        self.assertEqual(self.env.ref("meddev_esign.demo_mo_pump").state, "confirmed")
