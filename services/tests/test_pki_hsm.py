"""Tests for services.pki_hsm against a real SoftHSM2 token.

Verifies: R22, S5
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pkcs11
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp
from pki_fixtures import SoftHsmToken, TestTsa, softhsm_token, start_tsa

from services.pki_ca import generate_ca
from services.pki_errors import HsmError, HsmPinError, HsmUnavailableError, PkiInputError
from services.pki_hsm import (
    find_public_key,
    generate_key_pair,
    hsm_private_key,
    hsm_signer,
    open_token,
)
from services.pki_issue import SignerIdentity, issue_signer_certificate
from services.pki_keys import KeyType, generate_private_key, utc
from services.pki_ocsp import ocsp_response
from services.pki_revocation import Revocation, build_crl
from services.pki_sign import sign_detached
from services.pki_timestamp import attach_timestamp, request_timestamp
from services.pki_verify import verify_signature

CONTENT = b'esign-snapshot/1\n{"fields":{"lot":"L1"}}'


@pytest.fixture(scope="module")
def token() -> SoftHsmToken:
    return softhsm_token()


@pytest.fixture
def session(token: SoftHsmToken) -> Iterator[Any]:
    opened = open_token(token.library, token.label, token.pin)
    try:
        yield opened
    finally:
        opened.close()


@pytest.mark.parametrize("key_type", list(KeyType))
def test_sign_on_the_token_and_verify(session: Any, key_type: KeyType) -> None:
    tsa: TestTsa = start_tsa()
    ca = generate_ca("ACME e-Signature CA")
    label = f"alice-{key_type.value}"
    public = generate_key_pair(session, label, key_type)
    cert = issue_signer_certificate(ca, SignerIdentity("Alice", "alice"), public)
    signer = hsm_signer(session, label, cert, ca.certificates)
    cms_der = sign_detached(CONTENT, signer)
    stamp = request_timestamp(cms_der, [tsa.url])
    crl = build_crl(ca, [], crl_number=1, this_update=utc() + timedelta(seconds=2))
    result = verify_signature(
        attach_timestamp(cms_der, stamp.token),
        CONTENT,
        trusted_ca=ca.certificate,
        tsa_roots=[tsa.root],
        crl=crl,
    )
    assert result.valid, result.problems

    private = session.get_key(object_class=pkcs11.ObjectClass.PRIVATE_KEY, label=label)
    assert private[pkcs11.Attribute.SENSITIVE] is True
    assert private[pkcs11.Attribute.EXTRACTABLE] is False
    assert find_public_key(session, label) == public


def test_duplicate_label_and_foreign_certificate(session: Any) -> None:
    ca = generate_ca("ACME e-Signature CA")
    generate_key_pair(session, "bob")
    with pytest.raises(PkiInputError, match="already holds"):
        generate_key_pair(session, "bob")
    foreign = issue_signer_certificate(
        ca, SignerIdentity("Bob", "bob"), generate_private_key().public_key()
    )
    with pytest.raises(PkiInputError, match="not for the token key"):
        hsm_signer(session, "bob", foreign)
    with pytest.raises(HsmUnavailableError, match="no key labelled"):
        hsm_signer(session, "nobody", foreign)


def test_wrong_pin(token: SoftHsmToken) -> None:
    with pytest.raises(HsmPinError, match="refused the PIN"):
        open_token(token.library, token.label, "9999")


def test_sessions_overlap_and_closing_one_logs_nobody_out(token: SoftHsmToken) -> None:
    """Two sessions at once (two Odoo threads signing on the token), closed in either order:
    the one left still signs. C_Login per session would fail the second open, and C_Logout on
    close would log the first out."""
    first = open_token(token.library, token.label, token.pin)
    generate_key_pair(first, "overlap", KeyType.ECDSA_P256)
    second = open_token(token.library, token.label, token.pin)
    first.close()
    key = hsm_private_key(second, "overlap")
    ca = generate_ca("Overlap CA", private_key=key)
    ca.certificate.verify_directly_issued_by(ca.certificate)
    second.close()


def test_a_wrong_pin_after_a_right_one_is_still_refused(token: SoftHsmToken) -> None:
    open_token(token.library, token.label, token.pin).close()
    with pytest.raises(HsmPinError, match="refused the PIN"):
        open_token(token.library, token.label, "9999")
    with open_token(token.library, token.label, token.pin) as session:
        assert find_public_key(session, "no-such-key", missing_ok=True) is None


def test_absent_token_and_library(token: SoftHsmToken) -> None:
    with pytest.raises(HsmUnavailableError, match="No PKCS#11 token"):
        open_token(token.library, "no-such-token", token.pin)
    with pytest.raises(HsmUnavailableError, match="does not exist"):
        open_token("/nonexistent/libpkcs11.so", token.label, token.pin)


@pytest.mark.parametrize("key_type", list(KeyType))
def test_ca_key_on_the_token_issues_certificates_and_crls(session: Any, key_type: KeyType) -> None:
    """A company CA whose key never leaves the token: its certificate, a signer certificate
    and a CRL are all signed by the token, and check out with the CA's public key."""
    label = f"ca-{key_type.value}"
    public = generate_key_pair(session, label, key_type)
    key = hsm_private_key(session, label)
    ca = generate_ca("Token CA", key_type=key_type, private_key=key)
    assert ca.certificate.public_key() == public
    ca.certificate.verify_directly_issued_by(ca.certificate)
    alice = issue_signer_certificate(
        ca, SignerIdentity("Alice", "alice"), generate_private_key().public_key()
    )
    alice.verify_directly_issued_by(ca.certificate)
    crl = build_crl(ca, [Revocation(alice.serial_number, utc())], crl_number=1)
    assert crl.is_signature_valid(public)
    assert crl.get_revoked_certificate_by_serial_number(alice.serial_number) is not None
    query = ocsp.OCSPRequestBuilder().add_certificate(alice, ca.certificate, hashes.SHA1())
    answer = ocsp.load_der_ocsp_response(
        ocsp_response(
            ca,
            query.build().public_bytes(serialization.Encoding.DER),
            issued={alice.serial_number},
            revocations=[Revocation(alice.serial_number, utc())],
        )
    )
    assert answer.certificate_status == ocsp.OCSPCertStatus.REVOKED
    with pytest.raises(HsmError):
        key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    with pytest.raises(HsmError):
        key.private_numbers()


def test_ca_key_on_the_token_refuses_other_hashes_and_missing_labels(session: Any) -> None:
    generate_key_pair(session, "ca-hashes", KeyType.ECDSA_P256)
    key = hsm_private_key(session, "ca-hashes")
    with pytest.raises(HsmError):
        key.sign(b"tbs", ec.ECDSA(hashes.SHA384()))
    with pytest.raises(HsmUnavailableError):
        hsm_private_key(session, "no-such-ca-key")


def test_ca_key_on_a_closed_session_fails_cleanly(token: SoftHsmToken) -> None:
    """The token going away between two uses gives an HSM error, not a half-made CRL."""
    opened = open_token(token.library, token.label, token.pin)
    generate_key_pair(opened, "ca-closed", KeyType.ECDSA_P256)
    ca = generate_ca("Token CA", private_key=hsm_private_key(opened, "ca-closed"))
    opened.close()
    with pytest.raises(HsmUnavailableError):
        build_crl(ca, [], crl_number=2)
