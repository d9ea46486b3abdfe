from odoo import api, fields, models
from odoo.exceptions import UserError

from ..services import chain

# What each signature's chain hash covers: record, content, signer, meaning, time, policy.
CHAIN_FIELDS = (
    "res_model",
    "res_id",
    "record_version",
    "content_hash",
    "user_id",
    "login",
    "printed_name",
    "meaning_code",
    "reason",
    "signed_at",
    "signer_tz",
    "auth_method",
    "policy_id",
    "policy_version",
    "step_name",
    "request_id",
)
MANY2ONE_CHAIN_FIELDS = ("user_id", "policy_id", "request_id")

# Only the maintenance superuser of the cluster may touch a signature row. Installed by init().
IMMUTABLE_TRIGGER_SQL = """
CREATE OR REPLACE FUNCTION esign_signature_immutable() RETURNS trigger AS $$
BEGIN
    IF (SELECT rolsuper FROM pg_roles WHERE rolname = session_user) THEN
        RETURN COALESCE(NEW, OLD);
    END IF;
    RAISE EXCEPTION 'esign_signature is append-only: % refused for role %', TG_OP, session_user
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS esign_signature_immutable_row ON esign_signature;
CREATE TRIGGER esign_signature_immutable_row BEFORE UPDATE OR DELETE ON esign_signature
    FOR EACH ROW EXECUTE FUNCTION esign_signature_immutable();
DROP TRIGGER IF EXISTS esign_signature_immutable_truncate ON esign_signature;
CREATE TRIGGER esign_signature_immutable_truncate BEFORE TRUNCATE ON esign_signature
    FOR EACH STATEMENT EXECUTE FUNCTION esign_signature_immutable();
"""


