from odoo import models

from ..services import snapshot as snap


class MrpProduction(models.Model):
    """The production record: completing an MO needs its review signatures (S3)."""

    _name = "mrp.production"
    _inherit = ["esign.signable.mixin", "mrp.production"]
    _esign_signed_fields = [
        "product_id",
        "bom_id",
        "product_qty",
        "qty_producing",
        "lot_producing_id",
    ]
    _esign_triggers = {"mrp_done": "Manufacturing Order: Produce (Done)"}
    _esign_author_fields = ["create_uid", "user_id"]
    # Which component lots were consumed, for critical-material traceability: product, lot
    # and quantity per move line, without the move lines' ids (Odoo replaces them when it
    # reserves again, the content staying).
    _esign_signed_lines = {
        "components": snap.SignedLines(
            path="move_raw_ids.move_line_ids",
            fields=("product_id", "lot_id", "quantity"),
            keep_ids=False,
            v1_cells=("product_id.display_name", "lot_id.name", "quantity"),
        )
    }

    def button_mark_done(self):
        self._esign_check_gate("mrp_done")
        return super().button_mark_done()
