"""Content hashes of version 2 (references by id), and signatures made under version 1."""

from unittest.mock import patch

from odoo import Command
from odoo.exceptions import UserError
from odoo.tests import tagged

from ..services import snapshot as snap
from .common import EsignCase
from .common_qms import QmsCase

V1 = snap.SNAPSHOT_V1
V2 = snap.SNAPSHOT_VERSION


def signing_as_before_version_2(model):
    """Sign the way the add-on did before version 2: new signatures hash under version 1.

    Only the version this code defaults to is changed; the hash, the signature and its
    checks are the real ones, so what is stored is what the previous release stored.
    """
    current = type(model)._esign_content_hash

    def content_hash_v1(self, trigger=None, version=V1):
        return current(self, trigger, version)

    def content_hashes_v1(self, trigger=None):  # the form a bulk signature asks for
        return {record.id: content_hash_v1(record, trigger) for record in self}

    return patch.multiple(
        type(model), _esign_content_hash=content_hash_v1, _esign_content_hashes=content_hashes_v1
    )


@tagged("post_install", "-at_install")
class TestLotSnapshotVersions(EsignCase):
    """Verifies: R11"""

    def test_new_signature_signs_the_product_by_id(self):
        self.sign(self.ra, self.lot)
        sig = self.signatures(self.lot)
        self.assertTrue(sig.content_hash.startswith("esign-snapshot/2:sha256:"))
        values = self.lot._esign_snapshot_values("lot_release", V2)
        self.assertEqual(values["product_id"], self.device.id)
        # Version 1 rules are still there, for the signatures made under them.
        self.assertEqual(
            self.lot._esign_snapshot_values("lot_release", V1)["product_id"],
            [self.device.id, "Test Pump"],
        )

    def test_renaming_the_product_keeps_the_release_valid(self):
        """A product renamed in its master data does not void the lots released under it."""
        self.sign(self.ra, self.lot)
        request = self.lot.esign_request_ids
        self.device.product_tmpl_id.name = "Test Pump (renamed)"
        sig = self.signatures(self.lot)
        sig.invalidate_recordset(["status"])
        self.assertEqual(sig.status, "valid")
        request._refresh_state()
        self.assertEqual(request.state, "completed")
        self.assertEqual(self.lot.esign_release_state, "released")

    def test_another_product_on_the_lot_voids_the_release(self):
        """Tamper twin: what the lot points to is signed, so pointing elsewhere voids it."""
        self.sign(self.ra, self.lot)
        other = self.env["product.product"].create(
            {"name": "Other Pump", "is_storable": True, "tracking": "lot"}
        )
        self.lot.with_context(esign_change_reason="Wrong product entered").product_id = other
        sig = self.signatures(self.lot)
        sig.invalidate_recordset(["status"])
        self.assertEqual(sig.status, "changed")
        self.assertNotEqual(self.lot.esign_request_ids.state, "completed")

    def test_version_1_signature_stays_valid_by_its_own_rules(self):
        """Verifies: S12"""
        with signing_as_before_version_2(self.lot):
            self.sign(self.ra, self.lot)
        sig = self.signatures(self.lot)
        request = self.lot.esign_request_ids
        self.assertTrue(sig.content_hash.startswith("esign-snapshot/1:sha256:"))
        self.assertEqual(sig.content_hash, self.lot._esign_content_hash("lot_release", V1))
        self.assertNotEqual(sig.content_hash, self.lot._esign_content_hash("lot_release"))
        # Checked under version 1, it covers the unchanged lot: still valid, still released.
        sig.invalidate_recordset(["status"])
        self.assertEqual(sig.status, "valid")
        request._refresh_state()
        self.assertEqual(request.state, "completed")
        self.assertTrue(self.env["esign.signature"]._verify_chain("stock.lot", self.lot.id).ok)
        # A change outside the signed fields leaves it alone.
        self.lot.note = "<p>Stored in cage 3</p>"
        self.assertEqual(request.state, "completed")
        # Its rules signed the product's name: renaming it shows, as it always did.
        self.device.product_tmpl_id.name = "Test Pump (renamed)"
        sig.invalidate_recordset(["status"])
        self.assertEqual(sig.status, "changed")

    def test_version_1_signature_voided_by_a_change_of_the_lot(self):
        """Tamper twin: a change of a signed field voids a version 1 signature too."""
        with signing_as_before_version_2(self.lot):
            self.sign(self.ra, self.lot)
        self.lot.with_context(esign_change_reason="Relabelled").ref = "OTHER-REF"
        sig = self.signatures(self.lot)
        sig.invalidate_recordset(["status"])
        self.assertEqual(sig.status, "changed")
        self.assertEqual(self.lot.esign_request_ids.state, "waiting")
        self.assertEqual(self.lot.esign_version, 2)

    def test_unknown_or_malformed_stored_hash_vouches_for_nothing(self):
        self.assertIsNone(self.lot._esign_live_hash("esign-snapshot/9:sha256:" + "0" * 64))
        self.assertIsNone(self.lot._esign_live_hash("sha256:" + "0" * 64))
        self.assertIsNone(self.lot._esign_live_hash(""))
        live = {}
        stored = self.lot._esign_content_hash("lot_release", V1)
        self.assertEqual(self.lot._esign_live_hash(stored, "lot_release", live), stored)
        self.assertEqual(live, {V1: stored})


