"""The demo company as a Chinese medical-device maker sees it: its name on the audit trail's
chain, Suzhou in Jiangsu, CNY, A4 paper, its logo; the demo users work in it alone."""

import base64

from odoo.tests import TransactionCase, tagged

DEMO_USERS = (
    "demo_user_qa_manager",
    "demo_user_prod_supervisor",
    "demo_user_quality_engineer",
    "demo_user_purchaser",
    "demo_user_release_authority",
    "demo_user_auditor",
    "demo_user_purchase_manager",
    "demo_user_rd_engineer",
    "demo_user_rd_lead",
)


@tagged("post_install", "-at_install")
class TestDemoCompany(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company = cls.env.ref("base.main_company")

    def test_company_is_a_suzhou_maker_in_cny_on_a4_with_its_logo(self):
        company = self.company
        self.assertEqual(company.name, "Meridian Medical Devices Co., Ltd.")
        self.assertEqual(company.country_id, self.env.ref("base.cn"))
        self.assertEqual(company.state_id, self.env.ref("base.state_cn_JS"))
        self.assertEqual(company.state_id.country_id, company.country_id)
        self.assertEqual(company.city, "Suzhou")
        if not self.booked(company):  # the demo database; see test_currency_*
            self.assertEqual(company.currency_id, self.env.ref("base.CNY"))
        self.assertEqual(company.paperformat_id, self.env.ref("base.paperformat_euro"))
        self.assertEqual(company.paperformat_id.format, "A4")
        self.assertTrue(base64.b64decode(company.logo).startswith(b"\x89PNG\r\n\x1a\n"))

    def test_no_us_address_or_currency_is_left(self):
        # The bad inputs of the first look: "California Suzhou", USD, US Letter.
        company = self.company
        self.assertNotEqual(company.state_id.country_id, self.env.ref("base.us"))
        if not self.booked(company):
            self.assertNotEqual(company.currency_id, self.env.ref("base.USD"))
        self.assertNotEqual(company.paperformat_id, self.env.ref("base.paperformat_us"))
        self.assertNotIn("California", company.partner_id._display_address())

    def booked(self, company):
        return self.env["account.move.line"].search_count([("company_id", "=", company.id)])

    def test_currency_is_cny_where_nothing_is_booked(self):
        company = self.env["res.company"].create({"name": "Meridian Suzhou (test)"})
        self.assertFalse(self.booked(company))
        company._esign_demo_set_currency("base.CNY")
        self.assertEqual(company.currency_id, self.env.ref("base.CNY"))
        self.assertTrue(company.currency_id.active)

    def test_currency_stays_where_journal_items_are_booked(self):
        # Odoo's generic demo data (this test database's) books journal items in USD; Odoo
        # refuses a currency change then, and the demo data must still load.
        company = self.company
        if not self.booked(company):
            journal = self.env["account.journal"].search(
                [("company_id", "=", company.id), ("type", "=", "general")], limit=1
            ) or self.env["account.journal"].create(
                {"name": "Misc", "code": "TMISC", "type": "general", "company_id": company.id}
            )
            accounts = self.env["account.account"].search(
                [("company_ids", "in", company.id)], limit=2
            )
            self.env["account.move"].create(
                {
                    "journal_id": journal.id,
                    "line_ids": [
                        (0, 0, {"account_id": accounts[0].id, "debit": 1.0}),
                        (0, 0, {"account_id": accounts[1].id, "credit": 1.0}),
                    ],
                }
            )
        before = company.currency_id
        company._esign_demo_set_currency("base.EUR")
        self.assertEqual(company.currency_id, before)

    def test_audit_chain_carries_the_company_name(self):
        chain = self.env["esign.audit.chain"]._for_company(self.company)
        self.assertEqual(chain.name, self.company.name)
        self.assertNotIn("My Company", chain.name)

    def test_demo_users_work_in_the_demo_company_only(self):
        for xmlid in DEMO_USERS:
            user = self.env.ref(f"meddev_esign.{xmlid}")
            self.assertEqual(user.company_id, self.company, xmlid)
            self.assertEqual(user.company_ids, self.company, xmlid)

    def test_lots_are_switched_on_for_internal_users(self):
        # The demo database has no Odoo generic demo, which is what switched them on before.
        self.assertIn(
            self.env.ref("stock.group_production_lot"),
            self.env.ref("base.group_user").implied_ids,
        )
        self.assertTrue(
            self.env.ref("meddev_esign.demo_user_release_authority").has_group(
                "stock.group_production_lot"
            )
        )

    def test_paper_history_is_migrated_with_its_scans(self):
        """The demo carries the tubing lots' paper-signed inspections of 2019-2024, each with a
        scan that matches its recorded hash, so the paperless ratio tells a story."""
        lots = self.env.ref("meddev_esign.demo_lot_tubing_2019") | self.env.ref(
            "meddev_esign.demo_lot_tubing_2024"
        )
        migrated = self.env["esign.migrated.signature"].search(
            [("res_model", "=", "stock.lot"), ("res_id", "in", lots.ids)]
        )
        self.assertEqual(len(migrated), 4)
        self.assertEqual(set(migrated.mapped("scan_state")), {"ok"})
        paper = self.env["esign.kpi.paperless"].search([("paper_count", ">", 0)])
        self.assertEqual(sum(paper.mapped("paper_count")), 6)
