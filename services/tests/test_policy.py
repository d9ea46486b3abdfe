"""Tests for services.policy: step states, stage order, quorums and SoD."""

from __future__ import annotations

import itertools

import pytest

from services import policy
from services.errors import (
    AlreadySignedError,
    NotEligibleError,
    OutOfOrderError,
    PolicyConfigError,
    RequestCompleteError,
    SegregationOfDutiesError,
    SigningRuleError,
    StepCompleteError,
    UnknownStepError,
)
from services.policy import PolicySpec, SignatureFact, StepSpec


def _step(
    step_id: int,
    sequence: int,
    users: set[int],
    *,
    mode: policy.Mode = "all",
    k: int | None = None,
) -> StepSpec:
    return StepSpec(step_id, sequence, f"Step {step_id}", "approve", mode, k, frozenset(users))


def _sig(step_id: int, user_id: int, valid: bool = True) -> SignatureFact:
    return SignatureFact(step_id, user_id, valid)


# Reviewed (user 1) -> Approved (user 2) -> Released (user 3).
SEQUENTIAL = PolicySpec((_step(1, 10, {1}), _step(2, 20, {2}), _step(3, 30, {3})))
# Steps 1 and 2 in parallel, then step 3.
PARALLEL = PolicySpec((_step(1, 10, {1}), _step(2, 10, {2}), _step(3, 20, {3})))
# Any 2 of users 1, 2, 3.
TWO_OF_THREE = PolicySpec((_step(1, 10, {1, 2, 3}, mode="k_of_n", k=2),))


# --- sequential and parallel stages ----------------------------------------------


def test_sequential_flow_completes_in_order() -> None:
    """Verifies: R13"""
    signatures: list[SignatureFact] = []
    for step_id, user_id, stage in [(1, 1, 10), (2, 2, 20), (3, 3, 30)]:
        state = policy.evaluate(SEQUENTIAL, signatures)
        assert not state.complete
        assert state.current_stage == stage
        assert state.next_signer_ids == {user_id}
        assert policy.check_can_sign(SEQUENTIAL, signatures, user_id, step_id).step_id == step_id
        signatures.append(_sig(step_id, user_id))
    state = policy.evaluate(SEQUENTIAL, signatures)
    assert state.complete
    assert state.current_stage is None
    assert state.next_signer_ids == frozenset()
    assert all(step.complete and not step.pending_user_ids for step in state.steps)


def test_signing_step_two_first_is_out_of_order() -> None:
    """Verifies: R13"""
    with pytest.raises(OutOfOrderError) as caught:
        policy.check_can_sign(SEQUENTIAL, [], 2, 2)
    assert (caught.value.user_id, caught.value.step_id) == (2, 2)
    assert (caught.value.current_stage, caught.value.step_stage) == (10, 20)
    with pytest.raises(OutOfOrderError):
        policy.check_can_sign(SEQUENTIAL, [_sig(1, 1)], 3, 3)


def test_parallel_stage_needs_both_steps_before_the_next() -> None:
    """Verifies: R13"""
    start = policy.evaluate(PARALLEL, [])
    assert start.current_stage == 10
    assert start.next_signer_ids == {1, 2}
    # Either parallel step may go first.
    policy.check_can_sign(PARALLEL, [_sig(2, 2)], 1, 1)
    policy.check_can_sign(PARALLEL, [_sig(1, 1)], 2, 2)
    both = [_sig(1, 1), _sig(2, 2)]
    assert policy.evaluate(PARALLEL, both).current_stage == 20
    assert policy.check_can_sign(PARALLEL, both, 3, 3).stage == 20


def test_parallel_stage_with_one_step_open_blocks_the_next() -> None:
    """Verifies: R13"""
    half = [_sig(1, 1)]
    state = policy.evaluate(PARALLEL, half)
    assert state.current_stage == 10
    assert state.next_signer_ids == {2}
    with pytest.raises(OutOfOrderError) as caught:
        policy.check_can_sign(PARALLEL, half, 3, 3)
    assert caught.value.current_stage == 10


# --- quorums -----------------------------------------------------------------------


def test_two_of_three_completes_at_two() -> None:
    """Verifies: R13"""
    assert policy.check_can_sign(TWO_OF_THREE, [_sig(1, 1)], 2, 1).pending_user_ids == {2, 3}
    state = policy.evaluate(TWO_OF_THREE, [_sig(1, 1), _sig(1, 2)])
    assert state.complete
    step = state.step(1)
    assert step.required == 2
    assert step.signed_user_ids == {1, 2}
    assert step.pending_user_ids == frozenset()


