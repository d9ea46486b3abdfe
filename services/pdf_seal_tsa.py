"""The timestamps and the CMS of a sealed report (:mod:`services.pdf_seal`).

* :class:`FailoverTimeStamper` asks the TSAs in order until one answers, and keeps the tokens
  it got (the seal reports the first one's time);
* :class:`SealSigner` builds the PAdES CMS from DER pieces made once per signer key, so a seal
  costs one signature of the key, not a full pyHanko CMS assembly.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import threading
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import requests
from asn1crypto import algos, cms, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from pyhanko.sign import signers
from pyhanko.sign.timestamps.api import TimeStamper
from pyhanko.sign.timestamps.common_utils import TimestampRequestError, dummy_digest
from pyhanko_certvalidator.registry import SimpleCertificateStore

from .pki_keys import utc
from .pki_sign import _signing_certificate_attribute

MAX_TSA_CACHE = 16
"""TSA URLs whose dummy responses (used to size the signature) are kept."""


class NoTsaAnswered(TimestampRequestError):
    """Every TSA of the list failed; ``str()`` says how each did."""


_TSA_HTTP = threading.local()


def _http() -> requests.Session:
    """One keep-alive HTTP session per thread, like :mod:`services.pki_timestamp`."""
    session = getattr(_TSA_HTTP, "session", None)
    if session is None:
        session = _TSA_HTTP.session = requests.Session()
    return session


_DUMMY_DIGEST = dummy_digest("sha256")
#: {TSA URLs: (a token of theirs, its TSA certificates by issuer and serial, all its
#: certificates as a registry)}: parsed once, shared read-only by the seals' timestampers.
_DUMMIES: dict[tuple[str, ...], tuple[cms.ContentInfo, dict, SimpleCertificateStore]] = {}
_DUMMIES_LOCK = threading.Lock()


class FailoverTimeStamper(TimeStamper):
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
        with _DUMMIES_LOCK:
            kept = _DUMMIES.get(self.urls)
        if kept is not None:
            # The token's certificates as parsed for the last seal: parsing them again and
            # hashing their names for the registry cost a seal some milliseconds.
            dummy, certs, registry = kept
            self._dummy_response_cache["sha256"] = dummy
            self._certs = dict(certs)
            self.cert_registry = registry

    def known_certificates(self) -> tuple[asn1_x509.Certificate, ...]:
        """The TSA's certificates (its own and its chain) from the token kept to size this
        seal; empty before the first token of these TSAs."""
        if not self._dummy_response_cache:
            return ()
        return tuple(self.cert_registry)

    def remember_dummy(self) -> None:
        """Keep a token for the next seal with the same TSAs to size and validate against.

        The latest real token replaces the kept one when it carries other certificates, so a
        TSA that renews its certificate is followed at the next seal (pyHanko takes the TSA's
        certificates for the DSS from this token); with the same certificates the kept token,
        already parsed, stays.
        """
        token = self.tokens[0] if self.tokens else None
        with _DUMMIES_LOCK:
            kept = _DUMMIES.get(self.urls)
        if token is None and kept is None:
            token = self._dummy_response_cache.get("sha256")
        if token is None:
            return
        if kept is not None and _token_ders(token) == _token_ders(kept[0]):
            return
        stamper = TimeStamper()
        stamper._register_dummy("sha256", token)
        with _DUMMIES_LOCK:
            if len(_DUMMIES) >= MAX_TSA_CACHE:
                _DUMMIES.clear()
            _DUMMIES[self.urls] = (token, dict(stamper._certs), stamper.cert_registry)

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

        :raises NoTsaAnswered: If none answered with a granted, well-formed token.
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
            raise NoTsaAnswered("No timestamp authority (TSA) URL is configured.")
        raise NoTsaAnswered("No timestamp authority answered: " + "; ".join(failures) + ".")


def _token_ders(token: cms.ContentInfo) -> tuple[bytes, ...]:
    """The DER of the certificates a timestamp token carries, in its order."""
    return tuple(
        choice.chosen.dump()
        for choice in token["content"]["certificates"] or ()
        if choice.name == "certificate"
    )


@functools.lru_cache(maxsize=MAX_TSA_CACHE)
def _token_certificates(token_der: bytes) -> tuple[x509.Certificate, ...]:
    token = cms.ContentInfo.load(token_der)
    found = []
    for choice in token["content"]["certificates"] or ():
        if choice.name == "certificate":
            found.append(x509.load_der_x509_certificate(choice.chosen.dump()))
    return tuple(found)


def tsa_certificates(urls: Sequence[str], timeout: float) -> tuple[x509.Certificate, ...]:
    """The certificates the TSAs of ``urls`` put in their tokens (the TSA's own and its chain).

    They come from the token kept to size the next seal with the same TSAs; when none is kept
    yet, that token is fetched now (pyHanko would fetch it while signing anyway, and then the
    seal reuses it). A seal needs them before signing: the CRLs of the TSA's certificates go
    into the seal's validation data, so the TSA's revocation status is in the file without an
    administrator pasting the TSA's certificate. Empty when no TSA answers (the seal reports
    that itself).
    """
    urls = tuple(urls)
    if not urls:
        return ()
    kept = _DUMMIES.get(urls)
    if kept is None:
        stamper = FailoverTimeStamper(urls, timeout)
        try:
            asyncio.run(stamper.async_dummy_response("sha256"))
        except (TimestampRequestError, ValueError):
            return ()
        stamper.remember_dummy()
        kept = _DUMMIES.get(urls)
    if kept is None:
        return ()
    try:
        return _token_certificates(kept[0].dump())
    except (ValueError, TypeError, KeyError, AttributeError):
        return ()


def tsa_failure(exc: BaseException) -> NoTsaAnswered | None:
    """The :class:`NoTsaAnswered` behind ``exc`` (pyHanko may wrap it), if any."""
    seen = 0
    current: BaseException | None = exc
    while current is not None and seen < 20:
        if isinstance(current, NoTsaAnswered):
            return current
        current = current.__cause__ or current.__context__
        seen += 1
    return None


def token_time(token: cms.ContentInfo) -> datetime | None:
    try:
        return utc(token["content"]["encap_content_info"]["content"].parsed["gen_time"].native)
    except (ValueError, TypeError, KeyError, AttributeError):
        return None


# --- The CMS ----------------------------------------------------------------------------


class SealSigner(signers.Signer):
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


def seal_signer(signer: signers.Signer) -> SealSigner:
    """The :class:`SealSigner` of ``signer``, made once and kept on it."""
    if isinstance(signer, SealSigner):
        return signer
    cached = getattr(signer, "_meddev_seal_signer", None)
    if isinstance(cached, SealSigner) and cached.signing_cert is signer.signing_cert:
        return cached
    wrapped = SealSigner(signer)
    if hasattr(signer, "__dict__"):  # a signer with __slots__ gets a new one each time
        signer._meddev_seal_signer = wrapped  # type: ignore[attr-defined]
    return wrapped
