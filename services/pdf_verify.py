"""Verify a sealed report offline: every PAdES signature, its timestamp, its DSS, later changes.

:func:`verify_sealed_pdf` answers with a :class:`PdfVerdict`:

``authentic``       every seal is intact, chains to the trust roots, was not revoked at its
                    signing time (per the embedded DSS), nothing but validation data or a
                    document timestamp was added after it, and the embedded evidence agrees;
``altered``         a seal's digest or signature fails, content was changed or added after it,
                    or the embedded evidence contradicts itself;
``unknown_issuer``  a seal is intact but its certificate does not chain to the trust roots, it
                    was revoked at signing time, or its timestamp is by an untrusted TSA;
``not_sealed``      a readable PDF with no signature;
``unusable``        not a PDF, broken, encrypted or too large.

Validation is pyHanko's, with revocation fetching **off**: revocation is judged from the
CRLs/OCSP responses in the file's DSS at the signature timestamp's time (or the signer's own
time when there is no timestamp). When the file holds no usable revocation data for a
certificate (a seal below B-LT, or a DSS without the TSA's CA's CRL), its status is reported
as not proven by the file, which does not make the seal fail; a revocation the file does show
does. Hostile input never raises; uploads are decoded within tight size limits.
"""

from __future__ import annotations

import hashlib
import io
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.decode_limits import DecodeLimits, DocumentDecodeBudget, StreamDecodeLimits
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.validation import (
    DocumentSecurityStore,
    validate_pdf_signature,
    validate_pdf_timestamp,
)
from pyhanko.sign.validation.settings import KeyUsageConstraints
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext

from .pdf_evidence import PREFIX, Check, check_evidence
from .pki_keys import utc

__all__ = [
    "STATUSES",
    "Check",
    "PdfVerdict",
    "verify_sealed_pdf",
]

STATUSES = ("authentic", "altered", "unknown_issuer", "not_sealed", "unusable")

_LOG = logging.getLogger(__name__)
_MAX_EMBEDDED_FILES = 500
_MAX_EMBEDDED_BYTES = 50 * 1024 * 1024
_MIB = 1024 * 1024
_DECODE_LIMITS = DecodeLimits(
    per_stream=StreamDecodeLimits(max_ratio=1100, ratio_floor=_MIB, max_output_size=32 * _MIB),
    document_budget=DocumentDecodeBudget(base_allowance=96 * _MIB, max_ratio=50),
)
"""An uploaded file is untrusted: a compressed stream may not inflate past 32 MB, nor the
whole file's streams past 96 MB (or 50 times its size), however it nests its filters."""


@dataclass(frozen=True)
class PdfVerdict:
    """What :func:`verify_sealed_pdf` found.

    :param status: One of :data:`STATUSES`.
    :param sha256: SHA-256 of the file, hex (empty when it was not read: too large).
    :param checks: Every check made, in order, each one line of English.
    :param sealed_at: The seal's trusted time (its timestamp), else the signer's own time.
    :param signer_subject: The seal certificate's subject (RFC 4514), if readable.
    :param timestamped: Whether the seal carries a valid, trusted signature timestamp.
    :param embedded: The embedded files by name (read-only).
    """

    status: str
    sha256: str
    checks: tuple[Check, ...]
    sealed_at: datetime | None = None
    signer_subject: str | None = None
    timestamped: bool = False
    embedded: Mapping[str, bytes] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def ok(self) -> bool:
        """``True`` only for ``authentic``."""
        return self.status == "authentic"


def _asn1(certificates: Iterable[x509.Certificate]) -> list[asn1_x509.Certificate]:
    return [
        asn1_x509.Certificate.load(item.public_bytes(serialization.Encoding.DER))
        for item in certificates
    ]


def _subject(certificate: Any) -> str | None:
    try:
        return x509.load_der_x509_certificate(certificate.dump()).subject.rfc4514_string()
    except Exception:  # noqa: BLE001
        return None


