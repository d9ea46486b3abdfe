from odoo import models
from odoo.exceptions import UserError

from ..services import snapshot as snap


class PurchaseOrder(models.Model):
    """Purchase approval: confirming an order the policy covers needs its signature (S2).

    A critical component may only be bought from a supplier qualified for it.
    """

    _name = "purchase.order"
    _inherit = ["esign.signable.mixin", "purchase.order"]
    _esign_signed_fields = ["partner_id", "currency_id", "order_line", "amount_total"]
    _esign_triggers = {"po_confirm": "Purchase Order: Confirm"}
    _esign_author_fields = ["create_uid", "user_id"]
    # Each line as agreed with the supplier: its id, description (what the supplier reads),
    # product, quantity and price; section and note lines sign like the others.
    _esign_signed_lines = {
        "lines": snap.SignedLines(
            path="order_line",
            fields=("name", "product_id", "product_qty", "price_unit"),
            v1_cells=("product_id.display_name", "product_qty", "price_unit"),
        )
    }

    def _esign_check_qualified_suppliers(self):
        """Refuse an order with a critical component from a supplier not qualified for it."""
        qualification = self.env["esign.supplier.qualification"]
        for order in self.filtered(lambda o: o.state in ("draft", "sent")):
            for product in order.order_line.product_id.filtered("esign_is_critical"):
                if not qualification._is_qualified(order.partner_id, product, order.company_id):
                    raise UserError(
                        self.env._(
                            "%(order)s cannot be confirmed: %(product)s is a critical component "
                            "and %(supplier)s holds no approved, valid supplier qualification "
                            "for its category %(category)s.",
                            order=order.display_name,
                            product=product.display_name,
                            supplier=order.partner_id.display_name,
                            category=product.categ_id.display_name,
                        )
                    )

    def button_confirm(self):
        self._esign_check_qualified_suppliers()
        self._esign_check_gate("po_confirm")
        return super().button_confirm()