def test_third_signer_of_two_of_three_gets_step_complete() -> None:
    """Verifies: R13"""
    # Another step keeps the request open so the step-level rule is reached.
    spec = PolicySpec(TWO_OF_THREE.steps + (_step(2, 10, {4}),))
    with pytest.raises(StepCompleteError) as caught:
        policy.check_can_sign(spec, [_sig(1, 1), _sig(1, 2)], 3, 1)
    assert (caught.value.user_id, caught.value.step_id, caught.value.required) == (3, 1, 2)


def test_mode_all_completes_when_everyone_signed() -> None:
    """Verifies: R13"""
    spec = PolicySpec((_step(1, 10, {1, 2, 3}),))
    state = policy.evaluate(spec, [_sig(1, 1), _sig(1, 2), _sig(1, 3)])
    assert state.complete
    assert state.step(1).required == 3


def test_mode_all_is_incomplete_while_one_user_is_missing() -> None:
    """Verifies: R13"""
    spec = PolicySpec((_step(1, 10, {1, 2, 3}),))
    state = policy.evaluate(spec, [_sig(1, 1), _sig(1, 2)])
    assert not state.complete
    assert state.step(1).pending_user_ids == {3}
    assert state.next_signer_ids == {3}


def test_signatures_of_strangers_and_unknown_steps_do_not_count() -> None:
    """Verifies: R12, R13"""
    state = policy.evaluate(TWO_OF_THREE, [_sig(1, 1), _sig(1, 9), _sig(7, 2)])
    assert not state.complete
    assert state.step(1).signed_user_ids == {1}


# --- eligibility and segregation of duties -----------------------------------------


def test_eligible_user_may_sign() -> None:
    """Verifies: R12"""
    assert policy.check_can_sign(SEQUENTIAL, [], 1, 1).pending_user_ids == {1}


def test_not_eligible_user_is_refused() -> None:
    """Verifies: R12"""
    with pytest.raises(NotEligibleError) as caught:
        policy.check_can_sign(SEQUENTIAL, [], 2, 1)
    assert (caught.value.user_id, caught.value.step_id) == (2, 1)


def test_author_is_allowed_when_sod_is_off() -> None:
    """Verifies: R14"""
    policy.check_can_sign(TWO_OF_THREE, [], 1, 1, author_user_ids=frozenset({1}))


def test_author_is_refused_when_sod_is_on() -> None:
    """Verifies: R14"""
    spec = PolicySpec(TWO_OF_THREE.steps, author_may_not_sign=True)
    with pytest.raises(SegregationOfDutiesError) as caught:
        policy.check_can_sign(spec, [], 1, 1, author_user_ids=frozenset({1}))
    assert caught.value.rule == "author"
    assert caught.value.other_step_id is None
    state = policy.evaluate(spec, [], frozenset({1}))
    assert state.step(1).pending_user_ids == {2, 3}
    assert not state.step(1).blocked


ONE_EACH_STEPS = (
    _step(1, 10, {1, 2}, mode="k_of_n", k=1),
    _step(2, 10, {1, 3}, mode="k_of_n", k=1),
)


def test_same_user_may_sign_two_steps_when_one_step_per_person_is_off() -> None:
    """Verifies: R14"""
    spec = PolicySpec(ONE_EACH_STEPS)
    policy.check_can_sign(spec, [_sig(1, 1)], 1, 2)


def test_one_step_per_person_refuses_a_second_step() -> None:
    """Verifies: R14"""
    spec = PolicySpec(ONE_EACH_STEPS, one_step_per_person=True)
    with pytest.raises(SegregationOfDutiesError) as caught:
        policy.check_can_sign(spec, [_sig(1, 1)], 1, 2)
    assert (caught.value.rule, caught.value.other_step_id) == ("one_step_per_person", 1)
    assert policy.evaluate(spec, [_sig(1, 1)]).step(2).pending_user_ids == {3}
    # An invalidated signature on the other step does not bar the user.
    policy.check_can_sign(spec, [_sig(1, 1, valid=False)], 1, 2)


