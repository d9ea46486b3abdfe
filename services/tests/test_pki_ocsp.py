"""Tests for services.pki_ocsp: the company CA's OCSP responder (RFC 6960).

Verifies: R7, R22
"""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.x509 import ocsp

from services.pki_ca import CertificateAuthority, generate_ca
from services.pki_issue import SignerIdentity, issue_signer_certificate
from services.pki_keys import KeyType, generate_private_key, utc
from services.pki_ocsp import ocsp_response
from services.pki_revocation import Revocation, RevocationReason


def _issue(ca: CertificateAuthority, login: str) -> x509.Certificate:
    return issue_signer_certificate(
        ca,
        SignerIdentity(login.title(), login),
        generate_private_key().public_key(),
        ocsp_url="http://127.0.0.1/meddev_esign/ocsp/1",
    )


def _request(cert: x509.Certificate, ca: CertificateAuthority, *, nonce: bytes | None = None,
             algorithm: hashes.HashAlgorithm | None = None) -> bytes:  # fmt: skip
    builder = ocsp.OCSPRequestBuilder().add_certificate(
        cert, ca.certificate, algorithm or hashes.SHA1()
    )
    if nonce is not None:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    return builder.build().public_bytes(serialization.Encoding.DER)


def _check_signed_by(response: ocsp.OCSPResponse, ca: CertificateAuthority) -> None:
    public = ca.certificate.public_key()
    if isinstance(public, ec.EllipticCurvePublicKey):
        public.verify(
            response.signature,
            response.tbs_response_bytes,
            ec.ECDSA(response.signature_hash_algorithm),
        )
    else:
        public.verify(  # type: ignore[call-arg]
            response.signature,
            response.tbs_response_bytes,
            padding.PKCS1v15(),
            response.signature_hash_algorithm,
        )


@pytest.fixture(scope="module", params=list(KeyType))
def ca(request: pytest.FixtureRequest) -> CertificateAuthority:
    return generate_ca("OCSP Test CA", key_type=request.param)


def test_good_revoked_and_unknown(ca: CertificateAuthority) -> None:
    good, gone, stranger = _issue(ca, "good"), _issue(ca, "gone"), _issue(ca, "stranger")
    revoked_at = utc().replace(microsecond=0) - timedelta(hours=1)
    revocations = [Revocation(gone.serial_number, revoked_at, RevocationReason.KEY_COMPROMISE)]
    issued = {good.serial_number, gone.serial_number}

    def ask(cert: x509.Certificate) -> ocsp.OCSPResponse:
        nonce = os.urandom(16)
        der = ocsp_response(
            ca, _request(cert, ca, nonce=nonce), issued=issued, revocations=revocations
        )
        response = ocsp.load_der_ocsp_response(der)
        assert response.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL
        assert response.serial_number == cert.serial_number
        assert response.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce == nonce
        _check_signed_by(response, ca)
        assert response.next_update_utc - response.this_update_utc == timedelta(hours=1)
        return response

    assert ask(good).certificate_status == ocsp.OCSPCertStatus.GOOD
    revoked = ask(gone)
    assert revoked.certificate_status == ocsp.OCSPCertStatus.REVOKED
    assert revoked.revocation_time_utc == revoked_at
    assert revoked.revocation_reason == x509.ReasonFlags.key_compromise
    assert ask(stranger).certificate_status == ocsp.OCSPCertStatus.UNKNOWN


def test_the_certificate_points_to_the_responder(ca: CertificateAuthority) -> None:
    cert = _issue(ca, "aia")
    access = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    assert [item.access_location.value for item in access] == [
        "http://127.0.0.1/meddev_esign/ocsp/1"
    ]


def test_sha256_request_without_nonce(ca: CertificateAuthority) -> None:
    cert = _issue(ca, "sha256")
    der = ocsp_response(
        ca,
        _request(cert, ca, algorithm=hashes.SHA256()),
        issued={cert.serial_number},
        revocations=[],
    )
    response = ocsp.load_der_ocsp_response(der)
    assert response.certificate_status == ocsp.OCSPCertStatus.GOOD
    with pytest.raises(x509.ExtensionNotFound):
        response.extensions.get_extension_for_class(x509.OCSPNonce)


@pytest.mark.parametrize("body", [b"", b"not an ocsp request", b"\x30\x03\x02\x01\x01"])
def test_garbage_is_a_malformed_request(ca: CertificateAuthority, body: bytes) -> None:
    response = ocsp.load_der_ocsp_response(ocsp_response(ca, body, issued=(), revocations=()))
    assert response.response_status == ocsp.OCSPResponseStatus.MALFORMED_REQUEST


def test_another_issuer_is_unauthorized(ca: CertificateAuthority) -> None:
    other = generate_ca("Another CA")
    cert = _issue(other, "elsewhere")
    der = ocsp_response(ca, _request(cert, other), issued={cert.serial_number}, revocations=())
    response = ocsp.load_der_ocsp_response(der)
    assert response.response_status == ocsp.OCSPResponseStatus.UNAUTHORIZED
