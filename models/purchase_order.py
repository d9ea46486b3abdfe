from odoo import models
from odoo.exceptions import UserError

from ..services import snapshot as snap


class PurchaseOrder(models.Model):
    """Purchase approval: confirming an order the policy covers needs its signature (S2).

    A critical component may only be bought from a supplier qualified for it.
    """

    _name = "purchase.order"
    _inherit = ["purchase.order", "esign.signable.mixin"]
    _esign_signed_fields = ["partner_id", "currency_id", "order_line", "amount_total"]
    _esign_triggers = {"po_confirm": "Purchase Order: Confirm"}
    _esign_author_fields = ["create_uid", "user_id"]

    def _esign_snapshot_values(self, trigger=None, version=snap.SNAPSHOT_VERSION):
        """Sign every line's product, quantity and price, not only the line ids.

        From version 2 on, also each line's description (what the supplier reads) and its
        id; section and note lines, which have no product, sign like the others.
        """
        values = super()._esign_snapshot_values(trigger, version)
        if version == snap.SNAPSHOT_V1:
            # Version 1 could not sign a section or note line (no product: its False did not
            # sort among names), so "" for it changes no hash a version 1 signature holds.
            values["lines"] = sorted(
                [line.product_id.display_name or "", str(line.product_qty), str(line.price_unit)]
                for line in self.order_line
            )
        else:
            values["lines"] = [
                {
                    "id": line.id,
                    **line._esign_field_values(
                        ["name", "product_id", "product_qty", "price_unit"], by_id=True
                    ),
                }
                for line in self.order_line.sorted("id")
            ]
        return values

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
