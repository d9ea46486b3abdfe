"""Exceptions of the PKI core (:mod:`services.pki`).

They derive from :class:`services.errors.EsignError` like every error of the
``services`` package, and carry structured attributes (a ``problem`` code and
the values concerned) so the Odoo layer can build a translated message
without parsing English text. They live in their own module only while the
PKI work is reviewed; they may move into :mod:`services.errors` unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, TypeAlias

from .errors import EsignError

__all__ = [
    "CertificateProblem",
    "CertificateUnusableError",
    "HsmError",
    "HsmPinError",
    "HsmUnavailableError",
    "KeystoreError",
    "KeystoreProblem",
    "MasterKeyMissingError",
    "PkiError",
    "PkiInputError",
    "SealError",
    "SigningError",
    "TimestampUnavailableError",
    "TsaAttempt",
    "TsaProblem",
    "WrongMasterKeyError",
]

CertificateProblem: TypeAlias = Literal[
    "expired", "not_yet_valid", "revoked", "other_user", "not_for_signing"
]
KeystoreProblem: TypeAlias = Literal["malformed", "tampered"]
TsaProblem: TypeAlias = Literal["unreachable", "refused", "garbage", "wrong_imprint"]


class PkiError(EsignError):
    """Base class of the PKI core's errors.

    :param message: A plain English sentence describing the problem.
    """


class PkiInputError(PkiError):
    """A key, certificate, CRL or PKCS#12 file given to the PKI core is unusable.

    :param reason: A plain English sentence explaining why.
    """

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class CertificateUnusableError(PkiError):
    """A signer certificate may not be used to sign now (R7, R22).

    :param problem: ``"expired"``, ``"not_yet_valid"``, ``"revoked"``,
        ``"other_user"`` or ``"not_for_signing"``.
    :param serial: The certificate's serial number.
    :param reason: A plain English sentence explaining why.
    :param when: The relevant moment: the end or start of validity, or the
        revocation time; ``None`` for the other problems.
    """

    def __init__(
        self,
        problem: CertificateProblem,
        serial: int,
        reason: str,
        *,
        when: datetime | None = None,
    ) -> None:
        self.problem: CertificateProblem = problem
        self.serial = serial
        self.reason = reason
        self.when = when
        super().__init__(reason)


class KeystoreError(PkiError):
    """A sealed private key cannot be opened.

    :param problem: ``"malformed"`` (not a sealed key of a known format) or
        ``"tampered"`` (right master key, but the blob or its key id was
        altered).
    :param reason: A plain English sentence explaining why.
    """

    def __init__(self, problem: KeystoreProblem, reason: str) -> None:
        self.problem: KeystoreProblem = problem
        self.reason = reason
        super().__init__(reason)


class MasterKeyMissingError(PkiError):
    """No usable keystore master key is configured.

    :param reason: A plain English sentence explaining what is missing or
        malformed, and where the key is expected.
    """

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class WrongMasterKeyError(PkiError):
    """A sealed key was sealed under another master key than the one given.

    :param key_id: The key id of the sealed key.
    """

    def __init__(self, key_id: str) -> None:
        self.key_id = key_id
        super().__init__(
            f"The private key {key_id!r} was sealed under another master key than the "
            "configured one."
        )


class SigningError(PkiError):
    """The CMS signature could not be produced.

    :param reason: A plain English sentence explaining why.
    """

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True)
class TsaAttempt:
    """One TSA tried by :func:`services.pki_timestamp.request_timestamp`, and how it failed.

    :param url: The TSA URL.
    :param problem: ``"unreachable"`` (connection refused, timeout, HTTP
        error), ``"refused"`` (the TSA answered with a non-granted status),
        ``"garbage"`` (the answer is not a well-formed timestamp response) or
        ``"wrong_imprint"`` (the token covers other data than was sent).
    :param detail: A plain English sentence with the details.
    """

    url: str
    problem: TsaProblem
    detail: str


class TimestampUnavailableError(PkiError):
    """No configured TSA returned a usable RFC 3161 token.

    :param attempts: Every TSA tried, in order, with its failure. Empty when
        no TSA URL is configured.
    """

    def __init__(self, attempts: Sequence[TsaAttempt]) -> None:
        self.attempts = tuple(attempts)
        if not self.attempts:
            message = "No timestamp authority (TSA) URL is configured."
        else:
            tried = "; ".join(f"{item.url}: {item.detail}" for item in self.attempts)
            message = f"No timestamp authority returned a usable timestamp. Tried: {tried}"
        super().__init__(message)


class HsmError(PkiError):
    """Base class of the PKCS#11 back-end's errors.

    :param reason: A plain English sentence explaining why.
    """

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class HsmUnavailableError(HsmError):
    """The PKCS#11 library, token or key cannot be reached.

    :param reason: A plain English sentence explaining why.
    """


class HsmPinError(HsmError):
    """The HSM token refused the PIN (wrong, locked or expired).

    :param reason: A plain English sentence explaining why.
    """


class SealError(PkiError):
    """The PDF could not be sealed.

    :param code: ``"tsa_unavailable"`` (timestamp required, no TSA answered), ``"bad_pdf"``
        (the input is not a PDF pyHanko can update), ``"signer"`` (the seal key or its
        certificate refused or failed: revoked, wrong usage, HSM down), ``"bad_input"`` (an
        option, stamp or file name is invalid) or ``"font"`` (the stamp font is unusable).
    :param message: A plain English sentence.
    """

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(message)
