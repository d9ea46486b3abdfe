"""Keys, certificates, revocation and the software keystore (S5, R7, R22).

Everything here uses ``cryptography`` objects (``x509.Certificate``,
``ec``/``rsa`` private keys); :mod:`services.pki_cms` turns them into the
asn1crypto objects pyHanko needs.

* **Key types.** :class:`KeyType` names the supported algorithms and
  :func:`generate_private_key` dispatches on it. ECDSA P-256 is the default,
  RSA-3072 an option. SM2 (China profile, R25) is a later addition: add a
  member, a generator in ``_GENERATORS`` and a branch in
  :func:`key_type_of`; ``cryptography`` has no SM2, so its keys will come from
  another library or an HSM.
* **Company CA.** :func:`generate_ca` makes a self-signed signing CA;
  :func:`import_ca_pem` and :func:`import_ca_pkcs12` load one issued by an
  external CA, chain included. The CA key must be loaded in memory to issue
  certificates and CRLs; store it sealed (:func:`seal_private_key`).
* **Signer certificates.** :func:`issue_signer_certificate` puts the person's
  name in ``CN``, their Odoo login in ``UID`` (RFC 4519 ``userId``) and their
  e-mail in the subject alternative name, with the digitalSignature and
  nonRepudiation key usages. :func:`renew_certificate` issues a new one for
  the same identity, with the same or a new public key; the old certificate
  stays valid for the signatures it made.
* **Revocation.** :class:`Revocation` is one revoked serial; :func:`build_crl`
  signs a CRL. Revocation times have one-second resolution in a CRL: a
  signature timestamped in the very second of its certificate's revocation
  counts as made after it.
* **Software keystore.** :func:`seal_private_key` encrypts a PKCS#8 key with
  AES-256-GCM under a master key the caller supplies (from the Odoo
  configuration file or the environment, never from the database).

All datetimes returned are timezone-aware UTC; naive datetimes given as
arguments are taken as UTC, as Odoo stores them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TypeAlias

from cryptography import x509
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from .pki_errors import (
    CertificateUnusableError,
    KeystoreError,
    MasterKeyMissingError,
    PkiInputError,
    WrongMasterKeyError,
)

__all__ = [
    "MASTER_KEY_BYTES",
    "CertificateAuthority",
    "KeyType",
    "PrivateKey",
    "PublicKey",
    "Revocation",
    "RevocationReason",
    "SignerIdentity",
    "assert_usable",
    "build_crl",
    "certificate_login",
    "certificate_to_pem",
    "fingerprint",
    "generate_ca",
    "generate_master_key",
    "generate_private_key",
    "import_ca_pem",
    "import_ca_pkcs12",
    "issue_signer_certificate",
    "key_type_of",
    "load_certificate",
    "load_certificates",
    "load_crl",
    "open_private_key",
    "parse_master_key",
    "renew_certificate",
    "revocations_from_crl",
    "revoke",
    "seal_private_key",
    "utc",
]

PrivateKey: TypeAlias = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
PublicKey: TypeAlias = ec.EllipticCurvePublicKey | rsa.RSAPublicKey


class KeyType(StrEnum):
    """A supported key algorithm; the value is what the configuration stores."""

    ECDSA_P256 = "ecdsa-p256"
    RSA_3072 = "rsa-3072"


_GENERATORS: dict[KeyType, Callable[[], PrivateKey]] = {
    KeyType.ECDSA_P256: lambda: ec.generate_private_key(ec.SECP256R1()),
    KeyType.RSA_3072: lambda: rsa.generate_private_key(public_exponent=65537, key_size=3072),
}


def generate_private_key(key_type: KeyType = KeyType.ECDSA_P256) -> PrivateKey:
    """Generate a private key in memory.

    :param key_type: The algorithm; ECDSA P-256 by default.
    :return: The new private key.
    :raises PkiInputError: If ``key_type`` is not supported.
    """
    try:
        generator = _GENERATORS[KeyType(key_type)]
    except (KeyError, ValueError) as exc:
        raise PkiInputError(f"The key type {key_type!r} is not supported.") from exc
    return generator()


def key_type_of(key: PrivateKey | PublicKey) -> KeyType:
    """Tell which supported key type a key is.

    :param key: A private or public key.
    :return: Its key type.
    :raises PkiInputError: If the key is of an unsupported algorithm or size.
    """
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        if isinstance(key.curve, ec.SECP256R1):
            return KeyType.ECDSA_P256
        raise PkiInputError(f"The elliptic curve {key.curve.name} is not supported.")
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey) and key.key_size >= 3072:
        return KeyType.RSA_3072
    raise PkiInputError(
        "Only ECDSA P-256 and RSA keys of 3072 bits or more are supported "
        f"(got {type(key).__name__})."
    )


def utc(moment: datetime | None = None) -> datetime:
    """Return an aware UTC datetime (now if ``moment`` is ``None``).

    :param moment: A datetime; naive ones are taken as UTC.
    :return: The same instant, aware, in UTC.
    """
    if moment is None:
        return datetime.now(UTC)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _whole_second(moment: datetime) -> datetime:
    """Drop the microseconds: X.509 times have one-second resolution."""
    return moment.replace(microsecond=0)


def fingerprint(certificate: x509.Certificate) -> str:
    """SHA-256 fingerprint of a certificate's DER encoding.

    :param certificate: The certificate.
    :return: 64 lowercase hexadecimal digits.
    """
    return certificate.fingerprint(hashes.SHA256()).hex()


def certificate_to_pem(certificate: x509.Certificate) -> bytes:
    """PEM encoding of a certificate.

    :param certificate: The certificate.
    :return: The PEM bytes.
    """
    return certificate.public_bytes(serialization.Encoding.PEM)


def load_certificates(data: bytes) -> list[x509.Certificate]:
    """Load one or more certificates from PEM (a bundle) or a single DER.

    :param data: PEM or DER bytes.
    :return: The certificates, in file order.
    :raises PkiInputError: If nothing in ``data`` is a certificate.
    """
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_certificates(data)
        return [x509.load_der_x509_certificate(data)]
    except (ValueError, TypeError) as exc:
        raise PkiInputError("The data is not a PEM or DER X.509 certificate.") from exc


def load_certificate(data: bytes) -> x509.Certificate:
    """Load exactly one certificate from PEM or DER.

    :param data: PEM or DER bytes.
    :return: The certificate.
    :raises PkiInputError: If ``data`` holds no certificate or several.
    """
    certificates = load_certificates(data)
    if len(certificates) != 1:
        raise PkiInputError(f"Expected one certificate, found {len(certificates)}.")
    return certificates[0]


def load_crl(data: bytes) -> x509.CertificateRevocationList:
    """Load a CRL from PEM or DER.

    :param data: PEM or DER bytes.
    :return: The CRL (its signature is not checked here; see
        :func:`revocations_from_crl`).
    :raises PkiInputError: If ``data`` is not a CRL.
    """
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_crl(data)
        return x509.load_der_x509_crl(data)
    except (ValueError, TypeError) as exc:
        raise PkiInputError("The data is not a PEM or DER certificate revocation list.") from exc


def _spki(key: PrivateKey | PublicKey) -> bytes:
    """DER SubjectPublicKeyInfo of a key (of its public half for a private key)."""
    public = (
        key.public_key()
        if isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey)
        else key
    )
    return public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


# --- Company CA -------------------------------------------------------------------


@dataclass(frozen=True)
class CertificateAuthority:
    """The company's signing CA, with its private key loaded.

    :param certificate: The CA certificate.
    :param private_key: Its private key.
    :param chain: The issuers above it, nearest first, up to and including the
        root; empty for a self-signed CA.
    """

    certificate: x509.Certificate
    private_key: PrivateKey
    chain: tuple[x509.Certificate, ...] = ()

    @property
    def root(self) -> x509.Certificate:
        """The trust anchor a verifier must be given: the last certificate of the chain."""
        return self.chain[-1] if self.chain else self.certificate

    @property
    def certificates(self) -> tuple[x509.Certificate, ...]:
        """The CA certificate and its chain: what a signature embeds besides its signer's."""
        return (self.certificate, *self.chain)