def _timestamp_time(embedded_sig: Any) -> datetime | None:
    """genTime of the signature timestamp token in the CMS's unsigned attributes."""
    try:
        attrs = embedded_sig.signer_info["unsigned_attrs"]
        if attrs.native is None:
            return None
        for attr in attrs:
            if attr["type"].native == "signature_time_stamp_token":
                token = attr["values"][0]
                return utc(
                    token["content"]["encap_content_info"]["content"].parsed["gen_time"].native
                )
    except Exception:  # noqa: BLE001
        return None
    return None


def _embedded_files(reader: PdfFileReader) -> tuple[dict[str, bytes], list[str]]:
    """The document's embedded files (``/EmbeddedFiles`` name tree): by name, and the names
    that could not be read (corrupt, or past the decoding limits)."""
    found: dict[str, bytes] = {}
    unreadable: list[str] = []
    total = 0
    try:
        tree = reader.root["/Names"]["/EmbeddedFiles"]
    except (KeyError, TypeError):
        return found, unreadable
    stack = [(tree, 0)]
    seen: set[tuple[int, int]] = set()
    while stack and len(found) + len(unreadable) < _MAX_EMBEDDED_FILES:
        node, depth = stack.pop()
        if isinstance(node, generic.IndirectObject):
            if (node.idnum, node.generation) in seen:
                continue
            seen.add((node.idnum, node.generation))
            node = node.get_object()
        if depth > 16 or not isinstance(node, generic.DictionaryObject):
            continue
        if "/Kids" in node:
            stack.extend((kid, depth + 1) for kid in node.raw_get("/Kids").get_object())
            continue
        names = node.get("/Names")
        names = names.get_object() if names is not None else []
        for index in range(0, len(names) - 1, 2):
            name = str(names[index])
            try:
                spec = names[index + 1].get_object()
                stream = spec["/EF"].get("/UF") or spec["/EF"]["/F"]
                data = stream.get_object().data
            except Exception:  # noqa: BLE001 - a broken entry is reported, the seal still judged
                unreadable.append(name)
                continue
            total += len(data)
            if total > _MAX_EMBEDDED_BYTES:
                unreadable.append(name)
                return found, unreadable
            found[name] = data
    return found, unreadable


def _vc(
    dss: DocumentSecurityStore | None, roots: list, moment: datetime | None, *, strict: bool = True
) -> Any:
    kwargs: dict[str, Any] = {
        "trust_roots": roots,
        "allow_fetching": False,
        "revocation_mode": "hard-fail" if strict else "soft-fail",
    }
    if moment is not None:
        kwargs["moment"] = moment
    if dss is not None:
        return dss.as_validation_context(kwargs)
    # No DSS (a seal below B-LT): nothing to judge revocation by; the check says so.
    kwargs.update(revocation_mode="soft-fail", crls=[], ocsps=[])
    return ValidationContext(**kwargs)


_MODIFICATIONS_OK = (ModificationLevel.NONE, ModificationLevel.LTA_UPDATES)
_REVOKED = ("REVOKED", "REVOKED_NO_POE", "REVOKED_CA_NO_POE")


def _may_lack_revinfo(status: Any) -> bool:
    """Whether an untrusted (but intact) signer or TSA status may only miss revocation data:
    a path to a root was found and nothing says it was revoked."""
    if status is None or status.trusted or status.validation_path is None:
        return False
    return not status.revoked and getattr(status.trust_problem_indic, "name", None) not in _REVOKED


