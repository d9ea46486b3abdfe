from odoo import models


class PurchaseOrder(models.Model):
    """Purchase approval: confirming an order the policy covers needs its signature (S2)."""

    _name = "purchase.order"
    _inherit = ["purchase.order", "esign.signable.mixin"]
    _esign_signed_fields = ["partner_id", "currency_id", "order_line", "amount_total"]
    _esign_triggers = {"po_confirm": "Purchase Order: Confirm"}
    _esign_author_fields = ["create_uid", "user_id"]

    def _esign_snapshot_values(self):
        """Sign every line's product, quantity and price, not only the line ids."""
        values = super()._esign_snapshot_values()
        values["lines"] = sorted(
            [line.product_id.display_name, str(line.product_qty), str(line.price_unit)]
            for line in self.order_line
        )
        return values

    def button_confirm(self):
        self._esign_check_gate("po_confirm")
        return super().button_confirm()
