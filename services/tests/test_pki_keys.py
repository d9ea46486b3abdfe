"""Tests for services.pki_keys, pki_ca, pki_issue, pki_revocation and pki_keystore.

Verifies: R22
"""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from services.errors import EsignError
from services.pki_ca import CertificateAuthority, generate_ca, import_ca_pem, import_ca_pkcs12
from services.pki_errors import (
    CertificateUnusableError,
    KeystoreError,
    MasterKeyMissingError,
    PkiInputError,
    WrongMasterKeyError,
)
from services.pki_issue import (
    SignerIdentity,
    certificate_login,
    issue_signer_certificate,
    renew_certificate,
)
from services.pki_keys import (
    KeyType,
    fingerprint,
    generate_private_key,
    key_type_of,
    load_certificate,
    load_crl,
)
from services.pki_keystore import (
    generate_master_key,
    open_private_key,
    parse_master_key,
    seal_private_key,
)
from services.pki_revocation import (
    Revocation,
    RevocationReason,
    assert_usable,
    build_crl,
    revocations_from_crl,
    revoke,
)

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
ALICE = SignerIdentity("Alice Müller", "alice", "alice@example.com")


@pytest.fixture(scope="module")
def ca() -> CertificateAuthority:
    return generate_ca("ACME e-Signature CA", organization="ACME Medical", country="CH", now=NOW)


@pytest.fixture(scope="module")
def alice_key() -> ec.EllipticCurvePrivateKey:
    key = generate_private_key()
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return key


@pytest.fixture(scope="module")
def alice_cert(
    ca: CertificateAuthority, alice_key: ec.EllipticCurvePrivateKey
) -> x509.Certificate:
    return issue_signer_certificate(ca, ALICE, alice_key.public_key(), now=NOW)