def _judge_signature(
    index: int,
    embedded_sig: Any,
    dss: DocumentSecurityStore | None,
    roots: list,
    tsa_roots: list,
) -> tuple[str, list[Check], datetime | None, str | None, bool]:
    """Validate one ``/Sig`` signature: (status, checks, time, subject, timestamped)."""
    label = f"seal {index} ({embedded_sig.field_name})"
    checks: list[Check] = []
    ts_time = _timestamp_time(embedded_sig)
    claimed = ts_time or embedded_sig.self_reported_timestamp
    subject = _subject(embedded_sig.signer_cert)
    status = validate_pdf_signature(
        embedded_sig,
        signer_validation_context=_vc(dss, roots, claimed),
        ts_validation_context=_vc(dss, tsa_roots or roots, ts_time),
        key_usage_settings=KeyUsageConstraints(key_usage=set()),
    )
    # A chain that fails only for want of revocation data in the file (no CRL of the CA, or
    # of the TSA's CA, was embedded) is not a forgery: judge it again without requiring the
    # data, and say which status is unproven.
    seal_unproven = tsa_unproven = False
    if dss is not None and (
        _may_lack_revinfo(status) or _may_lack_revinfo(status.timestamp_validity)
    ):
        lenient = validate_pdf_signature(
            embedded_sig,
            signer_validation_context=_vc(dss, roots, claimed, strict=False),
            ts_validation_context=_vc(dss, tsa_roots or roots, ts_time, strict=False),
            key_usage_settings=KeyUsageConstraints(key_usage=set()),
        )
        seal_unproven = not status.trusted and lenient.trusted
        strict_tst, lenient_tst = status.timestamp_validity, lenient.timestamp_validity
        tsa_unproven = bool(
            strict_tst and lenient_tst and not strict_tst.trusted and lenient_tst.trusted
        )
        status = lenient
    verdict = "authentic"
    intact = bool(status.intact and status.valid)
    checks.append(
        Check(
            f"{label} integrity",
            intact,
            "The signed bytes are unchanged and the signature value is correct."
            if intact
            else "The signed bytes were changed or the signature value is wrong.",
        )
    )
    if not intact:
        verdict = "altered"
    # The chain and the revocation status, at the signing time, from the DSS only.
    sub = status.trust_problem_indic
    sub_name = getattr(sub, "name", None)
    if status.trusted:
        checks.append(Check(f"{label} signer", True, f"{subject} chains to a trusted root."))
        if seal_unproven:
            revocation = (
                "Not revoked as far as the file shows; its validation data holds no usable "
                "CRL or OCSP answer for the seal certificate at its signing time."
            )
        elif dss is not None:
            revocation = "Not revoked at signing time (embedded CRL/OCSP, no network)."
        else:
            revocation = (
                "Not revoked as far as the file shows; it embeds no revocation data "
                "(sealed below B-LT)."
            )
        checks.append(Check(f"{label} revocation", True, revocation))
    elif status.revoked or sub_name in ("REVOKED", "REVOKED_NO_POE", "REVOKED_CA_NO_POE"):
        checks.append(Check(f"{label} signer", True, f"{subject} chains to a trusted root."))
        checks.append(
            Check(
                f"{label} revocation", False, "The seal certificate was revoked at signing time."
            )
        )
        verdict = "unknown_issuer" if verdict == "authentic" else verdict
    elif status.validation_path is not None and sub_name in ("TRY_LATER", "NO_POE"):
        checks.append(Check(f"{label} signer", True, f"{subject} chains to a trusted root."))
        checks.append(
            Check(
                f"{label} revocation",
                False,
                "The file embeds no usable revocation data for the seal certificate at its "
                "signing time.",
            )
        )
        verdict = "unknown_issuer" if verdict == "authentic" else verdict
    else:
        why = sub_name.lower().replace("_", " ") if sub_name else "no path to a trusted root"
        checks.append(
            Check(
                f"{label} signer",
                False,
                f"{subject} does not chain to the trusted root ({why}).",
            )
        )
        verdict = "unknown_issuer" if verdict == "authentic" else verdict
    # The signature timestamp.
    tst = status.timestamp_validity
    timestamped = False
    if tst is None:
        checks.append(
            Check(
                f"{label} timestamp",
                True,
                "No timestamp: the sealing time is the sealing server's own clock.",
            )
        )
    elif not (tst.intact and tst.valid):
        checks.append(Check(f"{label} timestamp", False, "The timestamp token is corrupt."))
        verdict = "altered"
    elif not tst.trusted:
        checks.append(
            Check(
                f"{label} timestamp",
                False,
                f"The timestamp ({tst.timestamp:%Y-%m-%d %H:%M:%S} UTC) is by an untrusted TSA.",
            )
        )
        verdict = "unknown_issuer" if verdict == "authentic" else verdict
    else:
        timestamped = True
        unproven = (
            " The TSA certificate's revocation status is not in the file." if tsa_unproven else ""
        )
        checks.append(
            Check(
                f"{label} timestamp",
                True,
                f"Trusted timestamp {utc(tst.timestamp):%Y-%m-%d %H:%M:%S} UTC.{unproven}",
            )
        )
    # What was done to the file after the seal.
    level = status.modification_level
    coverage = status.coverage
    if coverage == SignatureCoverageLevel.ENTIRE_FILE or (
        coverage == SignatureCoverageLevel.ENTIRE_REVISION and level in _MODIFICATIONS_OK
    ):
        detail = (
            "Nothing was added after the seal."
            if coverage == SignatureCoverageLevel.ENTIRE_FILE
            else "Only validation data or a document timestamp was added after the seal."
        )
        checks.append(Check(f"{label} modifications", True, detail))
    else:
        what = getattr(level, "name", "unknown").lower().replace("_", " ")
        checks.append(
            Check(
                f"{label} modifications",
                False,
                f"The file was changed after the seal (pyHanko difference analysis: {what}).",
            )
        )
        verdict = "altered"
    return verdict, checks, utc(tst.timestamp) if timestamped else claimed, subject, timestamped