@tagged("post_install", "-at_install")
class TestProductionComponents(EsignCase):
    """An MO's review signs which component lots it consumes (critical-material traceability).

    Verifies: R11, S7
    """

    def setUp(self):
        super().setUp()
        self.env["mrp.bom"].create(
            {
                "product_tmpl_id": self.simple_device.product_tmpl_id.id,
                "product_qty": 1.0,
                "bom_line_ids": [
                    Command.create({"product_id": self.component.id, "product_qty": 2.0})
                ],
            }
        )
        self.stock = self.env.ref("stock.stock_location_stock")
        # Only RES-A is in stock at first: it is the lot the MO reserves.
        self.component_lots = self._make_lot("RES-A", self.component) | self._make_lot(
            "RES-B", self.component
        )
        self.env["stock.quant"]._update_available_quantity(
            self.component, self.stock, 10.0, lot_id=self.component_lots[0]
        )

    def _signed_mo(self):
        mo = self._make_mo(qty=5.0)
        mo.action_assign()
        self.assertEqual(mo.move_raw_ids.move_line_ids.lot_id, self.component_lots[0])
        self.sign(self.qe, mo)
        self.sign(self.qa, mo)
        self.assertEqual(mo.esign_request_ids.state, "completed")
        return mo

    def test_component_lots_are_signed(self):
        mo = self._signed_mo()
        values = mo._esign_snapshot_values("mrp_done")
        self.assertEqual(
            values["components"],
            [
                {
                    "lot_id": self.component_lots[0].id,
                    "product_id": self.component.id,
                    "quantity": "10.00",
                }
            ],
        )
        # Reserved again, Odoo makes new move lines; the same lot and quantity sign alike.
        # Unreserving changes what the review signed, so it needs a reason; reserving the same
        # lot again restores the signed content.
        with self.assertRaises(UserError):
            mo.do_unreserve()
        mo.with_context(esign_change_reason="Reservation refreshed").do_unreserve()
        mo.with_context(esign_change_reason="Reservation refreshed").action_assign()
        sigs = self.signatures(mo)
        sigs.invalidate_recordset(["status"])
        self.assertEqual(set(sigs.mapped("status")), {"valid"})
        mo.move_raw_ids.picked = True  # the components are consumed as reserved
        mo.with_user(self.supervisor).button_mark_done()
        self.assertEqual(mo.state, "done")
        self.assertEqual(mo.move_raw_ids.move_line_ids.lot_id, self.component_lots[0])

    def test_another_component_lot_voids_the_review(self):
        """Tamper twin: consuming another lot than the one reviewed needs new signatures."""
        mo = self._signed_mo()
        self.env["stock.quant"]._update_available_quantity(
            self.component, self.stock, 10.0, lot_id=self.component_lots[1]
        )
        move_lines = mo.move_raw_ids.move_line_ids
        with self.assertRaises(UserError):  # no reason
            move_lines.write({"lot_id": self.component_lots[1].id})
        self.assertEqual(move_lines.lot_id, self.component_lots[0])
        move_lines.with_context(
            esign_change_reason="Lot RES-A used up"
        ).lot_id = self.component_lots[1]
        sigs = self.signatures(mo)
        sigs.invalidate_recordset(["status"])
        self.assertEqual(set(sigs.mapped("status")), {"changed"})
        self.refused(mo.with_user(self.supervisor).button_mark_done)
        self.assertNotEqual(mo.state, "done")


