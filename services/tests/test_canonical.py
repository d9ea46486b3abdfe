"""Tests for services.canonical: the single canonical JSON form.

Verifies: R11
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

import pytest

from services.canonical import MAX_DEPTH, canonical_json, canonical_json_bytes
from services.errors import CanonicalValueError, SnapshotError


class Colour(enum.IntEnum):
    RED = 1


def test_keys_sorted_compact_and_non_ascii_kept() -> None:
    value = {"b": [1, True, None], "a": "批号 é", "c": {"z": 1, "y": 2}}
    assert canonical_json(value) == '{"a":"批号 é","b":[1,true,null],"c":{"y":2,"z":1}}'
    assert canonical_json_bytes(value) == canonical_json(value).encode("utf-8")


def test_key_order_does_not_matter_but_list_order_does() -> None:
    assert canonical_json({"a": 1, "b": 2}) == canonical_json({"b": 2, "a": 1})
    assert canonical_json([1, 2]) != canonical_json([2, 1])


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("1.50"), '"1.50"'),
        (Decimal("1E+2"), '"100"'),
        ((1, "x"), '[1,"x"]'),
        (Colour.RED, "1"),
        (True, "true"),
    ],
)
def test_allowed_scalars(value: object, text: str) -> None:
    assert canonical_json(value) == text


def test_decimal_scale_is_signed() -> None:
    # Twin of the test above: the caller's rounding is part of what is signed.
    assert canonical_json(Decimal("1.5")) != canonical_json(Decimal("1.50"))


@pytest.mark.parametrize(
    ("value", "path", "type_name"),
    [
        ({"x": 1.5}, "$.x", "float"),
        ({"x": float("nan")}, "$.x", "float"),
        ({"x": [1, Decimal("NaN")]}, "$.x[1]", "Decimal"),
        ({"x": Decimal("Infinity")}, "$.x", "Decimal"),
        ({"x": {1, 2}}, "$.x", "set"),
        ({"x": b"raw"}, "$.x", "bytes"),
        ({"x": date(2025, 1, 1)}, "$.x", "date"),
        ({"x": datetime(2025, 1, 1)}, "$.x", "datetime"),
        ({1: "one"}, "$[1]", "int"),
        ({"x": "\ud800"}, "$.x", "str"),
        ({"x": object()}, "$.x", "object"),
    ],
)
def test_disallowed_values_are_rejected(value: object, path: str, type_name: str) -> None:
    with pytest.raises(CanonicalValueError) as caught:
        canonical_json(value)
    assert isinstance(caught.value, SnapshotError)
    assert caught.value.path == path
    assert caught.value.value_type == type_name


def test_depth_limit() -> None:
    deep: list[object] = []
    for _ in range(MAX_DEPTH):
        deep = [deep]
    canonical_json(deep)
    with pytest.raises(CanonicalValueError):
        canonical_json([deep])


def test_self_reference_is_rejected_cleanly() -> None:
    loop: dict[str, object] = {}
    loop["self"] = loop
    with pytest.raises(CanonicalValueError):
        canonical_json(loop)