def _signature_hash(key: PrivateKey) -> hashes.HashAlgorithm:
    """The hash used for certificates and CRLs signed with ``key``."""
    key_type_of(key)
    return hashes.SHA256()


def generate_ca(
    common_name: str,
    *,
    organization: str | None = None,
    country: str | None = None,
    key_type: KeyType = KeyType.ECDSA_P256,
    valid_for: timedelta = timedelta(days=3650),
    now: datetime | None = None,
    private_key: PrivateKey | None = None,
) -> CertificateAuthority:
    """Generate a self-signed company signing CA.

    :param common_name: The CA's name, e.g. ``"ACME Medical e-Signature CA"``.
    :param organization: The company name, copied into signer certificates.
    :param country: Two-letter ISO country code.
    :param key_type: Algorithm of the CA key.
    :param valid_for: Validity period.
    :param now: Start of validity (default: now).
    :param private_key: An existing key to certify instead of a new one, e.g. one held on a
        PKCS#11 token (:func:`services.pki_hsm.hsm_private_key`); ``key_type`` is then ignored.
    :return: The CA, with its private key.
    :raises PkiInputError: If a name is empty or the key type unsupported.
    """
    if not common_name or not common_name.strip():
        raise PkiInputError("The CA needs a common name.")
    key = private_key if private_key is not None else generate_private_key(key_type)
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    if country:
        try:
            attributes.append(x509.NameAttribute(NameOID.COUNTRY_NAME, country))
        except ValueError as exc:
            raise PkiInputError(f"The country code {country!r} must have 2 letters.") from exc
    name = x509.Name(attributes)
    start = _whole_second(utc(now))
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + valid_for)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
        )
        .sign(key, _signature_hash(key))
    )
    return CertificateAuthority(certificate=certificate, private_key=key)


