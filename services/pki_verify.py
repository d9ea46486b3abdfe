"""Offline verification of a detached CMS signature and its timestamp (S5, R22, R23).

:func:`verify_signature` works offline from exported bytes: the CMS, the
content, the trusted company CA, the TSA's trust roots and the company CRL.
The moment of signing is the TSA's ``genTime``; the chain is validated and
revocation judged at that moment, so a signature timestamped before its
certificate's revocation stays valid.

It is synchronous (it runs pyHanko's coroutines with ``asyncio.run``), which
suits Odoo's request threads. Do not call it from inside a running event loop.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Literal, TypeAlias

from asn1crypto import cms
from cryptography import x509
from pyhanko.sign.validation.errors import SignatureValidationError
from pyhanko.sign.validation.generic_cms import async_validate_detached_cms
from pyhanko_certvalidator import ValidationContext

from .errors import SnapshotError
from .pki_errors import PkiInputError
from .pki_issue import certificate_login
from .pki_keys import fingerprint, utc
from .pki_revocation import crl_covers, revocations_from_crl
from .pki_sign import _load_signed_data, asn1_certificate
from .pki_timestamp import _token_gen_time, _with_token, extract_timestamp
from .snapshot import split_content_hash

__all__ = [
    "VerificationProblem",
    "VerificationResult",
    "Verdict",
    "verify_signature",
]


class Verdict(StrEnum):
    """The outcome of :func:`verify_signature`."""

    VALID = "valid"
    INVALID = "invalid"
    INDETERMINATE = "indeterminate"
    """Nothing is proven wrong, but the evidence is incomplete (no timestamp,
    no usable CRL)."""


ProblemCode: TypeAlias = Literal[
    "malformed_cms",
    "content_mismatch",
    "content_hash_mismatch",
    "bad_signature",
    "untrusted_signer",
    "wrong_signer",
    "no_timestamp",
    "malformed_timestamp",
    "timestamp_mismatch",
    "bad_timestamp",
    "untrusted_timestamp",
    "revoked",
    "no_revocation_info",
    "stale_revocation_info",
    "bad_revocation_info",
]

_INDETERMINATE_CODES = frozenset({"no_timestamp", "no_revocation_info", "stale_revocation_info"})


@dataclass(frozen=True)
class VerificationProblem:
    """One reason a signature is not (fully) valid.

    :param code: A stable code, e.g. ``"revoked"``, for the Odoo layer.
    :param message: A plain English sentence.
    """

    code: ProblemCode
    message: str

    @property
    def invalidates(self) -> bool:
        """``True`` if this problem makes the signature invalid, not merely unproven."""
        return self.code not in _INDETERMINATE_CODES


@dataclass(frozen=True)
class VerificationResult:
    """What :func:`verify_signature` found.

    :param verdict: Valid, invalid or indeterminate.
    :param problems: Why it is not valid (empty when valid).
    :param notes: Facts worth showing that are not problems (e.g. a
        revocation after the timestamp).
    :param signer_serial: The signer certificate's serial, if readable.
    :param signer_subject: Its subject, RFC 4514 text.
    :param signer_login: Its ``UID`` (the Odoo login).
    :param signer_fingerprint: Its SHA-256 fingerprint.
    :param timestamp_time: The TSA's genTime, the moment of signing.
    :param tsa_subject: The TSA certificate's subject.
    """

    verdict: Verdict
    problems: tuple[VerificationProblem, ...] = ()
    notes: tuple[str, ...] = ()
    signer_serial: int | None = None
    signer_subject: str | None = None
    signer_login: str | None = None
    signer_fingerprint: str | None = None
    timestamp_time: datetime | None = None
    tsa_subject: str | None = None

    @property
    def valid(self) -> bool:
        """``True`` only for :attr:`Verdict.VALID`."""
        return self.verdict is Verdict.VALID

    @property
    def codes(self) -> frozenset[str]:
        """The codes of :attr:`problems`."""
        return frozenset(problem.code for problem in self.problems)


def _context(roots: Iterable[x509.Certificate], moment: datetime) -> ValidationContext:
    """An offline validation context at ``moment``.

    Revocation is judged by :func:`_revocation_problems` from the company
    CRL, so certvalidator runs in soft-fail mode without fetching.
    """
    return ValidationContext(
        trust_roots=[asn1_certificate(root) for root in roots],
        moment=moment,
        allow_fetching=False,
        revocation_mode="soft-fail",
    )


def _utc_text(moment: datetime) -> str:
    """``2026-12-06 11:41:25 UTC``: a time as an inspector reads it, always in UTC."""
    return f"{utc(moment):%Y-%m-%d %H:%M:%S} UTC"


def _revocation_problems(
    crl: x509.CertificateRevocationList | None,
    trusted_ca: x509.Certificate,
    serial: int,
    moment: datetime,
    *,
    timestamped: bool = True,
) -> tuple[list[VerificationProblem], list[str]]:
    """Judge the signer's revocation status at ``moment`` from the company CRL.

    :param moment: The timestamp's time, or the verification time when
        ``timestamped`` is false (nothing dates the signature then).
    """
    if crl is None:
        return [
            VerificationProblem(
                "no_revocation_info", "No CRL was given, so revocation cannot be checked."
            )
        ], []
    try:
        revocations = revocations_from_crl(crl, trusted_ca)
    except PkiInputError as exc:
        return [VerificationProblem("bad_revocation_info", exc.reason)], []
    for item in revocations:
        if item.serial != serial:
            continue
        if item.revoked_at <= moment:
            return [
                VerificationProblem(
                    "revoked",
                    f"The signer certificate was revoked on {item.revoked_at.isoformat()} "
                    f"({item.reason.value}), before the signature time {moment.isoformat()}.",
                )
            ], []
        return [], [
            f"The signer certificate was revoked on {item.revoked_at.isoformat()} "
            f"({item.reason.value}), after the signature was made."
        ]
    if not crl_covers(crl.last_update_utc, moment):
        issued = _utc_text(crl.last_update_utc)
        if timestamped:
            message = (
                f"The CRL was issued at {issued}, not after the signature's timestamp time "
                f"{_utc_text(moment)}. Only a CRL issued after that time proves the "
                "certificate was not revoked when it signed."
            )
        else:
            message = (
                f"The CRL was issued at {issued}, not after the verification time "
                f"{_utc_text(moment)} (the signature carries no timestamp to date it). Only "
                "a CRL issued after that time proves the certificate was not revoked."
            )
        return [VerificationProblem("stale_revocation_info", message)], []
    return [], []


def _status_problems(status, token_present: bool) -> list[VerificationProblem]:  # noqa: ANN001
    """Translate pyHanko's status into problems."""
    problems: list[VerificationProblem] = []
    if not status.intact:
        problems.append(
            VerificationProblem(
                "content_mismatch", "The content does not match the signed message digest."
            )
        )
    if not status.valid:
        problems.append(
            VerificationProblem("bad_signature", "The cryptographic signature is not valid.")
        )
    elif not status.trusted:
        problems.append(
            VerificationProblem(
                "untrusted_signer",
                "The signer certificate does not chain to the trusted CA, or was not "
                f"valid at the signature time ({status.trust_problem_indic}).",
            )
        )
    ts_status = status.timestamp_validity
    if token_present and ts_status is not None:
        if not ts_status.intact:
            problems.append(
                VerificationProblem(
                    "timestamp_mismatch", "The timestamp token does not cover this signature."
                )
            )
        if not ts_status.valid:
            problems.append(
                VerificationProblem("bad_timestamp", "The timestamp token's signature is invalid.")
            )
        elif not ts_status.trusted:
            problems.append(
                VerificationProblem(
                    "untrusted_timestamp",
                    "The timestamp token was not issued by a trusted TSA "
                    f"({ts_status.trust_problem_indic}).",
                )
            )
    return problems


