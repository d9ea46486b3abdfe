"""Key types, certificate and CRL loading, fingerprints (S5, R22).

Everything in the ``pki_*`` modules uses ``cryptography`` objects
(``x509.Certificate``, ``ec``/``rsa`` private keys); :mod:`services.pki_sign`
turns them into the asn1crypto objects pyHanko needs. The other ideas of the
PKI core each have their module: :mod:`services.pki_ca` (the company CA),
:mod:`services.pki_issue` (signer certificates), :mod:`services.pki_revocation`
(revocation, CRLs, may this certificate sign now) and
:mod:`services.pki_keystore` (the software keystore).

* **Key types.** :class:`KeyType` names the supported algorithms and
  :func:`generate_private_key` dispatches on it. ECDSA P-256 is the default,
  RSA-3072 an option. SM2 (China profile, R25) is a later addition: add a
  member, a generator in ``_GENERATORS`` and a branch in
  :func:`key_type_of`; ``cryptography`` has no SM2, so its keys will come from
  another library or an HSM.
* **Loading.** :func:`load_certificates`, :func:`load_certificate` and
  :func:`load_crl` read PEM or DER; :func:`fingerprint` and
  :func:`certificate_to_pem` go the other way.

All datetimes returned are timezone-aware UTC; naive datetimes given as
arguments are taken as UTC, as Odoo stores them (:func:`utc`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from typing import TypeAlias

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from .pki_errors import PkiInputError

__all__ = [
    "KeyType",
    "PrivateKey",
    "PublicKey",
    "certificate_to_pem",
    "fingerprint",
    "generate_private_key",
    "key_type_of",
    "load_certificate",
    "load_certificates",
    "load_crl",
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


def _signature_hash(key: PrivateKey) -> hashes.HashAlgorithm:
    """The hash used for certificates and CRLs signed with ``key``."""
    key_type_of(key)
    return hashes.SHA256()