class EsignSignature(models.Model):
    """One electronic signature, stored once and never rewritten (21 CFR 11.50, 11.70).

    Rows are created only by ``esign.request._sign`` through ``sudo()``. No group has write or
    unlink rights, ``write``/``unlink`` refuse, and a PostgreSQL trigger refuses UPDATE, DELETE
    and TRUNCATE for every role but a superuser. Whether a signature still covers the record is
    computed, never written: it compares the stored content hash with the record's current one.
    """

    _name = "esign.signature"
    _description = "Electronic Signature"
    _order = "signed_at desc, id desc"
    _rec_name = "manifestation"

    request_id = fields.Many2one("esign.request", required=True, ondelete="restrict", index=True)
    policy_id = fields.Many2one("esign.policy", required=True, ondelete="restrict")
    policy_version = fields.Integer(required=True)
    step_id = fields.Many2one("esign.policy.step", ondelete="set null")
    step_name = fields.Char(required=True)
    company_id = fields.Many2one("res.company", index=True)

    user_id = fields.Many2one(
        "res.users", string="Signer", required=True, ondelete="restrict", index=True
    )
    printed_name = fields.Char(required=True, help="The signer's name as printed (11.50(a)(1)).")
    login = fields.Char(required=True)
    meaning_id = fields.Many2one("esign.meaning", required=True, ondelete="restrict")
    meaning_code = fields.Char(required=True)
    meaning_name = fields.Char(
        required=True, help="The meaning as it read when signed, in the signer's language."
    )
    reason = fields.Text(help="The signer's reason or comment.")
    signed_at = fields.Datetime(string="Signed At (UTC)", required=True, index=True)
    signer_tz = fields.Char(string="Signer Time Zone", required=True)
    auth_method = fields.Selection(
        [
            ("login_password", "Log-in + password"),
            ("password_totp", "Password + authenticator code"),
            ("password_session", "Password (within a continuous session)"),
        ],
        required=True,
    )

    res_model = fields.Char(string="Document Model", required=True, index=True)
    res_id = fields.Many2oneReference(
        string="Document ID", model_field="res_model", required=True, index=True
    )
    record_name = fields.Char(string="Document", required=True)
    record_version = fields.Integer(required=True)
    content_hash = fields.Char(required=True, help="SHA-256 over the canonical snapshot signed.")
    previous_hash = fields.Char(required=True, help="The previous signature on this record.")
    signature_hash = fields.Char(required=True, index=True)

    status = fields.Selection(
        [
            ("valid", "Valid"),
            ("changed", "Record changed after signing"),
            ("history", "History"),
        ],
        compute="_compute_status",
        help="Valid: the record still has the content signed. Record changed after signing: a "
        "signed field changed since; the signature stays as evidence but no longer counts. "
        "History: its request was rejected or restarted.",
    )
    manifestation = fields.Char(compute="_compute_manifestation")

    _sql_constraints = [
        (
            "one_per_content",
            "unique(request_id, step_id, user_id, content_hash)",
            "This person already signed this step of this content.",
        ),
    ]

    def init(self):
        self.env.cr.execute(IMMUTABLE_TRIGGER_SQL)  # a constant: no parameters to bind

    @api.depends("content_hash", "request_id.state")
    def _compute_status(self):
        current = {}
        for sig in self:
            key = (sig.res_model, sig.res_id)
            if key not in current:
                record = self.env[sig.res_model].browse(sig.res_id).exists()
                current[key] = record.sudo()._esign_content_hash() if record else None
            if sig.request_id.state in ("rejected", "cancelled"):
                sig.status = "history"
            elif sig.content_hash != current[key]:
                sig.status = "changed"
            else:
                sig.status = "valid"

    @api.depends("printed_name", "meaning_name", "signed_at", "signer_tz")
    def _compute_manifestation(self):
        for sig in self:
            sig.manifestation = self.env._(
                "%(name)s — %(meaning)s — %(when)s",
                name=sig.printed_name,
                meaning=sig.meaning_name,
                when=sig._local_time_display(),
            )

    def _local_time_display(self, tz=None):
        """Signing time in ``tz`` (default: the signer's zone), with the zone's name."""
        self.ensure_one()
        if not self.signed_at:
            return ""
        zone = tz or self.signer_tz or "UTC"
        local = fields.Datetime.context_timestamp(self.with_context(tz=zone), self.signed_at)
        return f"{local:%Y-%m-%d %H:%M:%S} {local.tzname()} ({zone})"

    # ------------------------------------------------------------------ immutability
    def write(self, vals):
        if self:
            raise UserError(self.env._("Electronic signatures cannot be changed."))
        return super().write(vals)

    @api.ondelete(at_uninstall=True)
    def _unlink_never(self):
        raise UserError(self.env._("Electronic signatures cannot be deleted."))

    # ------------------------------------------------------------------ hash chain
    @api.model
    def _chain_payload(self, vals):
        """The canonical payload the per-record chain covers (R11: bound to record and content).

        ``vals`` holds plain values: ids for many2one fields, a datetime for ``signed_at``.
        """
        payload = {key: vals.get(key) for key in CHAIN_FIELDS}
        payload["signed_at"] = fields.Datetime.to_string(vals["signed_at"])
        payload["reason"] = payload["reason"] or ""
        return payload

    @api.model
    def _create_signature(self, vals):
        """Append a signature to its record's chain. Call only under the record's lock."""
        last = self.sudo().search(
            [("res_model", "=", vals["res_model"]), ("res_id", "=", vals["res_id"])],
            order="id desc",
            limit=1,
        )
        vals["previous_hash"] = last.signature_hash or chain.GENESIS
        vals["signature_hash"] = chain.chain_hash(vals["previous_hash"], self._chain_payload(vals))
        return self.sudo().create(vals)

    def _verify_chain(self, res_model, res_id):
        """Recompute the record's signature chain; return the engine's verdict."""
        sigs = self.sudo().search(
            [("res_model", "=", res_model), ("res_id", "=", res_id)], order="id"
        )
        entries = []
        for seq, sig in enumerate(sigs, start=1):
            vals = {key: sig[key] for key in CHAIN_FIELDS}
            for key in MANY2ONE_CHAIN_FIELDS:
                vals[key] = sig[key].id
            entries.append(
                chain.ChainEntry(
                    seq=seq,
                    previous_hash=sig.previous_hash,
                    entry_hash=sig.signature_hash,
                    payload=self._chain_payload(vals),
                )
            )
        return chain.verify_chain(entries)

    def action_open_record(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": self.res_model,
            "res_id": self.res_id,
            "view_mode": "form",
        }
