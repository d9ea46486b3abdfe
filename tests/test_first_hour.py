"""A new signer's first hour: a record that needs signatures reaches its first signers at once
(to-do, Waiting for Me), whenever its policy was made; the panel and the wizard read plainly;
the lot form shows what a release is decided on.
"""

from odoo import Command
from odoo.tests import HttpCase, new_test_user, tagged

from .common import EsignCase

TOUR_PASSWORD = "tour-Pass-42"
SIGNER_GROUPS = "meddev_esign.group_esign_signer,mrp.group_mrp_user,stock.group_stock_user"


def review_policy(env, name, signers, active=True, prerequisite="[('qty_producing', '>', 0)]"):
    env["esign.policy"].search([("trigger", "=", "mrp_done")]).active = False
    return env["esign.policy"].create(
        {
            "name": name,
            "active": active,
            "model_id": env.ref("mrp.model_mrp_production").id,
            "trigger": "mrp_done",
            "prerequisite_domain": prerequisite,
            "step_ids": [
                Command.create(
                    {
                        "sequence": 10,
                        "name": "First-hour review step",
                        "signer_type": "users",
                        "meaning_id": env.ref("meddev_esign.meaning_reviewed").id,
                        "mode": "k_of_n",
                        "k": 1,
                        "user_ids": [Command.set(signers.ids)],
                    }
                )
            ],
        }
    )


def mo_in_review(env, supervisor, product_name):
    """An MO of a new product, made by ``supervisor``, with its quantity produced recorded:
    the state the review policies wait for."""
    product = env["product.product"].create({"name": product_name, "is_storable": True})
    mo = (
        env["mrp.production"]
        .with_user(supervisor)
        .create({"product_id": product.id, "product_qty": 2, "user_id": supervisor.id})
    )
    mo.action_confirm()
    mo.qty_producing = 2
    return mo


def todo_users(record):
    return record.activity_ids.filtered(lambda a: "E-signature" in (a.summary or "")).user_id


@tagged("post_install", "-at_install")
class TestPolicyMadeLater(EsignCase):
    """Records already in their signing state when a policy is made or activated.

    Verifies: R21
    """

    def _mo_in_review(self):
        return mo_in_review(self.env, self.supervisor, "Later Pump")

    def test_new_policy_opens_requests_of_records_in_signing_state(self):
        self.env["esign.policy"].search([("trigger", "=", "mrp_done")]).active = False
        mo = self._mo_in_review()
        self.assertFalse(mo.esign_request_ids, "no policy gates it yet")
        policy = review_policy(self.env, "Made later", self.qe)
        request = mo.esign_request_ids.filtered(lambda r: r.policy_id == policy)
        self.assertEqual(request.state, "waiting")
        self.assertEqual(request.next_signer_ids, self.qe)
        self.assertEqual(todo_users(mo), self.qe, "the first signer has a to-do at once")
        mine = (
            self.env["esign.request"]
            .with_user(self.qe)
            .search([("next_signer_ids", "in", self.qe.id)])
        )
        self.assertIn(request, mine, "and sees it in Waiting for Me")

    def test_record_not_ready_and_inactive_policy_open_nothing(self):
        """The twins: prerequisites unmet, or an inactive policy, open no request; activating
        the policy later opens it.

        Verifies: S9
        """
        self.env["esign.policy"].search([("trigger", "=", "mrp_done")]).active = False
        mo = self._mo_in_review()
        not_ready = self._mo_in_review()
        not_ready.qty_producing = 0
        policy = review_policy(self.env, "Dormant", self.qe, active=False)
        self.assertFalse(mo.esign_request_ids)
        self.assertFalse(todo_users(mo))
        policy.active = True
        self.assertEqual(mo.esign_request_ids.policy_id, policy)
        self.assertFalse(not_ready.esign_request_ids, "prerequisites unmet: no request yet")
        self.assertFalse(todo_users(not_ready))


