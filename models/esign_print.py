"""Sealed printouts of regulated reports: the print log (a Part 11 controlled copy).

Every sealed PDF is one row of ``esign.print`` with one ``esign.print.line`` per record it
shows (the record's print number, the signatures it showed). Both are append-only evidence,
like the audit trail; each print also gets its audit-trail entry. The sealing itself is in
``services.pdf_seal`` (pyHanko); the evidence embedded in the PDF in ``services.pdf_evidence``.

This file holds the print log and the sealing of one print; ``esign_print_evidence.py`` what
the seal carries (stamp, evidence files, validation data); ``esign_print_verify.py`` the
lookups of the verification page, the print lines and the page's rate limit.

The verification token is random (256 bits, ``secrets.token_urlsafe(32)``) and bound to one
print; only its SHA-256 is stored. The verification URL itself is kept for administrators and
auditors, who may re-open what the paper shows.
"""

import hashlib
import json
import logging
import secrets

import pytz

from odoo import SUPERUSER_ID, api, fields, models
from odoo.exceptions import UserError

from ..services import pdf_seal, pki
from . import esign_keystore as keystores
from .esign_ledger_store import LedgerStore

_logger = logging.getLogger(__name__)

VERIFY_PATH = "/meddev_esign/verify/"
AUDITOR_GROUPS = "meddev_esign.group_esign_admin,meddev_esign.group_esign_auditor"
#: {(database, report id, report name): its XML id}: a report's technical reference, looked
#: up once per process (one statement less per print).
_REPORT_XMLIDS = {}


def token_hash(token):
    """The SHA-256 (hex) a print's token is looked up by."""
    return hashlib.sha256((token or "").encode("utf-8", "replace")).hexdigest()


