"""Canonical JSON: the one byte form that every hash in ``meddev_esign`` covers.

Both the record snapshots (:mod:`services.snapshot`) and the hash chains
(:mod:`services.chain`) hash the output of :func:`canonical_json`, so the rules
live here and only here.

Rules:

* ``json.dumps`` with ``sort_keys=True``, ``separators=(",", ":")``,
  ``ensure_ascii=False``, encoded as UTF-8.
* Allowed values: ``None``, ``bool``, ``int``, ``str``, finite
  :class:`decimal.Decimal`, ``list``/``tuple`` of allowed values, and mappings
  whose keys are ``str``. Subclasses (``IntEnum``, ``StrEnum``...) are
  reduced to the plain built-in value.
* A :class:`~decimal.Decimal` is written as a JSON *string* in fixed-point
  notation that keeps its exponent (``Decimal("1.50")`` -> ``"1.50"``), so the
  scale is signed as the caller chose it; never as a JSON number, which a
  reader would turn back into a float.
* Rejected: ``float`` (binary rounding makes the text unstable), NaN and
  infinities, ``set``/``frozenset`` (no order), ``bytes``, ``date`` and
  ``datetime`` (pass ISO text, see :func:`services.snapshot.utc_iso`),
  non-``str`` mapping keys (``json`` would turn ``1`` into ``"1"`` and make two
  different mappings hash alike), strings that are not valid Unicode (lone
  surrogates), and nesting deeper than :data:`MAX_DEPTH`.
* Strings are *not* Unicode-normalised: the signature covers the exact text
  that was stored, and a verifier recomputes from the same stored text.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import TypeAlias

from .errors import CanonicalValueError

__all__ = [
    "MAX_DEPTH",
    "JSONable",
    "canonical_json",
    "canonical_json_bytes",
]

JSONable: TypeAlias = (
    "None | bool | int | str | Decimal | list[JSONable] | tuple[JSONable, ...] "
    "| Mapping[str, JSONable]"
)

# Deep enough for any record (lines of lines of values); shallow enough that a
# self-referencing dict fails with a clear error instead of RecursionError.
MAX_DEPTH = 32

_Plain: TypeAlias = "None | bool | int | str | list[_Plain] | dict[str, _Plain]"


def _reject(reason: str, path: str, value: object) -> CanonicalValueError:
    """Build the error for a value that canonical JSON does not allow.

    :param reason: Why the value is refused, as a plain English sentence.
    :param path: Where the value sits.
    :param value: The refused value.
    :return: The exception to raise.
    """
    return CanonicalValueError(reason, path=path, value_type=type(value).__name__)


def _plain(value: object, path: str, depth: int) -> _Plain:
    """Check ``value`` and turn it into plain built-in JSON types.

    :param value: The value to check.
    :param path: Where the value sits, for error messages.
    :param depth: Current nesting depth.
    :return: An equivalent value made of ``None``, ``bool``, ``int``, ``str``,
        ``list`` and ``dict`` only.
    :raises CanonicalValueError: If the value, or anything inside it, is not
        allowed.
    """
    if depth > MAX_DEPTH:
        raise _reject(f"Values may be nested at most {MAX_DEPTH} levels deep.", path, value)
    # bool before int: bool is a subclass of int and must stay true/false.
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise _reject("Text must be valid Unicode.", path, value) from exc
        return str(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise _reject("Decimal numbers must be finite.", path, value)
        return format(value, "f")
    if isinstance(value, date):
        raise _reject(
            "Dates and times are not allowed as such; pass them as ISO text.", path, value
        )
    if isinstance(value, float):
        raise _reject(
            "Floating-point numbers are not allowed; pass a Decimal or text "
            "rounded to the right precision.",
            path,
            value,
        )
    if isinstance(value, list | tuple):
        return [_plain(item, f"{path}[{index}]", depth + 1) for index, item in enumerate(value)]
    if isinstance(value, Mapping):
        result: dict[str, _Plain] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise _reject("Mapping keys must be text.", f"{path}[{key!r}]", key)
            result[str(key)] = _plain(item, f"{path}.{key}", depth + 1)
        return result
    raise _reject(
        f"Values of type {type(value).__name__} are not allowed in a signed snapshot.",
        path,
        value,
    )


def canonical_json(value: object, *, path: str = "$") -> str:
    """Serialise ``value`` to canonical JSON text.

    :param value: The value; see the module docstring for what is allowed.
    :param path: Name of the value's position, used in error messages.
    :return: Compact JSON with sorted keys and non-ASCII characters kept as is.
    :raises CanonicalValueError: If the value holds anything not allowed.
    """
    return json.dumps(
        _plain(value, path, 0),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    )


def canonical_json_bytes(value: object, *, path: str = "$") -> bytes:
    """Serialise ``value`` to canonical JSON encoded as UTF-8.

    :param value: The value; see the module docstring for what is allowed.
    :param path: Name of the value's position, used in error messages.
    :return: The UTF-8 bytes of :func:`canonical_json`.
    :raises CanonicalValueError: If the value holds anything not allowed.
    """
    return canonical_json(value, path=path).encode("utf-8")
