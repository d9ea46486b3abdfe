from odoo import Command
from odoo.tests import new_test_user

from .common import PASSWORD, EsignCase

QMS_MODELS = (
    "esign.change.request",
    "esign.capa",
    "esign.deviation",
    "esign.supplier.qualification",
    "purchase.order",
)


class QmsCase(EsignCase):
    """Known signing policies on the quality records, replacing the data and demo ones.

    The R&D engineer ``rd`` authors change requests; ``rd_lead`` and ``qe`` review them in
    parallel and ``qa`` approves; ``qa2`` verifies. Purchase-order policies are archived so
    that only the supplier-qualification check stands between an order and its confirmation.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        env = cls.env
        signer = "meddev_esign.group_esign_signer,mrp.group_mrp_user,stock.group_stock_user"
        cls.rd = new_test_user(
            env, login="t_rd", groups=signer, password=PASSWORD, name="T Rd", tz="Asia/Shanghai"
        )
        cls.rd_lead = new_test_user(
            env, login="t_rd_lead", groups=signer, password=PASSWORD, name="T Rd Lead"
        )
        env["esign.policy"].search([("model", "in", QMS_MODELS)]).active = False
        cls.policy_cr_submit = cls._policy(
            "esign.change.request",
            "cr_submit",
            [("Authored", 10, "authored", {"signer_type": "field", "user_field_id": "author"})],
            prerequisite="[('state', '=', 'proposal')]",
            author_may_not_sign=False,
        )
        cls.policy_cr_approve = cls._policy(
            "esign.change.request",
            "cr_approve",
            [
                ("R&D review", 10, "reviewed", cls.rd_lead),
                ("QA review", 10, "reviewed", cls.qe),
                ("QA approval", 20, "approved", cls.qa),
            ],
            prerequisite="[('state', 'in', ('review', 'approval'))]",
        )
        cls.policy_cr_close = cls._policy(
            "esign.change.request",
            "cr_close",
            [("Verification", 10, "verified", cls.rd | cls.qa2)],
            prerequisite="[('state', '=', 'verification')]",
        )
        cls.policy_capa_plan = cls._policy(
            "esign.capa",
            "capa_plan",
            [
                ("Plan review", 10, "reviewed", cls.qa2),
                ("QA plan approval", 20, "approved", cls.qa),
            ],
            prerequisite="[('state', '=', 'plan_approval')]",
        )
        cls.policy_capa_close = cls._policy(
            "esign.capa",
            "capa_close",
            [("Effectiveness verification", 10, "verified", cls.qe | cls.qa2)],
            prerequisite="[('state', '=', 'effectiveness'), "
            "('effectiveness_result', '!=', False)]",
        )
        cls.policy_deviation_close = cls._policy(
            "esign.deviation",
            "deviation_close",
            [("QA disposition approval", 10, "approved", cls.qa | cls.supervisor)],
            prerequisite="[('state', '=', 'disposition')]",
        )
        cls.policy_supplier = cls._policy(
            "esign.supplier.qualification",
            "supplier_approve",
            [("QA supplier approval", 10, "approved", cls.qa)],
            prerequisite="[('state', '=', 'draft')]",
        )

        cls.categ_parent = env["product.category"].create({"name": "T Components"})
        cls.categ_child = env["product.category"].create(
            {"name": "T Sensors", "parent_id": cls.categ_parent.id}
        )
        cls.categ_other = env["product.category"].create({"name": "T Packaging"})
        cls.critical = env["product.product"].create(
            {
                "name": "T Critical Sensor",
                "is_storable": True,
                "esign_is_critical": True,
                "categ_id": cls.categ_child.id,
            }
        )
        cls.plain = env["product.product"].create(
            {"name": "T Cable Tie", "categ_id": cls.categ_other.id}
        )
        cls.supplier = env["res.partner"].create({"name": "T Sensor Supplier", "is_company": True})

    @classmethod
    def _policy(cls, model, trigger, steps, prerequisite="[]", author_may_not_sign=True):
        """Create an active policy; steps are (name, stage, meaning code, users or spec)."""
        env = cls.env
        commands = []
        for name, sequence, meaning, signers in steps:
            vals = {
                "name": name,
                "sequence": sequence,
                "meaning_id": env.ref(f"meddev_esign.meaning_{meaning}").id,
                "mode": "all",
            }
            if isinstance(signers, dict):
                vals.update(
                    signer_type="field",
                    user_field_id=env["ir.model.fields"]._get(model, "author_id").id,
                )
            elif len(signers) > 1:
                vals.update(
                    signer_type="users", mode="k_of_n", k=1, user_ids=[Command.set(signers.ids)]
                )
            else:
                vals.update(signer_type="users", user_ids=[Command.set(signers.ids)])
            commands.append(Command.create(vals))
        return env["esign.policy"].create(
            {
                "name": f"Test {trigger}",
                "model_id": env["ir.model"]._get_id(model),
                "trigger": trigger,
                "prerequisite_domain": prerequisite,
                "author_may_not_sign": author_may_not_sign,
                "one_step_per_person": True,
                "step_ids": commands,
            }
        )

    def reject(self, user, record, reason):
        """Reject the current request on ``record`` as ``user``, through the wizard."""
        return (
            self.env["esign.reject.wizard"]
            .with_user(user)
            .create({"res_model": record._name, "res_id": record.id, "reason": reason})
            .action_reject()
        )

    def make_order(self, product=None, partner=None, qty=10.0, price=5.0):
        return self.env["purchase.order"].create(
            {
                "partner_id": (partner or self.supplier).id,
                "order_line": [
                    Command.create(
                        {
                            "product_id": (product or self.critical).id,
                            "product_qty": qty,
                            "price_unit": price,
                        }
                    )
                ],
            }
        )

    def make_qualification(self, user=None, **vals):
        values = {
            "partner_id": self.supplier.id,
            "product_category_ids": [Command.set(self.categ_parent.ids)],
            "scope": "Sensors; ISO 13485 certified",
            "audit_date": "2024-01-10",
            "valid_until": "2099-12-31",
        }
        values.update(vals)
        return self.env["esign.supplier.qualification"].with_user(user or self.qe).create(values)
