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
import os
import tempfile
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import requests
from asn1crypto import algos, cms, crl, ocsp, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pyhanko.pdf_utils import embed, misc, text
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.layout import LayoutError
from pyhanko.pdf_utils.writer import init_xobject_dictionary
from pyhanko.sign import fields, signers
from pyhanko.sign.general import SigningError as PyhankoSigningError
from pyhanko.sign.signers import pdf_signer
from pyhanko.sign.timestamps.api import TimeStamper
from pyhanko.sign.timestamps.common_utils import TimestampRequestError, dummy_digest
from pyhanko.stamp import QRStampStyle
from pyhanko.stamp.qr import QRStamp
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator.errors import (
    InvalidCertificateError,
    PathBuildingError,
    PathValidationError,
)

from .pki_errors import PkiError
from .pki_keys import utc
from .pki_sign import _signing_certificate_attribute

__all__ = [
    "LEVELS",
    "EmbeddedFile",
    "SealError",
    "SealOptions",
    "SealResult",
    "Stamp",
    "cjk_font_path",
    "seal_pdf",
]

LEVELS = ("B-B", "B-T", "B-LT", "B-LTA")
"""The PAdES baseline levels :func:`seal_pdf` makes, weakest first."""

_MAX_TSA_CACHE = 16


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
        left corner; ``None`` puts a 250 x 72 pt stamp in the bottom right corner, 18 pt from
        the edges (move it when the report's footer is there).
    """

    lines: tuple[str, ...]
    qr_url: str
    no_trusted_time_line: str
    font_path: str | None = None
    box: tuple[float, float, float, float] | None = None


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


class SealError(PkiError):
    """The PDF could not be sealed.

    :param code: ``"tsa_unavailable"`` (timestamp required, no TSA answered), ``"bad_pdf"``
        (the input is not a PDF pyHanko can update), ``"signer"`` (the seal key or its
        certificate refused or failed: revoked, wrong usage, HSM down), ``"bad_input"`` (an
        option, stamp or file name is invalid) or ``"font"`` (the stamp font is unusable).
    :param message: A plain English sentence.
    """

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(message)


class _NoFetchingNotice(logging.Filter):
    """Drop pyHanko's warning that revocation data is embedded with fetching off.

    Fetching is off on purpose here (the caller gives the CA's current CRL); the warning would
    otherwise be logged on every seal.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return "fetching is not allowed" not in record.getMessage()


logging.getLogger(pdf_signer.__name__).addFilter(_NoFetchingNotice())


# --- Timestamps ---------------------------------------------------------------------------


class _NoTsaAnswered(TimestampRequestError):
    """Every TSA of the list failed; ``str()`` says how each did."""


_TSA_HTTP = threading.local()


def _http() -> requests.Session:
    """One keep-alive HTTP session per thread, like :mod:`services.pki_timestamp`."""
    session = getattr(_TSA_HTTP, "session", None)
    if session is None:
        session = _TSA_HTTP.session = requests.Session()
    return session


_DUMMY_DIGEST = dummy_digest("sha256")
_DUMMIES: dict[tuple[str, ...], cms.ContentInfo] = {}
_DUMMIES_LOCK = threading.Lock()


class _FailoverTimeStamper(TimeStamper):
    """A pyHanko timestamper that asks each TSA in turn, in the caller's thread.

    pyHanko's own HTTP client opens a new connection per request from a worker thread; this
    one keeps one ``requests`` session per thread and moves to the next URL when a TSA is
    unreachable, refuses, or answers garbage. pyHanko sizes the signature with a "dummy"
    token fetched once per timestamper; that token is kept per URL list, so each seal costs
    one TSA round trip (two at B-LTA), not two.
    """

    def __init__(self, urls: Sequence[str], timeout: float) -> None:
        super().__init__(include_nonce=True)
        self.urls = tuple(urls)
        self.timeout = timeout
        self.tokens: list[cms.ContentInfo] = []
        dummy = _DUMMIES.get(self.urls)
        if dummy is not None:
            self._register_dummy("sha256", dummy)

    def remember_dummy(self) -> None:
        """Keep a token for the next seal with the same TSAs to size and validate against.

        The latest real token is kept rather than the first dummy, so a TSA that renews its
        certificate is followed at the next seal (pyHanko takes the TSA's certificates for the
        DSS from this token).
        """
        dummy = self.tokens[0] if self.tokens else self._dummy_response_cache.get("sha256")
        if dummy is not None:
            with _DUMMIES_LOCK:
                if len(_DUMMIES) >= _MAX_TSA_CACHE:
                    _DUMMIES.clear()
                _DUMMIES[self.urls] = dummy

    def _ask(self, url: str, body: bytes, nonce: int | None) -> tsp.TimeStampResp | str:
        try:
            reply = _http().post(
                url,
                data=body,
                headers={
                    "Content-Type": "application/timestamp-query",
                    "Accept": "application/timestamp-reply",
                },
                timeout=self.timeout,
            )
        except (requests.RequestException, OSError) as exc:
            return f"{url}: no answer ({exc or type(exc).__name__})"
        if reply.status_code != 200:
            return f"{url}: HTTP status {reply.status_code}"
        if reply.headers.get("Content-Type", "").split(";")[0].strip() != (
            "application/timestamp-reply"
        ):
            return f"{url}: the answer is not a timestamp reply"
        try:
            response = tsp.TimeStampResp.load(reply.content)
            status = response["status"]["status"].native
            if status not in ("granted", "granted_with_mods"):
                return f"{url}: the TSA refused ({status})"
            tst_info = response["time_stamp_token"]["content"]["encap_content_info"]["content"]
            echoed = tst_info.parsed["nonce"].native
        except (ValueError, TypeError, KeyError, AttributeError, IndexError) as exc:
            return f"{url}: the answer is not a timestamp response ({exc})"
        if nonce is not None and echoed != nonce:
            return f"{url}: the token does not echo the request's nonce"
        return response

    async def async_request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        """Ask each TSA in turn; return the first good response.

        :raises _NoTsaAnswered: If none answered with a granted, well-formed token.
        """
        body = req.dump()
        nonce = req["nonce"].native if req["nonce"].native is not None else None
        failures = []
        for url in self.urls:
            answer = self._ask(url, body, nonce)
            if isinstance(answer, str):
                failures.append(answer)
                continue
            if req["message_imprint"]["hashed_message"].native != _DUMMY_DIGEST:
                self.tokens.append(answer["time_stamp_token"])
            return answer
        if not failures:
            raise _NoTsaAnswered("No timestamp authority (TSA) URL is configured.")
        raise _NoTsaAnswered("No timestamp authority answered: " + "; ".join(failures) + ".")


def _tsa_failure(exc: BaseException) -> _NoTsaAnswered | None:
    """The :class:`_NoTsaAnswered` behind ``exc`` (pyHanko may wrap it), if any."""
    seen = 0
    current: BaseException | None = exc
    while current is not None and seen < 20:
        if isinstance(current, _NoTsaAnswered):
            return current
        current = current.__cause__ or current.__context__
        seen += 1
    return None


def _token_time(token: cms.ContentInfo) -> datetime | None:
    try:
        return utc(token["content"]["encap_content_info"]["content"].parsed["gen_time"].native)
    except (ValueError, TypeError, KeyError, AttributeError):
        return None


# --- The CMS ----------------------------------------------------------------------------


class _SealSigner(signers.Signer):
    """Builds the PAdES CMS from DER pieces made once; the key stays with the caller's signer.

    pyHanko's generic signer re-encodes the signer's issuer name, the ESS signing-certificate
    attribute and every embedded certificate on each signature (asn1crypto rebuilds values
    assigned into new structures), which was half of a seal's time. The structure here is
    the one pyHanko writes for a PAdES signature (``use_pades``): content-type,
    message-digest, signing-certificate-v2 and CMS algorithm protection signed; the signature
    timestamp as the only unsigned attribute; the signer's certificate and chain embedded. The
    raw signature is the wrapped signer's (software key or PKCS#11 token). Anything else
    (another digest, a non-PDF use) goes through pyHanko's own code.
    """

    def __init__(self, inner: signers.Signer) -> None:
        self._inner = inner
        super().__init__(
            signing_cert=inner.signing_cert,
            cert_registry=inner.cert_registry,
            signature_mechanism=inner.signature_mechanism,
            prefer_pss=inner.prefer_pss,
            embed_roots=inner.embed_roots,
        )
        certificate = inner.signing_cert
        mechanism = inner.get_signature_mechanism_for_digest("sha256")
        self._mechanism_der = mechanism.dump()
        self._digest_der = algos.DigestAlgorithm({"algorithm": "sha256"}).dump()
        self._sid_der = cms.SignerIdentifier(
            name="issuer_and_serial_number",
            value=cms.IssuerAndSerialNumber(
                {"issuer": certificate.issuer, "serial_number": certificate.serial_number}
            ),
        ).dump()
        self._static_attrs_der = [
            cms.CMSAttribute({"type": "content_type", "values": ["data"]}).dump(),
            _signing_certificate_attribute(certificate.dump()),
            cms.CMSAttribute(
                {
                    "type": "cms_algorithm_protection",
                    "values": [
                        cms.CMSAlgorithmProtection(
                            {
                                "digest_algorithm": algos.DigestAlgorithm.load(self._digest_der),
                                "signature_algorithm": mechanism,
                            }
                        )
                    ],
                }
            ).dump(),
        ]
        chain = [certificate, *(inner.cert_registry or ())]
        embedded = {item.dump(): item for item in chain}
        self._certs_der = [
            cms.CertificateChoices(name="certificate", value=item).dump()
            for item in embedded.values()
        ]

    def get_signature_mechanism_for_digest(self, digest_algorithm: str | None):  # noqa: ANN201
        """The wrapped signer's mechanism (a PKCS#11 signer has its own rules)."""
        return self._inner.get_signature_mechanism_for_digest(digest_algorithm)

    async def async_sign_raw(
        self, data: bytes, digest_algorithm: str, dry_run: bool = False
    ) -> bytes:
        """Sign with the wrapped signer's key."""
        return await self._inner.async_sign_raw(data, digest_algorithm, dry_run)

    async def async_sign(  # noqa: PLR0913 - pyHanko's signature
        self,
        data_digest: bytes,
        digest_algorithm: str,
        dry_run: bool = False,
        use_pades: bool = False,
        timestamper: TimeStamper | None = None,
        signed_attr_settings: Any = None,
        is_pdf_sig: bool = True,
        encap_content_info: Any = None,
    ) -> cms.ContentInfo:
        """The PAdES CMS over ``data_digest`` (see the class docstring)."""
        if not (
            use_pades
            and is_pdf_sig
            and encap_content_info is None
            and digest_algorithm.lower() == "sha256"
        ):
            return await super().async_sign(
                data_digest,
                digest_algorithm,
                dry_run=dry_run,
                use_pades=use_pades,
                timestamper=timestamper,
                signed_attr_settings=signed_attr_settings,
                is_pdf_sig=is_pdf_sig,
                encap_content_info=encap_content_info,
            )
        message_digest = cms.CMSAttribute({"type": "message_digest", "values": [data_digest]})
        signed_attrs = cms.CMSAttributes(
            [
                cms.CMSAttribute.load(self._static_attrs_der[0]),
                message_digest,
                *(cms.CMSAttribute.load(der) for der in self._static_attrs_der[1:]),
            ]
        )
        signature = await self.async_sign_raw(signed_attrs.dump(), "sha256", dry_run)
        signer_info = cms.SignerInfo(
            {
                "version": "v1",
                "sid": cms.SignerIdentifier.load(self._sid_der),
                "digest_algorithm": algos.DigestAlgorithm.load(self._digest_der),
                "signed_attrs": signed_attrs,
                "signature_algorithm": algos.SignedDigestAlgorithm.load(self._mechanism_der),
                "signature": signature,
            }
        )
        if timestamper is not None:
            if dry_run:
                token = await timestamper.async_dummy_response("sha256")
            else:
                token = await timestamper.async_timestamp(
                    hashlib.sha256(signature).digest(), "sha256"
                )
            signer_info["unsigned_attrs"] = cms.CMSAttributes(
                [cms.CMSAttribute({"type": "signature_time_stamp_token", "values": [token]})]
            )
        signed_data = cms.SignedData(
            {
                "version": "v1",
                "digest_algorithms": [algos.DigestAlgorithm.load(self._digest_der)],
                "encap_content_info": {"content_type": "data"},
                "certificates": [cms.CertificateChoices.load(der) for der in self._certs_der],
                "signer_infos": [signer_info],
            }
        )
        return cms.ContentInfo({"content_type": "signed_data", "content": signed_data})


def _seal_signer(signer: signers.Signer) -> _SealSigner:
    """The :class:`_SealSigner` of ``signer``, made once and kept on it."""
    if isinstance(signer, _SealSigner):
        return signer
    cached = getattr(signer, "_meddev_seal_signer", None)
    if isinstance(cached, _SealSigner) and cached.signing_cert is signer.signing_cert:
        return cached
    wrapped = _SealSigner(signer)
    if hasattr(signer, "__dict__"):  # a signer with __slots__ gets a new one each time
        signer._meddev_seal_signer = wrapped  # type: ignore[attr-defined]
    return wrapped


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
        asyncio.run(validator.async_validate_usage({"digital_signature"}))
    except (PathBuildingError, PathValidationError, InvalidCertificateError) as exc:
        raise SealError("signer", f"The seal certificate cannot be used: {exc}") from exc


# --- Stamp --------------------------------------------------------------------------------

_FONT_DIR_ENV = "MEDDEV_ESIGN_FONT_CACHE"
_FONT_LOCK = threading.Lock()


def _font_cache_dir() -> Path:
    configured = os.environ.get(_FONT_DIR_ENV)
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    path = Path(base) / "meddev_esign" / "fonts"
    try:
        path.mkdir(parents=True, exist_ok=True)
        return path
    except OSError:
        return Path(tempfile.gettempdir())


@functools.cache
def cjk_font_path(font_path: str) -> str:
    """A single-face font file pyHanko can load and subset, made from ``font_path``.

    pyHanko opens fonts with fontTools without a face number, so it cannot read a ``.ttc``
    collection such as Debian's ``NotoSansCJK-Regular.ttc``. For a collection, the face whose
    PostScript name ends in ``sc`` (Simplified Chinese), else the first, is written once as an
    ``.otf`` in the cache folder (``$MEDDEV_ESIGN_FONT_CACHE``, else
    ``~/.cache/meddev_esign/fonts``) and its path returned; other fonts are returned as they are.

    :param font_path: An ``.otf``, ``.ttf`` or ``.ttc`` file.
    :return: The path of a single-face font.
    :raises SealError: ``"font"`` if the file is missing or not a font.
    """
    source = Path(font_path)
    if not source.is_file():
        raise SealError("font", f"The stamp font {font_path} does not exist.")
    if source.suffix.lower() not in (".ttc", ".otc"):
        return str(source)
    try:
        from fontTools.ttLib import TTCollection  # noqa: PLC0415 - only for collections

        stat = source.stat()
        target = _font_cache_dir() / f"{source.stem}-{stat.st_size}-{int(stat.st_mtime)}.otf"
        with _FONT_LOCK:
            if target.is_file():
                return str(target)
            collection = TTCollection(str(source), lazy=True)
            faces = collection.fonts
            chosen = next(
                (
                    face
                    for face in faces
                    if str(face["name"].getDebugName(6) or "").lower().endswith("sc-regular")
                    or str(face["name"].getDebugName(6) or "").lower().endswith("sc")
                ),
                faces[0],
            )
            partial = target.with_suffix(f".{os.getpid()}.part")
            chosen.save(str(partial))
            partial.replace(target)
            return str(target)
    except (OSError, ValueError, KeyError, IndexError, ImportError) as exc:
        raise SealError("font", f"The stamp font {font_path} cannot be read: {exc}") from exc


_BASE_CHARS = "".join(chr(code) for code in range(0x20, 0x7F))
"""Kept in every stamp font: dates, counts and Latin names change from print to print."""


@functools.lru_cache(maxsize=64)
def _subset_font(face_path: str, chars: str) -> str:
    """A font with only printable ASCII and ``chars``, cut from ``face_path`` once.

    A CJK face has some 65,000 glyphs: loading and subsetting it for each seal costs half a
    second. A stamp's text changes in its digits only (the company name and the translated
    words stay), so the font cut for its other characters is written once in the cache folder,
    keyed by the face and the characters, and each seal loads that small file.

    :param face_path: A single-face font (:func:`cjk_font_path`).
    :param chars: The non-ASCII characters the stamp needs, sorted.
    :return: The small font's path.
    :raises SealError: ``"font"`` if the face cannot be read or subset.
    """
    try:
        from fontTools import subset  # noqa: PLC0415 - only for non-Latin stamps

        stat = os.stat(face_path)
        key = f"v2\0{face_path}\0{stat.st_size}\0{stat.st_mtime_ns}\0{chars}".encode()
        target = _font_cache_dir() / f"stamp-{hashlib.sha256(key).hexdigest()[:32]}.otf"
        with _FONT_LOCK:
            if target.is_file():
                return str(target)
            options = subset.Options()
            # No GSUB/GPOS: a stamp line needs no ligatures or contextual forms, and those
            # tables cost more to load at each seal than all the glyphs.
            options.layout_features = []
            options.name_IDs = ["*"]
            options.notdef_outline = True
            font = subset.load_font(face_path, options)
            subsetter = subset.Subsetter(options)
            subsetter.populate(unicodes=[ord(char) for char in _BASE_CHARS + chars])
            subsetter.subset(font)
            partial = target.with_suffix(f".{os.getpid()}.part")
            subset.save_font(font, str(partial), options)
            partial.replace(target)
            return str(target)
    except (OSError, ValueError, KeyError, IndexError, ImportError, AssertionError) as exc:
        raise SealError("font", f"The stamp font {face_path} cannot be subset: {exc}") from exc


class _QuickQRStamp(QRStamp):
    """pyHanko's QR stamp with a fixed QR mask pattern.

    The ``qrcode`` package otherwise builds the symbol eight times to score each mask (about
    a quarter of a seal's time); any mask is valid (ISO/IEC 18004 section 7.8) and readers
    decode them all. Error correction M, as pyHanko uses.
    """

    def _qr_xobject(self):  # noqa: ANN202 - pyHanko's private hook
        import qrcode  # noqa: PLC0415 - pyHanko imports it lazily too
        from pyhanko.pdf_utils.qr import PdfStreamQRImage  # noqa: PLC0415

        code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, mask_pattern=2)
        code.add_data(self.url)
        code.make()
        image = code.make_image(image_factory=PdfStreamQRImage)
        size = (code.modules_count + 2 * code.border) * code.box_size
        xobject = init_xobject_dictionary(image.render_command_stream(), size, size)
        xobject.compress()
        return self.writer.add_object(xobject), size


@dataclass(frozen=True)
class _QuickQRStampStyle(QRStampStyle):
    def create_stamp(self, writer, box, text_params):  # noqa: ANN001, ANN201 - pyHanko's hook
        try:
            url = text_params.pop("url")
        except KeyError as exc:
            raise LayoutError("A QR stamp needs a 'url' text parameter.") from exc
        return _QuickQRStamp(writer, style=self, url=url, text_params=text_params, box=box)


def _stamp_style(stamp: Stamp, lines: Sequence[str]) -> QRStampStyle:
    font = None
    if stamp.font_path:
        from pyhanko.pdf_utils.font.opentype import GlyphAccumulatorFactory  # noqa: PLC0415

        chars = "".join(sorted(set("".join(lines)) - set(_BASE_CHARS)))
        face = cjk_font_path(stamp.font_path)
        font = GlyphAccumulatorFactory(_subset_font(face, chars), font_size=10)
    else:
        for line in lines:
            try:
                line.encode("latin-1")
            except UnicodeEncodeError as exc:
                raise SealError(
                    "font", "The stamp text is not Latin-1: give a font_path (e.g. Noto CJK)."
                ) from exc
    box_style = (
        text.TextBoxStyle(font=font, font_size=8, leading=10)
        if font is not None
        else text.TextBoxStyle(font_size=8, leading=10)
    )
    return _QuickQRStampStyle(
        # pyHanko interpolates the text with %-formatting: escape the caller's percent signs.
        stamp_text="\n".join(line.replace("%", "%%") for line in lines),
        text_box_style=box_style,
        border_width=1,
        innsep=4,
    )


_STAMP_WIDTH = 250.0
_STAMP_HEIGHT = 72.0
_STAMP_MARGIN = 18.0


def _page_box(writer: IncrementalPdfFileWriter) -> list[float]:
    """The last page's crop (else media) box; A4 when it cannot be read."""
    try:
        node = writer.find_page_for_modification(-1)[0].get_object()
        for _depth in range(32):  # MediaBox may be inherited from the page tree
            found = node.get("/CropBox") or node.get("/MediaBox")
            if found is not None:
                return [float(value) for value in found]
            if "/Parent" not in node:
                break
            node = node["/Parent"].get_object()
    except (misc.PdfError, KeyError, IndexError, TypeError, ValueError, AttributeError):
        return [0.0, 0.0, 595.0, 842.0]
    return [0.0, 0.0, 595.0, 842.0]


def _given_box(box: Sequence[float]) -> tuple[int, int, int, int]:
    try:
        x1, y1, x2, y2 = (int(round(float(value))) for value in box)
    except (TypeError, ValueError) as exc:
        raise SealError("bad_input", f"The stamp box {box!r} is not four numbers.") from exc
    if x2 - x1 < 60 or y2 - y1 < 30:
        raise SealError("bad_input", f"The stamp box {box!r} is too small for the QR code.")
    return x1, y1, x2, y2


def _stamp_box(writer: IncrementalPdfFileWriter) -> tuple[int, int, int, int]:
    """The stamp's rectangle: the bottom right corner of the last page."""
    left, bottom, right, _top = _page_box(writer)
    x2 = right - _STAMP_MARGIN
    x1 = max(left + _STAMP_MARGIN, x2 - _STAMP_WIDTH)
    y1 = bottom + _STAMP_MARGIN
    return int(x1), int(y1), int(x2), int(y1 + _STAMP_HEIGHT)


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


def _reserve(signer: signers.Signer, stamper: _FailoverTimeStamper | None) -> int | None:
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
    stamper: _FailoverTimeStamper | None,
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
    stamper: _FailoverTimeStamper | None,
    *,
    reserve: bool,
) -> bytes:
    if stamper is not None:
        stamper.tokens.clear()  # the signature timestamp is the first token of this attempt
    writer = _writer(pdf)
    _embed(writer, files)
    long_term = level in ("B-LT", "B-LTA")
    meta = signers.PdfSignatureMetadata(
        field_name=options.field_name,
        md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
        reason=options.reason or None,
        location=options.location or None,
        embed_validation_info=long_term,
        use_pades_lta=level == "B-LTA",
        validation_context=_validation_context(options, signer) if long_term else None,
        signer_key_usage={"digital_signature"},
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
        style = _stamp_style(stamp, lines)
        params = {"url": stamp.qr_url}
        field_spec = fields.SigFieldSpec(
            sig_field_name=options.field_name,
            on_page=-1,
            box=_stamp_box(writer) if stamp.box is None else _given_box(stamp.box),
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
    pdf_signer_obj.sign_pdf(
        writer,
        appearance_text_params=params,
        output=out,
        bytes_reserved=_reserve(signer, stamper) if reserve else None,
    )
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
        signer = _seal_signer(signer)
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
        _FailoverTimeStamper(options.tsa_urls, options.tsa_timeout) if level != "B-B" else None
    )
    tsa_error: str | None = None
    try:
        try:
            sealed = _sign_once(pdf, signer, options, level, stamp, checked, stamper)
        except Exception as exc:  # noqa: BLE001 - pyHanko wraps the TSA failure variously
            failure = _tsa_failure(exc) if stamper is not None else None
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
            timestamp_time = _token_time(stamper.tokens[0])
    return SealResult(
        pdf=sealed,
        sha256=hashlib.sha256(sealed).hexdigest(),
        level=level,
        timestamped=stamper is not None,
        timestamp_time=timestamp_time,
        tsa_error=tsa_error,
    )