def _order_chain(
    ca_cert: x509.Certificate, others: Iterable[x509.Certificate]
) -> tuple[x509.Certificate, ...]:
    """Order the issuers of ``ca_cert`` nearest first, dropping unrelated ones.

    :raises PkiInputError: If a certificate of the chain does not verify.
    """
    pool = list(others)
    chain: list[x509.Certificate] = []
    current = ca_cert
    while current.issuer != current.subject:
        issuer = next((cert for cert in pool if cert.subject == current.issuer), None)
        if issuer is None:
            break
        try:
            current.verify_directly_issued_by(issuer)
        except (ValueError, TypeError) as exc:
            raise PkiInputError(
                f"The certificate {current.subject.rfc4514_string()} is not signed by "
                f"{issuer.subject.rfc4514_string()}."
            ) from exc
        chain.append(issuer)
        pool.remove(issuer)
        current = issuer
    return tuple(chain)


def _check_ca(certificate: x509.Certificate, key: object) -> PrivateKey:
    """Check that an imported CA certificate and key belong together and may issue.

    :return: The key, typed.
    :raises PkiInputError: If not.
    """
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise PkiInputError("The CA private key must be an ECDSA or RSA key.")
    key_type_of(key)
    if _spki(key) != _spki(certificate.public_key()):  # type: ignore[arg-type]
        raise PkiInputError("The private key does not belong to the CA certificate.")
    try:
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints)
        usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound as exc:
        raise PkiInputError(
            "The certificate lacks the basic constraints or key usage of a CA."
        ) from exc
    if not constraints.value.ca:
        raise PkiInputError("The certificate is not a CA certificate.")
    if not (usage.key_cert_sign and usage.crl_sign):
        raise PkiInputError("The CA certificate may not sign certificates and CRLs.")
    return key


