"""Seal a rendered PDF report: one PAdES signature over the whole file, with its evidence inside.

:func:`seal_pdf` takes the bytes of a finished report and returns a new PDF with

* the record's evidence files (:class:`EmbeddedFile`) attached as PDF embedded files (the
  document's ``/EmbeddedFiles`` name tree, which viewers list in their attachments pane),
  added **before** signing so the seal covers them;
* a visible stamp on the last page (the caller's lines and a QR code of the verification URL);
* one PAdES signature (``ETSI.CAdES.detached``) made in this process with pyHanko, at the level
  asked for:

  ``B-B``   the signature alone;
  ``B-T``   plus a signature timestamp from the first TSA of ``tsa_urls`` that answers;
  ``B-LT``  plus the signer's and the TSA's chains and the CRLs/OCSP responses the caller gave,
            in the document security store (DSS) of the same revision, so the file validates
            long-term with no network;
  ``B-LTA`` plus a document timestamp over all of it, in a second revision.

Everything up to B-LT is written as a single incremental update of the caller's PDF: the
embedded files, the stamp, the signature and the DSS. No network is used except the TSA.

When no TSA answers: with ``timestamp_required`` the seal is refused
(:class:`SealError` ``"tsa_unavailable"``); without it the file is sealed at B-B, the stamp
carries the caller's "no trusted time" line, and :class:`SealResult` says so.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import io
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from asn1crypto import crl, ocsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pyhanko.pdf_utils import embed, misc
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.layout import LayoutError
from pyhanko.sign import fields, signers
from pyhanko.sign.general import SigningError as PyhankoSigningError
from pyhanko.sign.signers import pdf_signer
from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator.errors import (
    InvalidCertificateError,
    PathBuildingError,
    PathValidationError,
)

from . import pdf_seal_validation
from .pdf_seal_stamp import cjk_font_path, given_box, stamp_box, stamp_style
from .pdf_seal_tsa import (
    FailoverTimeStamper,
    seal_signer,
    token_time,
    tsa_certificates,
    tsa_failure,
)
from .pki_errors import PkiError, SealError

__all__ = [
    "LEVELS",
    "EmbeddedFile",
    "SealError",
    "SealOptions",
    "SealResult",
    "Stamp",
    "cjk_font_path",
    "seal_pdf",
    "tsa_certificates",
]

LEVELS = ("B-B", "B-T", "B-LT", "B-LTA")
"""The PAdES baseline levels :func:`seal_pdf` makes, weakest first."""

_KEY_USAGE = ("digital_signature",)


@dataclass(frozen=True)
class EmbeddedFile:
    """A file to attach to the sealed PDF.

    :param name: Its name in the attachments pane, printable ASCII (e.g.
        ``"meddev-esign/record.json"``).
    :param data: Its content.
    :param mime_type: Its MIME type.
    :param description: A one-line description shown by viewers.
    """

    name: str
    data: bytes
    mime_type: str = "application/octet-stream"
    description: str = ""


@dataclass(frozen=True)
class Stamp:
    """The visible stamp on the last page.

    :param lines: The text lines, already translated by the caller (company name,
        "Electronically signed", the number of e-signatures, the sealing time with its zone).
    :param qr_url: The URL the QR code encodes (the verification page of this print).
    :param no_trusted_time_line: A line added when the seal carries no timestamp.
    :param font_path: An OpenType/TrueType font for the text (``.otf``, ``.ttf``, or a
        ``.ttc`` collection, whose Simplified Chinese face is used); needed when the lines are
        not Latin-1. ``None`` uses the PDF standard font Courier.
    :param box: Where on the last page, ``(x1, y1, x2, y2)`` in PDF points from the bottom
        left corner; ``None`` puts a 250 x 72 pt stamp at the right, 18 pt from the edges.
    :param bottom: With no ``box``: the stamp's bottom edge, in points above the page's, e.g.
        the report's bottom margin, so that the stamp sits above the report's footer (in the
        room the report left blank for it) instead of over it; ``None``: 18 pt.
    """

    lines: tuple[str, ...]
    qr_url: str
    no_trusted_time_line: str
    font_path: str | None = None
    box: tuple[float, float, float, float] | None = None
    bottom: float | None = None


@dataclass(frozen=True)
class SealOptions:
    """How to seal.

    :param level: ``"B-B"``, ``"B-T"``, ``"B-LT"`` (default) or ``"B-LTA"``.
    :param tsa_urls: The RFC 3161 TSAs, tried in order.
    :param tsa_timeout: Seconds allowed per TSA.
    :param tsa_roots: The TSAs' trust anchors (needed for B-LT and B-LTA).
    :param timestamp_required: Refuse to seal when no TSA answers (else seal at B-B).
    :param trust_roots: The company CA's root: the anchor of the seal certificate.
    :param crls: DER CRLs for the DSS (the company CA's current CRL, the TSA's CA's).
    :param ocsp_responses: DER OCSP responses for the DSS.
    :param reason: The signature's ``/Reason``.
    :param location: The signature's ``/Location``.
    :param field_name: The signature field's name.
    """

    level: str = "B-LT"
    tsa_urls: tuple[str, ...] = ()
    tsa_timeout: float = 10.0
    tsa_roots: tuple[x509.Certificate, ...] = ()
    timestamp_required: bool = True
    trust_roots: tuple[x509.Certificate, ...] = ()
    crls: tuple[bytes, ...] = ()
    ocsp_responses: tuple[bytes, ...] = ()
    reason: str = ""
    location: str = ""
    field_name: str = "MeddevSeal"


@dataclass(frozen=True)
class SealResult:
    """A sealed PDF.

    :param pdf: The sealed file.
    :param sha256: SHA-256 of ``pdf``, 64 lowercase hex digits.
    :param level: The level reached (``"B-B"`` when the TSA failed and a timestamp was optional).
    :param timestamped: Whether the signature carries a timestamp.
    :param timestamp_time: The signature timestamp's time (UTC), if any.
    :param tsa_error: Why no timestamp could be had, in English, when every TSA failed.
    """

    pdf: bytes
    sha256: str
    level: str
    timestamped: bool
    timestamp_time: datetime | None
    tsa_error: str | None


class _NoFetchingNotice(logging.Filter):
    """Drop pyHanko's warning that revocation data is embedded with fetching off.

    Fetching is off on purpose here (the caller gives the CA's current CRL); the warning would
    otherwise be logged on every seal.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return "fetching is not allowed" not in record.getMessage()


logging.getLogger(pdf_signer.__name__).addFilter(_NoFetchingNotice())


# --- Validation data ----------------------------------------------------------------------


@functools.lru_cache(maxsize=64)
def _asn1_cert(der: bytes) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(der)


@functools.lru_cache(maxsize=64)
def _asn1_crl(der: bytes) -> crl.CertificateList:
    loaded = crl.CertificateList.load(der)
    _ = loaded.native  # parse fully once, not on every seal
    return loaded


@functools.lru_cache(maxsize=64)
def _asn1_ocsp(der: bytes) -> ocsp.OCSPResponse:
    loaded = ocsp.OCSPResponse.load(der)
    _ = loaded.native
    return loaded


def _der(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.DER)


def _validation_context(options: SealOptions, signer: signers.Signer) -> ValidationContext:
    """The context pyHanko validates the seal and TSA chains in, and takes the DSS data from.

    Fetching is off: the DSS holds what the caller gave (the company CA's current CRL) and
    what the signer and the TSA token carry.
    """
    try:
        roots = [_asn1_cert(_der(item)) for item in (*options.trust_roots, *options.tsa_roots)]
        crls = [_asn1_crl(bytes(item)) for item in options.crls]
        ocsps = [_asn1_ocsp(bytes(item)) for item in options.ocsp_responses]
    except (ValueError, TypeError) as exc:
        raise SealError(
            "bad_input", f"A trust root, CRL or OCSP response is malformed: {exc}"
        ) from exc
    others = list(signer.cert_registry) if signer.cert_registry is not None else []
    return ValidationContext(
        trust_roots=roots,
        other_certs=others,
        crls=crls,
        ocsps=ocsps,
        allow_fetching=False,
        revocation_mode="soft-fail",
    )


def _validation_key(
    options: SealOptions, signer: signers.Signer, stamper: FailoverTimeStamper | None
) -> bytes | None:
    """What the seal's validation data depends on (:mod:`services.pdf_seal_validation`);
    ``None`` while the TSA's certificates are not known (no token of it kept yet)."""
    tsa = None
    if stamper is not None:
        tsa = stamper.known_certificates()
        if not tsa:
            return None
    return pdf_seal_validation.cache_key(
        [signer.signing_cert, *(signer.cert_registry or ())],
        [_der(item) for item in (*options.trust_roots, *options.tsa_roots)],
        options.crls,
        options.ocsp_responses,
        tsa,
        _KEY_USAGE,
    )


def _check_signer(options: SealOptions, signer: signers.Signer) -> None:
    """Refuse a seal certificate that does not chain to the roots or is revoked per the CRLs.

    At B-LT and B-LTA pyHanko does this while collecting the validation data; below, nothing
    in the file would show a revocation, so the seal is refused here (soft-fail: no CRL given
    is not a refusal).

    :raises SealError: ``"signer"``.
    """
    context = _validation_context(options, signer)
    validator = CertificateValidator(
        signer.signing_cert,
        intermediate_certs=list(signer.cert_registry or ()),
        validation_context=context,
    )
    try:
        asyncio.run(validator.async_validate_usage(set(_KEY_USAGE)))
    except (PathBuildingError, PathValidationError, InvalidCertificateError) as exc:
        raise SealError("signer", f"The seal certificate cannot be used: {exc}") from exc


# --- Embedded files -----------------------------------------------------------------------


def _check_files(files: Iterable[EmbeddedFile]) -> list[EmbeddedFile]:
    checked = []
    names = set()
    for item in files:
        if not isinstance(item, EmbeddedFile) or not isinstance(item.data, bytes | bytearray):
            raise SealError("bad_input", "An embedded file must be an EmbeddedFile with bytes.")
        if (
            not item.name
            or not item.name.isascii()
            or not item.name.isprintable()
            or item.name in names
        ):
            raise SealError(
                "bad_input", f"The embedded file name {item.name!r} is empty, not ASCII or twice."
            )
        names.add(item.name)
        checked.append(item)
    # A PDF name tree's keys are sorted; pyHanko appends, so add them in order.
    return sorted(checked, key=lambda item: item.name.encode("ascii"))


def _embed(writer: IncrementalPdfFileWriter, files: Sequence[EmbeddedFile]) -> None:
    for item in files:
        data = embed.EmbeddedFileObject.from_file_data(
            writer,
            bytes(item.data),
            mime_type=item.mime_type or None,
            params=embed.EmbeddedFileParams(embed_size=True, embed_checksum=True),
        )
        embed.embed_file(
            writer,
            embed.FileSpec(
                file_spec_string=item.name,
                file_name=item.name,
                embedded_data=data,
                description=item.description or None,
            ),
        )


# --- Sealing ------------------------------------------------------------------------------


def _writer(pdf: bytes) -> IncrementalPdfFileWriter:
    if not isinstance(pdf, bytes | bytearray) or not bytes(pdf[:1024]).lstrip().startswith(
        b"%PDF"
    ):
        raise SealError("bad_pdf", "The report is not a PDF file.")
    try:
        writer = IncrementalPdfFileWriter(io.BytesIO(bytes(pdf)), strict=False)
        if writer.security_handler is not None:
            raise SealError("bad_pdf", "The report is encrypted; it cannot be sealed.")
        _ = writer.root["/Pages"]
        return writer
    except SealError:
        raise
    except (misc.PdfError, ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
        raise SealError("bad_pdf", f"The report is not a well-formed PDF: {exc}") from exc


def _reserve(signer: signers.Signer, stamper: FailoverTimeStamper | None) -> int | None:
    """Room for the CMS in the PDF (hex digits), so pyHanko need not build a trial CMS.

    pyHanko sizes the ``/Contents`` placeholder by making a whole dummy signature first, which
    costs as much as the signature itself. The CMS holds the signed attributes (under 1 KB), the
    signature value, the certificates and the timestamp token, so their sizes plus a margin
    bound it. ``None`` (let pyHanko estimate) when the token's size is not known yet.
    """
    if stamper is not None:
        dummy = stamper._dummy_response_cache.get("sha256")
        if dummy is None:
            return None
        token = len(dummy.dump())
    else:
        token = 0
    certificates = [signer.signing_cert, *(signer.cert_registry or ())]
    size = sum(len(item.dump()) for item in certificates if item is not None)
    # 2 hex digits per byte; 1 KB for the signed attributes and an RSA-4096 signature; +10%.
    return 2 * ((size + token + 1024) * 11 // 10)


def _sign_once(
    pdf: bytes,
    signer: signers.Signer,
    options: SealOptions,
    level: str,
    stamp: Stamp | None,
    files: Sequence[EmbeddedFile],
    stamper: FailoverTimeStamper | None,
) -> bytes:
    """Seal once; if the CMS outgrew the room reserved for it, again with pyHanko's sizing."""
    try:
        return _sign_with(pdf, signer, options, level, stamp, files, stamper, reserve=True)
    except PyhankoSigningError as exc:
        if "larger than expected" not in str(exc):
            raise
        return _sign_with(pdf, signer, options, level, stamp, files, stamper, reserve=False)


def _sign_with(  # noqa: PLR0913
    pdf: bytes,
    signer: signers.Signer,
    options: SealOptions,
    level: str,
    stamp: Stamp | None,
    files: Sequence[EmbeddedFile],
    stamper: FailoverTimeStamper | None,
    *,
    reserve: bool,
) -> bytes:
    if stamper is not None:
        stamper.tokens.clear()  # the signature timestamp is the first token of this attempt
    writer = _writer(pdf)
    _embed(writer, files)
    long_term = level in ("B-LT", "B-LTA")
    context = key = found = None
    if long_term:
        key = _validation_key(options, signer, stamper)
        found = pdf_seal_validation.kept(key) if key is not None else None
        # A kept context is only read at B-LT; B-LTA validates the document timestamp's TSA
        # after signing, in a context of its own (a context is not shared across threads).
        context = (
            found[1]
            if found is not None and level == "B-LT"
            else _validation_context(options, signer)
        )
    meta = signers.PdfSignatureMetadata(
        field_name=options.field_name,
        md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
        reason=options.reason or None,
        location=options.location or None,
        embed_validation_info=long_term,
        use_pades_lta=level == "B-LTA",
        validation_context=context,
        signer_key_usage=set(_KEY_USAGE),
        # One revision for files, stamp, signature and DSS: no VRI (deprecated in PAdES),
        # so the DSS can be written before the signature instead of in an update after it.
        dss_settings=pdf_signer.DSSContentSettings(
            include_vri=False,
            placement=pdf_signer.SigDSSPlacementPreference.TOGETHER_WITH_SIGNATURE,
        ),
    )
    params = None
    style = None
    field_spec = None
    if stamp is not None:
        lines = list(stamp.lines)
        if stamper is None and stamp.no_trusted_time_line:
            lines.append(stamp.no_trusted_time_line)
        style = stamp_style(stamp.font_path, lines)
        params = {"url": stamp.qr_url}
        field_spec = fields.SigFieldSpec(
            sig_field_name=options.field_name,
            on_page=-1,
            box=stamp_box(writer, stamp.bottom) if stamp.box is None else given_box(stamp.box),
        )
    else:
        field_spec = fields.SigFieldSpec(sig_field_name=options.field_name)
    pdf_signer_obj = signers.PdfSigner(
        meta,
        signer=signer,
        timestamper=stamper,
        stamp_style=style,
        new_field_spec=field_spec,
    )
    out = io.BytesIO()

    async def sign() -> None:
        # pyHanko's interrupted-signing steps (what PdfSigner.sign_pdf runs), so that the
        # pre-signing validation can come from the last seal with the same inputs.
        session = pdf_signer_obj.init_signing_session(writer)
        if found is not None:
            status = found[0]
        else:
            status = await session.perform_presign_validation(writer)
            # The TSA's certificates are known now if its first token was fetched just now.
            kept_as = key or (_validation_key(options, signer, stamper) if long_term else None)
            if kept_as is not None and status is not None and context is not None:
                pdf_seal_validation.keep(kept_as, status, context, context.crls)
        reserved = _reserve(signer, stamper) if reserve else None
        if reserved is None:
            reserved = await session.estimate_signature_container_size(status)
        document = session.prepare_tbs_document(
            validation_info=status,
            bytes_reserved=reserved,
            appearance_text_params=params,
        )
        digest, output = document.digest_tbs_document(output=out)
        signed = await document.perform_signature(
            document_digest=digest.document_digest,
            pdf_cms_signed_attrs=PdfCMSSignedAttributes(
                signing_time=session.system_time,
                adobe_revinfo_attr=None if status is None else status.adobe_revinfo_attr,
            ),
        )
        await signed.post_signature_processing(output)

    asyncio.run(sign())
    return out.getvalue()


def seal_pdf(
    pdf: bytes,
    signer: signers.Signer,
    options: SealOptions,
    *,
    stamp: Stamp | None = None,
    files: Sequence[EmbeddedFile] = (),
) -> SealResult:
    """Seal a PDF with one PAdES signature, its evidence embedded and a stamp on the last page.

    :param pdf: The rendered report.
    :param signer: The company seal's pyHanko signer: a
        :class:`services.pki_sign.CachedKeySigner` or a :class:`services.pki_hsm.HsmSigner`,
        with the CA chain in its certificate registry.
    :param options: Level, TSAs, trust roots and the validation data to embed.
    :param stamp: The visible stamp; ``None`` for an invisible seal.
    :param files: Files to embed (and seal) in the PDF.
    :return: The sealed PDF and what was reached.
    :raises SealError: ``"bad_input"``, ``"bad_pdf"``, ``"tsa_unavailable"``, ``"signer"``
        or ``"font"`` (see :class:`SealError`).
    """
    if options.level not in LEVELS:
        raise SealError("bad_input", f"The PAdES level {options.level!r} is not one of {LEVELS}.")
    if stamp is not None and (not stamp.qr_url or not isinstance(stamp.lines, tuple | list)):
        raise SealError("bad_input", "The stamp needs its lines and a QR code URL.")
    if getattr(signer, "signing_cert", None) is None:
        raise SealError("signer", "The seal signer has no certificate.")
    checked = _check_files(files)
    try:
        signer = seal_signer(signer)
    except (ValueError, TypeError, AttributeError, PyhankoSigningError) as exc:
        raise SealError("signer", f"The seal signer is unusable: {exc}") from exc
    level = options.level
    if level in ("B-LT", "B-LTA") and not (options.trust_roots and options.tsa_roots):
        raise SealError(
            "bad_input", f"A {level} seal needs the company CA's and the TSA's root certificates."
        )
    if level in ("B-B", "B-T") and options.trust_roots:
        _check_signer(options, signer)
    stamper = (
        FailoverTimeStamper(options.tsa_urls, options.tsa_timeout) if level != "B-B" else None
    )
    tsa_error: str | None = None
    try:
        try:
            sealed = _sign_once(pdf, signer, options, level, stamp, checked, stamper)
        except Exception as exc:  # noqa: BLE001 - pyHanko wraps the TSA failure variously
            failure = tsa_failure(exc) if stamper is not None else None
            if failure is None:
                raise
            tsa_error = str(failure)
            if options.timestamp_required:
                raise SealError(
                    "tsa_unavailable",
                    f"The report cannot be sealed: a trusted timestamp is required. {tsa_error}",
                ) from exc
            level, stamper = "B-B", None
            sealed = _sign_once(pdf, signer, options, level, stamp, checked, None)
    except SealError:
        raise
    except PkiError as exc:  # an HSM or signing error of the seal key
        raise SealError("signer", f"The seal could not be made: {exc}") from exc
    except (PathBuildingError, PathValidationError) as exc:
        raise SealError(
            "signer",
            "The seal's or the TSA's certificate does not validate against the configured "
            f"roots: {exc}",
        ) from exc
    except PyhankoSigningError as exc:
        cause = f" ({exc.__cause__})" if exc.__cause__ is not None else ""
        raise SealError("signer", f"The seal could not be made: {exc}{cause}") from exc
    except LayoutError as exc:
        raise SealError("font", f"The stamp cannot be laid out: {exc}") from exc
    except (misc.PdfError, NotImplementedError) as exc:
        raise SealError("bad_pdf", f"The report cannot be sealed: {exc}") from exc
    timestamp_time = None
    if stamper is not None:
        stamper.remember_dummy()
        if stamper.tokens:
            timestamp_time = token_time(stamper.tokens[0])
    return SealResult(
        pdf=sealed,
        sha256=hashlib.sha256(sealed).hexdigest(),
        level=level,
        timestamped=stamper is not None,
        timestamp_time=timestamp_time,
        tsa_error=tsa_error,
    )
