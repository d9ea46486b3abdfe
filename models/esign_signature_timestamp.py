import hashlib

from odoo import api, fields, models

from . import esign_keystore as keystore
from .esign_signature import utc_text


class EsignSignatureTimestamp(models.Model):
    """A timestamp token obtained after its signature (degraded mode, R23). Append-only."""

    _name = "esign.signature.timestamp"
    _description = "Late Signature Timestamp"
    _inherit = ["esign.append.only"]
    _order = "id desc"

    signature_id = fields.Many2one(
        "esign.signature", required=True, index=True, ondelete="restrict", readonly=True
    )
    token = fields.Binary(
        attachment=False,
        required=True,
        readonly=True,
        help="RFC 3161 token over the CMS signature value.",
    )
    token_sha256 = fields.Char(compute="_compute_token_sha256", string="Token SHA-256")
    gen_time = fields.Datetime(string="TSA Time", required=True, readonly=True)
    gen_time_utc = fields.Char(string="TSA Time (UTC)", compute="_compute_gen_time_utc")
    tsa_url = fields.Char(string="Timestamp Authority", readonly=True)
    delay_seconds = fields.Integer(
        string="Delay (s)", readonly=True, help="TSA time minus signing time."
    )
    drift_seconds = fields.Float(
        string="Clock Drift (s)", readonly=True, help="TSA time minus server time."
    )

    _sql_constraints = [
        ("one_per_signature", "unique(signature_id)", "A signature gets one late timestamp."),
    ]

    @api.depends("gen_time")
    def _compute_gen_time_utc(self):
        for stamp in self:
            stamp.gen_time_utc = utc_text(stamp.gen_time)

    @api.depends("token")
    def _compute_token_sha256(self):
        for stamp in self:
            raw = keystore.raw(stamp.token)
            stamp.token_sha256 = hashlib.sha256(raw).hexdigest() if raw else False