def import_ca_pem(
    certificates_pem: bytes, key_pem: bytes, *, password: bytes | None = None
) -> CertificateAuthority:
    """Import a CA issued by an external CA, from PEM.

    :param certificates_pem: The CA certificate first, then its chain (any
        order), in one PEM bundle.
    :param key_pem: The CA private key, PEM (PKCS#8 or traditional),
        possibly encrypted.
    :param password: The key's password, if it is encrypted.
    :return: The CA.
    :raises PkiInputError: If the data is malformed, the password wrong, the
        key not the certificate's, or the certificate not a CA.
    """
    certificates = load_certificates(certificates_pem)
    try:
        key = serialization.load_pem_private_key(key_pem, password=password)
    except (ValueError, TypeError) as exc:
        raise PkiInputError(
            "The CA private key cannot be read: the PEM is malformed or the password is wrong."
        ) from exc
    checked = _check_ca(certificates[0], key)
    return CertificateAuthority(
        certificate=certificates[0],
        private_key=checked,
        chain=_order_chain(certificates[0], certificates[1:]),
    )


def import_ca_pkcs12(data: bytes, password: bytes | None) -> CertificateAuthority:
    """Import a CA from a PKCS#12 (``.p12``/``.pfx``) file, chain included.

    :param data: The PKCS#12 bytes.
    :param password: Its password.
    :return: The CA.
    :raises PkiInputError: If the file is malformed, the password wrong, it
        holds no key or certificate, or the certificate is not a CA.
    """
    try:
        key, certificate, additional = pkcs12.load_key_and_certificates(data, password)
    except (ValueError, TypeError) as exc:
        raise PkiInputError(
            "The PKCS#12 file cannot be read: it is malformed or the password is wrong."
        ) from exc
    if key is None or certificate is None:
        raise PkiInputError("The PKCS#12 file must hold the CA certificate and its private key.")
    checked = _check_ca(certificate, key)
    return CertificateAuthority(
        certificate=certificate, private_key=checked, chain=_order_chain(certificate, additional)
    )


# --- Signer certificates ----------------------------------------------------------


@dataclass(frozen=True)
class SignerIdentity:
    """Who a signer certificate is for, as verified by the enrolling administrator.

    :param name: The person's printed name (R9).
    :param login: Their Odoo login, stored in the subject's ``UID``.
    :param email: Their e-mail address, stored in the subject alternative name.
    :raises PkiInputError: If the name or login is empty.
    """

    name: str
    login: str
    email: str | None = None

    def __post_init__(self) -> None:
        """Check the identity.

        :raises PkiInputError: If the name or login is empty.
        """
        if not isinstance(self.name, str) or not self.name.strip():
            raise PkiInputError("A signer certificate needs the person's name.")
        if not isinstance(self.login, str) or not self.login.strip():
            raise PkiInputError("A signer certificate needs the person's login.")


def certificate_login(certificate: x509.Certificate) -> str | None:
    """The login (``UID`` attribute) a signer certificate was issued to.

    :param certificate: A signer certificate.
    :return: The login, or ``None`` if the subject has no ``UID``.
    """
    values = certificate.subject.get_attributes_for_oid(NameOID.USER_ID)
    return str(values[0].value) if values else None


def _signer_extensions(
    builder: x509.CertificateBuilder,
    ca: CertificateAuthority,
    public_key: PublicKey,
    email: str | None,
    crl_url: str | None,
    ocsp_url: str | None = None,
) -> x509.CertificateBuilder:
    """Add the extensions of a signer certificate."""
    builder = (
        builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.certificate.public_key()),  # type: ignore[arg-type]
            critical=False,
        )
    )
    if email:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.RFC822Name(email)]), critical=False
        )
    if crl_url:
        point = x509.DistributionPoint(
            full_name=[x509.UniformResourceIdentifier(crl_url)],
            relative_name=None,
            reasons=None,
            crl_issuer=None,
        )
        builder = builder.add_extension(x509.CRLDistributionPoints([point]), critical=False)
    if ocsp_url:
        access = x509.AccessDescription(
            x509.AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(ocsp_url)
        )
        builder = builder.add_extension(x509.AuthorityInformationAccess([access]), critical=False)
    return builder


