"""Tests for services.delegation: one hop only, no overlap, no self-delegation."""

from __future__ import annotations

from datetime import date

from services.delegation import Span, conflict, covers, overlaps


def _span(key: int, delegator: int, delegate: int, start: int, end: int) -> Span:
    return Span(key, delegator, delegate, date(2026, 12, start), date(2026, 12, end))


A, B, C = 1, 2, 3
A_TO_B = _span(10, A, B, 1, 10)


def test_days_overlap_and_cover_inclusively() -> None:
    assert overlaps(A_TO_B, _span(11, C, A, 10, 12))
    assert not overlaps(A_TO_B, _span(11, C, A, 11, 12))
    assert covers(A_TO_B, date(2026, 12, 10))
    assert not covers(A_TO_B, date(2026, 12, 11))


def test_a_fresh_delegation_is_accepted() -> None:
    assert conflict(A_TO_B, []) is None
    assert conflict(A_TO_B, [A_TO_B]) is None  # itself, when re-checked


def test_self_delegation_and_reversed_dates_are_refused() -> None:
    assert conflict(_span(11, A, A, 1, 2), []) == ("self", None)
    assert conflict(_span(11, A, B, 5, 2), []) == ("dates", None)


def test_chains_are_refused_while_the_days_overlap() -> None:
    onward = _span(11, B, C, 5, 6)
    assert conflict(onward, [A_TO_B]) == ("chain_onward", A_TO_B)
    received = _span(12, C, A, 9, 15)
    assert conflict(received, [A_TO_B]) == ("chain_received", A_TO_B)
    twice = _span(13, A, C, 10, 11)
    assert conflict(twice, [A_TO_B]) == ("overlap", A_TO_B)


def test_the_same_people_on_other_days_are_accepted() -> None:
    assert conflict(_span(11, B, C, 11, 20), [A_TO_B]) is None
    assert conflict(_span(12, C, A, 11, 20), [A_TO_B]) is None
    assert conflict(_span(13, C, B, 1, 10), [A_TO_B]) is None  # C also hands authority to B
