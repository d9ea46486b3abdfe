from odoo import Command
from odoo.exceptions import ValidationError
from odoo.tests import Form, new_test_user

from .common import PASSWORD, EsignCase

OVER_50K = "[('amount_total', '>', 50000)]"


class MatrixCase(EsignCase):
    """A purchase-order policy with one unconditional step, a finance group with one member,
    and orders of 60,000 and 10,000."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        env = cls.env
        env["esign.policy"].search([("model", "=", "purchase.order")]).active = False
        cls.buyer = new_test_user(
            env, login="t_buyer", password=PASSWORD, groups="purchase.group_purchase_user"
        )
        cls.purchase_manager = new_test_user(
            env,
            login="t_purchase_manager",
            password=PASSWORD,
            groups="meddev_esign.group_esign_signer,purchase.group_purchase_manager",
        )
        cls.finance_group = env["res.groups"].create({"name": "T Finance Manager"})
        cls.finance_manager = new_test_user(
            env,
            login="t_finance_manager",
            password=PASSWORD,
            groups="meddev_esign.group_esign_signer,purchase.group_purchase_user",
        )
        cls.finance_group.users = [Command.link(cls.finance_manager.id)]
        cls.purchase_group = env["res.groups"].create(
            {"name": "T Purchase Approvers", "users": [Command.link(cls.purchase_manager.id)]}
        )
        cls.approved = env.ref("meddev_esign.meaning_approved")
        cls.policy = env["esign.policy"].create(
            {
                "name": "T Purchase approval",
                "model_id": env["ir.model"]._get_id("purchase.order"),
                "trigger": "po_confirm",
                "step_ids": [
                    Command.create(
                        {
                            "name": "Purchase approval",
                            "meaning_id": cls.approved.id,
                            "mode": "k_of_n",
                            "k": 1,
                            "signer_type": "group",
                            "group_id": cls.purchase_group.id,
                        }
                    )
                ],
            }
        )
        cls.partner = env["res.partner"].create({"name": "T Matrix Supplier"})
        cls.item = env["product.product"].create(
            {"name": "T Matrix Item", "supplier_taxes_id": []}
        )

    def make_po(self, amount):
        return (
            self.env["purchase.order"]
            .with_user(self.buyer)
            .create(
                {
                    "partner_id": self.partner.id,
                    "order_line": [
                        Command.create(
                            {"product_id": self.item.id, "product_qty": 1, "price_unit": amount}
                        )
                    ],
                }
            )
            .with_user(self.env.user)
        )

    def add_finance_step(self, condition=OVER_50K):
        self.policy.write(
            {
                "step_ids": [
                    Command.create(
                        {
                            "name": "Finance approval",
                            "sequence": 20,
                            "meaning_id": self.approved.id,
                            "mode": "all",
                            "signer_type": "group",
                            "group_id": self.finance_group.id,
                            "condition": condition,
                        }
                    )
                ]
            }
        )
        return self.policy.step_ids.filtered(lambda s: s.name == "Finance approval")

    def step_names(self, record):
        return [step.name for step in self.policy._spec(record).steps]

    def line_names(self, record):
        request = record.esign_request_ids.filtered(lambda r: r.policy_id == self.policy)
        return sorted(request.line_ids.mapped("name"))


class TestStepCondition(MatrixCase):
    """A step with its own condition is needed only by the records that match it."""

    def test_large_order_needs_the_conditional_step(self):
        """An order of 60,000 needs the finance step, with its own request line and signer.

        Verifies: R21, S9, R13
        """
        self.add_finance_step()
        po = self.make_po(60000)
        self.assertEqual(self.step_names(po), ["Purchase approval", "Finance approval"])
        self.assertEqual(self.line_names(po), ["Finance approval", "Purchase approval"])
        self.sign(self.purchase_manager, po)
        request = po.esign_request_ids.filtered(lambda r: r.policy_id == self.policy)
        self.assertEqual(request.state, "in_progress")
        self.assertEqual(request.next_signer_ids, self.finance_manager)
        self.sign(self.finance_manager, po)
        self.assertEqual(request.state, "completed")

    def test_small_order_skips_the_conditional_step(self):
        """An order of 10,000 does not need it: one signature completes it; when the amount
        later rises over the threshold, the step is needed again.

        Verifies: R21, S9, R13
        """
        self.add_finance_step()
        po = self.make_po(10000)
        self.assertEqual(self.step_names(po), ["Purchase approval"])
        self.assertEqual(self.line_names(po), ["Purchase approval"])
        # The panel and the gate list the steps this order needs, not the skipped one.
        panel = str(po.esign_panel_html)
        self.assertIn("Purchase approval", panel)
        self.assertNotIn("Finance approval", panel)
        error = self.refused(po.button_confirm)
        self.assertIn("Still to sign: Purchase approval.", str(error))
        # The twin: the large order's panel and gate name the finance step.
        big = self.make_po(60000)
        self.assertIn("Finance approval", str(big.esign_panel_html))
        self.assertIn("Finance approval", str(self.refused(big.button_confirm)))
        self.sign(self.purchase_manager, po)
        request = po.esign_request_ids.filtered(lambda r: r.policy_id == self.policy)
        self.assertEqual(request.state, "completed")
        # The finance manager has nothing to sign on it.
        self.assertFalse(po.with_user(self.finance_manager)._esign_signable_for_user())
        po.order_line.with_context(esign_change_reason="Price agreed again").price_unit = 70000
        self.assertIn("Finance approval", self.step_names(po))

    def test_bulk_specs_per_record(self):
        """Many orders at once: each gets the steps its own amount needs.

        Verifies: R21, S9
        """
        finance = self.add_finance_step()
        big, small = self.make_po(60000), self.make_po(10000)
        specs = self.policy._specs(big | small)
        self.assertIn(finance.id, [s.step_id for s in specs[big.id].steps])
        self.assertNotIn(finance.id, [s.step_id for s in specs[small.id].steps])

    def test_only_conditional_steps_gate_only_matching_records(self):
        """A policy whose every step has a condition does not gate a record matching none.

        Verifies: R21, S9
        """
        self.add_finance_step()
        self.policy.step_ids.filtered(
            lambda s: s.name == "Purchase approval"
        ).condition = "[('amount_total', '>', 100000)]"
        small, big = self.make_po(10000), self.make_po(60000)
        self.assertFalse(small._esign_policies("po_confirm"))
        self.assertEqual(big._esign_policies("po_confirm"), self.policy)
        self.assertEqual(self.step_names(big), ["Finance approval"])

    def test_invalid_condition_text_refused(self):
        """Text that is not a domain is refused with a message saying how to write one.

        Verifies: R21, S9
        """
        with self.assertRaisesRegex(ValidationError, "is not a valid domain.*amount_total"):
            self.add_finance_step("[('amount_total', '>', 50000")
        with self.assertRaisesRegex(ValidationError, "is not a valid domain"):
            self.add_finance_step("amount_total > 50000")

    def test_condition_on_missing_field_refused(self):
        """A condition on a field that purchase orders lack is refused, naming the model.

        Verifies: R21, S9
        """
        with self.assertRaisesRegex(ValidationError, "cannot be checked on"):
            self.add_finance_step("[('esign_no_such_field', '>', 50000)]")
        # Moving a policy to another model re-checks its steps' conditions too.
        self.add_finance_step()
        with self.assertRaisesRegex(ValidationError, "cannot be checked on"):
            self.policy.write(
                {"model_id": self.env["ir.model"]._get_id("stock.lot"), "trigger": "lot_release"}
            )

    def test_condition_change_makes_a_new_version(self):
        """Changing a condition is a new policy version; signatures keep theirs.

        Verifies: R28, S10
        """
        finance = self.add_finance_step()
        version = self.policy.version
        po = self.make_po(60000)
        self.sign(self.purchase_manager, po)
        signature = self.signatures(po)
        self.assertEqual(signature.policy_version, version)
        finance.condition = "[('amount_total', '>', 80000)]"
        self.assertEqual(self.policy.version, version + 1)
        self.assertEqual(signature.policy_version, version)
        # Through the policy (its form), one change is one version, not two.
        self.policy.write({"step_ids": [Command.update(finance.id, {"condition": OVER_50K})]})
        self.assertEqual(self.policy.version, version + 2)
        # A change that does not touch the rules keeps the version.
        finance.due_days = 0
        self.assertEqual(self.policy.version, version + 2)


class TestMatrixForm(MatrixCase):
    """The policy form offers only the chosen model's choices, previews and warns."""

    def test_choices_filtered_by_model(self):
        """Signing points and return states are offered for the policy's model only, and
        the stored plain values follow the choice.

        Verifies: R21, S9
        """
        Trigger = self.env["esign.policy.trigger"]
        State = self.env["esign.policy.state"]
        po_triggers = Trigger.search([("model", "=", "purchase.order")])
        self.assertEqual(po_triggers.mapped("code"), ["po_confirm"])
        self.assertGreater(Trigger.search_count([]), len(po_triggers))
        self.assertEqual(self.policy.trigger_id, po_triggers)
        states = State.search([("model", "=", "purchase.order")])
        self.assertIn("draft", states.mapped("code"))
        self.assertFalse(states.filtered(lambda s: s.model != "purchase.order"))
        # The form: the domains filter on the model, picking a choice sets the stored value.
        with Form(self.policy) as form:
            self.assertEqual(self.policy._fields["trigger_id"].domain, "[('model', '=', model)]")
            form.reject_state_id = states.filtered(lambda s: s.code == "draft")
        self.assertEqual(self.policy.reject_state, "purchase.order:draft")
        self.policy.reject_state_id = False
        self.assertFalse(self.policy.reject_state)
        # Twin: a signing point of another model is refused.
        lot_release = Trigger.search([("code", "=", "lot_release")])
        with self.assertRaisesRegex(ValidationError, "has no signing point"):
            self.policy.trigger_id = lot_release
        with self.assertRaises(ValidationError):
            self.policy.reject_state_id = State.search([("model", "=", "stock.lot")], limit=1)

    def test_new_policy_in_the_form(self):
        """A policy made in the form, with a conditional step, stores its trigger.

        Verifies: R21, S9
        """
        self.policy.active = False
        with Form(self.env["esign.policy"]) as form:
            form.name = "T Form policy"
            form.model_id = self.env["ir.model"]._get("purchase.order")
            form.trigger_id = self.env["esign.policy.trigger"].search(
                [("model", "=", "purchase.order")]
            )
            # Another model: the former model's signing point is no longer offered nor kept.
            form.model_id = self.env["ir.model"]._get("stock.lot")
            self.assertFalse(form.trigger_id)
            self.assertFalse(form.trigger)
            form.model_id = self.env["ir.model"]._get("purchase.order")
            form.trigger_id = self.env["esign.policy.trigger"].search(
                [("model", "=", "purchase.order")]
            )
            with form.step_ids.new() as step:
                step.name = "Finance approval"
                step.meaning_id = self.approved
                step.signer_type = "group"
                step.group_id = self.finance_group
                step.condition = OVER_50K
        policy = form.record
        self.assertEqual(policy.trigger, "po_confirm")
        self.assertEqual(policy.version, 1)
        self.assertEqual(policy.step_ids.condition, OVER_50K)

    def test_preview_count(self):
        """The preview counts the orders the policy covers now, and opens them.

        Verifies: R21, S9
        """
        big, small = self.make_po(60000), self.make_po(10000)
        covered = self.env["purchase.order"].search_count([])
        self.assertEqual(self.policy.preview_count, covered)
        self.policy.domain = "[('id', 'in', %s)]" % [big.id, small.id]
        self.assertEqual(self.policy.preview_count, 2)
        # Every step conditional: only the orders needing one of them are covered.
        self.add_finance_step()
        self.policy.step_ids.filtered(
            lambda s: s.name == "Purchase approval"
        ).condition = "[('amount_total', '>', 100000)]"
        self.assertEqual(self.policy.preview_count, 1)
        action = self.policy.action_preview_records()
        self.assertEqual(self.env["purchase.order"].search(action["domain"]), big)
        # A half-typed domain previews nothing instead of failing.
        draft = self.env["esign.policy"].new({"model_id": self.policy.model_id.id, "domain": "[("})
        self.assertEqual(draft.preview_count, 0)

    def test_overlap_warning(self):
        """A second active policy on the same action for the same companies is flagged
        in the form, and saving it is refused with the advice to add a conditional step.

        Verifies: R21, S9
        """
        self.assertFalse(self.policy.matrix_warning)
        vals = {
            "name": "T Second PO policy",
            "model_id": self.policy.model_id.id,
            "trigger": "po_confirm",
            "company_id": self.env.company.id,
        }
        draft = self.env["esign.policy"].new(vals)
        self.assertIn("T Purchase approval", draft.matrix_warning)
        self.assertIn("Needed When", draft.matrix_warning)
        # A policy for every company overlaps a company's one.
        self.assertIn(
            "T Purchase approval",
            self.env["esign.policy"].new({**vals, "company_id": False}).matrix_warning,
        )
        # Twins: another company, an archived draft: no overlap.
        other = self.env["res.company"].create({"name": "T Other Co"})
        self.assertFalse(
            self.env["esign.policy"].new({**vals, "company_id": other.id}).matrix_warning
        )
        self.assertFalse(self.env["esign.policy"].new({**vals, "active": False}).matrix_warning)
        step = Command.create(
            {
                "name": "Other",
                "meaning_id": self.approved.id,
                "signer_type": "group",
                "group_id": self.finance_group.id,
            }
        )
        with self.assertRaisesRegex(ValidationError, "add a step with a 'Needed When' condition"):
            self.env["esign.policy"].create({**vals, "step_ids": [step]})

    def test_no_eligible_signer_warning(self):
        """A step that nobody can sign (empty group, archived users) is flagged; a step with
        an active signer is not.

        Verifies: R12, S9
        """
        empty = self.env["res.groups"].create({"name": "T Nobody"})
        step = self.add_finance_step()
        self.assertFalse(self.policy.matrix_warning)
        step.group_id = empty
        self.assertIn("Nobody can sign step Finance approval", self.policy.matrix_warning)
        step.write({"signer_type": "users", "user_ids": [Command.set(self.finance_manager.ids)]})
        self.assertFalse(self.policy.matrix_warning)
        self.finance_manager.active = False
        self.policy.invalidate_recordset(["matrix_warning"])
        self.assertIn("archived", self.policy.matrix_warning)