class EsignPrint(models.Model):
    """One sealed printout: who printed what, when, and the sealed file's SHA-256."""

    _name = "esign.print"
    _description = "Sealed Print"
    _inherit = ["esign.append.only"]
    _order = "id desc"

    name = fields.Char(required=True, readonly=True, help="The report and what it printed.")
    company_id = fields.Many2one(
        "res.company",
        required=True,
        readonly=True,
        index=True,
        help="The company whose seal signed the printout.",
    )
    report_name = fields.Char(
        string="Report", required=True, readonly=True, help="The report as it was named."
    )
    report_xmlid = fields.Char(
        string="Report Reference", readonly=True, help="The report's technical reference."
    )
    res_model = fields.Char(
        string="Document Model",
        required=True,
        readonly=True,
        index=True,
        help="The model of the printed records.",
    )
    line_ids = fields.One2many(
        "esign.print.line",
        "print_id",
        string="Records",
        readonly=True,
        help="Each record in the printout, with its print number.",
    )
    user_id = fields.Many2one(
        "res.users",
        string="Printed By",
        required=True,
        readonly=True,
        index=True,
        help="Who printed the copy.",
    )
    printed_at = fields.Datetime(
        string="Printed At",
        required=True,
        readonly=True,
        index=True,
        help="When the copy was sealed (server time, shown in your zone).",
    )
    printer_tz = fields.Char(
        string="Printer's Time Zone",
        readonly=True,
        help="The zone the stamp shows the time in: the printing user's.",
    )
    lang = fields.Char(string="Language", readonly=True, help="The printout's language.")
    sha256 = fields.Char(
        string="PDF SHA-256",
        required=True,
        readonly=True,
        index=True,
        help="SHA-256 of the sealed PDF as delivered: an uploaded copy is matched by it.",
    )
    token_hash = fields.Char(
        required=True,
        readonly=True,
        index=True,
        help="SHA-256 of the verification token printed in the QR code (the token itself is "
        "looked up by this hash only).",
    )
    verify_url = fields.Char(
        string="Verification URL",
        readonly=True,
        groups=AUDITOR_GROUPS,
        help="The address the printout's QR code encodes: its public verification page.",
    )
    level = fields.Char(
        string="PAdES Level",
        readonly=True,
        help="B-LT or B-LTA with a trusted timestamp; B-B when sealed without one.",
    )
    timestamped = fields.Boolean(
        readonly=True, help="The seal carries a trusted timestamp from a TSA."
    )
    timestamp_time = fields.Datetime(
        string="Timestamp Time", readonly=True, help="The TSA's time in the seal."
    )
    tsa_error = fields.Text(
        string="TSA Problem",
        readonly=True,
        help="Why the seal has no trusted time (no TSA answered), when it has none.",
    )
    seal_certificate_id = fields.Many2one(
        "esign.certificate",
        string="Seal Certificate",
        readonly=True,
        help="The company seal certificate that signed the file.",
    )
    signature_count = fields.Integer(
        string="E-Signatures",
        readonly=True,
        help="How many electronic signatures the printout shows.",
    )

    _sql_constraints = [
        ("token_hash_unique", "unique(token_hash)", "A verification token is one print's."),
    ]

    # ------------------------------------------------------------------ sealing
    @api.model
    def _seal_report(self, report, records, pdf):
        """Seal the rendered ``pdf`` of ``records`` and log the print; return the sealed bytes.

        One file, one seal, whatever the number of records; the evidence of each record is
        embedded. Refuses (translated UserError, nothing logged as printed) when the seal
        cannot be made with the trusted time the company requires.
        """
        company = self._print_company(records)
        if not company.esign_seal_enabled:
            return pdf
        seal = self.env["esign.certificate"]._sealing_certificate(company)
        now = fields.Datetime.now()
        token = secrets.token_urlsafe(32)
        base = self.env["ir.config_parameter"].sudo().get_param("web.base.url", "")
        url = f"{base}{VERIFY_PATH}{token}"
        lang = self.env.lang or "en_US"
        tz = self.env.user.tz or "UTC"
        numbers = self.env["esign.print.line"].sudo()._next_numbers(records)
        per_record, units = self._print_records(records, numbers)
        anchors = self._seal_anchors(seal.ca_id)
        files = self._evidence_files(company, anchors, per_record, units, now)
        options = self._seal_options(company, anchors, lang)
        stamp = self._seal_stamp(report, company, lang, tz, now, per_record, url)
        # The keystore turns any PKI error raised in its block into its own message: the
        # seal's refusal is kept out of it, to be told in its own words below.
        failure = result = None
        with keystores.signer(self.env, seal, seal.key_ref, anchors.chain) as signer:
            try:
                result = pdf_seal.seal_pdf(pdf, signer, options, stamp=stamp, files=files)
            except pdf_seal.SealError as exc:
                failure = exc
        if failure is not None:
            exc = failure
            self._audit_refusal(company, report, records, exc)
            if exc.code == "tsa_unavailable":
                raise UserError(
                    self.env._(
                        "This report cannot be printed now: no timestamp authority answered, "
                        "and %(company)s seals regulated reports only with a trusted time. "
                        "Nothing was printed. Try again later, or ask an E-Signature "
                        "Administrator to check the timestamp authorities. (%(detail)s)",
                        company=company.name,
                        detail=str(exc),
                    )
                ) from exc
            raise UserError(
                self.env._(
                    "The report could not be sealed, so it was not printed: %(detail)s",
                    detail=str(exc),
                )
            ) from exc
        self._log(report, company, seal, records, per_record, result, token, url, now, lang)
        return result.pdf

    @api.model
    def _print_company(self, records):
        """The one company whose seal signs ``records``; a print spans one company."""
        if "company_id" in records._fields:
            companies = records.sudo().mapped("company_id")
        elif records._name == "esign.audit.verification":
            companies = records.sudo().mapped("chain_id.company_id")
        else:
            companies = self.env["res.company"]
        if len(companies) > 1:
            raise UserError(
                self.env._(
                    "These records belong to several companies, each with its own seal: "
                    "print each company's records separately."
                )
            )
        return companies or self.env.company

    @api.model
    def _log(self, report, company, seal, records, per_record, result, token, url, now, lang):
        """The print's row, its lines and its audit-trail entry."""
        key = (self.env.cr.dbname, report.id, report.report_name)
        xmlid = _REPORT_XMLIDS.get(key)
        if xmlid is None:
            if len(_REPORT_XMLIDS) >= 256:
                _REPORT_XMLIDS.clear()
            xmlid = _REPORT_XMLIDS[key] = report.get_external_id().get(report.id) or False
        names = ", ".join(record.display_name for record in records[:5])
        if len(records) > 5:
            names += ", …"
        timestamp_time = (
            pki.utc(result.timestamp_time).replace(tzinfo=None) if result.timestamp_time else False
        )
        printed = self.sudo().create(
            {
                "name": f"{report.name} — {names}",
                "company_id": company.id,
                "report_name": report.name,
                "report_xmlid": xmlid,
                "res_model": records._name,
                "user_id": self.env.user.id,
                "printed_at": now,
                "printer_tz": self.env.user.tz or "UTC",
                "lang": lang,
                "sha256": result.sha256,
                "token_hash": token_hash(token),
                "verify_url": url,
                "level": result.level,
                "timestamped": result.timestamped,
                "timestamp_time": timestamp_time,
                "tsa_error": result.tsa_error or False,
                "seal_certificate_id": seal.id,
                "signature_count": sum(len(item[1]) for item in per_record),
            }
        )
        self.env["esign.print.line"].sudo().create(
            [
                {
                    "print_id": printed.id,
                    "res_model": record._name,
                    "res_id": record.id,
                    "record_name": record.display_name,
                    "print_number": number,
                    "signature_refs": json.dumps(signatures.ids),
                }
                for record, signatures, number in per_record
            ]
        )
        changes = [
            ["level", None, result.level],
            ["pdf_sha256", None, result.sha256],
            ["print_numbers", None, ", ".join(str(item[2]) for item in per_record)],
            ["report", None, report.name],
            ["timestamped", None, bool(result.timestamped)],
        ]
        if result.tsa_error:
            changes.append(["tsa_error", None, result.tsa_error])
        reason = (
            self.env._("Sealed printout made.")
            if result.timestamped
            else self.env._("Sealed printout made without trusted time: no TSA answered.")
        )
        self.env["esign.audit.entry"]._append(
            [
                {
                    "company_id": company.id,
                    "model": record._name,
                    "res_id": record.id,
                    "record": record.display_name or "",
                    "op": "print",
                    "changes": [*changes, ["print_id", None, printed.id]],
                    "reason": reason,
                }
                for record in records
            ]
        )
        return printed

    @api.model
    def _audit_refusal(self, company, report, records, exc):
        """A refused print joins the audit trail in a transaction of its own, since the
        print's transaction is rolled back with the refusal.

        When this transaction has already appended to the audit trail (a refused print in
        a request that changed audited data first, such as a mail that attaches the
        report), it holds the chain's append lock until it ends: a second connection would
        wait for it forever, and the worker with it. The refusal is then written right after
        this transaction ends, rolled back or committed.
        """
        uid = self.env.uid
        registry = self.env.registry
        items = [
            {
                "company_id": company.id,
                "model": record._name,
                "res_id": record.id,
                "record": record.display_name or "",
                "op": "print_refused",
                "changes": [["report", None, report.name], ["error", None, exc.code]],
                "reason": str(exc)[:500],
            }
            for record in records
        ]
        written = []

        def write():
            if written:
                return
            written.append(True)
            try:
                with registry.cursor() as cr:
                    env = api.Environment(cr, SUPERUSER_ID, {})
                    env["esign.audit.entry"].with_user(uid).sudo()._append(items)
            except Exception:  # the refusal itself must still reach the user
                _logger.exception("Could not record the refused print in the audit trail")

        # Under tests, registry.cursor() shares this transaction's connection: no wait.
        if registry.in_test_mode() or not LedgerStore(self.env.cr).holds_append_lock():
            write()
            return
        self.env.cr.postrollback.add(write)
        self.env.cr.postcommit.add(write)


def local_display(moment, tz):
    """A naive UTC datetime as local time with its zone, like the signatures print it."""
    if not moment:
        return ""
    zone = tz or "UTC"
    try:
        local = pytz.utc.localize(moment).astimezone(pytz.timezone(zone))
    except pytz.UnknownTimeZoneError:
        zone = "UTC"
        local = pytz.utc.localize(moment)
    name = local.tzname()
    return f"{local:%Y-%m-%d %H:%M:%S} {name}" + (f" ({zone})" if zone != name else "")
