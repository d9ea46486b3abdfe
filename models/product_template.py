from odoo import api, fields, models
from odoo.exceptions import ValidationError

from ..services import gs1
from ..services.errors import InvalidGTINError


class ProductTemplate(models.Model):
    """Medical-device master data: device class, GTIN (the UDI-DI) and criticality."""

    _inherit = "product.template"

    esign_device_class = fields.Selection(
        [("I", "Class I"), ("II", "Class II"), ("III", "Class III")],
        string="Device Class",
        help="Regulatory risk class of the finished device (NMPA / FDA classes I-III). "
        "Signing policies can apply to some classes only, e.g. class III.",
    )
    esign_gtin = fields.Char(
        string="GTIN (UDI-DI)",
        size=14,
        copy=False,
        help="GS1 Global Trade Item Number of the device: the device identifier of its UDI, "
        "AI (01). 8, 12, 13 or 14 digits with a valid check digit; stored as 14 digits.",
    )
    esign_is_critical = fields.Boolean(
        string="Critical Component",
        help="A component whose failure affects safety or performance. Purchasing it needs an "
        "approved, qualified supplier and a signed approval; its lots are traced on the "
        "batch release certificate.",
    )

    _sql_constraints = [
        (
            "esign_gtin_unique",
            "unique(esign_gtin)",
            "Two products cannot share one GTIN: a GTIN identifies one device model.",
        ),
    ]

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            self._esign_normalise_gtin(vals)
        return super().create(vals_list)

    def write(self, vals):
        self._esign_normalise_gtin(vals)
        return super().write(vals)

    def _esign_normalise_gtin(self, vals):
        """Validate the GTIN in ``vals`` and store it as 14 digits; raise a clear error."""
        gtin = vals.get("esign_gtin")
        if not gtin:
            return
        try:
            vals["esign_gtin"] = gs1.validate_gtin(gtin.strip())
        except InvalidGTINError as exc:
            raise ValidationError(
                self.env._(
                    "%(gtin)s is not a valid GTIN: it needs 8, 12, 13 or 14 digits and a "
                    "correct GS1 check digit.",
                    gtin=gtin,
                )
            ) from exc