def test_blocked_step_is_reported_when_sod_excludes_every_eligible_user() -> None:
    """Verifies: R14, S9"""
    spec = PolicySpec((_step(1, 10, {1}), _step(2, 20, {2})), author_may_not_sign=True)
    state = policy.evaluate(spec, [], frozenset({1}))
    assert state.step(1).blocked
    assert state.step(1).pending_user_ids == frozenset()
    assert not state.complete
    assert state.current_stage == 10
    assert state.next_signer_ids == frozenset()
    assert policy.signable_steps(spec, [], 1, frozenset({1})) == ()


def test_mode_all_step_is_blocked_when_sod_excludes_one_eligible_user() -> None:
    """Verifies: R14, S9"""
    spec = PolicySpec((_step(1, 10, {1, 2}),), author_may_not_sign=True)
    step = policy.evaluate(spec, [], frozenset({1})).step(1)
    assert step.blocked
    assert step.pending_user_ids == {2}


def test_step_is_not_blocked_without_sod() -> None:
    """Verifies: R14"""
    spec = PolicySpec((_step(1, 10, {1}), _step(2, 20, {2})))
    state = policy.evaluate(spec, [], frozenset({1}))
    assert not state.step(1).blocked
    assert state.next_signer_ids == {1}


# --- repeated and invalidated signatures -------------------------------------------


def test_first_signature_is_allowed() -> None:
    """Verifies: R13"""
    policy.check_can_sign(TWO_OF_THREE, [], 1, 1)


def test_signing_twice_is_refused() -> None:
    """Verifies: R13"""
    with pytest.raises(AlreadySignedError) as caught:
        policy.check_can_sign(TWO_OF_THREE, [_sig(1, 1)], 1, 1)
    assert (caught.value.user_id, caught.value.step_id) == (1, 1)


def test_valid_signatures_count() -> None:
    """Verifies: R16"""
    assert policy.evaluate(SEQUENTIAL, [_sig(1, 1)]).step(1).complete


def test_invalid_signatures_do_not_count_and_the_user_may_sign_again() -> None:
    """Verifies: R11, R16"""
    history = [_sig(1, 1, valid=False), _sig(2, 2, valid=False)]
    state = policy.evaluate(SEQUENTIAL, history)
    assert state.current_stage == 10
    assert state.step(1).signed_user_ids == frozenset()
    assert not state.step(1).complete
    assert policy.check_can_sign(SEQUENTIAL, history, 1, 1).pending_user_ids == {1}


# --- request completion and rule order ---------------------------------------------


def test_request_open_before_its_last_signature() -> None:
    """Verifies: R13"""
    policy.check_can_sign(SEQUENTIAL, [_sig(1, 1), _sig(2, 2)], 3, 3)


def test_request_complete_refuses_any_signature() -> None:
    """Verifies: R13"""
    done = [_sig(1, 1), _sig(2, 2), _sig(3, 3)]
    with pytest.raises(RequestCompleteError):
        policy.check_can_sign(SEQUENTIAL, done, 1, 1)
    with pytest.raises(RequestCompleteError):
        policy.check_can_sign(SEQUENTIAL, done, 9, 2)


def test_known_step_is_accepted() -> None:
    """Verifies: R12"""
    policy.check_can_sign(SEQUENTIAL, [], 1, 1)


def test_unknown_step_is_refused_first() -> None:
    """Verifies: R12"""
    done = [_sig(1, 1), _sig(2, 2), _sig(3, 3)]
    with pytest.raises(UnknownStepError) as caught:
        policy.check_can_sign(SEQUENTIAL, done, 1, 99)
    assert caught.value.step_id == 99


@pytest.mark.parametrize(
    ("spec", "signatures", "user_id", "step_id", "error"),
    [
        # Not eligible beats out of order.
        (SEQUENTIAL, [], 1, 2, NotEligibleError),
        # SoD beats already signed.
        (
            PolicySpec(SEQUENTIAL.steps, author_may_not_sign=True),
            [_sig(1, 1)],
            1,
            1,
            SegregationOfDutiesError,
        ),
        # Already signed and step complete beat out of order (earlier stage reopened).
        (SEQUENTIAL, [_sig(1, 1, valid=False), _sig(2, 2)], 2, 2, AlreadySignedError),
        (
            PolicySpec((_step(1, 10, {1}), _step(2, 20, {2, 3}, mode="k_of_n", k=1))),
            [_sig(1, 1, valid=False), _sig(2, 2)],
            3,
            2,
            StepCompleteError,
        ),
    ],
)
def test_rules_are_checked_in_order(
    spec: PolicySpec,
    signatures: list[SignatureFact],
    user_id: int,
    step_id: int,
    error: type[SigningRuleError],
) -> None:
    """Verifies: R12"""
    with pytest.raises(SigningRuleError) as caught:
        policy.check_can_sign(spec, signatures, user_id, step_id, frozenset({1}))
    assert type(caught.value) is error