def _intermediate(root: CertificateAuthority) -> CertificateAuthority:
    """An issuing CA below ``root``, made with cryptography directly (real keys)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ACME Issuing CA")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(root.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW)
        .not_valid_after(NOW + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .sign(root.private_key, hashes.SHA256())
    )
    return CertificateAuthority(cert, key, (root.certificate,))


# --- Key types and CA ---------------------------------------------------------------


def test_generated_ca_is_a_self_signed_p256_ca(ca: CertificateAuthority) -> None:
    cert = ca.certificate
    assert key_type_of(ca.private_key) is KeyType.ECDSA_P256
    cert.verify_directly_issued_by(cert)
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_cert_sign and usage.crl_sign
    assert cert.not_valid_before_utc == NOW
    assert ca.root is cert and ca.certificates == (cert,)


def test_rsa_3072_ca_and_signer() -> None:
    rsa_ca = generate_ca("RSA CA", key_type=KeyType.RSA_3072, now=NOW)
    assert isinstance(rsa_ca.private_key, rsa.RSAPrivateKey)
    assert rsa_ca.private_key.key_size == 3072
    assert key_type_of(rsa_ca.certificate.public_key()) is KeyType.RSA_3072  # type: ignore[arg-type]
    signer = issue_signer_certificate(rsa_ca, ALICE, generate_private_key().public_key(), now=NOW)
    signer.verify_directly_issued_by(rsa_ca.certificate)


def test_unsupported_key_type_and_curve() -> None:
    with pytest.raises(PkiInputError):
        generate_private_key("sm2")  # type: ignore[arg-type]
    with pytest.raises(PkiInputError):
        key_type_of(ec.generate_private_key(ec.SECP384R1()))
    with pytest.raises(PkiInputError):
        key_type_of(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    with pytest.raises(PkiInputError):
        generate_ca(" ")


def test_pki_errors_are_esign_errors() -> None:
    assert issubclass(PkiInputError, EsignError)
    assert issubclass(CertificateUnusableError, EsignError)


# --- Import -------------------------------------------------------------------------


def test_import_pem_with_chain(ca: CertificateAuthority) -> None:
    issuing = _intermediate(ca)
    bundle = b"".join(
        cert.public_bytes(serialization.Encoding.PEM)
        for cert in (issuing.certificate, ca.certificate)
    )
    key_pem = issuing.private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"s3cret"),
    )
    imported = import_ca_pem(bundle, key_pem, password=b"s3cret")
    assert imported.certificate == issuing.certificate
    assert imported.chain == (ca.certificate,)
    assert imported.root == ca.certificate
    signer = issue_signer_certificate(imported, ALICE, generate_private_key().public_key())
    signer.verify_directly_issued_by(issuing.certificate)

    with pytest.raises(PkiInputError, match="password"):
        import_ca_pem(bundle, key_pem, password=b"wrong")


def test_import_pkcs12_with_chain(ca: CertificateAuthority) -> None:
    issuing = _intermediate(ca)
    p12 = pkcs12.serialize_key_and_certificates(
        b"issuing",
        issuing.private_key,
        issuing.certificate,
        [ca.certificate],
        serialization.BestAvailableEncryption(b"pw"),
    )
    imported = import_ca_pkcs12(p12, b"pw")
    assert imported.certificate == issuing.certificate
    assert imported.chain == (ca.certificate,)
    with pytest.raises(PkiInputError, match="password"):
        import_ca_pkcs12(p12, b"nope")
    with pytest.raises(PkiInputError):
        import_ca_pkcs12(b"not a p12", b"pw")


def test_import_refuses_foreign_key_and_non_ca(
    ca: CertificateAuthority, alice_key: ec.EllipticCurvePrivateKey, alice_cert: x509.Certificate
) -> None:
    ca_pem = ca.certificate.public_bytes(serialization.Encoding.PEM)
    other_key = generate_private_key().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(PkiInputError, match="does not belong"):
        import_ca_pem(ca_pem, other_key)
    alice_pem = alice_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(PkiInputError, match="not a CA"):
        import_ca_pem(alice_cert.public_bytes(serialization.Encoding.PEM), alice_pem)


# --- Signer certificates ------------------------------------------------------------


def test_signer_certificate_content(
    ca: CertificateAuthority, alice_cert: x509.Certificate
) -> None:
    alice_cert.verify_directly_issued_by(ca.certificate)
    subject = alice_cert.subject
    assert subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "Alice Müller"
    assert subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "ACME Medical"
    assert certificate_login(alice_cert) == "alice"
    san = alice_cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.RFC822Name) == ["alice@example.com"]
    usage = alice_cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature and usage.value.content_commitment
    assert not usage.value.key_cert_sign
    assert not alice_cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert alice_cert.not_valid_before_utc == NOW
    assert alice_cert.not_valid_after_utc == NOW + timedelta(days=730)
    assert alice_cert.serial_number.bit_length() > 64


def test_serials_are_random_and_validity_is_capped(ca: CertificateAuthority) -> None:
    key = generate_private_key().public_key()
    first = issue_signer_certificate(ca, ALICE, key, now=NOW)
    second = issue_signer_certificate(
        ca, ALICE, key, now=NOW, valid_for=timedelta(days=100_000), crl_url="http://x/crl"
    )
    assert first.serial_number != second.serial_number
    assert second.not_valid_after_utc == ca.certificate.not_valid_after_utc
    points = second.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert points[0].full_name[0].value == "http://x/crl"
    with pytest.raises(PkiInputError, match="expired"):
        issue_signer_certificate(ca, ALICE, key, now=NOW + timedelta(days=5000))


def test_identity_requires_name_and_login() -> None:
    """Verifies: R1"""
    with pytest.raises(PkiInputError):
        SignerIdentity("", "alice")
    with pytest.raises(PkiInputError):
        SignerIdentity("Alice", "  ")


def test_fingerprint_is_sha256_of_der(alice_cert: x509.Certificate) -> None:
    der = alice_cert.public_bytes(serialization.Encoding.DER)
    assert fingerprint(alice_cert) == hashlib.sha256(der).hexdigest()
    assert load_certificate(der) == alice_cert
    assert load_certificate(alice_cert.public_bytes(serialization.Encoding.PEM)) == alice_cert
    with pytest.raises(PkiInputError):
        load_certificate(b"garbage")


def test_renew_same_key_and_rotate(
    ca: CertificateAuthority, alice_key: ec.EllipticCurvePrivateKey, alice_cert: x509.Certificate
) -> None:
    later = NOW + timedelta(days=700)
    renewed = renew_certificate(ca, alice_cert, now=later)
    assert renewed.subject == alice_cert.subject
    assert renewed.serial_number != alice_cert.serial_number
    assert renewed.not_valid_before_utc == later
    assert renewed.public_key() == alice_key.public_key()
    san = renewed.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.RFC822Name) == ["alice@example.com"]

    new_key = generate_private_key()
    rotated = renew_certificate(ca, alice_cert, public_key=new_key.public_key(), now=later)
    assert rotated.public_key() == new_key.public_key()
    assert certificate_login(rotated) == "alice"

    other_ca = generate_ca("Other CA", now=NOW)
    with pytest.raises(PkiInputError, match="not issued by this CA"):
        renew_certificate(other_ca, alice_cert)


# --- Revocation and usability -------------------------------------------------------


def test_revoke_and_crl_round_trip(ca: CertificateAuthority, alice_cert: x509.Certificate) -> None:
    """Verifies: R7"""
    other = issue_signer_certificate(ca, ALICE, generate_private_key().public_key(), now=NOW)
    revocations = [
        revoke(alice_cert, RevocationReason.KEY_COMPROMISE, at=NOW + timedelta(seconds=5.7)),
        revoke(other, "superseded", at=NOW),
        Revocation(12345, NOW, RevocationReason.UNSPECIFIED),
    ]
    assert revocations[0].revoked_at == NOW + timedelta(seconds=5)
    crl = build_crl(ca, revocations, crl_number=7, this_update=NOW + timedelta(minutes=1))
    assert crl.is_signature_valid(ca.certificate.public_key())  # type: ignore[arg-type]
    assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 7
    assert crl.next_update_utc == NOW + timedelta(days=7, minutes=1)
    unspecified = crl.get_revoked_certificate_by_serial_number(12345)
    assert unspecified is not None
    with pytest.raises(x509.ExtensionNotFound):
        unspecified.extensions.get_extension_for_class(x509.CRLReason)

    reloaded = load_crl(crl.public_bytes(serialization.Encoding.PEM))
    assert set(revocations_from_crl(reloaded, ca.certificate)) == set(revocations)
    with pytest.raises(PkiInputError, match="not signed by the expected CA"):
        revocations_from_crl(crl, generate_ca("Other CA").certificate)
    with pytest.raises(PkiInputError, match="RFC 5280"):
        revoke(alice_cert, "remove_from_crl")
    with pytest.raises(PkiInputError):
        build_crl(ca, [], crl_number=-1)


def test_assert_usable_accepts_a_good_certificate(alice_cert: x509.Certificate) -> None:
    revoked_later = revoke(alice_cert, at=NOW + timedelta(days=2))
    assert_usable(
        alice_cert, at=NOW + timedelta(days=1), login="alice", revocations=[revoked_later]
    )
    assert_usable(alice_cert, at=(NOW + timedelta(days=1)).replace(tzinfo=None))


@pytest.mark.parametrize(
    ("at", "login", "revoked_at", "problem"),
    [
        (NOW + timedelta(days=731), "alice", None, "expired"),
        (NOW - timedelta(seconds=1), "alice", None, "not_yet_valid"),
        (NOW + timedelta(days=3), "alice", NOW + timedelta(days=2), "revoked"),
        (NOW + timedelta(days=2), "alice", NOW + timedelta(days=2), "revoked"),
        (NOW + timedelta(days=1), "bob", None, "other_user"),
    ],
)
def test_assert_usable_refuses(
    alice_cert: x509.Certificate,
    at: datetime,
    login: str,
    revoked_at: datetime | None,
    problem: str,
) -> None:
    revocations = [revoke(alice_cert, at=revoked_at)] if revoked_at else []
    with pytest.raises(CertificateUnusableError) as caught:
        assert_usable(alice_cert, at=at, login=login, revocations=revocations)
    assert caught.value.problem == problem
    assert caught.value.serial == alice_cert.serial_number


def test_assert_usable_refuses_a_ca_certificate(ca: CertificateAuthority) -> None:
    with pytest.raises(CertificateUnusableError) as caught:
        assert_usable(ca.certificate, at=NOW)
    assert caught.value.problem == "not_for_signing"


# --- Software keystore --------------------------------------------------------------


@pytest.mark.parametrize("key_type", list(KeyType))
def test_seal_and_open(key_type: KeyType) -> None:
    key = generate_private_key(key_type)
    master = parse_master_key(generate_master_key())
    sealed = seal_private_key(key, master, key_id="esign.certificate/1")
    plain = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    assert plain not in sealed
    opened = open_private_key(sealed, master, key_id="esign.certificate/1")
    assert opened.private_numbers() == key.private_numbers()  # type: ignore[union-attr]
    # A fresh nonce each time.
    assert seal_private_key(key, master, key_id="esign.certificate/1") != sealed


def test_keystore_errors(alice_key: ec.EllipticCurvePrivateKey) -> None:
    master = parse_master_key(generate_master_key())
    sealed = seal_private_key(alice_key, master, key_id="k1")
    with pytest.raises(WrongMasterKeyError) as caught:
        open_private_key(sealed, parse_master_key(generate_master_key()), key_id="k1")
    assert caught.value.key_id == "k1"
    with pytest.raises(KeystoreError) as moved:
        open_private_key(sealed, master, key_id="k2")
    assert moved.value.problem == "tampered"
    flipped = bytearray(sealed)
    flipped[-5] ^= 1
    with pytest.raises(KeystoreError) as tampered:
        open_private_key(bytes(flipped), master, key_id="k1")
    assert tampered.value.problem == "tampered"
    with pytest.raises(KeystoreError) as malformed:
        open_private_key(b"-----BEGIN PRIVATE KEY-----", master, key_id="k1")
    assert malformed.value.problem == "malformed"
    with pytest.raises(KeystoreError):
        open_private_key(sealed[:30], master, key_id="k1")
    with pytest.raises(MasterKeyMissingError):
        open_private_key(sealed, b"short", key_id="k1")


@pytest.mark.parametrize("value", [None, "", "   ", "abc", "00" * 31, b"\xff" * 3])
def test_missing_or_malformed_master_key(value: str | bytes | None) -> None:
    with pytest.raises(MasterKeyMissingError, match="ESIGN_MASTER_KEY"):
        parse_master_key(value, source="the variable ESIGN_MASTER_KEY")


def test_master_key_formats() -> None:
    raw = bytes(range(32))
    assert parse_master_key(raw.hex()) == raw
    assert parse_master_key(raw.hex().upper()) == raw
    assert parse_master_key(base64.b64encode(raw).decode()) == raw
    assert parse_master_key(base64.urlsafe_b64encode(raw)) == raw
    assert len(parse_master_key(generate_master_key())) == 32