def _issue(
    ca: CertificateAuthority,
    subject: x509.Name,
    public_key: PublicKey,
    email: str | None,
    *,
    valid_for: timedelta,
    now: datetime | None,
    crl_url: str | None,
    ocsp_url: str | None = None,
) -> x509.Certificate:
    """Issue a signer certificate for an already-built subject name."""
    key_type_of(public_key)
    start = _whole_second(utc(now))
    ca_end = ca.certificate.not_valid_after_utc
    if start >= ca_end:
        raise PkiInputError("The CA certificate has expired; it cannot issue certificates.")
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca.certificate.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        # A certificate never outlives its issuer.
        .not_valid_after(min(start + valid_for, ca_end))
    )
    builder = _signer_extensions(builder, ca, public_key, email, crl_url, ocsp_url)
    return builder.sign(ca.private_key, _signature_hash(ca.private_key))


def issue_signer_certificate(
    ca: CertificateAuthority,
    identity: SignerIdentity,
    public_key: PublicKey,
    *,
    valid_for: timedelta = timedelta(days=730),
    now: datetime | None = None,
    crl_url: str | None = None,
    ocsp_url: str | None = None,
) -> x509.Certificate:
    """Issue a signer certificate (enrolment, after identity verification).

    :param ca: The company CA.
    :param identity: The verified signer.
    :param public_key: The public half of the signer's key (software or HSM).
    :param valid_for: Validity period; cut at the CA's own end of validity.
    :param now: Start of validity (default: now).
    :param crl_url: The public CRL URL, written into the certificate.
    :param ocsp_url: The OCSP responder's URL, written into the certificate (AIA).
    :return: The certificate, with a random 159-bit serial.
    :raises PkiInputError: If the key type is unsupported or the CA expired.
    """
    attributes = [
        x509.NameAttribute(NameOID.COMMON_NAME, identity.name),
        x509.NameAttribute(NameOID.USER_ID, identity.login),
    ]
    organization = ca.certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    if organization:
        attributes.append(organization[0])
    return _issue(
        ca,
        x509.Name(attributes),
        public_key,
        identity.email,
        valid_for=valid_for,
        now=now,
        crl_url=crl_url,
        ocsp_url=ocsp_url,
    )


def renew_certificate(
    ca: CertificateAuthority,
    old: x509.Certificate,
    *,
    public_key: PublicKey | None = None,
    valid_for: timedelta = timedelta(days=730),
    now: datetime | None = None,
    crl_url: str | None = None,
    ocsp_url: str | None = None,
) -> x509.Certificate:
    """Issue a new certificate for the same signer (renewal or key rotation).

    The old certificate is left as it is: it stays valid for the signatures
    it made, and the caller revokes it with the reason ``superseded`` if it
    must not sign any more.

    :param ca: The company CA (the old certificate's issuer).
    :param old: The certificate to renew.
    :param public_key: A new public key to rotate to; ``None`` keeps the old key.
    :param valid_for: Validity period of the new certificate.
    :param now: Start of validity (default: now).
    :param crl_url: The public CRL URL.
    :param ocsp_url: The OCSP responder's URL.
    :return: The new certificate: same subject and e-mail, new serial.
    :raises PkiInputError: If ``old`` was not issued by ``ca``.
    """
    try:
        old.verify_directly_issued_by(ca.certificate)
    except (ValueError, TypeError) as exc:
        raise PkiInputError("The certificate to renew was not issued by this CA.") from exc
    try:
        names = old.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        emails = names.get_values_for_type(x509.RFC822Name)
    except x509.ExtensionNotFound:
        emails = []
    key = public_key if public_key is not None else old.public_key()
    return _issue(
        ca,
        old.subject,
        key,  # type: ignore[arg-type]
        emails[0] if emails else None,
        valid_for=valid_for,
        now=now,
        crl_url=crl_url,
        ocsp_url=ocsp_url,
    )


# --- Revocation -------------------------------------------------------------------


