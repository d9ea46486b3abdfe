"""Sealed printouts of regulated reports: the print log (a Part 11 controlled copy).

Every sealed PDF is one row of ``esign.print`` with one ``esign.print.line`` per record it
shows (the record's print number, the signatures it showed). Both are append-only evidence,
like the audit trail; each print also gets its audit-trail entry. The sealing itself is in
``services.pdf_seal`` (pyHanko); the evidence embedded in the PDF in ``services.pdf_evidence``.

The verification token is random (256 bits, ``secrets.token_urlsafe(32)``) and bound to one
print. Only its SHA-256 is searched: looking a token up by its hash leaks nothing about the
token through timing (an index on a hash cannot be walked towards a secret). The verification
URL itself is kept for administrators and auditors, who may re-open what the paper shows.
"""

import hashlib
import json
import logging
import secrets
from datetime import UTC, datetime
from pathlib import Path

import pytz
import requests
from cryptography import x509

from odoo import SUPERUSER_ID, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL

from ..services import pdf_evidence, pdf_seal, pki
from ..services import signature_chain as sigchain
from ..services import snapshot as snap
from . import esign_keystore as keystores

_logger = logging.getLogger(__name__)

VERIFY_PATH = "/meddev_esign/verify/"
#: The stamp text a company starts with (``res.company.esign_seal_stamp_text``).
DEFAULT_STAMP_TEXT = "Electronically signed"
AUDITOR_GROUPS = "meddev_esign.group_esign_admin,meddev_esign.group_esign_auditor"
#: Fonts with Chinese glyphs for the stamp (Debian fonts-noto-cjk), first found wins.
CJK_FONTS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
    "/usr/share/fonts/truetype/noto/NotoSansCJK-Regular.ttc",
)


def token_hash(token):
    """The SHA-256 (hex) a print's token is looked up by."""
    return hashlib.sha256((token or "").encode("utf-8", "replace")).hexdigest()


