"""The company signing CA: generate one, or import one an external CA issued (S5, R22).

:func:`generate_ca` makes a self-signed signing CA; :func:`import_ca_pem` and
:func:`import_ca_pkcs12` load one issued by an external CA, chain included.
The CA key must be loaded in memory to issue certificates
(:mod:`services.pki_issue`) and CRLs (:mod:`services.pki_revocation`); store
it sealed (:func:`services.pki_keystore.seal_private_key`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from .pki_errors import PkiInputError
from .pki_keys import (
    KeyType,
    PrivateKey,
    _signature_hash,
    _spki,
    _whole_second,
    generate_private_key,
    key_type_of,
    load_certificates,
    utc,
)

__all__ = [
    "CertificateAuthority",
    "generate_ca",
    "import_ca_pem",
    "import_ca_pkcs12",
]


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
