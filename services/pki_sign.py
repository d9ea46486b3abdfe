"""Detached CMS/CAdES signatures of a record's snapshot (S5, R22).

The CMS signature is made over the **canonical snapshot bytes**
(:func:`services.snapshot.canonical_bytes`), detached. Its signed
``messageDigest`` attribute is therefore SHA-256 of those bytes, which is the
hex part of the stored content hash (``esign-snapshot/1:sha256:<hex>``): a
verifier holding only the content hash can still match it to the signature
(:func:`services.pki_verify.verify_signature` ``expected_content_hash``), and
one holding the exported snapshot recomputes it.

Signing leaves no timestamp in the CMS: :mod:`services.pki_timestamp` adds one
later, and :mod:`services.pki_verify` checks the whole offline.

The functions here are synchronous (an HSM signer's coroutine runs with
``asyncio.run``), which suits Odoo's request threads. Do not call them from
inside a running event loop.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
from collections.abc import Iterable
from datetime import datetime

from asn1crypto import algos, cms, core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from pyhanko.sign.general import SigningError as PyhankoSigningError
from pyhanko.sign.signers.pdf_cms import Signer
from pyhanko_certvalidator.registry import SimpleCertificateStore
from pyhanko_certvalidator.util import get_pyca_cryptography_hash, process_pss_params

from .pki_errors import PkiError, PkiInputError, SigningError
from .pki_keys import PrivateKey, utc

__all__ = [
    "DIGEST_ALGORITHM",
    "CachedKeySigner",
    "asn1_certificate",
    "sign_detached",
]

DIGEST_ALGORITHM = "sha256"
"""Digest of the content, the signed attributes and the timestamp imprint."""


def asn1_certificate(certificate: x509.Certificate) -> asn1_x509.Certificate:
    """Convert a ``cryptography`` certificate to asn1crypto, loading it from DER.

    Loading from DER (not building in memory) spares asn1crypto a re-encoding
    on every use (STACK-NOTES).

    :param certificate: The certificate.
    :return: The same certificate as pyHanko wants it.
    """
    return asn1_x509.Certificate.load(certificate.public_bytes(serialization.Encoding.DER))


class CachedKeySigner(Signer):
    """A pyHanko signer holding an already-loaded ``cryptography`` private key.

    pyHanko's ``SimpleSigner`` re-parses its key from DER on every signature
    (27 ms for RSA-2048, 84 ms for RSA-3072); this one parses it once. Keep
    one instance per certificate for as long as the key may be used (the
    Odoo layer can cache it by certificate fingerprint, and must drop it when
    the certificate is revoked).

    :param private_key: The signer's private key.
    :param certificate: The signer's certificate.
    :param chain: The CA certificates to embed (issuer first).
    :param prefer_pss: For RSA keys, sign with PSS instead of PKCS#1 v1.5.
    :raises PkiInputError: If the key does not belong to the certificate.
    """

    def __init__(
        self,
        private_key: PrivateKey,
        certificate: x509.Certificate,
        chain: Iterable[x509.Certificate] = (),
        *,
        prefer_pss: bool = False,
    ) -> None:
        spki = serialization.PublicFormat.SubjectPublicKeyInfo
        der = serialization.Encoding.DER
        if private_key.public_key().public_bytes(
            der, spki
        ) != certificate.public_key().public_bytes(der, spki):
            raise PkiInputError("The private key does not belong to the signer certificate.")
        self._private_key = private_key
        super().__init__(
            signing_cert=asn1_certificate(certificate),
            cert_registry=SimpleCertificateStore.from_certs(
                [asn1_certificate(item) for item in chain]
            ),
            prefer_pss=prefer_pss,
        )

    def sign_raw(self, data: bytes, digest_algorithm: str = DIGEST_ALGORITHM) -> bytes:
        """Sign ``data`` (the DER of the signed attributes) with the cached key.

        :param data: The bytes to sign.
        :param digest_algorithm: The digest name, e.g. ``"sha256"``.
        :return: The raw signature (DER ECDSA-Sig-Value or RSA octets).
        :raises SigningError: If the mechanism does not fit the key.
        """
        mechanism = self.get_signature_mechanism_for_digest(digest_algorithm)
        algorithm = mechanism.signature_algo
        key = self._private_key
        if algorithm == "ecdsa" and isinstance(key, ec.EllipticCurvePrivateKey):
            return key.sign(data, ec.ECDSA(get_pyca_cryptography_hash(digest_algorithm)))
        if algorithm == "rsassa_pkcs1v15" and isinstance(key, rsa.RSAPrivateKey):
            return key.sign(data, padding.PKCS1v15(), get_pyca_cryptography_hash(digest_algorithm))
        if algorithm == "rsassa_pss" and isinstance(key, rsa.RSAPrivateKey):
            pss, hash_algorithm = process_pss_params(mechanism["parameters"])
            return key.sign(data, pss, hash_algorithm)
        raise SigningError(f"The signature mechanism {algorithm} does not fit the signer's key.")

    async def async_sign_raw(
        self, data: bytes, digest_algorithm: str, dry_run: bool = False
    ) -> bytes:
        """pyHanko's entry point (PDF signing): the same as :meth:`sign_raw`.

        :param data: The bytes to sign.
        :param digest_algorithm: The digest name, e.g. ``"sha256"``.
        :param dry_run: Ignored: a real signature is as cheap as a dummy one.
        :return: The raw signature.
        """
        del dry_run
        return self.sign_raw(data, digest_algorithm)


def _issuer_serial(certificate: asn1_x509.Certificate) -> tsp.IssuerSerial:
    """The ``IssuerSerial`` of a certificate, as ESS signing-certificate attributes carry it."""
    return tsp.IssuerSerial(
        {
            "issuer": [asn1_x509.GeneralName(name="directory_name", value=certificate.issuer)],
            "serial_number": certificate.serial_number,
        }
    )


def _attribute(kind: str, value: object) -> cms.CMSAttribute:
    return cms.CMSAttribute({"type": kind, "values": [value]})


@functools.lru_cache(maxsize=256)
def _signing_certificate_attribute(certificate_der: bytes) -> bytes:
    """The DER of the signing-certificate-v2 attribute for a certificate.

    It never changes for a given certificate, and asn1crypto takes about
    2 ms to build and encode it, so it is made once per certificate.
    """
    certificate = asn1_x509.Certificate.load(certificate_der)
    ess = tsp.ESSCertIDv2(
        {
            "hash_algorithm": {"algorithm": DIGEST_ALGORITHM},
            "cert_hash": hashlib.sha256(certificate_der).digest(),
            "issuer_serial": _issuer_serial(certificate),
        }
    )
    return _attribute("signing_certificate_v2", tsp.SigningCertificateV2({"certs": [ess]})).dump()


def _signed_attributes(
    content: bytes, certificate: asn1_x509.Certificate, when: datetime
) -> cms.CMSAttributes:
    """The CAdES-BES signed attributes over ``content`` (RFC 5652, RFC 5035).

    content-type, signing-time, message-digest and signing-certificate-v2
    (SHA-256 of the signer certificate with its issuer and serial), as
    pyHanko's ``use_cades=True`` signer writes them.
    """
    return cms.CMSAttributes(
        [
            _attribute("content_type", "data"),
            _attribute("signing_time", cms.Time({"utc_time": core.UTCTime(when)})),
            _attribute("message_digest", hashlib.sha256(content).digest()),
            cms.CMSAttribute.load(_signing_certificate_attribute(certificate.dump())),
        ]
    )


def _raw_signature(signer: Signer, data: bytes) -> bytes:
    """Sign the signed attributes' DER: directly with a cached key, else through pyHanko."""
    if isinstance(signer, CachedKeySigner):
        return signer.sign_raw(data)
    return asyncio.run(signer.async_sign_raw(data, DIGEST_ALGORITHM))


