"""Change control of the signing configuration: what is held for approval, and when a
proposal is stale. Nothing here imports Odoo.

A configuration change (a policy, a step, a meaning, the PKI/TSA settings) is captured as
the values the user sent, with the old values of what it changes and a fingerprint of its
target. At approval the fingerprint is taken again: when it differs, the configuration moved
on since the proposal and the change is refused rather than applied over someone else's.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = ["dump_values", "fingerprint", "is_held_field", "load_values", "split_values"]

#: Fields never held for approval: the chatter's and activities' plumbing.
_FREE_PREFIXES = ("message_", "activity_", "website_message", "rating_")


def is_held_field(name: str, stored: bool, prefix: str | None = None) -> bool:
    """Whether a change of field ``name`` waits for approval.

    :param stored: whether the field is stored (computed, non-stored fields never are).
    :param prefix: when given, only fields whose name starts with it (the company's
        ``esign_`` settings).
    """
    if not stored or name.startswith(_FREE_PREFIXES):
        return False
    return prefix is None or name.startswith(prefix)


def split_values(
    values: Mapping[str, Any], held: Callable[[str], bool]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(values applied at once, values held for approval) of one write."""
    direct: dict[str, Any] = {}
    kept: dict[str, Any] = {}
    for name, value in values.items():
        (kept if held(name) else direct)[name] = value
    return direct, kept


def dump_values(values: Mapping[str, Any]) -> str:
    """JSON of a write's values as the ORM takes them again (commands become lists)."""
    return json.dumps(values, sort_keys=True, ensure_ascii=False, default=str)


def load_values(text: str | None) -> dict[str, Any]:
    value = json.loads(text or "{}")
    if not isinstance(value, dict):
        raise ValueError("a configuration change holds an object of values")
    return value


def fingerprint(parts: Iterable[Mapping[str, Any]]) -> str:
    """SHA-256 over the canonical JSON of the target's values (and its lines'), in order."""
    text = json.dumps(list(parts), sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
