"""Delegation of signing authority: the rules that need no database.

A delegator hands their signing authority to a delegate for a closed range of days
(``date_from`` to ``date_to``, both included). Authority never travels further than one hop:

* nobody delegates to themselves;
* a delegator has at most one delegation (draft or active) for any day;
* a user who receives authority for a day cannot pass authority on for that day
  (A -> B -> C is refused when A -> B and B -> C overlap);
* a user who delegated their own authority away for a day cannot receive any for that day.

:func:`conflict` names the first rule a new delegation breaks against the existing ones.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Literal, TypeAlias

__all__ = ["Conflict", "Span", "conflict", "covers", "overlaps"]

Conflict: TypeAlias = Literal["self", "dates", "overlap", "chain_onward", "chain_received"]


@dataclass(frozen=True)
class Span:
    """One delegation: who hands authority to whom, for which days (both included).

    :param key: The caller's id of the delegation (ignored by the rules).
    :param delegator_id: The user whose authority is handed on.
    :param delegate_id: The user who receives it.
    :param date_from: First day.
    :param date_to: Last day.
    """

    key: int
    delegator_id: int
    delegate_id: int
    date_from: date
    date_to: date


def overlaps(a: Span, b: Span) -> bool:
    """Whether two delegations share at least one day."""
    return a.date_from <= b.date_to and b.date_from <= a.date_to


def covers(span: Span, day: date) -> bool:
    """Whether ``day`` lies in the delegation's days."""
    return span.date_from <= day <= span.date_to


def conflict(new: Span, existing: Iterable[Span]) -> tuple[Conflict, Span | None] | None:
    """The first rule ``new`` breaks, with the delegation it clashes with, or ``None``.

    :param new: The delegation being made.
    :param existing: The other delegations still in force or awaiting signature.
    :return: ``("self", None)``, ``("dates", None)``, or a code and the clashing span:
        ``"overlap"`` (the delegator already delegates on one of these days),
        ``"chain_onward"`` (the delegator received authority on one of these days and may
        not pass it on), ``"chain_received"`` (the delegate delegated their own authority
        away on one of these days).
    """
    if new.delegator_id == new.delegate_id:
        return "self", None
    if new.date_to < new.date_from:
        return "dates", None
    for other in existing:
        if other.key == new.key or not overlaps(new, other):
            continue
        if other.delegator_id == new.delegator_id:
            return "overlap", other
        if other.delegate_id == new.delegator_id:
            return "chain_onward", other
        if other.delegator_id == new.delegate_id:
            return "chain_received", other
    return None
