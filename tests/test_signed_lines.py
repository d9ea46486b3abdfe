"""Signed child rows stay signed on every write path, and every record that needs signatures
has its open request from the moment it needs them.

Verifies: R9, R11, R15.
"""

from odoo import Command
from odoo.exceptions import AccessError, UserError
from odoo.tests import HttpCase, new_test_user, tagged

from .common import JsonRpcMixin
from .common_qms import QmsCase

RPC_PASSWORD = "Rpc-Line-Pass-42"


def _audit_entries(env, record):
    return env["esign.audit.entry"].search(
        [
            ("res_model", "=", record._name),
            ("res_id", "=", record.id),
            ("operation", "=", "write"),
        ],
        order="id",
    )


@tagged("post_install", "-at_install")
class TestSignedOrderLines(QmsCase):
    """A signed purchase order's lines, written through the order or straight over RPC."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.buyer = cls.outsider
        cls.buyer.sudo().groups_id += cls.env.ref("purchase.group_purchase_user")
        cls.policy_po = cls._policy(
            "purchase.order",
            "po_confirm",
            [("QA purchase approval", 10, "approved", cls.qa)],
            prerequisite="[('state', 'in', ('draft', 'sent'))]",
        )

    def _signed_order(self):
        order = self.make_order(product=self.plain, qty=10.0, price=420.0)
        order.order_line.invalidate_recordset()
        self.sign(self.qa, order)
        self.assertEqual(order.esign_request_ids.state, "completed")
        self.assertEqual(order.esign_state, "completed")
        return order

    def _status(self, order):
        sigs = self.signatures(order)
        sigs.invalidate_recordset(["status"])
        return set(sigs.mapped("status"))

    def test_direct_line_write_needs_a_reason(self):
        """Tamper twin of the direct write: over RPC, on the line model, with no reason."""
        order = self._signed_order()
        line = order.order_line
        entries = len(_audit_entries(self.env, order))
        with self.assertRaises(UserError) as caught:
            line.with_user(self.buyer).write({"price_unit": 1260.0})
        self.assertIn("reason for change", str(caught.exception))
        line.invalidate_recordset()
        self.assertEqual(line.price_unit, 420.0)
        self.assertEqual(order.esign_request_ids.state, "completed")
        self.assertEqual(self._status(order), {"valid"})
        self.assertEqual(len(_audit_entries(self.env, order)), entries)

    def test_direct_line_write_with_reason_voids_and_is_audited(self):
        order = self._signed_order()
        line = order.order_line
        line.with_user(self.buyer).with_context(
            esign_change_reason="Supplier quote revised"
        ).write({"price_unit": 1260.0})
        self.assertEqual(self._status(order), {"changed"})
        order.invalidate_recordset()
        self.assertNotEqual(order.esign_request_ids.state, "completed")
        self.assertNotEqual(order.esign_state, "completed")
        self.assertEqual(order.esign_version, 2)
        entry = _audit_entries(self.env, order)[-1]
        changes = {name: (old, new) for name, old, new in entry._changes()}
        self.assertEqual(changes[f"lines[{line.id}].price_unit"], ("420.00", "1260.00"))
        self.assertIn("amount_total", changes)
        self.assertEqual(entry.reason, "Supplier quote revised")
        # The trail's reader sees the row and the column by name, the totals by their label.
        self.assertIn(f"Order Lines #{line.id}: Unit Price", entry.changes_html)
        self.assertNotIn(f"lines[{line.id}]", entry.changes_html)
        self.assertIn(order._fields["amount_total"].string, entry.changes_html)
        self.refused(order.button_confirm)
        self.assertEqual(order.state, "draft")

    def test_direct_line_create_and_unlink_need_a_reason(self):
        order = self._signed_order()
        new_line = {
            "order_id": order.id,
            "product_id": self.plain.id,
            "product_qty": 1.0,
            "price_unit": 3.0,
        }
        with self.assertRaises(UserError):
            self.env["purchase.order.line"].with_user(self.buyer).create(new_line)
        with self.assertRaises(UserError):
            order.order_line.with_user(self.buyer).unlink()
        self.assertEqual(len(order.order_line), 1)
        self.assertEqual(self._status(order), {"valid"})
        # With a reason, both go through, and each voids the approval.
        created = (
            self.env["purchase.order.line"]
            .with_user(self.buyer)
            .with_context(esign_change_reason="Spare part added")
            .create(new_line)
        )
        self.assertEqual(self._status(order), {"changed"})
        entry = _audit_entries(self.env, order)[-1]
        names = [change[0] for change in entry._changes()]
        self.assertIn(f"lines[{created.id}].price_unit", names)
        self.assertEqual(entry.reason, "Spare part added")
        created.with_context(esign_change_reason="Spare part dropped again").unlink()
        entry = _audit_entries(self.env, order)[-1]
        self.assertEqual(entry.reason, "Spare part dropped again")
        # The content is what was signed again: the approval counts again.
        self.assertEqual(self._status(order), {"valid"})

    def test_line_changed_through_the_order_is_audited_with_its_values(self):
        order = self._signed_order()
        line = order.order_line
        order.write(
            {
                "esign_change_reason": "Quantity per supplier confirmation",
                "order_line": [Command.update(line.id, {"product_qty": 12.0})],
            }
        )
        self.assertEqual(self._status(order), {"changed"})
        changes = [
            change for entry in _audit_entries(self.env, order) for change in entry._changes()
        ]
        self.assertIn([f"lines[{line.id}].product_qty", "10.00", "12.00"], changes)
        entry = _audit_entries(self.env, order).filtered(
            lambda e: any(c[0] == f"lines[{line.id}].product_qty" for c in e._changes())
        )
        self.assertEqual(entry.reason, "Quantity per supplier confirmation")

    def test_through_the_order_without_reason_refused(self):
        order = self._signed_order()
        with self.assertRaises(UserError):
            order.write({"order_line": [Command.update(order.order_line.id, {"price_unit": 1.0})]})
        self.assertEqual(self._status(order), {"valid"})

    def test_unsigned_order_lines_change_freely_and_are_audited(self):
        """No signature counts yet: no reason needed, but the trail keeps the old value."""
        order = self.make_order(product=self.plain, qty=10.0, price=420.0)
        self.assertEqual(order.esign_request_ids.state, "waiting")
        order.order_line.with_user(self.buyer).write({"price_unit": 400.0})
        changes = [c for e in _audit_entries(self.env, order) for c in e._changes()]
        self.assertIn([f"lines[{order.order_line.id}].price_unit", "420.00", "400.00"], changes)

    def test_lines_of_another_kind_of_record_are_not_guarded(self):
        """Twin: a sale-side or picking row is not a signed row; writes pass untouched."""
        partner = self.env["res.partner"].create({"name": "T Unrelated"})
        partner.write({"name": "T Unrelated 2"})  # no signed lines: the fast path
        self.assertFalse(self.env["res.partner"]._esign_line_watches())
        self.assertTrue(self.env["purchase.order.line"]._esign_line_watches())


@tagged("post_install", "-at_install")
class TestRequestsFromTheStart(QmsCase):
    """The request is open when the record reaches its signing state, not at a signature."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.policy_po = cls._policy(
            "purchase.order",
            "po_confirm",
            [("Purchase approval", 10, "approved", cls.qa)],
            prerequisite="[('state', 'in', ('draft', 'sent'))]",
        )
        cls.policy_po.domain = "[('amount_total', '>', 1000)]"

    def test_quarantined_lot_has_its_request_and_can_be_rejected(self):
        lot = self._make_lot("T-REJECT-1")
        self.assertEqual(lot.esign_release_state, "quarantine")
        request = lot.esign_request_ids
        self.assertEqual(request.state, "waiting")
        self.assertIn(self.ra, request.next_signer_ids)
        self.assertTrue(lot.with_user(self.ra).esign_can_reject)
        self.assertIn(
            self.ra.id, lot.activity_ids.user_id.ids, "the release authority has a to-do"
        )
        self.reject(self.ra, lot, "Bioburden out of specification")
        self.assertEqual(lot.esign_release_state, "rejected")
        self.assertEqual(request.state, "rejected")
        self.assertFalse(lot.activity_ids.filtered(lambda a: a.user_id == self.ra))
        # Back to quarantine: a new request opens for a new release decision.
        lot.with_user(self.ra).action_esign_return_to_quarantine()
        self.assertEqual(lot.esign_release_state, "quarantine")
        self.assertEqual(
            lot.esign_request_ids.filtered(lambda r: r.state == "waiting").policy_id,
            request.policy_id,
        )

    def test_reject_button_on_another_companys_lot_refused(self):
        """Bad input over RPC: a lot id of a company the user does not work in."""
        other = self.env["res.company"].create({"name": "T Other Maker"})
        foreign = self.env["stock.lot"].create(
            {"name": "T-FOREIGN-1", "product_id": self.device.id, "company_id": other.id}
        )
        for action in ("action_esign_reject", "action_esign_sign"):
            with self.assertRaises(AccessError):
                getattr(foreign.with_user(self.ra), action)()
        self.assertFalse(
            self.env["esign.reject.wizard"].search([("res_id", "=", foreign.id)]),
            "no wizard opened on it",
        )

    def test_lot_rejection_by_someone_not_named_refused(self):
        """Twin: a signer who is not a release authority may not reject the release."""
        lot = self._make_lot("T-REJECT-2")
        with self.assertRaises(UserError):
            self.reject(self.qe, lot, "Not mine to reject")
        self.assertEqual(lot.esign_release_state, "quarantine")
        self.assertEqual(lot.esign_request_ids.state, "waiting")

    def test_single_step_purchase_approval_can_be_rejected(self):
        order = self.make_order(product=self.plain, qty=10.0, price=420.0)
        request = order.esign_request_ids
        self.assertEqual(request.state, "waiting")
        self.assertTrue(order.with_user(self.qa).esign_can_reject)
        self.reject(self.qa, order, "Price above the framework agreement")
        self.assertEqual(request.state, "rejected")
        self.assertEqual(request.reject_reason, "Price above the framework agreement")
        # The buyer's next change opens a new request.
        order.order_line.price_unit = 410.0
        self.assertEqual(
            order.esign_request_ids.filtered(lambda r: r.state == "waiting").policy_id,
            self.policy_po,
        )

    def test_order_below_the_threshold_has_no_request_and_a_stale_one_is_cancelled(self):
        order = self.make_order(product=self.plain, qty=1.0, price=5.0)
        self.assertFalse(order.esign_request_ids)
        order.order_line.product_qty = 1000.0  # 5,000 now: the policy gates it
        request = order.esign_request_ids
        self.assertEqual(request.state, "waiting")
        self.assertTrue(order.activity_ids.filtered(lambda a: a.user_id == self.qa))
        order.order_line.product_qty = 1.0  # back under the threshold
        self.assertEqual(request.state, "cancelled")
        self.assertFalse(order.activity_ids.filtered(lambda a: a.user_id == self.qa))
        order.button_confirm()
        self.assertEqual(order.state, "purchase")

    def test_first_reviewer_of_an_mo_is_told(self):
        mo = self._make_mo()
        request = mo.esign_request_ids
        self.assertEqual(request.state, "waiting")
        self.assertEqual(set(request.next_signer_ids.ids), {self.qe.id, self.qa.id})
        waiting_for_me = (
            self.env["esign.request"]
            .with_user(self.qe)
            .search(
                [
                    ("next_signer_ids", "in", self.qe.id),
                    ("state", "in", ("waiting", "in_progress")),
                ]
            )
        )
        self.assertIn(request, waiting_for_me)
        self.assertTrue(mo.activity_ids.filtered(lambda a: a.user_id == self.qe))

    def test_mo_without_quantity_produced_has_no_request_yet(self):
        """Twin: before its prerequisites hold, nobody is asked to sign."""
        mo = (
            self.env["mrp.production"]
            .with_user(self.supervisor)
            .create({"product_id": self.simple_device.id, "product_qty": 2.0})
        )
        mo.action_confirm()
        self.assertFalse(mo.esign_request_ids)
        self.assertEqual(mo.esign_state, "waiting")


