from odoo import models


class MrpProduction(models.Model):
    """The production record: completing an MO needs its review signatures (S3)."""

    _name = "mrp.production"
    _inherit = ["mrp.production", "esign.signable.mixin"]
    _esign_signed_fields = [
        "product_id",
        "bom_id",
        "product_qty",
        "qty_producing",
        "lot_producing_id",
    ]
    _esign_triggers = {"mrp_done": "Manufacturing Order: Mark as Done"}
    _esign_author_fields = ["create_uid", "user_id"]

    def _esign_snapshot_values(self, trigger=None):
        """Also sign which component lots were consumed, for critical-material traceability."""
        values = super()._esign_snapshot_values(trigger)
        values["components"] = sorted(
            [ml.product_id.display_name, ml.lot_id.name or "", str(ml.quantity)]
            for ml in self.move_raw_ids.move_line_ids
        )
        return values

    def button_mark_done(self):
        self._esign_check_gate("mrp_done")
        return super().button_mark_done()
