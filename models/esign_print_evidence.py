"""What a sealed printout carries besides the seal: the stamp's lines and the records'
evidence files (``services.pdf_evidence``), and the validation data of the seal (the CRLs of
the company CA and of the TSAs), for ``esign.print._seal_report``.
"""

import hashlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import requests
from cryptography import x509

from odoo import api, fields, models
from odoo.osv import expression

from ..services import pdf_evidence, pdf_seal, pki
from ..services import signature_chain as sigchain
from ..services import snapshot as snap
from .esign_print import local_display

_logger = logging.getLogger(__name__)

#: The stamp text a company starts with (``res.company.esign_seal_stamp_text``).
DEFAULT_STAMP_TEXT = "Electronically signed"
#: Fonts with Chinese glyphs for the stamp (Debian fonts-noto-cjk), first found wins.
CJK_FONTS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
    "/usr/share/fonts/truetype/noto/NotoSansCJK-Regular.ttc",
)
#: Room between the report's bottom margin (its footer) and the stamp, in points.
STAMP_FOOTER_GAP = 4.0


def cjk_font():
    """The path of a CJK font for the stamp, or None when none is installed."""
    for path in CJK_FONTS:
        if Path(path).is_file():
            return path
    return None


@dataclass(frozen=True)
class SealAnchors:
    """The company CA's certificates for one seal: the seal's trust root, the certificates a
    signature embeds, the root as PEM (embedded as evidence) and the CA's current CRL (DER)."""

    root: x509.Certificate
    chain: tuple
    root_pem: bytes
    crl: bytes


#: {(database, CA id, SHA-256 of its PEMs): (root, chain, root PEM)}: parsed once per process;
#: the key changes with the certificates, so a renewed CA is parsed again.
_CA_CACHE = {}
#: {SHA-256 of a PEM text: parsed certificates}: the companies' "Trusted TSA Certificates".
_PEM_CACHE = {}
_CACHE_SIZE = 64


def _cached(cache, key, make):
    value = cache.get(key)
    if value is None:
        if len(cache) >= _CACHE_SIZE:
            cache.clear()
        value = cache[key] = make()
    return value


def _certificates(pem):
    """The certificates of a PEM text, parsed once per process."""
    if not pem:
        return ()
    digest = hashlib.sha256(pem.encode()).hexdigest()
    return _cached(_PEM_CACHE, digest, lambda: tuple(pki.load_certificates(pem.encode())))


