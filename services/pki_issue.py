"""Signer certificates: issue, renew, and read back whom one is for (S5, R9, R22).

:func:`issue_signer_certificate` puts the person's name in ``CN``, their Odoo
login in ``UID`` (RFC 4519 ``userId``) and their e-mail in the subject
alternative name, with the digitalSignature and nonRepudiation key usages.
:func:`renew_certificate` issues a new one for the same identity, with the
same or a new public key; the old certificate stays valid for the signatures
it made. :func:`certificate_login` reads the ``UID`` back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.x509.oid import NameOID

from .pki_ca import CertificateAuthority
from .pki_errors import PkiInputError
from .pki_keys import PublicKey, _signature_hash, _whole_second, key_type_of, utc

__all__ = [
    "SignerIdentity",
    "certificate_login",
    "issue_seal_certificate",
    "issue_signer_certificate",
    "renew_certificate",
]


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


def issue_seal_certificate(
    ca: CertificateAuthority,
    name: str,
    public_key: PublicKey,
    *,
    valid_for: timedelta = timedelta(days=730),
    now: datetime | None = None,
    crl_url: str | None = None,
    ocsp_url: str | None = None,
) -> x509.Certificate:
    """Issue the company's seal certificate: the signer of its sealed printouts.

    A seal is the organisation's, not a person's: ``CN`` is the seal's name, ``O`` the CA's
    organisation, and there is no ``UID`` (so no person can sign with it as themselves).
    Same key usages, CRL and OCSP pointers as a signer certificate.

    :param ca: The company CA.
    :param name: The seal's name, e.g. "ACME e-Seal".
    :param public_key: The public half of the seal key (software or HSM).
    :param valid_for: Validity period; cut at the CA's own end of validity.
    :param now: Start of validity (default: now).
    :param crl_url: The public CRL URL, written into the certificate.
    :param ocsp_url: The OCSP responder's URL, written into the certificate (AIA).
    :return: The certificate, with a random 159-bit serial.
    :raises PkiInputError: If the name is empty, the key type unsupported or the CA expired.
    """
    if not isinstance(name, str) or not name.strip():
        raise PkiInputError("A seal certificate needs a name.")
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, name.strip())]
    organization = ca.certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    if organization:
        attributes.append(organization[0])
    return _issue(
        ca,
        x509.Name(attributes),
        public_key,
        None,
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