# --- signable_steps agrees with check_can_sign -------------------------------------

GRID_POLICIES = [
    SEQUENTIAL,
    PARALLEL,
    PolicySpec(
        (
            _step(1, 10, {1, 2, 3}, mode="k_of_n", k=2),
            _step(2, 10, {3, 4}),
            _step(3, 20, {1, 4, 5}, mode="k_of_n", k=1),
        ),
        author_may_not_sign=True,
        one_step_per_person=True,
    ),
    PolicySpec(
        ONE_EACH_STEPS + (_step(3, 5, {2, 3}, mode="k_of_n", k=1),), one_step_per_person=True
    ),
]
GRID_USERS = range(1, 7)
GRID_STEPS = (1, 2, 3, 99)
GRID_FACTS = [
    _sig(step_id, user_id, valid)
    for step_id, user_id, valid in itertools.product((1, 2, 3), (1, 2, 3, 4), (True, False))
]


def _signature_states() -> list[list[SignatureFact]]:
    """Every subset of up to three signatures from a small pool."""
    return [list(combo) for size in range(4) for combo in itertools.combinations(GRID_FACTS, size)]


@pytest.mark.parametrize("spec", GRID_POLICIES)
def test_signable_steps_agree_with_check_can_sign(spec: PolicySpec) -> None:
    """Verifies: R12"""
    outcomes: set[bool] = set()
    for signatures in _signature_states():
        state = policy.evaluate(spec, signatures, frozenset({5}))
        for user_id in GRID_USERS:
            signable = policy.signable_steps(spec, signatures, user_id, frozenset({5}))
            for step_id in GRID_STEPS:
                try:
                    policy.check_can_sign(spec, signatures, user_id, step_id, frozenset({5}))
                except SigningRuleError:
                    allowed = False
                else:
                    allowed = True
                assert (step_id in signable) == allowed, (signatures, user_id, step_id)
                outcomes.add(allowed)
            # The users asked to sign now are exactly those who may sign something.
            assert (user_id in state.next_signer_ids) == bool(signable)
    assert outcomes == {True, False}


# --- policy validation -------------------------------------------------------------


def test_valid_policies_pass_validation() -> None:
    """Verifies: S9"""
    for spec in GRID_POLICIES + [TWO_OF_THREE]:
        policy.validate_policy(spec)


@pytest.mark.parametrize(
    ("steps", "problem", "step_id"),
    [
        ((), "no_steps", None),
        ((_step(1, 10, {1}), _step(1, 20, {2})), "duplicate_step_id", 1),
        ((_step(1, 10, {1}, mode="any"),), "unknown_mode", 1),  # type: ignore[arg-type]
        ((_step(1, 10, set()),), "no_eligible_users", 1),
        ((_step(2, 10, set(), mode="k_of_n", k=1),), "no_eligible_users", 2),
        ((_step(1, 10, {1, 2}, k=1),), "k_with_mode_all", 1),
        ((_step(1, 10, {1, 2}, mode="k_of_n"),), "invalid_k", 1),
        ((_step(1, 10, {1, 2}, mode="k_of_n", k=0),), "invalid_k", 1),
        ((_step(1, 10, {1, 2}, mode="k_of_n", k=3),), "k_exceeds_eligible", 1),
    ],
)
def test_invalid_policies_are_refused(
    steps: tuple[StepSpec, ...], problem: str, step_id: int | None
) -> None:
    """Verifies: S9"""
    with pytest.raises(PolicyConfigError) as caught:
        policy.validate_policy(PolicySpec(steps))
    assert caught.value.problem == problem
    assert caught.value.step_id == step_id


def test_empty_eligible_set_never_completes() -> None:
    """Verifies: R12"""
    spec = PolicySpec((_step(1, 10, set()),))
    for call in (
        lambda: policy.evaluate(spec, []),
        lambda: policy.check_can_sign(spec, [], 1, 1),
        lambda: policy.signable_steps(spec, [], 1),
    ):
        with pytest.raises(PolicyConfigError) as caught:
            call()
        assert caught.value.problem == "no_eligible_users"