def _judge_doc_timestamp(
    index: int, embedded_sig: Any, dss: Any, tsa_roots: list
) -> tuple[str, Check]:
    label = f"document timestamp {index}"
    moment = _timestamp_token_time(embedded_sig)
    status = validate_pdf_timestamp(embedded_sig, validation_context=_vc(dss, tsa_roots, moment))
    unproven = ""
    if dss is not None and _may_lack_revinfo(status):
        lenient = validate_pdf_timestamp(
            embedded_sig, validation_context=_vc(dss, tsa_roots, moment, strict=False)
        )
        if lenient.trusted:
            status = lenient
            unproven = " The TSA certificate's revocation status is not in the file."
    level = status.modification_level
    if not (status.intact and status.valid):
        return "altered", Check(label, False, "The document timestamp does not match the file.")
    if status.coverage != SignatureCoverageLevel.ENTIRE_FILE and level not in _MODIFICATIONS_OK:
        return "altered", Check(label, False, "The file was changed after the document timestamp.")
    if not status.trusted:
        return "unknown_issuer", Check(
            label, False, "The document timestamp is by an untrusted TSA."
        )
    when = f"{utc(status.timestamp):%Y-%m-%d %H:%M:%S}"
    return "authentic", Check(label, True, f"Trusted document timestamp {when} UTC.{unproven}")


def _timestamp_token_time(embedded_sig: Any) -> datetime | None:
    try:
        return utc(
            embedded_sig.signed_data["encap_content_info"]["content"].parsed["gen_time"].native
        )
    except Exception:  # noqa: BLE001
        return None


_RANK = {"authentic": 0, "unknown_issuer": 1, "altered": 2}


def _worse(first: str, second: str) -> str:
    return first if _RANK[first] >= _RANK[second] else second


def verify_sealed_pdf(
    pdf: bytes,
    *,
    trust_roots: Iterable[x509.Certificate],
    tsa_roots: Iterable[x509.Certificate] = (),
    max_bytes: int = 20 * 1024 * 1024,
    check_evidence: bool = True,  # noqa: A002 - the contract's name; the function is imported
) -> PdfVerdict:
    """Verify every seal of a PDF, offline.

    :param pdf: The file.
    :param trust_roots: The company CA's root(s): the anchors of the seal certificate.
    :param tsa_roots: The TSAs' roots (default: ``trust_roots``).
    :param max_bytes: Larger files are ``unusable`` (nothing is parsed).
    :param check_evidence: Also check the embedded evidence (:mod:`services.pdf_evidence`).
    :return: The verdict; never raises for a bad file.
    """
    if not isinstance(pdf, bytes | bytearray):
        return PdfVerdict("unusable", "", (Check("file", False, "No file content was given."),))
    if len(pdf) > max_bytes:
        return PdfVerdict(
            "unusable",
            "",
            (Check("file", False, f"The file is larger than {max_bytes} bytes; not read."),),
        )
    pdf = bytes(pdf)
    digest = hashlib.sha256(pdf).hexdigest()
    try:
        return _verify(pdf, digest, list(trust_roots), list(tsa_roots), check_evidence)
    except RecursionError:
        detail = "The PDF is too deeply nested to be read."
    except Exception as exc:  # noqa: BLE001 - hostile input: any failure is "unusable"
        _LOG.debug("PDF verification failed", exc_info=True)
        detail = f"The PDF cannot be read: {type(exc).__name__}: {str(exc)[:200]}"
    return PdfVerdict("unusable", digest, (Check("file", False, detail),))


