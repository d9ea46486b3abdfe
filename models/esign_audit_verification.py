from odoo import api, fields, models


class EsignAuditVerification(models.Model):
    """One run of the verifier over a chain: the verdict an inspector can print."""

    _name = "esign.audit.verification"
    _description = "Audit Trail Verification"
    _inherit = ["esign.append.only"]
    _order = "id desc"
    _rec_name = "display_label"

    chain_id = fields.Many2one("esign.audit.chain", required=True, index=True, readonly=True)
    # The chain's company, written with the row: a stored related field would be filled by a
    # second UPDATE, which the append-only trigger refuses.
    company_id = fields.Many2one("res.company", readonly=True, index=True)
    trigger = fields.Selection(
        [("manual", "Button"), ("cron", "Daily Check"), ("review", "Trail Review")],
        required=True,
        readonly=True,
    )
    verdict = fields.Selection(
        [("intact", "Intact"), ("broken", "Broken")], required=True, readonly=True
    )
    checked = fields.Integer(string="Entries Checked", readonly=True)
    head_seq = fields.Integer(string="Head Entry", readonly=True)
    head_hash = fields.Char(readonly=True)
    break_seq = fields.Integer(string="Break At Entry", readonly=True)
    break_kind = fields.Selection(
        [
            ("altered", "Altered"),
            ("missing", "Missing"),
            ("inserted", "Inserted"),
            ("reordered", "Reordered"),
        ],
        readonly=True,
    )
    message = fields.Text(readonly=True)
    hashes_recomputed = fields.Boolean(
        readonly=True,
        help="Set when every entry hash was recomputed from its link and payload (the daily "
        "verification). Otherwise each hash was compared with the one the database computed "
        "when the entry was written, which is as strong unless a database superuser replaced "
        "the hashing function for a while; the daily recomputation catches that too.",
    )
    duration = fields.Float(string="Duration (s)", readonly=True, digits=(16, 3))
    display_label = fields.Char(compute="_compute_display_label")

    @api.depends("verdict", "create_date", "chain_id")
    def _compute_display_label(self):
        labels = dict(self._fields["verdict"]._description_selection(self.env))
        for rec in self:
            rec.display_label = f"{rec.chain_id.name}: {labels.get(rec.verdict, '')}"

    def _action_open(self):
        """The verdict in a dialog titled with what it is and what it found, not "Odoo"."""
        self.ensure_one()
        verdict = dict(self._fields["verdict"]._description_selection(self.env)).get(
            self.verdict, ""
        )
        return {
            "type": "ir.actions.act_window",
            "name": self.env._(
                "Audit Trail Verification: %(chain)s — %(verdict)s",
                chain=self.chain_id.name,
                verdict=verdict,
            ),
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
            "target": "new",
        }

    def action_print(self):
        return self.env.ref("meddev_esign.action_report_audit_integrity").report_action(self)

    def _checkpoints(self):
        """The chain's latest checkpoints, for the printed report."""
        self.ensure_one()
        return self.chain_id.checkpoint_ids.sorted("seq", reverse=True)[:10]
