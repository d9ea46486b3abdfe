import logging

from odoo import api, fields, models
from odoo.tools import SQL

from ..services import signature_chain as sigchain
from . import esign_keystore as keystore


def utc_text(moment):
    """A stored (naive UTC) datetime as ``2026-12-06 11:41:25 UTC``; False when empty.

    Odoo shows datetime fields in the reader's time zone; a column labelled UTC shows this.
    """
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC" if moment else False


_logger = logging.getLogger(__name__)


# The values read back from a stored signature to rebuild its chain payload.
MANY2ONE_CHAIN_FIELDS = ("user_id", "policy_id", "request_id")
# The PKI evidence (R22, R23), added to the chain payload under "pki" only when the signature
# carries a CMS (see services.signature_chain).
PKI_CHAIN_FIELDS = ("pki_cms", "pki_token", "pki_certificate_fingerprint")


class EsignSignature(models.Model):
    """One electronic signature, stored once and never rewritten (21 CFR 11.50, 11.70).

    Rows are created only by ``esign.request._sign`` through ``sudo()``. No group has write or
    unlink rights, ``write``/``unlink`` refuse, and a PostgreSQL trigger refuses UPDATE, DELETE
    and TRUNCATE for every role but a superuser. Whether a signature still covers the record is
    computed, never written: it compares the stored content hash with the record's current one.
    """

    _name = "esign.signature"
    _description = "Electronic Signature"
    _inherit = ["esign.append.only"]
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
    meaning_id = fields.Many2one(
        "esign.meaning", string="Meaning Definition", required=True, ondelete="restrict"
    )
    meaning_code = fields.Char(
        required=True,
        help="The meaning's technical code (e.g. 'released'), covered by the chain hash.",
    )
    meaning_name = fields.Char(
        string="Meaning as Signed",
        required=True,
        help="The meaning exactly as the signer read it when signing, in the signer's language.",
    )
    meaning_label = fields.Char(
        string="Meaning",
        compute="_compute_meaning_label",
        help="The meaning in the reader's language, translated from its code.",
    )
    reason = fields.Text(help="The signer's reason or comment.")
    # Shown, as every Odoo datetime, in the reader's time zone; signed_at_utc shows it in UTC.
    signed_at = fields.Datetime(string="Signed At", required=True, index=True)
    signed_at_utc = fields.Char(
        string="Signed At (UTC)",
        compute="_compute_utc_times",
        help="The signing time in UTC, whatever the reader's time zone.",
    )
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

    # ------------------------------------------------------------------ PKI evidence (R22, R23)
    certificate_id = fields.Many2one(
        "esign.certificate",
        string="Signing Certificate",
        ondelete="restrict",
        help="The signer certificate whose key made the CAdES signature.",
    )
    pki_certificate_fingerprint = fields.Char(
        string="Certificate Fingerprint", help="SHA-256 of the signing certificate."
    )
    pki_snapshot = fields.Binary(
        string="Signed Snapshot",
        attachment=False,
        help="The canonical snapshot bytes the CAdES signature covers; their SHA-256 is the "
        "content hash. Kept for offline verification.",
    )
    pki_cms = fields.Binary(
        string="CAdES Signature",
        attachment=False,
        help="Detached CMS/CAdES signature (DER) over the snapshot, with the signer "
        "certificate and its chain.",
    )
    pki_token = fields.Binary(
        string="Timestamp Token",
        attachment=False,
        help="RFC 3161 token over the CMS signature value, obtained at signing.",
    )
    pki_timestamp_at = fields.Datetime(
        string="Timestamp (TSA)", help="The TSA's time in the token (genTime)."
    )
    pki_timestamp_utc = fields.Char(
        string="Timestamp (TSA, UTC)",
        compute="_compute_utc_times",
        help="The TSA's time in the token (genTime), in UTC.",
    )
    pki_tsa_url = fields.Char(string="Timestamp Authority")
    pki_timestamp_pending = fields.Boolean(
        string="Timestamp Was Pending",
        help="No TSA answered at signing; the token is added later as its own record.",
    )
    timestamp_ids = fields.One2many(
        "esign.signature.timestamp", "signature_id", string="Late Timestamp"
    )
    verification_ids = fields.One2many(
        "esign.signature.verification", "signature_id", string="Verifications"
    )
    pki_status = fields.Selection(
        [
            ("none", "No PKI signature"),
            ("stamped", "Timestamped"),
            ("stamped_late", "Timestamped late"),
            ("pending", "Timestamp pending"),
        ],
        string="PKI Status",
        compute="_compute_pki_status",
        help="Whether the signature carries a CAdES signature and a trusted timestamp.",
    )
    pki_verdict = fields.Selection(
        [("valid", "Valid"), ("invalid", "Invalid"), ("indeterminate", "Indeterminate")],
        string="Last Verification",
        compute="_compute_pki_verdict",
    )
    pki_verification_id = fields.Many2one(
        "esign.signature.verification", compute="_compute_pki_verdict"
    )

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

    @api.depends("content_hash", "request_id.state", "request_id.trigger")
    def _compute_status(self):
        # {(model, id, trigger): (record, {version: live hash})}: each record is hashed once
        # per version its signatures were made with (a signature is checked by its own rules).
        live = {}
        for sig in self:
            trigger = sig.request_id.trigger
            key = (sig.res_model, sig.res_id, trigger)
            if key not in live:
                live[key] = (self.env[sig.res_model].browse(sig.res_id).exists().sudo(), {})
            record, hashes = live[key]
            if sig.request_id.state in ("rejected", "cancelled"):
                sig.status = "history"
            elif not record or sig.content_hash != record._esign_live_hash(
                sig.content_hash, trigger, hashes
            ):
                sig.status = "changed"
            else:
                sig.status = "valid"

    @api.depends("pki_cms", "pki_token", "timestamp_ids")
    def _compute_pki_status(self):
        for sig in self:
            if not sig.pki_cms:
                sig.pki_status = "none"
            elif sig.pki_token:
                sig.pki_status = "stamped"
            elif sig.timestamp_ids:
                sig.pki_status = "stamped_late"
            else:
                sig.pki_status = "pending"

    @api.depends("verification_ids")
    def _compute_pki_verdict(self):
        for sig in self:
            last = sig.verification_ids.sorted("id", reverse=True)[:1]
            sig.pki_verification_id = last
            sig.pki_verdict = last.verdict

    @api.depends("signed_at", "pki_timestamp_at")
    def _compute_utc_times(self):
        for sig in self:
            sig.signed_at_utc = utc_text(sig.signed_at)
            sig.pki_timestamp_utc = utc_text(sig.pki_timestamp_at)

    @api.depends("meaning_code", "meaning_name")
    @api.depends_context("lang")
    def _compute_meaning_label(self):
        labels = self.env["esign.meaning"]._labels({sig.meaning_code for sig in self})
        for sig in self:
            # A code no meaning carries any more (none should: codes in use are locked)
            # falls back to the text the signer saw.
            sig.meaning_label = labels.get(sig.meaning_code) or sig.meaning_name

    @api.depends("printed_name", "meaning_label", "signed_at", "signer_tz")
    @api.depends_context("lang")
    def _compute_manifestation(self):
        for sig in self:
            sig.manifestation = sig._manifestation(sig.meaning_label)

    def _manifestation(self, meaning):
        """Name — meaning — local date-time and zone (21 CFR 11.50(a)), with ``meaning``."""
        self.ensure_one()
        return self.env._(
            "%(name)s — %(meaning)s — %(when)s",
            name=self.printed_name,
            meaning=meaning,
            when=self._local_time_display(),
        )

    def _local_time_display(self, tz=None):
        """Signing time in ``tz`` (default: the signer's zone), with the zone's name."""
        self.ensure_one()
        if not self.signed_at:
            return ""
        zone = tz or self.signer_tz or "UTC"
        local = fields.Datetime.context_timestamp(self.with_context(tz=zone), self.signed_at)
        # "CST (Asia/Shanghai)", but "UTC", not "UTC (UTC)".
        name = local.tzname()
        return f"{local:%Y-%m-%d %H:%M:%S} {name}" + (f" ({zone})" if zone != name else "")

    # ------------------------------------------------------------------ hash chain
    @api.model
    def _chain_payload(self, vals):
        """The canonical payload the per-record chain covers (R11: bound to record and content).

        ``vals`` holds plain values: ids for many2one fields, a datetime for ``signed_at``,
        Odoo's base64 for the CMS and token; see ``services.signature_chain``.
        """
        return sigchain.signature_payload(
            vals,
            cms=keystore.raw(vals.get("pki_cms")) or None,
            token=keystore.raw(vals.get("pki_token")) or None,
        )

    @api.model
    def _create_signature(self, vals):
        """Append a signature to its record's chain. Call only under the record's lock."""
        return self._create_signatures([vals])

    @api.model
    def _create_signatures(self, vals_list):
        """Append signatures to their records' chains, one per record, in one INSERT.

        Call only under the records' lock. Each record's chain is its own: one statement
        reads the chain heads of all the records (their last signature hash) and which
        companies sign with PKI, instead of one per signature.
        """
        if not vals_list:
            return self.browse()
        companies = self.env["res.company"].browse(
            {vals.get("company_id") or self.env.company.id for vals in vals_list}
        )
        self.flush_model(["res_model", "res_id", "signature_hash"])
        companies.flush_model(["esign_pki_enabled"])
        keys = sorted({(vals["res_model"], vals["res_id"]) for vals in vals_list})
        if len(keys) != len(vals_list):
            raise ValueError("one signature per record at a time: the chain is per record")
        # Every row also carries the ids of the companies that sign with PKI.
        self.env.cr.execute(
            SQL(
                "SELECT k.res_model, k.res_id, last.signature_hash,"
                "       ARRAY(SELECT id FROM res_company WHERE id IN %s AND esign_pki_enabled)"
                "  FROM (VALUES %s) AS k(res_model, res_id)"
                "  LEFT JOIN LATERAL (SELECT s.signature_hash FROM esign_signature s"
                "        WHERE s.res_model = k.res_model AND s.res_id = k.res_id"
                "        ORDER BY s.id DESC LIMIT 1) AS last ON TRUE",
                tuple(companies.ids),
                SQL(", ").join(SQL("(%s::varchar, %s::int4)", *key) for key in keys),
            )
        )
        heads, pki = {}, set()
        for res_model, res_id, last_hash, pki_company_ids in self.env.cr.fetchall():
            heads[(res_model, res_id)] = last_hash
            pki.update(pki_company_ids)
        stamps = []
        for vals in vals_list:
            company = self.env["res.company"].browse(vals.get("company_id")) or self.env.company
            stamp = None
            if company.id in pki:
                pki_vals, stamp = self._pki_sign(vals, company)
                vals.update(pki_vals)
            stamps.append((stamp, company))
            vals["previous_hash"] = (
                heads.get((vals["res_model"], vals["res_id"])) or sigchain.GENESIS
            )
            vals["signature_hash"] = sigchain.signature_hash(
                vals["previous_hash"], self._chain_payload(vals)
            )
        signatures = self.sudo().create(vals_list)
        for signature, (stamp, company) in zip(signatures, stamps, strict=True):
            if stamp is not None:
                signature._pki_check_drift(stamp, company)
        return signatures

    def _chain_links(self, res_model, res_id):
        """(previous_hash, signature_hash, payload) of the record's signatures, oldest first."""
        return (
            self.sudo()
            .search([("res_model", "=", res_model), ("res_id", "=", res_id)])
            ._chain_links_of()
        )

    def _chain_links_of(self):
        """``_chain_links`` of the signatures ``self``: all those of one record, already
        found (a printout has them at hand), taken in chain (id) order."""
        links = []
        for sig in self.sudo().sorted("id"):
            vals = {key: sig[key] for key in sigchain.CHAIN_FIELDS + PKI_CHAIN_FIELDS}
            for key in MANY2ONE_CHAIN_FIELDS:
                vals[key] = sig[key].id
            links.append((sig.previous_hash, sig.signature_hash, self._chain_payload(vals)))
        return links

    def _verify_chain(self, res_model, res_id):
        """Recompute the record's signature chain; return the engine's verdict."""
        return sigchain.verify_signature_chain(self._chain_links(res_model, res_id))

    def action_open_record(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": self.res_model,
            "res_id": self.res_id,
            "view_mode": "form",
        }