@tagged("post_install", "-at_install")
class TestPurchaseOrderSnapshot(QmsCase):
    """Verifies: R11"""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["esign.policy"].search([("model", "=", "purchase.order")]).active = False
        cls.policy_po = cls._policy(
            "purchase.order",
            "po_confirm",
            [("QA purchase approval", 10, "approved", cls.qa)],
            prerequisite="[('state', 'in', ('draft', 'sent'))]",
        )

    def _order_with_section_and_note(self):
        order = self.make_order(product=self.plain, qty=3.0, price=2.5)
        order.write(
            {
                "order_line": [
                    Command.create(
                        {"display_type": "line_section", "name": "Sterile parts", "product_qty": 0}
                    ),
                    Command.create(
                        {"display_type": "line_note", "name": "Ship in one box", "product_qty": 0}
                    ),
                ]
            }
        )
        return order

    def test_order_with_section_and_note_lines_signs(self):
        order = self._order_with_section_and_note()
        self.sign(self.qa, order)
        sig = self.signatures(order)
        self.assertTrue(sig.content_hash.startswith("esign-snapshot/2:sha256:"))
        self.assertEqual(sig.status, "valid")
        lines = order._esign_snapshot_values("po_confirm", V2)["lines"]
        self.assertEqual([line["id"] for line in lines], sorted(order.order_line.ids))
        product_line = order.order_line.filtered("product_id")
        self.assertIn(
            {
                "id": product_line.id,
                "name": product_line.name,
                "product_id": self.plain.id,
                "product_qty": "3.00",
                "price_unit": "2.50",
            },
            lines,
        )
        self.assertIn("Ship in one box", [line["name"] for line in lines])
        # The supplier's product renamed in master data: the approval still stands.
        self.plain.product_tmpl_id.name = "T Cable Tie, black"
        sig.invalidate_recordset(["status"])
        self.assertEqual(sig.status, "valid")
        order.button_confirm()
        self.assertEqual(order.state, "purchase")

    def test_changed_quantity_or_description_voids_the_approval(self):
        """Tamper twins: a line's quantity, price or description is signed."""
        for change in ({"product_qty": 4.0}, {"price_unit": 2.6}, {"name": "Other text"}):
            with self.subTest(change=change):
                order = self._order_with_section_and_note()
                self.sign(self.qa, order)
                line = order.order_line.filtered("product_id")
                order.with_context(esign_change_reason="Supplier quote revised").write(
                    {"order_line": [Command.update(line.id, change)]}
                )
                sig = self.signatures(order)
                sig.invalidate_recordset(["status"])
                self.assertEqual(sig.status, "changed")
                self.assertNotEqual(order.esign_request_ids.state, "completed")
                self.refused(order.button_confirm)
                self.assertEqual(order.state, "draft")

    def test_version_1_approval_of_an_order_later_given_a_note_line(self):
        """An order approved under version 1, then changed: voided, and checked without error."""
        order = self.make_order(product=self.plain, qty=3.0, price=2.5)
        with signing_as_before_version_2(order):
            self.sign(self.qa, order)
        sig = self.signatures(order)
        self.assertTrue(sig.content_hash.startswith("esign-snapshot/1:sha256:"))
        self.assertEqual(sig.status, "valid")
        order.with_context(esign_change_reason="Packing instruction added").write(
            {
                "order_line": [
                    Command.create(
                        {"display_type": "line_note", "name": "Ship in one box", "product_qty": 0}
                    )
                ]
            }
        )
        sig.invalidate_recordset(["status"])
        self.assertEqual(sig.status, "changed")
        self.assertNotEqual(order.esign_request_ids.state, "completed")
        self.refused(order.button_confirm)
