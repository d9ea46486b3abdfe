"""Tests for services.config_change: what is held for approval, and when a proposal is stale."""

from __future__ import annotations

import pytest

from services import config_change as cc


def test_held_fields_and_their_twins():
    """Verifies: R28"""
    assert cc.is_held_field("reminder_days", stored=True)
    assert not cc.is_held_field("request_count", stored=False)
    assert not cc.is_held_field("message_follower_ids", stored=True)
    assert cc.is_held_field("esign_tsa_urls", stored=True, prefix="esign_")
    assert not cc.is_held_field("phone", stored=True, prefix="esign_")


def test_split_values_keeps_configuration_apart():
    """Verifies: R28"""
    direct, held = cc.split_values(
        {"esign_tsa_urls": "http://tsa", "phone": "1"}, lambda n: n.startswith("esign_")
    )
    assert direct == {"phone": "1"}
    assert held == {"esign_tsa_urls": "http://tsa"}


def test_values_round_trip_and_refuse_other_shapes():
    """Verifies: R28"""
    values = {"step_ids": [(1, 7, {"name": "QA"})], "reminder_days": 3}
    assert cc.load_values(cc.dump_values(values)) == {
        "reminder_days": 3,
        "step_ids": [[1, 7, {"name": "QA"}]],
    }
    assert cc.load_values(None) == {}
    with pytest.raises(ValueError):
        cc.load_values("[1, 2]")


def test_fingerprint_changes_with_any_value_and_not_with_key_order():
    """Verifies: R28"""
    base = cc.fingerprint([{"a": 1, "b": [2, 3]}, {"name": "Step"}])
    assert base == cc.fingerprint([{"b": [2, 3], "a": 1}, {"name": "Step"}])
    assert base != cc.fingerprint([{"a": 1, "b": [2, 3]}, {"name": "Step 2"}])
    assert base != cc.fingerprint([{"a": 1, "b": [2, 3]}])
    assert len(base) == 64
