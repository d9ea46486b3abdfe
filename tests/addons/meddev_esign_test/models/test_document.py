from odoo import fields, models

from odoo.addons.meddev_esign.services import snapshot as snap


class TestDocument(models.Model):
    """A signable document with lines and nothing else: the mixin's hooks, on their own."""

    _name = "meddev.esign.test.document"
    _description = "E-Signature Test Document"
    _inherit = ["esign.signable.mixin", "mail.thread"]
    _esign_signed_fields = ["name", "amount"]
    _esign_signed_lines = {"lines": snap.SignedLines(path="line_ids", fields=("name", "qty"))}
    _esign_triggers = {"test_confirm": "Test Document: Confirm"}
    _esign_author_fields = ["create_uid", "owner_id"]
    _esign_reject_states = {"test_confirm": "draft"}

    name = fields.Char(required=True)
    amount = fields.Float()
    note = fields.Char(help="Not signed: changes freely.")
    owner_id = fields.Many2one("res.users")
    state = fields.Selection(
        [("draft", "Draft"), ("submitted", "Submitted"), ("confirmed", "Confirmed")],
        default="draft",
    )
    line_ids = fields.One2many("meddev.esign.test.line", "document_id")

    def action_double(self):
        """A button that changes signed lines, as Unreserve does on an MO."""
        for line in self.line_ids:
            line.qty *= 2
        return True

    def action_confirm(self):
        self._esign_check_gate("test_confirm")
        self.write({"state": "confirmed"})
        return True


class TestLine(models.Model):
    _name = "meddev.esign.test.line"
    _description = "E-Signature Test Line"

    document_id = fields.Many2one("meddev.esign.test.document", required=True, ondelete="cascade")
    name = fields.Char()
    qty = fields.Float(digits=(16, 2))
    comment = fields.Char(help="Not signed: changes freely.")