def _verify(
    pdf: bytes,
    digest: str,
    trust_roots: list[x509.Certificate],
    tsa_roots: list[x509.Certificate],
    with_evidence: bool,
) -> PdfVerdict:
    if not pdf[:1024].lstrip().startswith(b"%PDF-"):
        return PdfVerdict("unusable", digest, (Check("file", False, "This is not a PDF file."),))
    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False, decode_limits=_DECODE_LIMITS)
        if reader.encrypted:
            return PdfVerdict("unusable", digest, (Check("file", False, "The PDF is encrypted."),))
        _ = reader.root["/Pages"]
    except Exception as exc:  # noqa: BLE001
        return PdfVerdict(
            "unusable",
            digest,
            (Check("file", False, f"The PDF is broken: {type(exc).__name__}: {str(exc)[:200]}"),),
        )
    checks = [Check("file", True, f"A readable PDF of {len(pdf)} bytes.")]
    try:
        embedded, unreadable = _embedded_files(reader)
    except Exception:  # noqa: BLE001 - a broken attachment tree: judge the seal without it
        embedded, unreadable = {}, ["(the attachments tree)"]
    try:
        signatures = list(reader.embedded_signatures)
    except Exception as exc:  # noqa: BLE001 - a signature field whose signature is corrupt
        detail = f"A signature field is present but its signature cannot be read: {exc}"
        checks.append(Check("seal", False, " ".join(detail.split())[:300]))
        return PdfVerdict("altered", digest, tuple(checks), embedded=MappingProxyType(embedded))
    seals = [s for s in signatures if s.sig_object_type != "/DocTimeStamp"]
    if not seals:
        checks.append(Check("seal", False, "The PDF carries no electronic seal."))
        return PdfVerdict("not_sealed", digest, tuple(checks), embedded=MappingProxyType(embedded))
    try:
        dss = DocumentSecurityStore.read_dss(reader)
    except Exception:  # noqa: BLE001 - no DSS or a broken one: validate without it
        dss = None
    roots = _asn1(trust_roots)
    ts_roots = _asn1(tsa_roots) or roots
    status = "authentic"
    sealed_at = subject = None
    timestamped = False
    for index, embedded_sig in enumerate(signatures, start=1):
        try:
            if embedded_sig.sig_object_type == "/DocTimeStamp":
                verdict, check = _judge_doc_timestamp(index, embedded_sig, dss, ts_roots)
                checks.append(check)
                status = _worse(status, verdict)
                continue
            verdict, found, moment, who, stamped = _judge_signature(
                index, embedded_sig, dss, roots, ts_roots
            )
        except Exception as exc:  # noqa: BLE001 - a broken signature dictionary
            checks.append(
                Check(f"seal {index}", False, f"The signature cannot be validated: {exc}")
            )
            status = _worse(status, "altered")
            continue
        checks.extend(found)
        status = _worse(status, verdict)
        if sealed_at is None:
            sealed_at, subject, timestamped = moment, who, stamped
    if with_evidence and unreadable:
        listed = ", ".join(unreadable[:5])
        checks.append(
            Check(
                "attachments",
                False,
                f"Attached files cannot be read (corrupt or too large): {listed}.",
            )
        )
        status = _worse(status, "altered")
    if with_evidence and any(name.startswith(PREFIX) for name in embedded):
        evidence = check_evidence(embedded)
        checks.extend(evidence)
        if any(not item.ok for item in evidence):
            status = _worse(status, "altered")
    return PdfVerdict(
        status,
        digest,
        tuple(checks),
        sealed_at=sealed_at,
        signer_subject=subject,
        timestamped=timestamped,
        embedded=MappingProxyType(embedded),
    )