class EsignPrint(models.Model):
    _inherit = "esign.print"

    @api.model
    def _seal_anchors(self, ca):
        """The CA's certificates, parsed once per process, and its current CRL."""
        ca = ca.sudo()
        # One query for the certificates and the CRL (a binary column is not prefetched).
        ca.fetch(["certificate_pem", "chain_pem", "crl_der", "crl_this_update", "crl_next_update"])
        digest = hashlib.sha256(
            f"{ca.certificate_pem or ''}\n{ca.chain_pem or ''}".encode()
        ).hexdigest()

        def parse():
            root = ca._root()
            return root, tuple(ca._embedded_certificates()), pki.certificate_to_pem(root)

        root, chain, root_pem = _cached(_CA_CACHE, (self.env.cr.dbname, ca.id, digest), parse)
        return SealAnchors(root=root, chain=chain, root_pem=root_pem, crl=ca._current_crl())

    @api.model
    def _seal_options(self, company, anchors, lang):
        """How the company seals: level, TSAs and the validation data to embed."""
        urls = tuple(company._esign_tsa_url_list())
        timeout = company.esign_tsa_timeout or 5.0
        return pdf_seal.SealOptions(
            level=company.esign_seal_level or "B-LT",
            tsa_urls=urls,
            tsa_timeout=timeout,
            tsa_roots=_certificates(company.esign_tsa_roots_pem),
            timestamp_required=company.esign_seal_tsa_required,
            trust_roots=(anchors.root,),
            crls=(anchors.crl, *_tsa_crls(company, urls, timeout)),
            reason=self.with_context(lang=lang).env._("Controlled copy of a regulated record"),
            location=company.name,
        )

    @api.model
    def _seal_stamp(self, report, company, lang, tz, now, per_record, url):
        """The visible stamp: its lines in the report's language, the QR code of ``url``,
        above the report's footer (in the room ``ir.actions.report`` leaves for it)."""
        count = sum(len(item[1]) for item in per_record)
        lines = self._stamp_lines(company, lang, tz, now, count, per_record)
        no_time = self.with_context(lang=lang).env._(
            "No trusted time: no timestamp authority answered"
        )
        paperformat = report.get_paperformat()
        bottom = (paperformat.margin_bottom or 0) * 72 / 25.4 if paperformat else 0
        return pdf_seal.Stamp(
            lines=lines,
            qr_url=url,
            no_trusted_time_line=no_time,
            font_path=cjk_font() if not _latin1((*lines, no_time)) else None,
            bottom=max(bottom + STAMP_FOOTER_GAP, 18.0),
        )

    @api.model
    def _stamp_lines(self, company, lang, tz, now, signature_count, per_record):
        """The stamp's text lines, in the report's language."""
        env = self.with_context(lang=lang).env
        when = local_display(now, tz)
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
    def _print_records(self, records, numbers):
        """What one printout shows and embeds, with one query for all the e-signatures.

        :param numbers: {record id: its print number}.
        :return: ``(per_record, units)``: ``per_record`` lists (record, the e-signatures its
            printout shows, oldest first, print number); ``units`` lists (record, its own
            e-signatures, oldest first) for every record whose evidence is embedded: each
            printed record, then those behind it whose signatures it prints (a lot's
            manufacturing orders, as the Batch Release Certificate shows them).
        """
        batch = self.env["report.meddev_esign.report_batch_release_certificate"]
        plan = []
        for record in records:
            behind = batch._productions(record) if record._name == "stock.lot" else ()
            plan.append((record, [record, *behind]))
        keys = {(unit._name, unit.id) for _record, units in plan for unit in units}
        by_model = {}
        for model, res_id in keys:
            by_model.setdefault(model, []).append(res_id)
        domain = expression.OR(
            [[("res_model", "=", model), ("res_id", "in", ids)] for model, ids in by_model.items()]
        )
        found = self.env["esign.signature"].sudo().search(domain, order="signed_at, id")
        own = {}
        for sig in found:
            own.setdefault((sig.res_model, sig.res_id), []).append(sig.id)
        Signature = self.env["esign.signature"].sudo()
        per_record, units = [], []
        for record, its_units in plan:
            shown = {(unit._name, unit.id) for unit in its_units}
            per_record.append(
                (
                    record,
                    found.filtered(lambda sig, shown=shown: (sig.res_model, sig.res_id) in shown),
                    numbers[record.id],
                )
            )
            units.extend(
                (unit, Signature.browse(own.get((unit._name, unit.id), []))) for unit in its_units
            )
        return per_record, units

    @api.model
    def _evidence_files(self, company, anchors, per_record, units, now):
        """The files embedded in the sealed PDF: the evidence of each record (see
        ``services.pdf_evidence``). The first printed record's is at the top level, where a
        verifier looks first; each further record's is in ``record-<n>/``."""
        numbers = {(record._name, record.id): number for record, _sigs, number in per_record}
        ca_pem = anchors.root_pem
        ca_crl = anchors.crl
        tsa_roots = (company.esign_tsa_roots_pem or "").encode() or None
        files = []
        for index, (record, signatures) in enumerate(units):
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
                if sig.on_behalf_of_name:  # a delegate signed: the delegator's name too
                    entries[-1]["on_behalf_of"] = sig.on_behalf_of_name
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
            chain = sigchain.export_document(record._name, record.id, signatures._chain_links_of())
            record_files = pdf_evidence.build_files(
                record_vals, chain, folders, ca_pem=ca_pem, ca_crl=ca_crl, tsa_roots_pem=tsa_roots
            )
            if index:
                record_files = _in_folder(record_files, f"record-{index + 1}/")
            files.extend(record_files)
        return tuple(files)


#: {CRL URL: (DER, next update)}: the TSAs' CRLs, fetched at most once per validity period.
_TSA_CRLS = {}


def _crl_urls(certificate):
    try:
        points = certificate.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    except x509.ExtensionNotFound:
        return []
    return [
        name.value
        for point in points
        for name in point.full_name or ()
        if isinstance(getattr(name, "value", None), str)
        and name.value.startswith(("http://", "https://"))
    ]


def _tsa_crls(company, urls, timeout):
    """The current CRLs of the TSAs' certificates, for the seal's validation data.

    B-LT needs the TSA certificate's revocation status inside the file. The certificates
    looked at are those the TSAs put in their own tokens (``pdf_seal.tsa_certificates``: the
    TSA's certificate and its chain, learnt from the token kept to size the next seal), and
    any pasted in "Trusted TSA Certificates"; so configuring the TSA's root is enough. The CRL
    each names (CRL distribution point, http or https) is fetched once and kept until its next
    update. A TSA whose certificate names no CRL, or whose CRL cannot be had, is left out: the
    verifier then says its timestamp's revocation status is not in the file.
    """
    found, seen = [], set()
    certificates = (
        *pdf_seal.tsa_certificates(urls, timeout),
        *_certificates(company.esign_tsa_roots_pem),
    )
    now = datetime.now(UTC)
    for cert in certificates:
        for url in _crl_urls(cert):
            if url in seen:
                continue
            seen.add(url)
            cached = _TSA_CRLS.get(url)
            if cached and cached[1] and cached[1] > now:
                found.append(cached[0])
                continue
            try:
                response = requests.get(url, timeout=timeout)
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
