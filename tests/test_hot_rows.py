"""Signing at once on orders of one supplier writes no shared supplier row.

The row version (``ctid``) of the supplier's partner shows whether a transaction updated it:
every UPDATE makes a new version of the row, even with the same values.
"""

from odoo import Command
from odoo.tests import TransactionCase, new_test_user


class TestSupplierRowNotRewritten(TransactionCase):
    def setUp(self):
        super().setUp()
        # The invitation scope under which the portal makes sign-up links for customers.
        self.env["ir.config_parameter"].sudo().set_param("auth_signup.invitation_scope", "b2c")
        self.vendor = self.env["res.partner"].create(
            {"name": "Hot Row Supplier", "email": "hot.row@example.com"}
        )
        self.approver = new_test_user(
            self.env,
            login="t_hot_approver",
            groups="base.group_user,purchase.group_purchase_manager",
            notification_type="email",
            email="hot.approver@example.com",
        )
        self.buyer = new_test_user(
            self.env, login="t_hot_buyer", groups="base.group_user,purchase.group_purchase_user"
        )
        product = self.env["product.product"].create({"name": "Hot Row Part", "purchase_ok": True})
        self.orders = (
            self.env["purchase.order"]
            .with_user(self.buyer)
            .create(
                [
                    {
                        "partner_id": self.vendor.id,
                        "order_line": [
                            Command.create(
                                {"product_id": product.id, "product_qty": 1, "price_unit": 10.0}
                            )
                        ],
                    }
                    for _ in range(2)
                ]
            )
        )

    def _row_version(self):
        self.env.flush_all()
        self.env.cr.execute("SELECT ctid FROM res_partner WHERE id = %s", [self.vendor.id])
        return self.env.cr.fetchone()[0]

    def _todo(self, order):
        """A to-do for the approver, as a signature opening the approval step gives one:
        Odoo e-mails the approver, and the portal adds the supplier's sign-up link."""
        order.sudo().activity_schedule(
            "mail.mail_activity_data_todo", user_id=self.approver.id, summary="Sign the order"
        )

    def test_a_second_order_to_do_leaves_the_supplier_row_alone(self):
        """Verifies: S10"""
        self._todo(self.orders[0])
        self.assertEqual(self.vendor.sudo().signup_type, "signup")  # the portal's link was made
        before = self._row_version()
        self._todo(self.orders[1])
        self._todo(self.orders[0])
        self.assertEqual(self._row_version(), before)
        self.assertEqual(self.vendor.sudo().signup_type, "signup")

    def test_a_new_token_type_is_still_written(self):
        """Verifies: S10

        The twin: only a write of the value the partner already has is skipped; another type
        (a password reset) is written, and so is the first."""
        before = self._row_version()
        self.vendor.sudo().signup_prepare()
        self.assertEqual(self.vendor.sudo().signup_type, "signup")
        first = self._row_version()
        self.assertNotEqual(first, before)
        self.vendor.sudo().signup_prepare(signup_type="reset")
        self.assertEqual(self.vendor.sudo().signup_type, "reset")
        self.assertNotEqual(self._row_version(), first)
