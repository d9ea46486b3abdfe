from odoo import models

from ..services import snapshot as snap


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

    def _esign_snapshot_values(self, trigger=None, version=snap.SNAPSHOT_VERSION):
        """Also sign which component lots were consumed, for critical-material traceability.

        One row per consumed move line: product, lot and quantity (the move lines' own ids
        are left out: Odoo may replace them when it reserves again, the content staying).
        """
        values = super()._esign_snapshot_values(trigger, version)
        move_lines = self.move_raw_ids.move_line_ids
        if version == snap.SNAPSHOT_V1:
            values["components"] = sorted(
                [ml.product_id.display_name, ml.lot_id.name or "", str(ml.quantity)]
                for ml in move_lines
            )
        else:
            values["components"] = snap.sorted_rows(
                ml._esign_field_values(["product_id", "lot_id", "quantity"], by_id=True)
                for ml in move_lines
            )
        return values

    def button_mark_done(self):
        self._esign_check_gate("mrp_done")
        return super().button_mark_done()
