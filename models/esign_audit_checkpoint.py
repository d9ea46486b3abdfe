import base64
import logging

from odoo import api, fields, models
from odoo.exceptions import UserError

from ..services import pki

# The audit trail logs under one name, whichever of its files speaks (log filters rely on it).
_logger = logging.getLogger("odoo.addons.meddev_esign.models.esign_audit")


class EsignAuditCheckpoint(models.Model):
    """A chain head kept aside: every N entries, daily, and on demand (R27)."""

    _name = "esign.audit.checkpoint"
    _description = "Audit Trail Checkpoint"
    _inherit = ["esign.append.only"]
    _append_only_rules = ("fill_once:timestamp_token",)
    _append_only_fill_once = frozenset({"timestamp_token"})
    _order = "chain_id, seq desc"
    _rec_name = "seq"

    chain_id = fields.Many2one("esign.audit.chain", required=True, index=True, readonly=True)
    seq = fields.Integer(string="Entry No.", required=True, readonly=True)
    entry_hash = fields.Char(string="Head Hash", required=True, readonly=True)
    at = fields.Datetime(string="Taken At", required=True, readonly=True)
    trigger = fields.Selection(
        [
            ("interval", "Every N Entries"),
            ("daily", "Daily"),
            ("manual", "On Demand"),
            ("export", "Export"),
            ("review", "Trail Review"),
        ],
        required=True,
        readonly=True,
    )
    timestamp_token = fields.Binary(
        attachment=False,
        readonly=True,
        help="RFC 3161 timestamp token over the head hash, once a timestamp authority is "
        "configured. It can be filled once; nothing else of a checkpoint can change.",
    )
    timestamp_status = fields.Selection(
        [("none", "No Timestamp Authority"), ("stamped", "Timestamped")],
        compute="_compute_timestamp_status",
    )

    _sql_constraints = [
        ("chain_seq_unique", "unique(chain_id, seq)", "One checkpoint per chain entry."),
    ]

    @api.depends("timestamp_token")
    def _compute_timestamp_status(self):
        for checkpoint in self:
            checkpoint.timestamp_status = "stamped" if checkpoint.timestamp_token else "none"

    @api.model
    def _store(self, chain_id, seq, entry_hash, trigger):
        checkpoint = self.sudo().create(
            {
                "chain_id": chain_id,
                "seq": seq,
                "entry_hash": entry_hash,
                "at": fields.Datetime.now(),
                "trigger": trigger,
            }
        )
        if trigger != "interval":  # never a network call inside somebody's write
            checkpoint._request_timestamp()
        return checkpoint

    def _request_timestamp(self):
        """An RFC 3161 token over ``entry_hash``, stored once (R27), when the chain's company
        signs with PKI and has timestamp authorities. A TSA that does not answer leaves the
        checkpoint unstamped; the daily cron tries again. Returns the stamped checkpoints.
        """
        stamped = self.browse()
        for checkpoint in self.filtered(lambda c: not c.timestamp_token):
            company = checkpoint.chain_id.company_id
            urls = company._esign_tsa_url_list() if company.esign_pki_enabled else []
            if not urls:
                continue
            try:
                stamp = pki.timestamp_imprint(
                    bytes.fromhex(checkpoint.entry_hash),
                    urls,
                    timeout=company.esign_tsa_timeout or 5.0,
                )
            except pki.TimestampUnavailableError as exc:
                _logger.warning("Checkpoint %s left unstamped: %s", checkpoint.id, exc)
                continue
            checkpoint._set_timestamp_token(base64.b64encode(stamp.token))
            stamped |= checkpoint
        return stamped

    def _set_timestamp_token(self, token):
        """Store a timestamp token once; the database refuses any other change."""
        self.ensure_one()
        if self.timestamp_token:
            raise UserError(self.env._("This checkpoint already carries a timestamp."))
        self.sudo().write({"timestamp_token": token})
