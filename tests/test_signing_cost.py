import logging

from odoo.exceptions import UserError
from odoo.tests import tagged

from .common import PASSWORD, EsignCase

_logger = logging.getLogger(__name__)


@tagged("post_install", "-at_install")
class TestBulkReleaseCost(EsignCase):
    """A bulk release does each kind of work once for all its lots, not once per lot.

    The guard counts SQL statements, not seconds: a statement per lot that creeps back in
    (a tracking message, a state refresh, a to-do read, a policy spec rebuilt for every lot)
    makes 500 lots cost 500 more round trips. The count of one release of 20 lots and one of
    5 are compared, so that what every release pays once (the password check, the audit
    append) does not hide what each lot adds.
    """

    #: What one more lot may add to a bulk release, in statements. The release of each lot
    #: runs in phases over all the lots (see ``esign.request._sign_records``); before that,
    #: a lot cost 13 statements.
    MAX_STATEMENTS_PER_LOT = 1

    def _lots(self, prefix, count):
        lots = (
            self.env["stock.lot"]
            .with_user(self.supervisor)
            .create(
                [{"name": f"{prefix}-{i:02d}", "product_id": self.device.id} for i in range(count)]
            )
        )
        # Made in an earlier transaction, as in use: their release is then a tracked change
        # (Odoo tracks no record created in the same transaction).
        self.env.cr.flush()
        return lots.with_env(self.env)

    def _release(self, lots, before_sign=None):
        """Open the wizard on ``lots``, then time its action_sign (as one HTTP request: an
        empty cache, and the pre-commit work flushed). Return the statements it took."""
        wizard_model = self.env["esign.sign.wizard"].with_user(self.ra)
        wizard = wizard_model.browse(wizard_model._action_open(lots.with_user(self.ra))["res_id"])
        wizard.write({"login": self.ra.login, "reason": "Batch records reviewed"})
        if before_sign:
            before_sign()
        self.env.cr.flush()
        self.env.invalidate_all()
        start = self.env.cr.sql_log_count
        wizard.action_sign(password=PASSWORD)
        self.env.cr.flush()  # the deferred writes and the pre-commit hooks (tracking)
        return self.env.cr.sql_log_count - start

    def test_bulk_release_statements_do_not_grow_per_lot(self):
        self._release(self._lots("COST-W", 2))  # warms the registry's caches, untimed
        few = self._lots("COST-A", 5)
        many = self._lots("COST-B", 20)
        todo_count = self.env["mail.activity"].search_count(
            [
                ("res_model", "=", "stock.lot"),
                ("res_id", "in", many.ids),
                ("user_id", "=", self.ra.id),
            ]
        )
        self.assertEqual(todo_count, 20)  # the release authority's to-do on every lot
        entries = self.env["esign.audit.entry"].sudo()
        lot_entries = [("res_model", "=", "stock.lot"), ("res_id", "in", (few | many).ids)]
        entries_before = entries.search_count(lot_entries)
        statements_few = self._release(few)
        statements_many = self._release(many)
        per_lot = (statements_many - statements_few) / (len(many) - len(few))
        _logger.info(
            "bulk release: %s statements for %s lots, %s for %s: %.2f per added lot",
            statements_few,
            len(few),
            statements_many,
            len(many),
            per_lot,
        )
        self.assertLessEqual(
            per_lot,
            self.MAX_STATEMENTS_PER_LOT,
            f"a bulk release costs {per_lot:.2f} statements per lot ({statements_few} for "
            f"{len(few)} lots, {statements_many} for {len(many)})",
        )
        # Batched, every lot still gets all of it.
        self.assertEqual(set(many.mapped("esign_release_state")), {"released"})
        requests = many.esign_request_ids
        self.assertEqual(set(requests.mapped("state")), {"completed"})
        self.assertFalse(requests.next_signer_ids)
        self.assertEqual(set(requests.line_ids.mapped("state")), {"done"})
        self.assertFalse(
            self.env["mail.activity"].search(
                [("res_model", "=", "stock.lot"), ("res_id", "in", (few | many).ids)]
            )
        )
        entries = entries.search(
            [
                ("res_model", "=", "stock.lot"),
                ("res_id", "in", many.ids),
                ("operation", "!=", "create"),
            ],
            order="seq",
        )
        # Each lot: its signature, then the release it caused.
        self.assertEqual(entries.search_count(lot_entries) - entries_before, 2 * len(few | many))
        for lot in many:
            signature = self.signatures(lot)
            self.assertEqual(len(signature), 1)
            self.assertEqual(signature.status, "valid")
            self.assertTrue(self.env["esign.signature"]._verify_chain("stock.lot", lot.id).ok)
            # The signature's entry, then the release it caused, next to each other.
            mine = entries.filtered(lambda e, lot=lot: e.res_id == lot.id)
            self.assertEqual(mine.mapped("operation"), ["sign", "write"])
            self.assertEqual(mine[1].seq, mine[0].seq + 1)
            self.assertIn(["esign_release_state", "quarantine", "released"], mine[1]._changes())
            self.assertIn(signature.manifestation, str(mine[0]._changes()))
            # One chatter entry per lot: the note with the release it caused.
            posted = lot.message_ids.filtered(lambda m: "Signed Released" in m.body)
            self.assertEqual(len(posted), 1)
            self.assertIn("Batch records reviewed", posted.body)
            self.assertEqual(posted.author_id, self.ra.partner_id)
            self.assertEqual(
                posted.sudo().tracking_value_ids.mapped("new_value_char"), ["Released"]
            )
            self.assertEqual(len(lot.message_ids.sudo().tracking_value_ids), 1)

    def test_bulk_release_with_a_changed_lot_signs_none(self):
        """The tamper twin: one lot of twenty changed after the wizard opened. Nothing is
        signed, no chatter entry nor audit entry is written, and every to-do stays."""
        lots = self._lots("COST-C", 20)
        entries_before = (
            self.env["esign.audit.entry"].sudo().search_count([("operation", "=", "sign")])
        )
        messages_before = len(lots.message_ids)
        todos = [("res_model", "=", "stock.lot"), ("res_id", "in", lots.ids)]
        todos_before = self.env["mail.activity"].search_count(todos)
        self.assertGreaterEqual(todos_before, 20)

        def change_last():
            lots[-1].sudo().write({"ref": "changed in between"})

        with self.assertRaises(UserError) as ctx:
            self._release(lots, before_sign=change_last)
        self.assertIn("changed while you were signing", str(ctx.exception))
        self.env.cr.flush()  # nothing left pending to log at commit either
        self.assertEqual(set(lots.mapped("esign_release_state")), {"quarantine"})
        self.assertFalse(
            self.env["esign.signature"].search(
                [("res_model", "=", "stock.lot"), ("res_id", "in", lots.ids)]
            )
        )
        self.assertEqual(
            self.env["esign.audit.entry"].sudo().search_count([("operation", "=", "sign")]),
            entries_before,
        )
        self.assertEqual(len(lots.message_ids), messages_before)
        self.assertEqual(set(lots.esign_request_ids.mapped("state")), {"waiting"})
        self.assertEqual(self.env["mail.activity"].search_count(todos), todos_before)