class RevocationReason(StrEnum):
    """RFC 5280 CRL reason codes (``removeFromCRL`` is for delta CRLs only)."""

    UNSPECIFIED = "unspecified"
    KEY_COMPROMISE = "key_compromise"
    CA_COMPROMISE = "ca_compromise"
    AFFILIATION_CHANGED = "affiliation_changed"
    SUPERSEDED = "superseded"
    CESSATION_OF_OPERATION = "cessation_of_operation"
    CERTIFICATE_HOLD = "certificate_hold"
    PRIVILEGE_WITHDRAWN = "privilege_withdrawn"
    AA_COMPROMISE = "aa_compromise"

    @property
    def flag(self) -> x509.ReasonFlags:
        """The ``cryptography`` flag of this reason."""
        return x509.ReasonFlags[self.value]


@dataclass(frozen=True)
class Revocation:
    """One revoked certificate, as listed in a CRL.

    :param serial: The certificate's serial number.
    :param revoked_at: When it was revoked (aware UTC, whole seconds).
    :param reason: Why.
    """

    serial: int
    revoked_at: datetime
    reason: RevocationReason = RevocationReason.UNSPECIFIED


def revoke(
    certificate: x509.Certificate,
    reason: RevocationReason | str = RevocationReason.UNSPECIFIED,
    *,
    at: datetime | None = None,
) -> Revocation:
    """Record the revocation of a certificate.

    :param certificate: The certificate.
    :param reason: An RFC 5280 reason.
    :param at: When (default: now). Cut to the whole second, as in a CRL.
    :return: The revocation, to store and to list in the next CRL.
    :raises PkiInputError: If ``reason`` is not an RFC 5280 reason.
    """
    try:
        checked = RevocationReason(reason)
    except ValueError as exc:
        raise PkiInputError(f"{reason!r} is not an RFC 5280 revocation reason.") from exc
    return Revocation(
        serial=certificate.serial_number,
        revoked_at=_whole_second(utc(at)),
        reason=checked,
    )


def build_crl(
    ca: CertificateAuthority,
    revocations: Iterable[Revocation],
    *,
    crl_number: int,
    this_update: datetime | None = None,
    valid_for: timedelta = timedelta(days=7),
) -> x509.CertificateRevocationList:
    """Build and sign a complete CRL.

    :param ca: The company CA.
    :param revocations: Every revocation of certificates this CA issued.
    :param crl_number: A number that grows with each CRL issued (RFC 5280 5.2.3).
    :param this_update: Issue time (default: now).
    :param valid_for: Time until ``nextUpdate``.
    :return: The signed CRL.
    :raises PkiInputError: If ``crl_number`` is negative.
    """
    if isinstance(crl_number, bool) or not isinstance(crl_number, int) or crl_number < 0:
        raise PkiInputError(f"The CRL number {crl_number!r} must be a non-negative integer.")
    start = _whole_second(utc(this_update))
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.certificate.subject)
        .last_update(start)
        .next_update(start + valid_for)
        .add_extension(x509.CRLNumber(crl_number), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.certificate.public_key()),  # type: ignore[arg-type]
            critical=False,
        )
    )
    for item in sorted(revocations, key=lambda rev: rev.serial):
        entry = (
            x509.RevokedCertificateBuilder()
            .serial_number(item.serial)
            .revocation_date(_whole_second(utc(item.revoked_at)))
        )
        # RFC 5280 5.3.1: the reason code "unspecified" SHOULD be absent.
        if item.reason != RevocationReason.UNSPECIFIED:
            entry = entry.add_extension(x509.CRLReason(item.reason.flag), critical=False)
        builder = builder.add_revoked_certificate(entry.build())
    return builder.sign(ca.private_key, _signature_hash(ca.private_key))


_REASON_BY_FLAG = {reason.flag: reason for reason in RevocationReason}


def revocations_from_crl(
    crl: x509.CertificateRevocationList, issuer: x509.Certificate
) -> tuple[Revocation, ...]:
    """Read the revocations of a CRL after checking who signed it.

    :param crl: The CRL.
    :param issuer: The CA certificate that must have issued it.
    :return: The revocations it lists.
    :raises PkiInputError: If the CRL was not issued and signed by ``issuer``.
    """
    if crl.issuer != issuer.subject or not crl.is_signature_valid(issuer.public_key()):  # type: ignore[arg-type]
        raise PkiInputError("The CRL was not signed by the expected CA.")
    result = []
    for entry in crl:
        try:
            flag = entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
        except x509.ExtensionNotFound:
            flag = x509.ReasonFlags.unspecified
        result.append(
            Revocation(
                serial=entry.serial_number,
                revoked_at=entry.revocation_date_utc,
                reason=_REASON_BY_FLAG.get(flag, RevocationReason.UNSPECIFIED),
            )
        )
    return tuple(result)


