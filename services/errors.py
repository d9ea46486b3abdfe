"""Exceptions raised by the Odoo-free core of ``meddev_esign``.

Every exception derives from :class:`EsignError`. Messages are plain English
sentences; the Odoo layer catches these exceptions and raises a translated
``UserError`` built from the structured attributes each exception carries, so
those attributes (not the message text) are the stable interface.
"""

from __future__ import annotations

from typing import Literal, TypeAlias

__all__ = [
    "AlreadySignedError",
    "CanonicalValueError",
    "ChainError",
    "EsignError",
    "GTINProblem",
    "InvalidGTINError",
    "NotEligibleError",
    "OutOfOrderError",
    "PolicyConfigError",
    "PolicyProblem",
    "RequestCompleteError",
    "SegregationOfDutiesError",
    "SigningRuleError",
    "SnapshotError",
    "SoDRule",
    "StepCompleteError",
    "UDIEncodingError",
    "UDIParseError",
    "UnknownStepError",
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


PolicyProblem: TypeAlias = Literal[
    "no_steps",
    "duplicate_step_id",
    "unknown_mode",
    "no_eligible_users",
    "k_with_mode_all",
    "invalid_k",
    "k_exceeds_eligible",
]

SoDRule: TypeAlias = Literal["author", "one_step_per_person"]


class PolicyConfigError(EsignError):
    """A signing policy is configured so that it cannot be applied safely.

    :param problem: Which rule it broke, e.g. ``"no_eligible_users"``.
    :param reason: A plain English sentence explaining why.
    :param step_id: The step at fault, ``None`` for a policy-wide problem.
    """

    def __init__(self, problem: PolicyProblem, reason: str, *, step_id: int | None = None) -> None:
        self.problem: PolicyProblem = problem
        self.reason = reason
        self.step_id = step_id
        super().__init__(reason)


class SigningRuleError(EsignError):
    """A user may not sign a step of a signing request right now.

    :param message: A plain English sentence describing the problem.
    :param user_id: The user who tried to sign.
    :param step_id: The step they tried to sign.
    """

    def __init__(self, message: str, *, user_id: int, step_id: int) -> None:
        self.user_id = user_id
        self.step_id = step_id
        super().__init__(message)


class UnknownStepError(SigningRuleError):
    """The step is not part of the request's policy.

    :param user_id: The user who tried to sign.
    :param step_id: The unknown step.
    """

    def __init__(self, user_id: int, step_id: int) -> None:
        super().__init__(
            f"The step {step_id} is not part of this signing policy.",
            user_id=user_id,
            step_id=step_id,
        )


class RequestCompleteError(SigningRuleError):
    """Every step of the request is already complete.

    :param user_id: The user who tried to sign.
    :param step_id: The step they tried to sign.
    """

    def __init__(self, user_id: int, step_id: int) -> None:
        super().__init__(
            "This signing request is already complete.", user_id=user_id, step_id=step_id
        )


class NotEligibleError(SigningRuleError):
    """The user is not one of the step's eligible signers.

    :param user_id: The user who tried to sign.
    :param step_id: The step they tried to sign.
    """

    def __init__(self, user_id: int, step_id: int) -> None:
        super().__init__(
            f"The user {user_id} is not allowed to sign the step {step_id}.",
            user_id=user_id,
            step_id=step_id,
        )


class SegregationOfDutiesError(SigningRuleError):
    """A segregation-of-duties rule of the policy bars the user.

    :param user_id: The user who tried to sign.
    :param step_id: The step they tried to sign.
    :param rule: ``"author"`` (authors of the record may not sign) or
        ``"one_step_per_person"`` (the user already signed another step).
    :param other_step_id: For ``"one_step_per_person"``, a step the user
        already signed; ``None`` otherwise.
    """

    def __init__(
        self, user_id: int, step_id: int, rule: SoDRule, *, other_step_id: int | None = None
    ) -> None:
        self.rule: SoDRule = rule
        self.other_step_id = other_step_id
        if rule == "author":
            message = f"The user {user_id} is an author of the record and may not sign it."
        else:
            message = (
                f"The user {user_id} already signed the step {other_step_id} "
                "and may not sign another step of this request."
            )
        super().__init__(message, user_id=user_id, step_id=step_id)


class AlreadySignedError(SigningRuleError):
    """The user already holds a valid signature on the step.

    :param user_id: The user who tried to sign.
    :param step_id: The step they tried to sign.
    """

    def __init__(self, user_id: int, step_id: int) -> None:
        super().__init__(
            f"The user {user_id} already signed the step {step_id}.",
            user_id=user_id,
            step_id=step_id,
        )


class StepCompleteError(SigningRuleError):
    """The step already has all the signatures it needs.

    :param user_id: The user who tried to sign.
    :param step_id: The step they tried to sign.
    :param required: The number of signatures that complete the step.
    """

    def __init__(self, user_id: int, step_id: int, *, required: int) -> None:
        self.required = required
        super().__init__(
            f"The step {step_id} already has the {required} signature(s) it needs.",
            user_id=user_id,
            step_id=step_id,
        )


class OutOfOrderError(SigningRuleError):
    """The step belongs to a stage that has not started yet.

    :param user_id: The user who tried to sign.
    :param step_id: The step they tried to sign.
    :param current_stage: The sequence of the stage being signed now.
    :param step_stage: The sequence of the step's stage.
    """

    def __init__(self, user_id: int, step_id: int, *, current_stage: int, step_stage: int) -> None:
        self.current_stage = current_stage
        self.step_stage = step_stage
        super().__init__(
            f"The step {step_id} (stage {step_stage}) cannot be signed before "
            f"stage {current_stage} is complete.",
            user_id=user_id,
            step_id=step_id,
        )
