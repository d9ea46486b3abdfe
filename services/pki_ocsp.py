"""An OCSP responder for the company CA (RFC 6960), offline-testable and Odoo-free.

The CRL stays the primary revocation evidence (it is what an exported signature carries);
OCSP answers the live question "is this certificate revoked now?" for relying parties that
prefer it. The CA answers for itself: responses are signed with the CA key (software or on
the PKCS#11 token, see :func:`services.pki_hsm.hsm_private_key`), and a request's nonce is
echoed.

:func:`ocsp_response` never raises on bad input: a request that cannot be parsed gets the
``malformedRequest`` status and one about another issuer ``unauthorized``, as the RFC asks.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime, timedelta

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from .pki_ca import CertificateAuthority
from .pki_keys import utc
from .pki_revocation import Revocation

__all__ = ["OCSP_VALIDITY", "ocsp_response"]

OCSP_VALIDITY = timedelta(hours=1)
"""How long a response may be relied upon (its nextUpdate)."""

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


def _digest(algorithm: hashes.HashAlgorithm, data: bytes) -> bytes:
    hasher = hashes.Hash(algorithm)
    hasher.update(data)
    return hasher.finalize()


def _issuer_hashes(certificate: x509.Certificate, algorithm: hashes.HashAlgorithm):
    """(issuerNameHash, issuerKeyHash) of a CA certificate, as RFC 6960 4.1.1 defines them."""
    der = certificate.public_bytes(serialization.Encoding.DER)
    key_bits = asn1_x509.Certificate.load(der).public_key["public_key"].contents[1:]
    return (
        _digest(algorithm, certificate.subject.public_bytes()),
        _digest(algorithm, key_bits),
    )


def _unsuccessful(status: ocsp.OCSPResponseStatus) -> bytes:
    return ocsp.OCSPResponseBuilder.build_unsuccessful(status).public_bytes(
        serialization.Encoding.DER
    )


def ocsp_response(
    ca: CertificateAuthority,
    request_der: bytes,
    *,
    issued: Collection[int],
    revocations: Iterable[Revocation],
    now: datetime | None = None,
    valid_for: timedelta = OCSP_VALIDITY,
) -> bytes:
    """Answer a DER OCSP request about a certificate of ``ca``.

    :param ca: The company CA, its private key usable.
    :param request_der: The request body.
    :param issued: Serials of every certificate the CA issued (others are "unknown").
    :param revocations: Every revocation (as for the CRL).
    :param now: thisUpdate (default: now).
    :param valid_for: nextUpdate - thisUpdate.
    :return: The DER OCSP response: successful (good / revoked / unknown), or
        malformedRequest, or unauthorized for another issuer.
    """
    try:
        request = ocsp.load_der_ocsp_request(request_der)
        algorithm = request.hash_algorithm
        serial = request.serial_number
        name_hash, key_hash = request.issuer_name_hash, request.issuer_key_hash
    except (ValueError, TypeError, NotImplementedError):
        return _unsuccessful(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
    expected = _HASHES.get(algorithm.name)
    if expected is None:
        return _unsuccessful(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
    if (name_hash, key_hash) != _issuer_hashes(ca.certificate, expected()):
        return _unsuccessful(ocsp.OCSPResponseStatus.UNAUTHORIZED)
    this_update = utc(now).replace(microsecond=0)
    revoked = {item.serial: item for item in revocations}.get(serial)
    if revoked is not None:
        status = ocsp.OCSPCertStatus.REVOKED
    elif serial in issued:
        status = ocsp.OCSPCertStatus.GOOD
    else:
        status = ocsp.OCSPCertStatus.UNKNOWN
    builder = ocsp.OCSPResponseBuilder().add_response_by_hash(
        issuer_name_hash=name_hash,
        issuer_key_hash=key_hash,
        serial_number=serial,
        algorithm=algorithm,
        cert_status=status,
        this_update=this_update,
        next_update=this_update + valid_for,
        revocation_time=utc(revoked.revoked_at) if revoked else None,
        revocation_reason=revoked.reason.flag if revoked else None,
    )
    builder = builder.responder_id(ocsp.OCSPResponderEncoding.HASH, ca.certificate)
    try:
        nonce = request.extensions.get_extension_for_class(x509.OCSPNonce).value
    except x509.ExtensionNotFound:
        nonce = None
    if nonce is not None:
        builder = builder.add_extension(nonce, critical=False)
    response = builder.sign(ca.private_key, hashes.SHA256())
    return response.public_bytes(serialization.Encoding.DER)