@tagged("post_install", "-at_install")
class TestPanelAndWizardText(EsignCase):
    def test_panel_counts_signatures_of_the_step(self):
        """Verifies: R10"""
        review_policy(self.env, "Counting", self.qe | self.qa)
        mo = self._make_mo()
        html = str(mo.with_user(self.qe).esign_panel_html)
        self.assertIn("0 of 1 signatures", html)
        self.assertIn("from 2 eligible signers", html)
        self.assertNotIn("(1 of 2)", html)
        self.sign(self.qe, mo)
        mo.invalidate_recordset()
        self.assertIn("1 of 1 signatures", str(mo.with_user(self.qe).esign_panel_html))

    def test_wizard_names_policy_and_step_once(self):
        """Verifies: R8"""
        policy = review_policy(self.env, "Production record review", self.qe)
        policy.step_ids.name = "Production record review"  # the demo's look-alike names
        mo = self._make_mo()
        wizards = self.env["esign.sign.wizard"].with_user(self.qe)
        wizard = wizards.browse(wizards._action_open(mo.with_user(self.qe))["res_id"])
        self.assertNotIn("Production record review", str(wizard.summary_html))
        self.assertIn(mo.display_name, str(wizard.summary_html))

    def test_signing_time_names_its_zone_once(self):
        """'CST (Asia/Shanghai)' names a zone and its region; UTC is just 'UTC'.

        Verifies: R9
        """
        review_policy(self.env, "Zone", self.qe)
        mo = self._make_mo()
        self.sign(self.qe, mo)
        sig = self.signatures(mo)
        self.assertRegex(sig._local_time_display(), r"\d CST \(Asia/Shanghai\)$")
        self.assertRegex(sig._local_time_display("UTC"), r"\d UTC$")
        self.assertNotIn("(UTC)", sig._local_time_display("UTC"))

    def test_reason_box_follows_the_signed_fields(self):
        """The form's box lists exactly the fields whose edit needs a reason.

        Verifies: R11, R15
        """
        mo = self._make_mo()
        names = mo.esign_signed_field_names
        self.assertIn("product_qty", names)
        self.assertNotIn("origin", names)
        lot_names = self.env["stock.lot"].new({}).esign_signed_field_names
        self.assertEqual(sorted(lot_names), ["expiration_date", "name", "product_id", "ref"])


@tagged("post_install", "-at_install")
class TestLotReleaseTab(EsignCase):
    """Verifies: R20, S7"""

    def test_release_tab_shows_mo_signatures_and_component_lots(self):
        self.env["mrp.bom"].create(
            {
                "product_tmpl_id": self.device.product_tmpl_id.id,
                "product_qty": 1.0,
                "bom_line_ids": [
                    Command.create({"product_id": self.component.id, "product_qty": 2.0})
                ],
            }
        )
        component_lot = self._make_lot("RES-TAB", self.component)
        self.env["stock.quant"]._update_available_quantity(
            self.component, self.env.ref("stock.stock_location_stock"), 10.0, lot_id=component_lot
        )
        lot = self._make_lot("PUMP-TAB-1")
        mo = (
            self.env["mrp.production"]
            .with_user(self.supervisor)
            .create(
                {"product_id": self.device.id, "product_qty": 2, "user_id": self.supervisor.id}
            )
        )
        mo.action_confirm()
        mo.action_assign()
        mo.write({"lot_producing_id": lot.id, "qty_producing": 2})
        self.sign(self.qe, mo)
        self.sign(self.qa, mo)
        lot = lot.with_user(self.ra)
        lot.invalidate_recordset()  # the tab is computed per request, from what is stored now
        self.assertEqual(lot.esign_production_ids, mo)
        self.assertEqual(lot.esign_gtin, "06951234500030")
        self.assertEqual(
            lot.esign_release_signature_ids.mapped("meaning_code"), ["reviewed", "approved"]
        )
        self.assertEqual(lot.esign_component_lot_ids, component_lot)
        self.assertEqual(lot.esign_component_lot_ids.esign_release_state, "released")
        self.sign(self.ra, lot)
        lot.invalidate_recordset()
        self.assertEqual(
            lot.esign_release_signature_ids.mapped("meaning_code"),
            ["reviewed", "approved", "released"],
        )

    def test_lot_without_production_has_an_empty_tab(self):
        """The twin: a lot received from a supplier has no MO, signatures or components."""
        lot = self._make_lot("BOUGHT-1")
        self.assertFalse(lot.esign_production_ids)
        self.assertFalse(lot.esign_release_signature_ids)
        self.assertFalse(lot.esign_component_lot_ids)


@tagged("post_install", "-at_install")
class TestWaitingForMeTour(HttpCase):
    """The quality engineer's first hour, in the browser.

    Verifies: R12
    """

    def test_quality_engineer_finds_and_signs_the_review(self):
        env = self.env
        qe = new_test_user(
            env,
            login="tour_first_qe",
            password=TOUR_PASSWORD,
            name="Tour First QE",
            groups=SIGNER_GROUPS,
        )
        other = new_test_user(
            env, login="tour_first_other", password=TOUR_PASSWORD, groups=SIGNER_GROUPS
        )
        supervisor = new_test_user(
            env, login="tour_first_sup", password=TOUR_PASSWORD, groups=SIGNER_GROUPS
        )
        review_policy(env, "Tour first-hour review", qe | other)
        mo = mo_in_review(env, supervisor, "Tour First Pump")
        self.assertIn(qe, todo_users(mo), "the first signers get their to-do at once")
        self.start_tour(
            "/odoo/action-meddev_esign.esign_request_action_mine",
            "meddev_esign_waiting_for_me",
            login="tour_first_qe",
        )
        sig = env["esign.signature"].search(
            [("res_model", "=", "mrp.production"), ("res_id", "=", mo.id)]
        )
        self.assertEqual(sig.user_id, qe)
        mo.invalidate_recordset()
        self.assertFalse(todo_users(mo), "k of n: the other candidate's to-do closes too")
