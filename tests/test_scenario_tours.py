"""Scenarios 3 to 7 of SCENARIOS.md in the browser: each user clicks through the forms and
wizards they would use; the test sets up its own users and records, then checks what the
database holds afterwards."""

import base64
import io
import zipfile

from odoo import Command
from odoo.tests import HttpCase, new_test_user, tagged

from ..models.res_users import ResUsers
from ..services import audit as ledger

PASSWORD = "Scenario-Pass-42"  # SCENARIO_PASSWORD in static/tests/tours/esign_scenario_common.js
SIGNER = "meddev_esign.group_esign_signer"
RELEASE = "meddev_esign.group_esign_release_authority,stock.group_stock_user"


@tagged("post_install", "-at_install")
class TestScenarioTours(HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.device = cls.env["product.product"].create(
            {
                "name": "Tour Scenario Pump",
                "is_storable": True,
                "tracking": "lot",
                "esign_device_class": "II",
            }
        )
        # Only the shipped lot-release policy gates the lots of these tests.
        cls.release_policy = cls.env.ref("meddev_esign.policy_lot_release")
        cls.release_policy.active = True
        cls.env["esign.policy"].search(
            [("model", "=", "stock.lot"), ("id", "!=", cls.release_policy.id)]
        ).active = False

    # ------------------------------------------------------------------ helpers
    def user(self, login, name, groups):
        return new_test_user(
            self.env, login=login, password=PASSWORD, name=name, groups=groups, tz="Europe/Paris"
        )

    def policy(self, model, trigger, steps, prerequisite="[]", domain="[]"):
        """An active policy; ``steps`` are (name, stage, meaning code, users)."""
        self.env["esign.policy"].search([("model", "=", model), ("trigger", "=", trigger)]).write(
            {"active": False}
        )
        return self.env["esign.policy"].create(
            {
                "name": f"Tour {trigger}",
                "model_id": self.env["ir.model"]._get_id(model),
                "trigger": trigger,
                "domain": domain,
                "prerequisite_domain": prerequisite,
                "author_may_not_sign": True,
                "one_step_per_person": True,
                "step_ids": [
                    Command.create(
                        {
                            "name": name,
                            "sequence": sequence,
                            "meaning_id": self.env.ref(f"meddev_esign.meaning_{meaning}").id,
                            "signer_type": "users",
                            "mode": "all",
                            "user_ids": [Command.set(users.ids)],
                        }
                    )
                    for name, sequence, meaning, users in steps
                ],
            }
        )

    def sign(self, user, records, reason="Checked."):
        """Sign as ``user`` through the sign wizard, server side (set-up only)."""
        wizard_model = self.env["esign.sign.wizard"].with_user(user)
        action = wizard_model._action_open(records.with_user(user))
        wizard = wizard_model.browse(action["res_id"])
        wizard.write({"login": user.login, "reason": reason})
        return wizard.action_sign(password=PASSWORD)

    def signatures(self, records):
        return self.env["esign.signature"].search(
            [("res_model", "=", records._name), ("res_id", "in", records.ids)], order="id"
        )

    def audit_entries(self, records, **where):
        domain = [("res_model", "=", records._name), ("res_id", "in", records.ids)]
        domain += [(name, "=", value) for name, value in where.items()]
        return self.env["esign.audit.entry"].search(domain, order="seq")

    def lot(self, name, **vals):
        return self.env["stock.lot"].create({"name": name, "product_id": self.device.id, **vals})

    # ------------------------------------------------------------------ scenario 3
    def test_scenario_3_capa_closed_loop(self):
        """Verifies: S4"""
        env = self.env
        owner = self.user("tour_capa_owner", "Tour Capa Owner", SIGNER)
        reviewer = self.user("tour_capa_reviewer", "Tour Capa Reviewer", SIGNER)
        qa = self.user("tour_capa_qa", "Tour Capa QA", SIGNER)
        verifier = self.user("tour_capa_verifier", "Tour Capa Verifier", SIGNER)
        env["esign.policy"].search([("model", "=", "esign.capa")]).active = False
        self.policy(
            "esign.capa",
            "capa_plan",
            [("Plan review", 10, "reviewed", reviewer), ("QA plan approval", 20, "approved", qa)],
            prerequisite="[('state', '=', 'plan_approval')]",
        )
        self.policy(
            "esign.capa",
            "capa_close",
            [("Effectiveness verification", 10, "verified", verifier)],
            prerequisite="[('state', '=', 'effectiveness'), "
            "('effectiveness_result', '!=', False)]",
        )

        # 1-2. The owner opens the CAPA from the complaint and submits the plan.
        self.start_tour(
            "/odoo/action-meddev_esign.esign_capa_action",
            "meddev_esign_scenario_capa_open",
            login="tour_capa_owner",
        )
        capa = env["esign.capa"].search([("source_reference", "=", "CC-2025-017")])
        self.assertEqual(len(capa), 1)
        self.assertEqual(capa.state, "plan_approval")
        self.assertEqual(capa.source, "complaint")
        self.assertEqual((capa.owner_id, capa.create_uid), (owner, owner))
        self.assertIn("Recalibrate the threshold", capa.action_plan)
        first = capa.esign_request_ids
        self.assertEqual(first.state, "waiting")

        # QA rejects the plan after the review was signed: back to investigation.
        self.sign(reviewer, capa, reason="Plan reviewed.")
        url = f"/odoo/action-meddev_esign.esign_capa_action/{capa.id}"
        self.start_tour(url, "meddev_esign_scenario_capa_reject", login="tour_capa_qa")
        capa.invalidate_recordset()
        self.assertEqual(capa.state, "investigation")
        self.assertEqual(first.state, "rejected")
        self.assertEqual(first.rejected_by_id, qa)
        self.assertEqual(first.reject_reason, "Threshold change lacks a verification protocol.")
        reviewed = self.signatures(capa)
        self.assertEqual(reviewed.user_id, reviewer)
        self.assertEqual(reviewed.status, "history")
        rejection = self.audit_entries(capa, operation="reject")
        self.assertEqual(rejection.user_id, qa)
        self.assertEqual(rejection.reason, "Threshold change lacks a verification protocol.")

        # The plan comes back; QA signs Approved in the form and starts implementation.
        capa.with_user(owner).action_submit_plan()
        self.sign(reviewer, capa, reason="Protocol added.")
        self.start_tour(url, "meddev_esign_scenario_capa_approve", login="tour_capa_qa")
        capa.invalidate_recordset()
        self.assertEqual(capa.state, "implementation")
        second = capa.esign_request_ids - first
        self.assertEqual(second.state, "completed")
        approval = second.signature_ids.filtered(lambda s: s.user_id == qa)
        self.assertEqual(approval.meaning_code, "approved")
        self.assertEqual(approval.step_name, "QA plan approval")
        self.assertEqual(approval.reason, "Plan and verification protocol adequate.")
        self.assertEqual(approval.auth_method, "login_password")
        # The rejected request keeps its signature: three in all on the CAPA.
        self.assertEqual(len(self.signatures(capa)), 3)
        self.assertEqual(first.signature_ids, reviewed)

        # 3-4. Effectiveness is verified and signed; closure needs every step.
        self.start_tour(url, "meddev_esign_scenario_capa_effectiveness", login="tour_capa_owner")
        capa.invalidate_recordset()
        self.assertEqual(capa.state, "effectiveness")
        self.assertIn("412 pumps", capa.effectiveness_result)
        self.start_tour(url, "meddev_esign_scenario_capa_verify", login="tour_capa_verifier")
        capa.invalidate_recordset()
        self.assertEqual(capa.state, "closed")
        verified = self.signatures(capa).filtered(lambda s: s.meaning_code == "verified")
        self.assertEqual(verified.user_id, verifier)
        self.assertEqual(verified.request_id.trigger, "capa_close")
        self.assertEqual(verified.request_id.state, "completed")
        # The plan approval still covers the plan as it stands.
        self.assertEqual(approval.status, "valid")
        self.assertEqual(len(self.signatures(capa)), 4)

    # ------------------------------------------------------------------ scenario 4
    def test_scenario_4_critical_purchase(self):
        """Verifies: S2"""
        env = self.env
        purchaser = self.user(
            "tour_purchaser", "Tour Purchaser", f"{SIGNER},purchase.group_purchase_user"
        )
        manager = self.user(
            "tour_po_manager", "Tour Po Manager", f"{SIGNER},purchase.group_purchase_manager"
        )
        qe = self.user("tour_sq_qe", "Tour Sq Engineer", SIGNER)
        qa = self.user("tour_sq_qa", "Tour Sq QA", "meddev_esign.group_esign_qa")
        # The shipped supplier approval (QA, not the author) and a purchase approval above
        # 10,000 by the purchasing manager.
        supplier_policy = env.ref("meddev_esign.policy_supplier_approve")
        supplier_policy.active = True
        env["esign.policy"].search(
            [("model", "=", "esign.supplier.qualification"), ("id", "!=", supplier_policy.id)]
        ).active = False
        env["esign.policy"].search([("model", "=", "purchase.order")]).active = False
        self.policy(
            "purchase.order",
            "po_confirm",
            [("Purchase approval", 10, "approved", manager)],
            domain="[('amount_total', '>', 10000), "
            "('order_line.product_id.esign_is_critical', '=', True)]",
        )
        components = env["product.category"].create({"name": "Tour Components"})
        sensors = env["product.category"].create(
            {"name": "Tour Sensors", "parent_id": components.id}
        )
        sensor = env["product.product"].create(
            {
                "name": "Tour Critical Sensor",
                "is_storable": True,
                "esign_is_critical": True,
                "categ_id": sensors.id,
            }
        )
        supplier = env["res.partner"].create(
            {"name": "Tour Unqualified Supplier", "is_company": True}
        )
        order = (
            env["purchase.order"]
            .with_user(purchaser)
            .create(
                {
                    "partner_id": supplier.id,
                    "order_line": [
                        Command.create(
                            {"product_id": sensor.id, "product_qty": 20, "price_unit": 1000}
                        )
                    ],
                }
            )
        )
        order_url = f"/odoo/action-purchase.purchase_rfq/{order.id}"

        self.start_tour(order_url, "meddev_esign_scenario_po_refused", login="tour_purchaser")
        self.assertEqual(order.state, "draft")
        self.assertFalse(self.signatures(order))

        qualification = (
            env["esign.supplier.qualification"]
            .with_user(qe)
            .create(
                {
                    "partner_id": supplier.id,
                    "product_category_ids": [Command.set(components.ids)],
                    "scope": "Pressure sensors; ISO 13485:2016",
                    "audit_date": "2025-03-01",
                    "valid_until": "2099-12-31",
                }
            )
        )
        self.start_tour(
            f"/odoo/action-meddev_esign.esign_supplier_qualification_action/{qualification.id}",
            "meddev_esign_scenario_supplier_approve",
            login="tour_sq_qa",
        )
        qualification.invalidate_recordset()
        self.assertEqual(qualification.state, "approved")
        approval = self.signatures(qualification)
        self.assertEqual((approval.user_id, approval.meaning_code), (qa, "approved"))

        self.start_tour(order_url, "meddev_esign_scenario_po_approve", login="tour_po_manager")
        order.invalidate_recordset()
        self.assertEqual(order.state, "purchase")
        signature = self.signatures(order)
        self.assertEqual(signature.user_id, manager)
        self.assertEqual(signature.meaning_code, "approved")
        self.assertEqual(signature.step_name, "Purchase approval")
        self.assertEqual(signature.status, "valid")

    # ------------------------------------------------------------------ scenario 5
    def _failures_survive_the_request(self):
        """The failed-attempt counter commits in its own cursor, so a refused signature
        cannot roll it back. In HttpCase every cursor is a savepoint of the test's one
        transaction, and the refused request rolls the counter back with it. Run the counter
        again once the request has rolled back, as its own commit would have kept it."""
        register_failure = ResUsers._esign_register_failure

        def counted_outside_the_request(user, *args, **kwargs):
            user.env.cr.postrollback.add(lambda: register_failure(user, *args, **kwargs))
            return register_failure(user, *args, **kwargs)

        self.patch(ResUsers, "_esign_register_failure", counted_outside_the_request)

    def test_scenario_5_a_mistyped_password_then_the_right_one(self):
        """The wizard's Sign button sends the log-in and the reason with the password: the
        refused attempt is counted and saves nothing on the wizard; the next one, in the same
        wizard, signs with the reason typed once.

        Verifies: R3, R5
        """
        self._failures_survive_the_request()
        signer = self.user("tour_mistype", "Tour Mistyping Signer", RELEASE)
        lot = self.lot("TOUR-MISTYPE-1")
        lot_url = f"/odoo/action-meddev_esign.stock_lot_action_esign_release/{lot.id}"
        self.start_tour(lot_url, "meddev_esign_scenario_mistype_then_sign", login="tour_mistype")
        signature = self.env["esign.signature"].search(
            [("res_model", "=", "stock.lot"), ("res_id", "=", lot.id)]
        )
        self.assertEqual(len(signature), 1)
        self.assertEqual(signature.user_id, signer)
        self.assertEqual(signature.reason, "Typed once, before a mistyped password.")
        self.assertEqual(lot.esign_release_state, "released")
        self.assertEqual(signer.sudo().esign_failed_attempts, 0, "reset by the signature")
        failed = (
            self.env["esign.audit.entry"]
            .sudo()
            .search(
                [
                    ("res_model", "=", "stock.lot"),
                    ("res_id", "=", lot.id),
                    ("operation", "=", "sign_failed"),
                ]
            )
        )
        self.assertEqual(len(failed), 1, "the mistyped attempt is in the lot's trail")
        wizard = self.env["esign.sign.wizard"].sudo().search([("create_uid", "=", signer.id)])
        self.assertFalse(wizard.login, "the log-in is not kept on the wizard once signed")

    def test_scenario_5_lockout_and_unlock(self):
        """Verifies: R5"""
        env = self.env
        self._failures_survive_the_request()
        signer = self.user("tour_locked", "Tour Locked Signer", RELEASE)
        admin = self.user(
            "tour_esign_admin",
            "Tour Esign Admin",
            "meddev_esign.group_esign_admin,base.group_system",
        )
        lot = self.lot("TOUR-LOCK-1")
        lot_url = f"/odoo/action-meddev_esign.stock_lot_action_esign_release/{lot.id}"

        # 1. Three mistyped passwords: the account is locked from signing.
        self.start_tour(lot_url, "meddev_esign_scenario_lockout", login="tour_locked")
        state = signer.sudo()
        state.invalidate_recordset()
        self.assertTrue(state.esign_locked)
        self.assertEqual(state.esign_failed_attempts, 3)
        self.assertTrue(state.esign_locked_at)
        self.assertFalse(self.signatures(lot))
        self.assertEqual(lot.esign_release_state, "quarantine")

        # 2. The administrators are alerted at once, by mail and activity.
        partner = signer.partner_id
        activity = env["mail.activity"].search(
            [
                ("res_model", "=", "res.partner"),
                ("res_id", "=", partner.id),
                ("user_id", "=", admin.id),
            ]
        )
        self.assertEqual(len(activity), 1)
        self.assertIn("lock-out", activity.summary)
        alert = env["mail.message"].search(
            [
                ("model", "=", "res.partner"),
                ("res_id", "=", partner.id),
                ("subject", "=", "E-signature lock-out: Tour Locked Signer"),
            ]
        )
        self.assertEqual(len(alert), 1)
        self.assertIn(admin.partner_id, alert.partner_ids)
        self.assertIn("tour_locked", str(alert.body))
        self.assertIn(admin.partner_id, alert.notification_ids.res_partner_id)

        # 3. An administrator unlocks the account; who and when is recorded.
        self.start_tour(
            "/odoo/action-meddev_esign.res_users_action_esign_locked",
            "meddev_esign_scenario_unlock",
            login="tour_esign_admin",
        )
        state.invalidate_recordset()
        self.assertFalse(state.esign_locked)
        self.assertEqual(state.esign_failed_attempts, 0)
        self.assertEqual(state.esign_unlocked_by_id, admin)
        self.assertGreaterEqual(state.esign_unlocked_at, state.esign_locked_at)
        note = partner.message_ids.filtered(lambda m: "Signing unlocked" in str(m.body))
        self.assertEqual(len(note), 1)
        self.assertEqual(note.author_id, admin.partner_id)
        self.assertIn("Tour Esign Admin", str(note.body))

        # The signer signs again.
        self.start_tour(lot_url, "meddev_esign_scenario_sign_release", login="tour_locked")
        self.assertEqual(lot.esign_release_state, "released")
        self.assertEqual(self.signatures(lot).user_id, signer)

    # ------------------------------------------------------------------ scenario 6
    def test_scenario_6_inspector_visit(self):
        """Verifies: R18, S6"""
        env = self.env
        ra = self.user("tour_inspector_ra", "Tour Inspector Ra", RELEASE)
        supervisor = self.user(
            "tour_inspector_supervisor",
            "Tour Inspector Supervisor",
            f"{SIGNER},stock.group_stock_user",
        )
        auditor = self.user("tour_inspector", "Tour Inspector", "meddev_esign.group_esign_auditor")
        lot = self.lot("TOUR-INSP-1", ref="INSP-REF-1")
        lot.with_user(supervisor).write(
            {"ref": "INSP-REF-2", "esign_change_reason": "Label reprinted"}
        )
        self.sign(ra, lot, reason="Release tests passed.")
        self.assertEqual(lot.esign_release_state, "released")
        signature = self.signatures(lot)
        lot_entries = self.audit_entries(lot)
        write_date = lot.write_date
        chain = env["esign.audit.chain"]._for_company(env.company)

        self.start_tour(
            f"/odoo/action-meddev_esign.stock_lot_action_esign_release/{lot.id}",
            "meddev_esign_scenario_inspector",
            login="tour_inspector",
        )

        # The auditor changed nothing.
        self.assertFalse(env["esign.audit.entry"].search([("user_id", "=", auditor.id)]))
        lot.invalidate_recordset()
        self.assertEqual(lot.ref, "INSP-REF-2")
        self.assertEqual(lot.esign_release_state, "released")
        self.assertEqual(lot.write_date, write_date)
        self.assertEqual(self.signatures(lot), signature)
        self.assertEqual(signature.status, "valid")
        self.assertEqual(self.audit_entries(lot), lot_entries)

        # The integrity report came from an intact verification by the auditor.
        verification = env["esign.audit.verification"].search([("create_uid", "=", auditor.id)])
        self.assertEqual(len(verification), 1)
        self.assertEqual(verification.chain_id, chain)
        self.assertEqual(verification.verdict, "intact")

        # The export holds the lot's trail and a chain proof that verifies offline.
        export = env["esign.audit.export"].search([("create_uid", "=", auditor.id)])
        self.assertEqual(len(export), 1)
        archive = zipfile.ZipFile(io.BytesIO(base64.b64decode(export.file_data)))
        proof = next(name for name in archive.namelist() if name.endswith(".jsonl"))
        self.assertIn("services/audit_cli.py", archive.namelist())
        verdict = ledger.verify_export(archive.read(proof).decode().splitlines())
        self.assertTrue(verdict.ok, (verdict.chain.message, verdict.problems))
        self.assertEqual(verdict.selected, len(lot_entries))
        self.assertEqual(
            sorted(entry["seq"] for entry in verdict.entries), lot_entries.mapped("seq")
        )

    # ------------------------------------------------------------------ scenario 7
    def test_scenario_7_bulk_release(self):
        """Verifies: R20, S3"""
        env = self.env
        ra = self.user("tour_bulk_ra", "Tour Bulk Ra", RELEASE)
        lots = env["stock.lot"].browse([self.lot(f"TOUR-BULK-{i}").id for i in range(1, 6)])
        self.assertEqual(set(lots.mapped("esign_release_state")), {"quarantine"})
        chain = env["esign.audit.chain"]._for_company(env.company)

        self.start_tour(
            "/odoo/action-meddev_esign.stock_lot_action_esign_release",
            "meddev_esign_scenario_bulk_release",
            login="tour_bulk_ra",
        )

        lots.invalidate_recordset()
        self.assertEqual(set(lots.mapped("esign_release_state")), {"released"})
        self.assertEqual(lots.esign_released_by_id, ra)
        signatures = self.signatures(lots)
        self.assertEqual(len(signatures), 5)
        self.assertEqual(sorted(signatures.mapped("res_id")), sorted(lots.ids))
        self.assertEqual(signatures.user_id, ra)
        self.assertEqual(set(signatures.mapped("meaning_code")), {"released"})
        # One authentication for all: the log-in and password, once.
        self.assertEqual(set(signatures.mapped("auth_method")), {"login_password"})
        self.assertEqual(
            set(signatures.mapped("reason")), {"Batch records reviewed; release tests passed."}
        )
        entries = self.audit_entries(lots, operation="sign")
        self.assertEqual(len(entries), 5)
        self.assertEqual(sorted(entries.mapped("res_id")), sorted(lots.ids))
        self.assertEqual(entries.user_id, ra)
        self.assertEqual(entries.chain_id, chain)
        verdict = chain._verify()
        self.assertTrue(verdict.ok, verdict.message)
