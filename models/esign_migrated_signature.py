"""Wet-ink signatures brought in from paper records, with their scans (S11).

A migrated signature is history, not an electronic signature: it shows as "migrated, paper
original" beside the record, it never counts toward a signing request, and it is never
offered to the e-signature checks. What it keeps is the evidence of the paper: who signed, on
which day, with which meaning, and the scan of the page, whose SHA-256 is stored with the row
and chained in the audit trail at import. The traceability check compares every scan with
that hash and names any mismatch.

Rows are append-only (the add-on's one append-only mechanism); the scans are attachments.
"""

import hashlib

from odoo import api, fields, models

SCAN_STATES = [
    ("ok", "Matches its hash"),
    ("mismatch", "Differs from its hash"),
    ("missing", "Scan missing"),
]


class EsignMigratedSignature(models.Model):
    """One wet-ink signature of a paper record, migrated with its scan."""

    _name = "esign.migrated.signature"
    _description = "Migrated Paper Signature"
    _inherit = ["esign.append.only"]
    _order = "signed_on desc, id desc"
    _rec_name = "record_name"

    res_model = fields.Char(string="Document Model", required=True, readonly=True, index=True)
    res_id = fields.Many2oneReference(
        string="Document ID", model_field="res_model", required=True, readonly=True, index=True
    )
    record_name = fields.Char(string="Document", required=True, readonly=True)
    company_id = fields.Many2one("res.company", readonly=True, index=True)
    signer_name = fields.Char(
        string="Signed By (on paper)",
        required=True,
        readonly=True,
        help="The name written under the wet-ink signature, as the import file gave it.",
    )
    signed_on = fields.Date(
        string="Signed On (on paper)",
        required=True,
        readonly=True,
        help="The date written beside the signature.",
    )
    meaning_id = fields.Many2one(
        "esign.meaning", string="Meaning", required=True, readonly=True, ondelete="restrict"
    )
    scan = fields.Binary(
        string="Scan", readonly=True, attachment=True, help="The scanned page (PDF)."
    )
    scan_name = fields.Char(string="Scan File", readonly=True)
    scan_sha256 = fields.Char(
        string="Scan SHA-256",
        required=True,
        readonly=True,
        help="SHA-256 of the scan at import; the same value is chained in the audit trail.",
    )
    import_reference = fields.Char(
        readonly=True, index=True, help="The import file and time this row came from."
    )
    origin_label = fields.Char(
        string="Origin",
        compute="_compute_origin_label",
        help="Always 'Migrated, paper original': never an electronic signature.",
    )
    scan_state = fields.Selection(
        SCAN_STATES,
        string="Scan Check",
        compute="_compute_scan_state",
        help="The scan as stored now, compared with the SHA-256 recorded at import.",
    )

    _sql_constraints = [
        (
            "one_per_paper_signature",
            "unique(res_model, res_id, signer_name, signed_on, meaning_id)",
            "This paper signature was migrated before.",
        ),
    ]

    def _compute_origin_label(self):
        for row in self:
            row.origin_label = self.env._("Migrated, paper original")

    @api.depends("scan", "scan_sha256")
    def _compute_scan_state(self):
        # The scan as stored now (database or filestore), read once per batch.
        attachments = (
            self.env["ir.attachment"]
            .sudo()
            .search(
                [
                    ("res_model", "=", self._name),
                    ("res_field", "=", "scan"),
                    ("res_id", "in", self.ids),
                ]
            )
        )
        raw_by_id = {att.res_id: att.raw for att in attachments}
        for row in self:
            raw = raw_by_id.get(row.id)
            if not raw:
                row.scan_state = "missing"
            elif hashlib.sha256(raw).hexdigest() == row.scan_sha256:
                row.scan_state = "ok"
            else:
                row.scan_state = "mismatch"

    def action_open_record(self):
        """Open the document this paper signature belongs to."""
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": self.res_model,
            "res_id": self.res_id,
            "view_mode": "form",
        }