def cjk_font():
    """The path of a CJK font for the stamp, or None when none is installed."""
    for path in CJK_FONTS:
        if Path(path).is_file():
            return path
    return None


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
        ca = seal.ca_id
        now = fields.Datetime.now()
        token = secrets.token_urlsafe(32)
        base = self.env["ir.config_parameter"].sudo().get_param("web.base.url", "")
        url = f"{base}{VERIFY_PATH}{token}"
        lang = self.env.lang or "en_US"
        tz = self.env.user.tz or "UTC"
        print_lines = self.env["esign.print.line"].sudo()
        per_record = []
        for record in records:
            signatures = self._print_signatures(record)
            number = print_lines._next_number(record._name, record.id)
            per_record.append((record, signatures, number))
        signature_count = sum(len(item[1]) for item in per_record)
        files = self._evidence_files(company, ca, per_record, now)
        tsa_roots = company.esign_tsa_roots_pem
        options = pdf_seal.SealOptions(
            level=company.esign_seal_level or "B-LT",
            tsa_urls=tuple(company._esign_tsa_url_list()),
            tsa_timeout=company.esign_tsa_timeout or 5.0,
            tsa_roots=tuple(pki.load_certificates(tsa_roots.encode())) if tsa_roots else (),
            timestamp_required=company.esign_seal_tsa_required,
            trust_roots=(ca._root(),),
            crls=(ca._current_crl(), *_tsa_crls(company)),
            reason=self.with_context(lang=lang).env._("Controlled copy of a regulated record"),
            location=company.name,
        )
        lines = self._stamp_lines(company, lang, tz, now, signature_count, per_record)
        no_time = self.with_context(lang=lang).env._(
            "No trusted time: no timestamp authority answered"
        )
        stamp = pdf_seal.Stamp(
            lines=lines,
            qr_url=url,
            no_trusted_time_line=no_time,
            font_path=cjk_font() if not _latin1((*lines, no_time)) else None,
        )
        # The keystore turns any PKI error raised in its block into its own message: the
        # seal's refusal is kept out of it, to be told in its own words below.
        failure = result = None
        with keystores.signer(self.env, seal, seal.key_ref, ca._embedded_certificates()) as signer:
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
    def _print_signatures(self, record):
        """The e-signatures ``record``'s printout shows, oldest first."""
        if record._name == "stock.lot":
            batch = self.env["report.meddev_esign.report_batch_release_certificate"]
            return batch._signatures(record, batch._productions(record))
        return (
            self.env["esign.signature"]
            .sudo()
            .search(
                [("res_model", "=", record._name), ("res_id", "=", record.id)],
                order="signed_at, id",
            )
        )

    @api.model
    def _stamp_lines(self, company, lang, tz, now, signature_count, per_record):
        """The stamp's text lines, in the report's language."""
        env = self.with_context(lang=lang).env
        when = _local_display(now, tz)
        numbers = ", ".join(
            f"{record.display_name} #{number}" for record, _sigs, number in per_record[:3]
        )
        if len(per_record) > 3:
            numbers += ", ..."
        return (
            company.name,
            _stamp_text(company, lang, env),
            env._("E-signatures on the record: %(count)s", count=signature_count),
            env._("Sealed %(when)s", when=when),
            env._("Print %(numbers)s by %(user)s", numbers=numbers, user=self.env.user.name),
        )

    @api.model
    def _evidence_records(self, records):
        """The records whose evidence a printout embeds: each printed record, then those
        behind it that it prints signatures of (a lot's manufacturing orders)."""
        units = []
        for record in records:
            units.append(record)
            if record._name == "stock.lot":
                batch = self.env["report.meddev_esign.report_batch_release_certificate"]
                units.extend(batch._productions(record))
        return units

    @api.model
    def _evidence_files(self, company, ca, per_record, now):
        """The files embedded in the sealed PDF: the evidence of each record (see
        ``services.pdf_evidence``). The first printed record's is at the top level, where a
        verifier looks first; each further record's is in ``record-<n>/``."""
        numbers = {(record._name, record.id): number for record, _sigs, number in per_record}
        ca_pem = pki.certificate_to_pem(ca._root())
        ca_crl = ca._current_crl()
        tsa_roots = (company.esign_tsa_roots_pem or "").encode() or None
        Signature = self.env["esign.signature"].sudo()
        files = []
        units = self._evidence_records(
            self.env[per_record[0][0]._name].browse([item[0].id for item in per_record])
        )
        for index, record in enumerate(units):
            signatures = Signature.search(
                [("res_model", "=", record._name), ("res_id", "=", record.id)],
                order="signed_at, id",
            )
            entries, folders = [], []
            for seq, sig in enumerate(signatures, start=1):
                entries.append(
                    {
                        "seq": seq,
                        "signer": sig.printed_name,
                        "login": sig.login,
                        "meaning": sig.meaning_name,
                        "signed_at_utc": fields.Datetime.to_string(sig.signed_at),
                        "content_hash": sig.content_hash,
                        "signature_hash": sig.signature_hash,
                        "pki": bool(sig.pki_cms),
                    }
                )
                folders.append(sig._pki_signature_files() if sig.pki_cms else {})
            record_vals = {
                "company": company.name,
                "model": record._name,
                "res_id": record.id,
                "record": record.display_name,
                "printed_at_utc": snap.utc_iso(now),
                "printed_by": self.env.user.name,
                "print_number": numbers.get((record._name, record.id)),
                "signatures": entries,
            }
            chain = sigchain.export_document(
                record._name, record.id, Signature._chain_links(record._name, record.id)
            )
            record_files = pdf_evidence.build_files(
                record_vals, chain, folders, ca_pem=ca_pem, ca_crl=ca_crl, tsa_roots_pem=tsa_roots
            )
            if index:
                record_files = _in_folder(record_files, f"record-{index + 1}/")
            files.extend(record_files)
        return tuple(files)

    @api.model
    def _log(self, report, company, seal, records, per_record, result, token, url, now, lang):
        """The print's row, its lines and its audit-trail entry."""
        xmlid = report.get_external_id().get(report.id) or False
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
        """A refused print joins the audit trail in its own transaction (it is rolled back)."""
        uid = self.env.uid
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
        try:
            with self.env.registry.cursor() as cr:
                env = api.Environment(cr, SUPERUSER_ID, {})
                env["esign.audit.entry"].with_user(uid).sudo()._append(items)
        except Exception:  # the refusal itself must still reach the user
            _logger.exception("Could not record the refused print in the audit trail")

    # ------------------------------------------------------------------ verification
    @api.model
    def _find_by_token(self, token):
        """The print ``token`` was issued for, or an empty recordset (any token, any shape)."""
        return self.sudo().search([("token_hash", "=", token_hash(token))], limit=1)

    @api.model
    def _find_by_sha256(self, digest):
        return self.sudo().search([("sha256", "=", digest)], limit=1)

    def _public_view(self):
        """What the public page shows of this print: only what the printout shows."""
        self.ensure_one()
        printed = self.sudo()
        records = []
        for line in printed.line_ids:
            newer = line._newer()
            records.append(
                {
                    "name": line.record_name,
                    "print_number": line.print_number,
                    "newer_print": bool(newer),
                    "newer_printed_at": (
                        _local_display(newer.print_id.printed_at, printed.printer_tz)
                        if newer
                        else ""
                    ),
                    "signatures": [
                        {
                            "name": sig.printed_name,
                            "meaning": sig.meaning_label,
                            "when": sig._local_time_display(),
                            "state": _signature_state(sig),
                        }
                        for sig in line._signatures()
                    ],
                }
            )
        return {
            "company": printed.company_id.name,
            "report": printed.report_name,
            "printed_at": _local_display(printed.printed_at, printed.printer_tz),
            "printed_by": printed.user_id.name,
            "level": printed.level,
            "timestamped": printed.timestamped,
            "records": records,
        }


