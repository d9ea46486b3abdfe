import base64

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError

from ..services import gs1
from ..services.errors import EsignError


class StockLot(models.Model):
    """Lot release (放行): a finished-device lot starts in quarantine and ships only once the
    release authority has signed its release (R20, S3)."""

    _name = "stock.lot"
    _inherit = ["stock.lot", "esign.signable.mixin"]
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

    # ------------------------------------------------------------------ certificate data
    def _esign_production(self):
        """The done or ongoing manufacturing order(s) that produced this lot."""
        self.ensure_one()
        return (
            self.env["mrp.production"]
            .sudo()
            .search([("lot_producing_id", "=", self.id)], order="id")
        )

    def _esign_udi(self):
        """The lot's UDI: GTIN (01), production date (11), expiry (17), lot (10)."""
        self.ensure_one()
        gtin = self.product_id.esign_gtin
        if not gtin:
            return None
        production = self._esign_production().filtered(lambda p: p.state == "done")[:1]
        made = production.date_finished.date() if production.date_finished else None
        expiry = self.expiration_date.date() if self.expiration_date else None
        try:
            return gs1.UDI(gtin=gtin, production_date=made, expiry_date=expiry, lot=self.name)
        except EsignError as exc:
            raise UserError(
                self.env._(
                    "Lot %(lot)s cannot carry a UDI: %(reason)s", lot=self.name, reason=exc.message
                )
            ) from exc

    def _esign_udi_print(self):
        """What the certificate prints for the UDI: a GS1 DataMatrix and its text."""
        self.ensure_one()
        udi = self._esign_udi()
        if not udi:
            return {}
        png = gs1.render_datamatrix_png(udi, scale=6)
        return {
            "datamatrix": "data:image/png;base64," + base64.b64encode(png).decode(),
            "hri": gs1.build_hri(udi),
            "expiry": gs1.format_label_date(udi.expiry_date) if udi.expiry_date else "",
            "made": gs1.format_label_date(udi.production_date) if udi.production_date else "",
        }

    def _esign_certificate_signatures(self):
        """Every signature behind the release: the MO's review and approval, the release."""
        self.ensure_one()
        productions = self._esign_production()
        domain = [
            "|",
            "&",
            ("res_model", "=", "stock.lot"),
            ("res_id", "=", self.id),
            "&",
            ("res_model", "=", "mrp.production"),
            ("res_id", "in", productions.ids),
        ]
        return self.env["esign.signature"].sudo().search(domain, order="signed_at, id")

    def _esign_produced_qty(self):
        self.ensure_one()
        done = self._esign_production().filtered(lambda p: p.state == "done")
        return sum(done.mapped("qty_produced")) if done else self.product_qty
