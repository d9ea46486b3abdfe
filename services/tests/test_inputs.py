"""Tests for services.inputs: each accepted shape next to the refused ones."""

from __future__ import annotations

import json

import pytest

from services import inputs
from services.inputs import InputError


def _problem(func, *args, **kwargs):
    with pytest.raises(InputError) as info:
        func(*args, **kwargs)
    return info.value.problem


def test_secret_accepts_text_and_refuses_other_shapes():
    """Verifies: R3"""
    assert inputs.secret("Correct-Horse-42") == "Correct-Horse-42"
    assert _problem(inputs.secret, 12345678) == "not_text"
    assert _problem(inputs.secret, b"bytes") == "not_text"
    assert _problem(inputs.secret, ["pw"]) == "not_text"
    assert _problem(inputs.secret, None) == "not_text"
    assert _problem(inputs.secret, "") == "empty"
    assert _problem(inputs.secret, "x" * (1024 * 1024)) == "too_long"
    assert inputs.secret("x" * inputs.MAX_SECRET_CHARS)  # the limit itself passes


def test_optional_secret():
    """Verifies: R3"""
    for absent in (None, False, ""):
        assert inputs.optional_secret(absent) is None
    assert inputs.optional_secret("123456") == "123456"
    assert _problem(inputs.optional_secret, 123456) == "not_text"
    assert _problem(inputs.optional_secret, "1" * 17) == "too_long"


def test_text():
    assert inputs.text("ok", "reason") == "ok"
    assert inputs.text(False, "reason") is None
    assert _problem(inputs.text, 42, "reason") == "not_text"
    assert _problem(inputs.text, {"a": 1}, "reason") == "not_text"
    assert _problem(inputs.text, "  ", "reason", required=True) == "empty"
    assert _problem(inputs.text, "x" * 11, "reason", max_chars=10) == "too_long"


def test_record_id_and_model_name():
    assert inputs.record_id(7) == 7
    for bad in (0, -1, True, "7", 7.0, None, inputs.MAX_ID + 1):
        assert _problem(inputs.record_id, bad) == "not_id", bad
    assert inputs.model_name("stock.lot") == "stock.lot"
    for bad in ("", "Stock.Lot", "stock..lot", "stock.lot;drop", 5, None, "a" * 200):
        assert _problem(inputs.model_name, bad) == "not_model", bad


def test_id_list():
    assert inputs.id_list("[3, 1]") == [3, 1]
    for bad in ("[]", "{}", "[1, 1]", '["1"]', "[1.5]", "[true]", "not json", 5, None, "[[1]]"):
        assert _problem(inputs.id_list, bad) == "not_id_list", bad
    assert _problem(inputs.id_list, "[" * 100_000 + "]" * 100_000) == "not_id_list"


def test_hash_map():
    assert inputs.hash_map(json.dumps({"1": "h1", "2": "h2"}), [1, 2]) == {"1": "h1", "2": "h2"}
    for bad in ('{"1": "h1"}', '{"1": 5, "2": "h"}', "[1, 2]", "nope", None):
        assert _problem(inputs.hash_map, bad, [1, 2]) == "not_hash_map", bad


def test_base64_data():
    assert inputs.base64_data("aGVsbG8=", "file", max_chars=100) == "aGVsbG8="
    assert inputs.base64_data(b"aGVsbG8=", "file", max_chars=100) == b"aGVsbG8="
    assert inputs.base64_data(False, "file", max_chars=100) is None
    assert _problem(inputs.base64_data, "@@not base64@@", "file", max_chars=100) == "not_base64"
    assert _problem(inputs.base64_data, 5, "file", max_chars=100) == "not_text"
    assert _problem(inputs.base64_data, "aGVsbG8=" * 20, "file", max_chars=100) == "too_long"


def test_are_record_ids():
    """Ids sent over RPC as a recordset's ids: each must be one, or none reaches SQL."""
    assert inputs.are_record_ids([1, 7, inputs.MAX_ID])
    assert inputs.are_record_ids([])
    for bad in ([0], [1, "2"], ["1; DROP TABLE x"], [True], [inputs.MAX_ID + 1], [1.0], [None]):
        assert not inputs.are_record_ids(bad), bad