class EsignPrintLine(models.Model):
    """One record of a sealed printout, with the record's print number."""

    _name = "esign.print.line"
    _description = "Sealed Print Record"
    _inherit = ["esign.append.only"]
    _order = "print_id desc, id"
    _rec_name = "record_name"

    print_id = fields.Many2one(
        "esign.print",
        required=True,
        readonly=True,
        index=True,
        ondelete="restrict",
        help="The printout.",
    )
    company_id = fields.Many2one(related="print_id.company_id")
    res_model = fields.Char(
        string="Document Model", required=True, readonly=True, help="The record's model."
    )
    res_id = fields.Many2oneReference(
        string="Record ID",
        model_field="res_model",
        required=True,
        readonly=True,
        index=True,
        help="The record's id.",
    )
    record_name = fields.Char(
        string="Record", required=True, readonly=True, help="The record as printed."
    )
    print_number = fields.Integer(
        required=True,
        readonly=True,
        help="1 for the record's first sealed print, then 2, 3...: each controlled copy "
        "has its number.",
    )
    signature_refs = fields.Char(
        readonly=True, help="The ids of the e-signatures the printout showed (JSON list)."
    )
    printed_at = fields.Datetime(related="print_id.printed_at")
    user_id = fields.Many2one(related="print_id.user_id")

    _sql_constraints = [
        (
            "one_number_per_record",
            "unique(res_model, res_id, print_number)",
            "Two prints of a record cannot share a print number.",
        ),
    ]

    @api.model
    def _next_number(self, res_model, res_id):
        last = self.sudo().search(
            [("res_model", "=", res_model), ("res_id", "=", res_id)],
            order="print_number desc",
            limit=1,
        )
        return (last.print_number or 0) + 1

    def _newer(self):
        """The newest later print of the same record, if any."""
        self.ensure_one()
        return self.sudo().search(
            [
                ("res_model", "=", self.res_model),
                ("res_id", "=", self.res_id),
                ("print_number", ">", self.print_number),
            ],
            order="print_number desc",
            limit=1,
        )

    def _signatures(self):
        self.ensure_one()
        ids = json.loads(self.signature_refs or "[]")
        return self.env["esign.signature"].sudo().browse(ids).exists()


