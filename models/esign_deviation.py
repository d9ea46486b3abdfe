from odoo import api, fields, models
from odoo.exceptions import UserError


class EsignDeviation(models.Model):
    """Deviation / nonconformance report (R21): what went wrong with a product, lot or
    manufacturing order, and its disposition. Closing needs QA's **Approved** signature on
    the disposition (``deviation_close``).
    """

    _name = "esign.deviation"
    _description = "Deviation / Nonconformance"
    _inherit = [
        "esign.signable.mixin",
        "mail.thread",
        "mail.activity.mixin",
        "esign.quality.record",
    ]
    _order = "id desc"

    _esign_signed_fields = [
        "title",
        "deviation_type",
        "product_id",
        "lot_id",
        "production_id",
        "description",
        "disposition",
        "disposition_reason",
        "capa_id",
    ]
    _esign_triggers = {"deviation_close": "Deviation: Close (Disposition Approved)"}
    _esign_author_fields = ["create_uid", "reported_by_id"]
    _esign_reject_states = {"deviation_close": "investigation"}

    name = fields.Char(help="Given from the DEV/YYYY/NNNN sequence when the deviation is saved.")
    company_id = fields.Many2one(help="The company where the deviation happened.")
    title = fields.Char(required=True, tracking=True, help="One line naming what went wrong.")
    deviation_type = fields.Selection(
        [("deviation", "Deviation"), ("nonconformance", "Nonconformance")],
        string="Type",
        required=True,
        default="nonconformance",
        tracking=True,
        help="Deviation: a departure from an approved procedure. Nonconformance: a product "
        "that does not meet its specification.",
    )
    product_id = fields.Many2one(
        "product.product", string="Product", tracking=True, help="The product concerned."
    )
    lot_id = fields.Many2one(
        "stock.lot",
        string="Lot",
        tracking=True,
        domain="[('product_id', '=?', product_id)]",
        help="The lot concerned, if any.",
    )
    production_id = fields.Many2one(
        "mrp.production",
        string="Manufacturing Order",
        tracking=True,
        help="The manufacturing order where the deviation happened, if any.",
    )
    description = fields.Text(help="What happened, where and when, and how much is affected.")
    disposition = fields.Selection(
        [
            ("use_as_is", "Use As Is"),
            ("rework", "Rework"),
            ("scrap", "Scrap"),
            ("return_to_supplier", "Return to Supplier"),
        ],
        tracking=True,
        help="What is done with the affected product. QA approves it with its signature.",
    )
    disposition_reason = fields.Text(
        help="Why this disposition is acceptable (a 'use as is' needs a justification)."
    )
    capa_id = fields.Many2one(
        "esign.capa",
        string="CAPA",
        tracking=True,
        help="The CAPA opened to prevent recurrence, when one is needed.",
    )
    reported_by_id = fields.Many2one(
        "res.users",
        string="Reported By",
        required=True,
        default=lambda self: self.env.user,
        tracking=True,
        help="Who reported the deviation. They may not approve its disposition.",
    )
    state = fields.Selection(
        [
            ("draft", "Draft"),
            ("investigation", "Investigation"),
            ("disposition", "Disposition"),
            ("closed", "Closed"),
            ("cancelled", "Cancelled"),
        ],
        default="draft",
        required=True,
        readonly=True,
        copy=False,
        tracking=True,
        index=True,
        help="Closing needs QA's signed approval of the disposition. A rejected disposition "
        "returns to Investigation.",
    )

    @api.onchange("lot_id")
    def _onchange_lot_id(self):
        if self.lot_id and not self.product_id:
            self.product_id = self.lot_id.product_id

    # ------------------------------------------------------------------ transitions
    def action_start_investigation(self):
        """Draft -> Investigation."""
        self._esign_require_state(("draft",), self.env._("Investigate"))
        self.write({"state": "investigation"})
        return True

    def action_propose_disposition(self):
        """Investigation -> Disposition, once a disposition and its reason are given."""
        self._esign_require_state(("investigation",), self.env._("Propose Disposition"))
        for dev in self:
            if not (dev.disposition and dev.disposition_reason):
                raise UserError(
                    self.env._(
                        "%(record)s needs a disposition and its reason first.",
                        record=dev.display_name,
                    )
                )
        self.write({"state": "disposition"})
        self._esign_open_request("deviation_close")
        return True

    def action_close(self):
        """Disposition -> Closed; needs QA's Approved signature (``deviation_close``)."""
        self._esign_require_state(("disposition",), self.env._("Close"))
        self._esign_check_gate("deviation_close")
        self.write({"state": "closed"})
        return True

    def action_cancel(self):
        """Cancel a deviation reported in error."""
        self._esign_require_state(("draft", "investigation"), self.env._("Cancel"))
        self.write({"state": "cancelled"})
        return True
