"""Exceptions raised by the Odoo-free core of ``meddev_esign``.

Every exception derives from :class:`EsignError`. Messages are plain English
sentences; the Odoo layer catches these exceptions and raises a translated
``UserError`` built from the structured attributes each exception carries, so
those attributes (not the message text) are the stable interface.
"""

from __future__ import annotations

from typing import Literal, TypeAlias

__all__ = [
    "CanonicalValueError",
    "ChainError",
    "EsignError",
    "GTINProblem",
    "InvalidGTINError",
    "SnapshotError",
    "UDIEncodingError",
    "UDIParseError",
]

GTINProblem: TypeAlias = Literal["not_digits", "bad_length", "bad_check_digit"]


class EsignError(Exception):
    """Base class of every error raised by the ``services`` package.

    :param message: A plain English sentence describing the problem.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidGTINError(EsignError):
    """A GTIN is not a well-formed GTIN-8, -12, -13 or -14.

    :param gtin: The rejected value, exactly as received.
    :param problem: Which rule it broke: ``"not_digits"``, ``"bad_length"``
        or ``"bad_check_digit"``.
    :param expected_check_digit: For ``"bad_check_digit"``, the digit the
        GS1 mod-10 algorithm expects.
    """

    def __init__(
        self,
        gtin: object,
        problem: GTINProblem,
        *,
        expected_check_digit: str | None = None,
    ) -> None:
        self.gtin = gtin
        self.problem: GTINProblem = problem
        self.expected_check_digit = expected_check_digit
        if problem == "not_digits":
            message = f"The GTIN {gtin!r} must contain only the digits 0 to 9."
        elif problem == "bad_length":
            message = f"The GTIN {gtin!r} must have 8, 12, 13 or 14 digits."
        else:
            message = (
                f"The GTIN {gtin!r} has a wrong check digit; "
                f"the check digit should be {expected_check_digit}."
            )
        super().__init__(message)


class UDIEncodingError(EsignError):
    """A UDI element cannot be encoded as GS1 data or as a barcode.

    :param field: The UDI field at fault (``"lot"``, ``"serial"``,
        ``"expiry_date"``...) or ``"symbol"`` when the barcode encoder failed.
    :param value: The rejected value.
    :param reason: A plain English sentence explaining why.
    """

    def __init__(self, field: str, value: object, reason: str) -> None:
        self.field = field
        self.value = value
        self.reason = reason
        super().__init__(f"The UDI {field} {value!r} cannot be encoded. {reason}")


class UDIParseError(EsignError):
    """Scanned or typed GS1 text cannot be read as a UDI.

    :param text: The text that was being parsed.
    :param reason: A plain English sentence explaining why.
    """

    def __init__(self, text: str, reason: str) -> None:
        self.text = text
        self.reason = reason
        super().__init__(f"The text {text!r} is not a valid UDI. {reason}")


class SnapshotError(EsignError):
    """A record snapshot cannot be built or hashed.

    :param reason: A plain English sentence explaining why.
    :param path: Where in the snapshot the problem is (e.g.
        ``"fields.amount"``), if it concerns one value.
    """

    def __init__(self, reason: str, *, path: str | None = None) -> None:
        self.reason = reason
        self.path = path
        message = reason if path is None else f"{reason} (at {path})"
        super().__init__(message)


class CanonicalValueError(SnapshotError):
    """A value cannot be put in canonical JSON (float, NaN, set, date...).

    It is a :class:`SnapshotError` because canonical JSON exists to build
    signed snapshots; hash-chain payloads use the same rules.

    :param reason: A plain English sentence explaining why.
    :param path: Where the value sits, e.g. ``"fields.lines[2].qty"``.
    :param value_type: The Python type name of the rejected value.
    """

    def __init__(self, reason: str, *, path: str, value_type: str) -> None:
        self.value_type = value_type
        super().__init__(reason, path=path)


class ChainError(EsignError):
    """A hash-chain input is malformed (bad hash text, unknown version).

    :param reason: A plain English sentence explaining why.
    :param value: The rejected value.
    """

    def __init__(self, reason: str, *, value: object = None) -> None:
        self.reason = reason
        self.value = value
        super().__init__(reason)
