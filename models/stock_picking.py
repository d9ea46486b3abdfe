from odoo import models
from odoo.exceptions import UserError


class StockPicking(models.Model):
    """Shipment release (放货): a delivery cannot ship a lot that is not released."""

    _inherit = "stock.picking"

    def button_validate(self):
        self._esign_check_lots_released()
        return super().button_validate()

    def _esign_check_lots_released(self):
        outgoing = self.filtered(lambda p: p.picking_type_code == "outgoing")
        lots = outgoing.move_line_ids.lot_id.filtered(
            lambda lot: lot.esign_release_state != "released"
        )
        if lots:
            raise UserError(
                self.env._(
                    "This delivery cannot ship: lot(s) %(lots)s are not released (%(states)s). "
                    "The Release Authority must sign their release first.",
                    lots=", ".join(lots.mapped("name")),
                    states=", ".join(
                        dict(lots._fields["esign_release_state"]._description_selection(self.env))[
                            s
                        ]
                        for s in sorted(set(lots.mapped("esign_release_state")))
                    ),
                )
            )
