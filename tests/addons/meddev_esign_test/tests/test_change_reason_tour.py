"""The form's reason for change reaches the button that changes signed content (browser).

Verifies: R15.
"""

from odoo import Command
from odoo.tests import HttpCase, new_test_user, tagged

PASSWORD = "Reason-Tour-42"


@tagged("post_install", "-at_install")
class TestChangeReasonTour(HttpCase):
    def test_reason_typed_in_the_form_goes_with_the_button(self):
        env = self.env
        signer = new_test_user(
            env,
            login="t_reason_signer",
            password=PASSWORD,
            groups="meddev_esign.group_esign_signer",
        )
        editor = new_test_user(
            env, login="t_reason_editor", password=PASSWORD, groups="base.group_user"
        )
        env["esign.policy"].create(
            {
                "name": "Reason tour policy",
                "model_id": env["ir.model"]._get_id("meddev.esign.test.document"),
                "trigger": "test_confirm",
                "step_ids": [
                    Command.create(
                        {
                            "name": "Check",
                            "meaning_id": env.ref("meddev_esign.meaning_reviewed").id,
                            "signer_type": "users",
                            "mode": "all",
                            "user_ids": [Command.set(signer.ids)],
                        }
                    )
                ],
            }
        )
        doc = (
            env["meddev.esign.test.document"]
            .with_user(editor)
            .create({"name": "Count", "line_ids": [Command.create({"name": "A", "qty": 2.0})]})
        )
        wizard_model = env["esign.sign.wizard"].with_user(signer)
        wizard = wizard_model.browse(wizard_model._action_open(doc.with_user(signer))["res_id"])
        wizard.login = signer.login  # the first signature of a session needs both components
        wizard.action_sign(password=PASSWORD)
        self.assertEqual(doc.esign_state, "completed")

        self.start_tour(
            f"/odoo/meddev.esign.test.document/{doc.id}",
            "meddev_esign_change_reason_button",
            login="t_reason_editor",
        )
        doc.invalidate_recordset()
        self.assertEqual(doc.line_ids.qty, 4.0)
        self.assertNotEqual(doc.esign_state, "completed")
        entry = env["esign.audit.entry"].search(
            [("res_model", "=", doc._name), ("res_id", "=", doc.id)], order="id desc", limit=1
        )
        self.assertEqual(entry.reason, "Recount after the stock audit")
        self.assertIn([f"lines[{doc.line_ids.id}].qty", "2.00", "4.00"], entry._changes())