def _verdict(problems: Sequence[VerificationProblem]) -> Verdict:
    """Invalid if any problem invalidates, indeterminate if any remains, else valid."""
    if any(problem.invalidates for problem in problems):
        return Verdict.INVALID
    return Verdict.INDETERMINATE if problems else Verdict.VALID


def verify_signature(
    cms_der: bytes,
    content: bytes,
    *,
    trusted_ca: x509.Certificate,
    tsa_roots: Sequence[x509.Certificate],
    crl: x509.CertificateRevocationList | None,
    token: bytes | None = None,
    expected_content_hash: str | None = None,
    expected_login: str | None = None,
    now: datetime | None = None,
) -> VerificationResult:
    """Verify a detached signature offline.

    Checks: the CMS is well formed; ``content`` matches the signed digest
    (and ``expected_content_hash``, if given); the signature is valid; the
    signer certificate chains to ``trusted_ca`` and was valid at the
    timestamp time; the timestamp token covers the signature and was signed
    by a TSA chaining to ``tsa_roots``; the signer was not revoked at the
    timestamp time per ``crl``; the signer is ``expected_login``.

    :param cms_der: The CMS, with or without an embedded token.
    :param content: The canonical snapshot bytes.
    :param trusted_ca: The trust anchor for signers (the company CA's root).
    :param tsa_roots: The trust anchors for TSAs.
    :param crl: The company CA's CRL, issued after the signature; ``None``
        gives an indeterminate verdict.
    :param token: A token stored apart from the CMS; when given it is used
        instead of any embedded one.
    :param expected_content_hash: The content hash stored with the signature.
    :param expected_login: The login the signature row names.
    :param now: Validation time when there is no token (default: now).
    :return: The verdict and its reasons. Never raises for bad input: a
        malformed CMS or token is a problem in the result.
    """
    problems: list[VerificationProblem] = []
    try:
        _info, signed_data, signer_info = _load_signed_data(cms_der)
    except ValueError as exc:
        return VerificationResult(
            Verdict.INVALID, (VerificationProblem("malformed_cms", str(exc)),)
        )

    imprint = hashlib.sha256(signer_info["signature"].native).digest()
    token_der = token if token is not None else extract_timestamp(cms_der)
    moment = utc(now)
    timestamp_time = None
    if token_der is None:
        problems.append(
            VerificationProblem("no_timestamp", "The signature carries no timestamp token.")
        )
    else:
        try:
            token_info = cms.ContentInfo.load(token_der)
            timestamp_time = _token_gen_time(token_info, imprint)
            _ = token_info["content"].native
        except (ValueError, TypeError, KeyError) as exc:
            problems.append(VerificationProblem("malformed_timestamp", str(exc)))
            token_der = None
        except LookupError as exc:
            problems.append(VerificationProblem("timestamp_mismatch", str(exc)))
            token_der = None
        else:
            moment = timestamp_time
            signed_data = _with_token(signed_data, token_info)

    try:
        status = asyncio.run(
            async_validate_detached_cms(
                content,
                signed_data,
                signer_validation_context=_context([trusted_ca], moment),
                ts_validation_context=_context(tsa_roots, moment),
            )
        )
    except (SignatureValidationError, ValueError, TypeError, KeyError) as exc:
        problems.append(
            VerificationProblem("bad_signature", f"The CMS cannot be validated: {exc}")
        )
        return VerificationResult(
            _verdict(problems), tuple(problems), timestamp_time=timestamp_time
        )
    problems.extend(_status_problems(status, token_der is not None))

    signer_cert = x509.load_der_x509_certificate(status.signing_cert.dump())
    signer_login = certificate_login(signer_cert)
    if expected_login is not None and signer_login != expected_login:
        problems.append(
            VerificationProblem(
                "wrong_signer",
                f"The signature was made by {signer_login!r}, not by {expected_login!r}.",
            )
        )
    if expected_content_hash is not None:
        digest = signer_info["signed_attrs"]
        message_digest = next(
            (
                item["values"][0].native
                for item in digest
                if item["type"].native == "message_digest"
            ),
            None,
        )
        try:
            _version, hex_digest = split_content_hash(expected_content_hash)
            matches = message_digest == bytes.fromhex(hex_digest)
        except SnapshotError:
            matches = False
        if not matches:
            problems.append(
                VerificationProblem(
                    "content_hash_mismatch",
                    "The stored content hash is not the digest the signature covers.",
                )
            )
    revocation_problems, notes = _revocation_problems(
        crl, trusted_ca, signer_cert.serial_number, moment, timestamped=timestamp_time is not None
    )
    problems.extend(revocation_problems)
    tsa_subject = None
    if status.timestamp_validity is not None:
        tsa_subject = status.timestamp_validity.signing_cert.subject.human_friendly
    return VerificationResult(
        verdict=_verdict(problems),
        problems=tuple(problems),
        notes=tuple(notes),
        signer_serial=signer_cert.serial_number,
        signer_subject=signer_cert.subject.rfc4514_string(),
        signer_login=signer_login,
        signer_fingerprint=fingerprint(signer_cert),
        timestamp_time=timestamp_time,
        tsa_subject=tsa_subject,
    )
