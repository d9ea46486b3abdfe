from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError


class StockLot(models.Model):
    """Lot release (放行): a finished-device lot starts in quarantine and ships only once the
    release authority has signed its release (R20, S3)."""

    _name = "stock.lot"
    _inherit = ["esign.signable.mixin", "stock.lot"]
    _esign_signed_fields = ["name", "product_id", "expiration_date", "ref"]
    _esign_triggers = {"lot_release": "Lot: Release"}
    _esign_state_field = "esign_release_state"

    esign_release_state = fields.Selection(
        [("quarantine", "Quarantine"), ("released", "Released"), ("rejected", "Rejected")],
        string="Release State",
        # Lots that exist when the add-on is installed were released under the previous
        # system; create() puts every new finished-device lot in quarantine.
        default="released",
        readonly=True,
        copy=False,
        tracking=True,
        index=True,
        help="Quarantine: made but not released; it cannot ship. Released: the release "
        "authority signed its release. Rejected: the release was refused. Lots of products "
        "that are not medical devices are released from the start.",
    )
    esign_released_at = fields.Datetime(string="Released At", readonly=True, copy=False)
    esign_released_by_id = fields.Many2one(
        "res.users", string="Released By", readonly=True, copy=False
    )
    # What the release authority decides on, on the lot's Release tab.
    esign_gtin = fields.Char(
        related="product_id.esign_gtin",
        string="GTIN",
        help="The device's GS1 Global Trade Item Number: the UDI's device identifier (01).",
    )
    esign_production_ids = fields.Many2many(
        "mrp.production",
        string="Manufacturing Orders",
        compute="_compute_esign_release_evidence",
        help="The manufacturing order(s) that produced this lot.",
    )
    esign_release_signature_ids = fields.Many2many(
        "esign.signature",
        string="Signatures Behind the Release",
        compute="_compute_esign_release_evidence",
        help="The review and approval signatures of the manufacturing order(s) and the "
        "release signature of the lot, oldest first.",
    )
    esign_component_lot_ids = fields.Many2many(
        "stock.lot",
        string="Component Lots",
        compute="_compute_esign_release_evidence",
        help="The lots consumed by the manufacturing order(s), with their own release state.",
    )

    def _compute_esign_release_evidence(self):
        # As the system: the lot's history is what the release decides on, whoever reads it;
        # opening an MO or a signature from the tab still needs the reader's own rights.
        report = self.env["report.meddev_esign.report_batch_release_certificate"]
        for lot in self:
            if not lot.id:
                lot.esign_production_ids = lot.esign_release_signature_ids = False
                lot.esign_component_lot_ids = False
                continue
            productions = report._productions(lot)
            lot.esign_production_ids = productions
            lot.esign_release_signature_ids = report._signatures(lot, productions)
            lot.esign_component_lot_ids = productions.move_raw_ids.move_line_ids.lot_id

    @api.model_create_multi
    def create(self, vals_list):
        products = self.env["product.product"].browse(
            [vals.get("product_id") for vals in vals_list if vals.get("product_id")]
        )
        devices = set(products.filtered("esign_device_class").ids)
        for vals in vals_list:
            if vals.get("product_id") in devices:
                vals["esign_release_state"] = "quarantine"
        return super().create(vals_list)

    def action_esign_release(self):
        """Release the lot. Needs the Release Authority group and the completed signatures."""
        if not self.env.user.has_group("meddev_esign.group_esign_release_authority"):
            raise AccessError(self.env._("Only the Release Authority may release a lot."))
        self._esign_check_gate("lot_release")
        self._esign_mark_released(self.env.user)
        return True

    def _esign_reason_needed(self, field_names=None):
        """A released lot is as good as signed: changing what was released needs a reason."""
        return self.esign_release_state == "released" or super()._esign_reason_needed(field_names)

    def _esign_mark_released(self, user):
        for lot in self:
            if lot.esign_release_state == "released":
                continue
            if lot.esign_release_state == "rejected":
                raise UserError(
                    self.env._(
                        "Lot %(lot)s was rejected; return it to quarantine first.", lot=lot.name
                    )
                )
            lot.sudo().write(
                {
                    "esign_release_state": "released",
                    "esign_released_at": fields.Datetime.now(),
                    "esign_released_by_id": user.id,
                }
            )

    def _esign_on_request_completed(self, request):
        """The release signature completes the release: no second click needed."""
        if request.trigger == "lot_release":
            self._esign_mark_released(self.env.user)
        return super()._esign_on_request_completed(request)

    def _esign_on_request_rejected(self, request):
        if request.trigger == "lot_release":
            self.sudo().write({"esign_release_state": "rejected"})
        return super()._esign_on_request_rejected(request)

    def action_esign_return_to_quarantine(self):
        """QA: put a rejected lot back in quarantine so that a new release can start."""
        if not self.env.user.has_group("meddev_esign.group_esign_release_authority"):
            raise AccessError(self.env._("Only the Release Authority may requarantine a lot."))
        self.filtered(lambda lot: lot.esign_release_state == "rejected").sudo().write(
            {"esign_release_state": "quarantine"}
        )
        return True

    def action_esign_bulk_release(self):
        """Sign the release of many quarantined lots with one authentication (R4)."""
        lots = self.filtered(lambda lot: lot.esign_release_state == "quarantine")
        if not lots:
            raise UserError(self.env._("Select lots in quarantine to release."))
        return self.env["esign.sign.wizard"]._action_open(lots)