@tagged("post_install", "-at_install")
class TestSignedLinesOverJsonRpc(JsonRpcMixin, HttpCase):
    """The hole as it was found: the line written straight over ``/web/dataset/call_kw``."""

    def test_line_price_over_json_rpc(self):
        env = self.env
        new_test_user(
            env, login="rpc_buyer", password=RPC_PASSWORD, groups="purchase.group_purchase_user"
        )
        approver = new_test_user(
            env,
            login="rpc_approver",
            password=RPC_PASSWORD,
            groups="meddev_esign.group_esign_signer,purchase.group_purchase_user",
        )
        env["esign.policy"].search([("model", "=", "purchase.order")]).active = False
        env["esign.policy"].create(
            {
                "name": "RPC purchase approval",
                "model_id": env["ir.model"]._get_id("purchase.order"),
                "trigger": "po_confirm",
                "step_ids": [
                    Command.create(
                        {
                            "name": "Approval",
                            "meaning_id": env.ref("meddev_esign.meaning_approved").id,
                            "signer_type": "users",
                            "mode": "all",
                            "user_ids": [Command.set(approver.ids)],
                        }
                    )
                ],
            }
        )
        product = env["product.product"].create({"name": "RPC Sensor"})
        vendor = env["res.partner"].create({"name": "RPC Vendor"})
        order = env["purchase.order"].create(
            {
                "partner_id": vendor.id,
                "order_line": [
                    Command.create({"product_id": product.id, "product_qty": 1, "price_unit": 420})
                ],
            }
        )
        wizards = env["esign.sign.wizard"].with_user(approver)
        wizard = wizards.browse(wizards._action_open(order.with_user(approver))["res_id"])
        wizard.login = approver.login
        wizard.action_sign(password=RPC_PASSWORD)
        self.assertEqual(order.esign_state, "completed")
        line = order.order_line
        entries = env["esign.audit.entry"].search_count([("res_model", "=", "purchase.order")])

        self.authenticate("rpc_buyer", RPC_PASSWORD)
        with self.assertNoLogs("odoo", level="ERROR"):
            answer = self._call("purchase.order.line", "write", [[line.id], {"price_unit": 1260}])
        self.assertEqual(answer[:2], ("error", "odoo.exceptions.UserError"))
        self.assertIn("reason for change", answer[2])
        line.invalidate_recordset()
        order.invalidate_recordset()
        self.assertEqual(line.price_unit, 420)
        self.assertEqual(order.esign_state, "completed")
        self.assertEqual(
            env["esign.audit.entry"].search_count([("res_model", "=", "purchase.order")]), entries
        )

        answer = self._call(
            "purchase.order.line",
            "write",
            [[line.id], {"price_unit": 1260}],
            {"context": {"esign_change_reason": "Supplier's revised quote"}},
        )
        self.assertEqual(answer, ("result", True))
        env.invalidate_all()
        self.assertEqual(line.price_unit, 1260)
        self.assertNotEqual(order.esign_state, "completed")
        entry = env["esign.audit.entry"].search(
            [("res_model", "=", "purchase.order"), ("res_id", "=", order.id)],
            order="id desc",
            limit=1,
        )
        self.assertEqual(entry.reason, "Supplier's revised quote")
        self.assertIn([f"lines[{line.id}].price_unit", "420.00", "1260.00"], entry._changes())