def assert_usable(
    certificate: x509.Certificate,
    *,
    at: datetime | None = None,
    login: str | None = None,
    revocations: Iterable[Revocation] = (),
) -> None:
    """Refuse a certificate that may not sign now (R7, R22).

    :param certificate: The signer's certificate.
    :param at: The signing time (default: now).
    :param login: The login of the user about to sign; ``None`` skips that check.
    :param revocations: Known revocations (from the database or a CRL).
    :raises CertificateUnusableError: With ``problem`` ``"other_user"``,
        ``"not_for_signing"``, ``"revoked"``, ``"not_yet_valid"`` or
        ``"expired"``, checked in that order.
    """
    moment = utc(at)
    serial = certificate.serial_number
    owner = certificate_login(certificate)
    if login is not None and owner != login:
        raise CertificateUnusableError(
            "other_user",
            serial,
            f"The certificate {serial:x} belongs to {owner!r}, not to {login!r}.",
        )
    try:
        usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
        signs = usage.digital_signature and usage.content_commitment
    except x509.ExtensionNotFound:
        signs = False
    if not signs:
        raise CertificateUnusableError(
            "not_for_signing",
            serial,
            f"The certificate {serial:x} lacks the digitalSignature and nonRepudiation "
            "key usages.",
        )
    for item in revocations:
        if item.serial == serial and utc(item.revoked_at) <= moment:
            raise CertificateUnusableError(
                "revoked",
                serial,
                f"The certificate {serial:x} was revoked on {utc(item.revoked_at).isoformat()} "
                f"({item.reason.value}).",
                when=utc(item.revoked_at),
            )
    start, end = certificate.not_valid_before_utc, certificate.not_valid_after_utc
    if moment < start:
        raise CertificateUnusableError(
            "not_yet_valid",
            serial,
            f"The certificate {serial:x} is valid only from {start.isoformat()}.",
            when=start,
        )
    if moment > end:
        raise CertificateUnusableError(
            "expired",
            serial,
            f"The certificate {serial:x} expired on {end.isoformat()}.",
            when=end,
        )


# --- Software keystore ------------------------------------------------------------

MASTER_KEY_BYTES = 32
"""Length of a keystore master key (AES-256)."""

_SEAL_MAGIC = b"esign-keystore/1\n"
_CHECK_BYTES = 8
_NONCE_BYTES = 12
_HEX_RE = re.compile(r"[0-9a-fA-F]{64}")


def generate_master_key() -> str:
    """Make a new master key, as text to put in the configuration file.

    :return: 32 random bytes in URL-safe base64 (44 characters).
    """
    return base64.urlsafe_b64encode(os.urandom(MASTER_KEY_BYTES)).decode("ascii")


