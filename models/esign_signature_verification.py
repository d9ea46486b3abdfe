from odoo import fields, models


class EsignSignatureVerification(models.Model):
    """The result of one verification of a signature's CAdES evidence. Append-only."""

    _name = "esign.signature.verification"
    _description = "Signature Verification"
    _inherit = ["esign.append.only"]
    _order = "id desc"
    _rec_name = "verdict"

    signature_id = fields.Many2one(
        "esign.signature", required=True, index=True, ondelete="restrict", readonly=True
    )
    verdict = fields.Selection(
        [("valid", "Valid"), ("invalid", "Invalid"), ("indeterminate", "Indeterminate")],
        required=True,
        readonly=True,
        help="Valid: signature, certificate chain, revocation at the timestamp and the "
        "timestamp all check out. Invalid: something was proven wrong. Indeterminate: "
        "nothing is wrong but evidence is missing (no timestamp yet, no fresh CRL).",
    )
    problem_codes = fields.Char(readonly=True)
    problems = fields.Text(readonly=True)
    notes = fields.Text(readonly=True)
    signer_subject = fields.Char(readonly=True)
    signer_fingerprint = fields.Char(readonly=True)
    timestamp_time = fields.Datetime(string="Signed At (TSA, UTC)", readonly=True)
    tsa_subject = fields.Char(string="TSA", readonly=True)
    crl_number = fields.Integer(string="CRL Number", readonly=True)
