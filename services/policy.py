"""The signing-policy engine: who must sign a request, in what order.

A policy is a set of steps. Steps with the same ``sequence`` form a *stage*
and are signed in parallel; stages are signed one after the other, in
ascending ``sequence``: no step of a stage may be signed until every step of
every earlier stage is complete.

A step is complete when enough distinct eligible users hold a valid signature
on it: every eligible user (mode ``"all"``) or ``k`` of them (mode
``"k_of_n"``). Invalidated signatures (``valid=False``: the record changed
after signing, or the signature belongs to an earlier cycle) count for
nothing, not even for segregation of duties, and their signer may sign again.

Two policy-wide segregation-of-duties (SoD) switches bar users:

* ``author_may_not_sign``: the record's authors may sign no step;
* ``one_step_per_person``: a user holding a valid signature on one step may
  sign no other step of the same request.

A step may be needed by some records only (a condition such as "amount over
50,000", checked by the caller on the record): the caller builds each record's
spec with the steps that record needs, and names the others in
``skipped_step_ids``. A skipped step is not part of the request: nobody may
sign it, and it counts for nothing. A record whose every step is skipped has
nothing to sign: its request is complete.

The rules are enforced when a user signs (:func:`check_can_sign`). When
counting, a valid signature by an eligible user always counts; signatures on
steps that are not in the policy are ignored.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, TypeAlias

from .errors import (
    AlreadySignedError,
    NotEligibleError,
    OutOfOrderError,
    PolicyConfigError,
    PolicyProblem,
    RequestCompleteError,
    SegregationOfDutiesError,
    SigningRuleError,
    StepCompleteError,
    UnknownStepError,
)

__all__ = [
    "Mode",
    "PolicySpec",
    "RequestEvaluation",
    "SignatureFact",
    "StepEvaluation",
    "StepSpec",
    "check_can_sign",
    "evaluate",
    "signable_steps",
    "validate_policy",
]

Mode: TypeAlias = Literal["all", "k_of_n"]

# Valid signatures on the policy's steps, as (step_id, user_id) pairs.
_Signed: TypeAlias = frozenset[tuple[int, int]]


@dataclass(frozen=True)
class StepSpec:
    """One step of a signing policy.

    :param step_id: Unique id of the step within the policy.
    :param sequence: The step's stage; steps sharing it are signed in parallel.
    :param name: Display name, e.g. ``"Approved"``.
    :param meaning_code: The meaning of the signature (21 CFR 11.50(a)(3)).
    :param mode: ``"all"``: every eligible user must sign; ``"k_of_n"``: any
        ``k`` of them.
    :param k: Signatures needed in mode ``"k_of_n"``; ``None`` in mode ``"all"``.
    :param eligible_user_ids: Users allowed to sign, resolved by the caller.
    """

    step_id: int
    sequence: int
    name: str
    meaning_code: str
    mode: Mode
    k: int | None
    eligible_user_ids: frozenset[int]

    @property
    def required(self) -> int:
        """Number of distinct eligible signers that complete a valid step."""
        if self.mode == "k_of_n" and self.k is not None:
            return self.k
        return len(self.eligible_user_ids)


@dataclass(frozen=True)
class PolicySpec:
    """A signing policy.

    :param steps: The steps, in any order.
    :param author_may_not_sign: SoD: the record's authors may sign no step.
    :param one_step_per_person: SoD: a user may sign only one step per request.
    :param version: The policy's version number, carried for the caller.
    :param skipped_step_ids: Steps of the policy that this record does not
        need (their condition does not hold); they are not in ``steps``.
    """

    steps: tuple[StepSpec, ...]
    author_may_not_sign: bool = False
    one_step_per_person: bool = False
    version: int = 1
    skipped_step_ids: frozenset[int] = frozenset()


@dataclass(frozen=True)
class SignatureFact:
    """A signature already made on the request.

    :param step_id: The step signed.
    :param user_id: The signer.
    :param valid: ``False`` once invalidated; it then counts for nothing.
    """

    step_id: int
    user_id: int
    valid: bool = True


@dataclass(frozen=True)
class StepEvaluation:
    """The state of one step of a request.

    :param step_id: The step.
    :param stage: The step's ``sequence``.
    :param signed_user_ids: Eligible users holding a valid signature on it.
    :param required: Number of signers that complete it.
    :param complete: Whether it has ``required`` signers.
    :param pending_user_ids: Eligible users who could still sign it (not
        signed yet, not barred by SoD), ignoring stage order; empty when
        complete.
    :param blocked: ``True`` when it is incomplete and SoD bars so many
        users that it can never be completed.
    """

    step_id: int
    stage: int
    signed_user_ids: frozenset[int]
    required: int
    complete: bool
    pending_user_ids: frozenset[int]
    blocked: bool


@dataclass(frozen=True)
class RequestEvaluation:
    """The state of a whole request.

    :param steps: Every step's state, by ascending stage.
    :param complete: Whether every step is complete.
    :param current_stage: Lowest stage with an incomplete step; ``None`` when
        complete.
    :param next_signer_ids: Users who may sign a step of the current stage.
    """

    steps: tuple[StepEvaluation, ...]
    complete: bool
    current_stage: int | None
    next_signer_ids: frozenset[int]

    def step(self, step_id: int) -> StepEvaluation:
        """Return one step's state.

        :param step_id: The step.
        :return: Its evaluation.
        :raises KeyError: If the step is not in the policy.
        """
        for state in self.steps:
            if state.step_id == step_id:
                return state
        raise KeyError(step_id)


def _step_problem(step: StepSpec) -> tuple[PolicyProblem, str] | None:
    """Find what is wrong with one step, if anything.

    :param step: The step.
    :return: The problem code and a plain English reason, or ``None``.
    """
    if step.mode not in ("all", "k_of_n"):
        return "unknown_mode", f"the mode {step.mode!r} is not 'all' or 'k_of_n'."
    if not step.eligible_user_ids:
        return "no_eligible_users", "no user is allowed to sign it."
    if step.mode == "all":
        if step.k is not None:
            return "k_with_mode_all", "a number of signatures k only applies to mode 'k_of_n'."
        return None
    if step.k is None or step.k < 1:
        return (
            "invalid_k",
            f"mode 'k_of_n' needs a number of signatures k of at least 1, not {step.k}.",
        )
    if step.k > len(step.eligible_user_ids):
        return (
            "k_exceeds_eligible",
            f"it needs {step.k} signatures but only {len(step.eligible_user_ids)} "
            "users may sign it.",
        )
    return None


def validate_policy(policy: PolicySpec) -> None:
    """Refuse a policy that could not be applied safely.

    :param policy: The policy.
    :raises PolicyConfigError: If it has no steps (and skipped none for the
        record), two steps share an id, or
        a step has an unknown mode, no eligible user, a ``k`` in mode
        ``"all"``, or in mode ``"k_of_n"`` a ``k`` below 1, missing, or above
        the number of eligible users.
    """
    if not policy.steps and not policy.skipped_step_ids:
        raise PolicyConfigError("no_steps", "A signing policy needs at least one step.")
    seen: set[int] = set()
    for step in policy.steps:
        if step.step_id in seen:
            raise PolicyConfigError(
                "duplicate_step_id",
                f"Two steps of the signing policy have the id {step.step_id}.",
                step_id=step.step_id,
            )
        seen.add(step.step_id)
        problem = _step_problem(step)
        if problem is not None:
            code, reason = problem
            raise PolicyConfigError(
                code, f"The step {step.name!r}: {reason}", step_id=step.step_id
            )


def _sod_breach(
    policy: PolicySpec, signed: _Signed, authors: frozenset[int], user_id: int, step_id: int
) -> SegregationOfDutiesError | None:
    """Find the first SoD rule that bars a user from a step.

    :param policy: The policy.
    :param signed: Valid signatures on the policy's steps.
    :param authors: The record's authors.
    :param user_id: The user.
    :param step_id: The step.
    :return: The error to raise, or ``None`` if no rule bars the user.
    """
    if policy.author_may_not_sign and user_id in authors:
        return SegregationOfDutiesError(user_id, step_id, "author")
    if policy.one_step_per_person:
        others = sorted(step for step, user in signed if user == user_id and step != step_id)
        if others:
            return SegregationOfDutiesError(
                user_id, step_id, "one_step_per_person", other_step_id=others[0]
            )
    return None


def _evaluate_step(
    policy: PolicySpec, step: StepSpec, signed: _Signed, authors: frozenset[int]
) -> StepEvaluation:
    """Compute one step's state.

    :param policy: The policy.
    :param step: The step.
    :param signed: Valid signatures on the policy's steps.
    :param authors: The record's authors.
    :return: The step's evaluation.
    """
    signers = frozenset(user for sid, user in signed if sid == step.step_id)
    signers &= step.eligible_user_ids
    complete = len(signers) >= step.required
    pending: frozenset[int] = frozenset()
    if not complete:
        pending = frozenset(
            user
            for user in step.eligible_user_ids - signers
            if _sod_breach(policy, signed, authors, user, step.step_id) is None
        )
    blocked = not complete and len(signers) + len(pending) < step.required
    return StepEvaluation(
        step.step_id, step.sequence, signers, step.required, complete, pending, blocked
    )


def _evaluate(policy: PolicySpec, signed: _Signed, authors: frozenset[int]) -> RequestEvaluation:
    """Compute a request's state from a validated policy.

    :param policy: The policy.
    :param signed: Valid signatures on the policy's steps.
    :param authors: The record's authors.
    :return: The request's evaluation.
    """
    states = tuple(
        sorted(
            (_evaluate_step(policy, step, signed, authors) for step in policy.steps),
            key=lambda state: state.stage,
        )
    )
    open_states = [state for state in states if not state.complete]
    if not open_states:
        return RequestEvaluation(states, True, None, frozenset())
    current = min(state.stage for state in open_states)
    next_signers: frozenset[int] = frozenset().union(
        *(state.pending_user_ids for state in open_states if state.stage == current)
    )
    return RequestEvaluation(states, False, current, next_signers)


def _prepare(
    policy: PolicySpec, signatures: Iterable[SignatureFact]
) -> tuple[_Signed, dict[int, StepSpec]]:
    """Validate the policy and keep the valid signatures on its steps.

    :param policy: The policy.
    :param signatures: Every signature made on the request.
    :return: The valid (step_id, user_id) pairs and the steps by id.
    :raises PolicyConfigError: See :func:`validate_policy`.
    """
    validate_policy(policy)
    steps = {step.step_id: step for step in policy.steps}
    signed = frozenset(
        (fact.step_id, fact.user_id) for fact in signatures if fact.valid and fact.step_id in steps
    )
    return signed, steps


def evaluate(
    policy: PolicySpec,
    signatures: Iterable[SignatureFact],
    author_user_ids: frozenset[int] = frozenset(),
) -> RequestEvaluation:
    """Compute the state of every step of a request and of the request.

    :param policy: The policy.
    :param signatures: Every signature made on the request, valid or not.
    :param author_user_ids: The record's authors (creator, responsible...).
    :return: The request's evaluation.
    :raises PolicyConfigError: See :func:`validate_policy`.
    """
    signed, _steps = _prepare(policy, signatures)
    return _evaluate(policy, signed, author_user_ids)


def _refusal(
    policy: PolicySpec,
    steps: dict[int, StepSpec],
    signed: _Signed,
    evaluation: RequestEvaluation,
    authors: frozenset[int],
    user_id: int,
    step_id: int,
) -> SigningRuleError | None:
    """Find the first rule a signature would break, in the documented order.

    :param policy: The validated policy.
    :param steps: Its steps by id.
    :param signed: Valid signatures on the policy's steps.
    :param evaluation: The request's evaluation.
    :param authors: The record's authors.
    :param user_id: The user who wants to sign.
    :param step_id: The step they want to sign.
    :return: The error to raise, or ``None`` if the user may sign the step.
    """
    step = steps.get(step_id)
    if step is None:
        return UnknownStepError(user_id, step_id)
    if evaluation.complete:
        return RequestCompleteError(user_id, step_id)
    if user_id not in step.eligible_user_ids:
        return NotEligibleError(user_id, step_id)
    breach = _sod_breach(policy, signed, authors, user_id, step_id)
    if breach is not None:
        return breach
    state = evaluation.step(step_id)
    if user_id in state.signed_user_ids:
        return AlreadySignedError(user_id, step_id)
    if state.complete:
        return StepCompleteError(user_id, step_id, required=state.required)
    current = evaluation.current_stage
    if current is not None and state.stage > current:
        return OutOfOrderError(user_id, step_id, current_stage=current, step_stage=state.stage)
    return None


def check_can_sign(
    policy: PolicySpec,
    signatures: Iterable[SignatureFact],
    user_id: int,
    step_id: int,
    author_user_ids: frozenset[int] = frozenset(),
) -> StepEvaluation:
    """Refuse a signature that breaks a rule of the policy.

    The rules are checked in this order: unknown step, request complete, user
    not eligible, SoD (author, then one step per person), already signed,
    step complete, step out of order. Call it again under a lock right before
    storing the signature, so that two users cannot take the last slot.

    :param policy: The policy.
    :param signatures: Every signature made on the request, valid or not.
    :param user_id: The user who wants to sign.
    :param step_id: The step they want to sign.
    :param author_user_ids: The record's authors.
    :return: The step's state before this signature.
    :raises PolicyConfigError: See :func:`validate_policy`.
    :raises SigningRuleError: The subclass naming the first rule broken.
    """
    signed, steps = _prepare(policy, signatures)
    evaluation = _evaluate(policy, signed, author_user_ids)
    error = _refusal(policy, steps, signed, evaluation, author_user_ids, user_id, step_id)
    if error is not None:
        raise error
    return evaluation.step(step_id)


def signable_steps(
    policy: PolicySpec,
    signatures: Iterable[SignatureFact],
    user_id: int,
    author_user_ids: frozenset[int] = frozenset(),
) -> tuple[int, ...]:
    """List the steps a user may sign right now, as :func:`check_can_sign` decides.

    :param policy: The policy.
    :param signatures: Every signature made on the request, valid or not.
    :param user_id: The user.
    :param author_user_ids: The record's authors.
    :return: The step ids, by ascending stage.
    :raises PolicyConfigError: See :func:`validate_policy`.
    """
    signed, steps = _prepare(policy, signatures)
    evaluation = _evaluate(policy, signed, author_user_ids)
    return tuple(
        state.step_id
        for state in evaluation.steps
        if _refusal(policy, steps, signed, evaluation, author_user_ids, user_id, state.step_id)
        is None
    )
