"""Tests for services.policy: steps that a record does not need (conditional steps)."""

from __future__ import annotations

import pytest

from services import policy
from services.errors import PolicyConfigError, UnknownStepError
from services.policy import PolicySpec, SignatureFact, StepSpec


def _step(step_id: int, sequence: int, users: set[int]) -> StepSpec:
    return StepSpec(step_id, sequence, f"Step {step_id}", "approve", "all", None, frozenset(users))


# Purchase approval (user 1) at stage 10; finance approval (user 2) at stage 20 is needed by
# large orders only.
LARGE = PolicySpec((_step(1, 10, {1}), _step(2, 20, {2})))
SMALL = PolicySpec((_step(1, 10, {1}),), skipped_step_ids=frozenset({2}))


def test_record_without_the_conditional_step_completes_without_it() -> None:
    """Verifies: S9, R13"""
    signed = [SignatureFact(1, 1)]
    assert policy.evaluate(SMALL, signed).complete
    large = policy.evaluate(LARGE, signed)
    assert not large.complete
    assert large.next_signer_ids == frozenset({2})


def test_skipped_step_cannot_be_signed() -> None:
    """Verifies: R12, S9"""
    assert policy.signable_steps(SMALL, [SignatureFact(1, 1)], 2) == ()
    with pytest.raises(UnknownStepError):
        policy.check_can_sign(SMALL, [], 2, 2)
    # A signature on it (made while the record needed it) counts for nothing.
    assert [s.step_id for s in policy.evaluate(SMALL, [SignatureFact(2, 2)]).steps] == [1]


def test_every_step_skipped_is_complete_but_no_step_at_all_is_refused() -> None:
    """Verifies: S9"""
    nothing_needed = PolicySpec((), skipped_step_ids=frozenset({1, 2}))
    assert policy.evaluate(nothing_needed, []).complete
    with pytest.raises(PolicyConfigError) as caught:
        policy.validate_policy(PolicySpec(()))
    assert caught.value.problem == "no_steps"