class EsignVerifyThrottle(models.Model):
    """Hits on the public verification page per client address and minute (in the database,
    so that every worker of a prefork server counts the same hits)."""

    _name = "esign.verify.throttle"
    _description = "Verification Page Rate Limit"
    _log_access = False

    client = fields.Char(required=True, help="SHA-256 of the client address.")
    minute = fields.Datetime(required=True, index=True, help="The minute counted.")
    hits = fields.Integer(required=True, default=0, help="Requests in that minute.")

    _sql_constraints = [
        ("client_minute_unique", "unique(client, minute)", "One counter per client and minute."),
    ]

    @api.model
    def _hit(self, address, limit):
        """Count one request from ``address``; True while within ``limit`` per minute."""
        client = hashlib.sha256((address or "").encode()).hexdigest()
        minute = datetime.now(UTC).replace(tzinfo=None, second=0, microsecond=0)
        cr = self.env.cr
        cr.execute(
            SQL(
                "INSERT INTO esign_verify_throttle (client, minute, hits) VALUES (%s, %s, 1) "
                "ON CONFLICT (client, minute) DO UPDATE SET "
                "hits = esign_verify_throttle.hits + 1 RETURNING hits",
                client,
                minute,
            )
        )
        hits = cr.fetchone()[0]
        if hits == 1:  # a new minute: forget the counters older than ten minutes
            cr.execute(
                SQL(
                    "DELETE FROM esign_verify_throttle WHERE minute < %s - interval '10 minutes'",
                    minute,
                )
            )
        return hits <= limit


#: {CRL URL: (DER, next update)}: the TSAs' CRLs, fetched at most once per validity period.
_TSA_CRLS = {}


def _tsa_crls(company):
    """The current CRLs of the company's TSA certificates, for the seal's validation data.

    B-LT needs the TSA certificate's revocation status inside the file. The CRL of every
    certificate in "Trusted TSA Certificates" that names one (paste the TSA's own certificate
    with its root) is fetched once and kept until its next update; a TSA whose CRL cannot be
    had is left out, and the verifier then reports its timestamp as not proven.
    """
    found = []
    pem = company.esign_tsa_roots_pem
    if not pem:
        return found
    now = datetime.now(UTC)
    for cert in pki.load_certificates(pem.encode()):
        try:
            points = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
        except x509.ExtensionNotFound:
            continue
        for point in points:
            for name in point.full_name or ():
                url = getattr(name, "value", "")
                if not url.startswith(("http://", "https://")):
                    continue
                cached = _TSA_CRLS.get(url)
                if cached and cached[1] and cached[1] > now:
                    found.append(cached[0])
                    continue
                try:
                    response = requests.get(url, timeout=company.esign_tsa_timeout or 5.0)
                    response.raise_for_status()
                    crl = x509.load_der_x509_crl(response.content)
                except (requests.RequestException, ValueError) as exc:
                    _logger.warning("The TSA's CRL %s could not be fetched: %s", url, exc)
                    continue
                _TSA_CRLS[url] = (response.content, crl.next_update_utc)
                found.append(response.content)
    return found


def _in_folder(files, folder):
    """The evidence files of one record of several, moved under ``folder``."""
    moved = []
    for item in files:
        name = item.name
        if name.startswith(pdf_evidence.PREFIX):
            name = pdf_evidence.PREFIX + folder + name[len(pdf_evidence.PREFIX) :]
        moved.append(
            pdf_seal.EmbeddedFile(
                name=name,
                data=item.data,
                mime_type=item.mime_type,
                description=item.description,
            )
        )
    return moved


def _stamp_text(company, lang, env):
    """The company's stamp text in ``lang``; the default text in the add-on's translation
    when the company kept the default and gave no text of its own in that language."""
    text = company.with_context(lang=lang).esign_seal_stamp_text
    if not text or text == DEFAULT_STAMP_TEXT:
        return env._("Electronically signed")
    return text


def _latin1(lines):
    """Whether the stamp's lines can be drawn in the PDF standard font (Latin-1 only)."""
    try:
        "".join(lines).encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


def _local_display(moment, tz):
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


def _signature_state(sig):
    """valid / changed / revoked: the signature's state now, as the page says it."""
    cert = sig.certificate_id
    if cert and cert.state == "revoked":
        return "revoked"
    if sig.status == "changed":
        return "changed"
    return "valid"