def sign_detached(content: bytes, signer: Signer, *, when: datetime | None = None) -> bytes:
    """Make a detached CAdES-BES (CMS ``SignedData``) signature of ``content``.

    The structure is built here with asn1crypto rather than by pyHanko's
    generic signer, which re-encodes the certificates several times per
    signature (7.6 ms against about 0.3 ms with a software ECDSA key); the
    result has the same shape and pyHanko, OpenSSL and this module verify it.
    The signer's certificate and chain are embedded, with the CAdES
    ``signing-certificate-v2`` attribute; there is no timestamp yet (see
    :func:`request_timestamp` and :func:`attach_timestamp`).

    :param content: The canonical snapshot bytes.
    :param signer: A :class:`CachedKeySigner` or an HSM signer
        (:func:`services.pki_hsm.hsm_signer`).
    :param when: The signing-time attribute (default: now, UTC).
    :return: The DER-encoded ``ContentInfo``.
    :raises SigningError: If the key refuses or does not fit the certificate.
    :raises HsmError: If the HSM fails during signing.
    """
    if not isinstance(content, bytes):
        raise SigningError("The content to sign must be bytes.")
    certificate = signer.signing_cert
    if certificate is None:
        raise SigningError("The signer has no certificate.")
    try:
        mechanism = signer.get_signature_mechanism_for_digest(DIGEST_ALGORITHM)
        attributes = _signed_attributes(content, certificate, utc(when))
        signature = _raw_signature(signer, attributes.dump())
    except PkiError:
        raise
    except (PyhankoSigningError, ValueError, TypeError) as exc:
        raise SigningError(f"The CMS signature could not be made: {exc}") from exc
    digest = algos.DigestAlgorithm({"algorithm": DIGEST_ALGORITHM})
    signer_info = cms.SignerInfo(
        {
            "version": "v1",
            "sid": cms.SignerIdentifier(
                name="issuer_and_serial_number",
                value=cms.IssuerAndSerialNumber(
                    {"issuer": certificate.issuer, "serial_number": certificate.serial_number}
                ),
            ),
            "digest_algorithm": digest,
            "signed_attrs": attributes,
            "signature_algorithm": mechanism,
            "signature": signature,
        }
    )
    # The signer certificate first, then the chain, each once (keyed by DER).
    embedded = list({c.dump(): c for c in (certificate, *signer.cert_registry)}.values())
    signed_data = cms.SignedData(
        {
            "version": "v1",
            "digest_algorithms": [digest],
            "encap_content_info": {"content_type": "data"},
            "certificates": [
                cms.CertificateChoices(name="certificate", value=c) for c in embedded
            ],
            "signer_infos": [signer_info],
        }
    )
    return cms.ContentInfo({"content_type": "signed_data", "content": signed_data}).dump()


def _load_signed_data(cms_der: bytes) -> tuple[cms.ContentInfo, cms.SignedData, cms.SignerInfo]:
    """Parse a CMS ``SignedData`` with exactly one signer, fully.

    :raises ValueError: If it is not one (asn1crypto raises several types;
        they are all turned into ``ValueError``).
    """
    try:
        info = cms.ContentInfo.load(cms_der)
        if info["content_type"].native != "signed_data":
            raise ValueError("The CMS is not of type SignedData.")
        signed_data = info["content"]
        signer_infos = signed_data["signer_infos"]
        if len(signer_infos) != 1:
            raise ValueError("The CMS must have exactly one signer.")
        signer_info = signer_infos[0]
        # Force a full parse now so later access cannot fail half-way.
        _ = signer_info.native
        _ = signed_data["certificates"].native
        return info, signed_data, signer_info
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise ValueError(f"The data is not a well-formed CMS signature: {exc}") from exc