def parse_master_key(text: str | bytes | None, *, source: str = "the configuration") -> bytes:
    """Decode a configured master key.

    :param text: 64 hex digits or base64 (standard or URL-safe) of 32 bytes;
        ``None`` or blank when not configured.
    :param source: Where the key was looked for, for the error message (e.g.
        ``"the option esign_master_key or the variable ESIGN_MASTER_KEY"``).
    :return: The 32 key bytes.
    :raises MasterKeyMissingError: If the key is absent or is not 32 bytes.
    """
    if isinstance(text, bytes):
        text = text.decode("ascii", "replace")
    if text is None or not text.strip():
        raise MasterKeyMissingError(
            f"No keystore master key is configured in {source}; software-held signing "
            "keys cannot be used."
        )
    text = text.strip()
    if _HEX_RE.fullmatch(text):
        return bytes.fromhex(text)
    try:
        raw = base64.b64decode(text.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != MASTER_KEY_BYTES:
        raise MasterKeyMissingError(
            f"The keystore master key in {source} must be 32 bytes, written as 64 hex "
            "digits or in base64."
        )
    return raw


def _derive(master_key: bytes, label: bytes) -> bytes:
    """Derive a purpose-bound 32-byte key from the master key (HMAC-SHA256 as a PRF)."""
    return hmac.new(master_key, _SEAL_MAGIC + label, hashlib.sha256).digest()


def _check_master_key(master_key: bytes) -> None:
    """Refuse anything but 32 bytes."""
    if not isinstance(master_key, bytes) or len(master_key) != MASTER_KEY_BYTES:
        raise MasterKeyMissingError(
            "The keystore master key must be 32 bytes; decode it with parse_master_key()."
        )


def seal_private_key(private_key: PrivateKey, master_key: bytes, *, key_id: str) -> bytes:
    """Encrypt a private key for storage (in the database or a file).

    Layout: ``"esign-keystore/1\\n"`` + 8-byte master-key check value +
    12-byte random nonce + AES-256-GCM(PKCS#8 DER). The associated data binds
    the magic, the check value and ``key_id``, so a sealed key copied to
    another key id does not open. The check value (a truncated HMAC of a
    constant) only tells a wrong master key from a tampered blob.

    :param private_key: The key.
    :param master_key: 32 bytes from :func:`parse_master_key`.
    :param key_id: A stable id of the key, e.g. ``"esign.certificate/42"``.
    :return: The sealed key.
    :raises MasterKeyMissingError: If ``master_key`` is not 32 bytes.
    :raises PkiInputError: If the key type is unsupported.
    """
    _check_master_key(master_key)
    key_type_of(private_key)
    plain = private_key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    check = _derive(master_key, b"check")[:_CHECK_BYTES]
    nonce = os.urandom(_NONCE_BYTES)
    aad = _SEAL_MAGIC + check + key_id.encode("utf-8")
    cipher = AESGCM(_derive(master_key, b"encrypt")).encrypt(nonce, plain, aad)
    return _SEAL_MAGIC + check + nonce + cipher


def open_private_key(sealed: bytes, master_key: bytes, *, key_id: str) -> PrivateKey:
    """Decrypt a key sealed by :func:`seal_private_key`.

    :param sealed: The sealed key.
    :param master_key: 32 bytes from :func:`parse_master_key`.
    :param key_id: The key id it was sealed with.
    :return: The private key.
    :raises MasterKeyMissingError: If ``master_key`` is not 32 bytes.
    :raises WrongMasterKeyError: If it was sealed under another master key.
    :raises KeystoreError: If the blob is malformed or was altered, or the
        key id differs.
    """
    _check_master_key(master_key)
    header = len(_SEAL_MAGIC)
    if not isinstance(sealed, bytes) or not sealed.startswith(_SEAL_MAGIC):
        raise KeystoreError("malformed", f"The sealed key {key_id!r} is not in a known format.")
    if len(sealed) < header + _CHECK_BYTES + _NONCE_BYTES + 16:
        raise KeystoreError("malformed", f"The sealed key {key_id!r} is truncated.")
    check = sealed[header : header + _CHECK_BYTES]
    if not hmac.compare_digest(check, _derive(master_key, b"check")[:_CHECK_BYTES]):
        raise WrongMasterKeyError(key_id)
    nonce = sealed[header + _CHECK_BYTES : header + _CHECK_BYTES + _NONCE_BYTES]
    cipher = sealed[header + _CHECK_BYTES + _NONCE_BYTES :]
    aad = _SEAL_MAGIC + check + key_id.encode("utf-8")
    try:
        plain = AESGCM(_derive(master_key, b"encrypt")).decrypt(nonce, cipher, aad)
    except InvalidTag as exc:
        raise KeystoreError(
            "tampered",
            f"The sealed key {key_id!r} was altered, or was sealed under another key id.",
        ) from exc
    key = serialization.load_der_private_key(plain, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise KeystoreError("malformed", f"The sealed key {key_id!r} is not an ECDSA or RSA key.")
    return key
