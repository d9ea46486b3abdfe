"""Revocation, CRLs, and whether a certificate may sign now (S5, R7, R22).

:class:`Revocation` is one revoked serial; :func:`build_crl` signs a CRL and
:func:`revocations_from_crl` reads one back after checking its issuer.
Revocation times have one-second resolution in a CRL: a signature timestamped
in the very second of its certificate's revocation counts as made after it.
:func:`assert_usable` refuses a certificate that may not sign at a given
moment: another user's, not for signing, revoked, not yet valid or expired.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from cryptography import x509

from .pki_ca import CertificateAuthority
from .pki_errors import CertificateUnusableError, PkiInputError
from .pki_issue import certificate_login
from .pki_keys import _signature_hash, _whole_second, utc

__all__ = [
    "Revocation",
    "RevocationReason",
    "assert_usable",
    "build_crl",
    "crl_covers",
    "revocations_from_crl",
    "revoke",
]


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


def crl_covers(crl_issued_at: datetime, moment: datetime) -> bool:
    """Whether a CRL issued at ``crl_issued_at`` proves the revocation status at ``moment``.

    A CRL speaks for the time it was issued: a certificate it does not list was not revoked
    then, nor at any earlier time. So only a CRL issued *after* the moment proves that the
    certificate was not revoked at that moment. CRL and revocation times have one-second
    resolution, and a revocation in the very second of a signature counts as made before it:
    a CRL issued in that same second may predate the revocation, so it must be issued in a
    later second.

    :param crl_issued_at: The CRL's ``thisUpdate`` (naive values are taken as UTC).
    :param moment: The signing time being judged, usually the timestamp's ``genTime``.
    :return: ``True`` if the CRL was issued in a second after ``moment``'s.
    """
    return _whole_second(utc(crl_issued_at)) > _whole_second(utc(moment))


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
