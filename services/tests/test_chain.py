"""Tests for services.chain: hash links and classification of the first break.

Verifies: R15
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import replace

import pytest

from services.chain import (
    CHAIN_VERSION,
    GENESIS,
    ChainEntry,
    append_entry,
    chain_hash,
    verify_chain,
)
from services.errors import CanonicalValueError, ChainError


def _chain(length: int = 10) -> list[ChainEntry]:
    """A fresh chain with entries seq 1..length."""
    entries: list[ChainEntry] = []
    previous: ChainEntry | None = None
    for number in range(1, length + 1):
        previous = append_entry(previous, {"event": "sign", "n": number, "user": "qa-批准"})
        entries.append(previous)
    return entries


def _renumber(entries: list[ChainEntry], start: int) -> list[ChainEntry]:
    return [replace(entry, seq=start + index) for index, entry in enumerate(entries)]


# --- chain_hash -------------------------------------------------------------------


def test_chain_hash_formula() -> None:
    expected = hashlib.sha256(
        ("esign-chain/1" + GENESIS + '{"a":1,"b":"é"}').encode("utf-8")
    ).hexdigest()
    assert chain_hash(GENESIS, {"b": "é", "a": 1}) == expected
    assert CHAIN_VERSION == "esign-chain/1"


def test_chain_hash_depends_on_link_and_payload() -> None:
    base = chain_hash(GENESIS, {"a": 1})
    assert chain_hash("1" * 64, {"a": 1}) != base
    assert chain_hash(GENESIS, {"a": 2}) != base


@pytest.mark.parametrize(
    ("previous", "payload", "version"),
    [
        ("0" * 63, {"a": 1}, CHAIN_VERSION),
        ("A" * 64, {"a": 1}, CHAIN_VERSION),
        (GENESIS, [("a", 1)], CHAIN_VERSION),
        (GENESIS, {"a": 1}, "esign-chain/2"),
    ],
)
def test_chain_hash_rejects_malformed_input(previous: str, payload: object, version: str) -> None:
    with pytest.raises(ChainError):
        chain_hash(previous, payload, version)  # type: ignore[arg-type]


def test_chain_hash_rejects_float_payload() -> None:
    with pytest.raises(CanonicalValueError):
        chain_hash(GENESIS, {"a": 1.5})  # type: ignore[dict-item]


def test_append_entry_links() -> None:
    first = append_entry(None, {"a": 1})
    second = append_entry(first, {"a": 2})
    assert (first.seq, first.previous_hash) == (1, GENESIS)
    assert (second.seq, second.previous_hash) == (2, first.entry_hash)


# --- intact chains ----------------------------------------------------------------


def test_intact_chain_verifies() -> None:
    verdict = verify_chain(_chain())
    assert verdict.ok
    assert (verdict.checked, verdict.first_break_seq, verdict.kind) == (10, None, None)


def test_empty_chain_verifies() -> None:
    assert verify_chain([]).ok


def test_chain_is_read_as_a_stream() -> None:
    entries = _chain()

    def stream() -> Iterator[ChainEntry]:
        yield from entries[:5]
        yield replace(entries[5], payload={"event": "tampered"})
        yield entries[6]  # the one entry of look-ahead
        raise AssertionError("read past the look-ahead")

    verdict = verify_chain(stream())
    assert (verdict.kind, verdict.first_break_seq, verdict.checked) == ("altered", 6, 5)


def test_tail_segment_verifies_from_a_checkpoint() -> None:
    entries = _chain()
    verdict = verify_chain(entries[5:], start_hash=entries[4].entry_hash, start_seq=6)
    assert verdict.ok and verdict.checked == 5


def test_tail_segment_without_its_checkpoint_is_missing_entries() -> None:
    verdict = verify_chain(_chain()[5:])
    assert (verdict.kind, verdict.first_break_seq) == ("missing", 1)


def test_bad_verify_arguments_are_refused() -> None:
    with pytest.raises(ChainError):
        verify_chain(_chain(), version="esign-chain/9")
    with pytest.raises(ChainError):
        verify_chain(_chain(), start_hash="xyz")


# --- altered ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "tamper",
    [
        lambda e: replace(e, payload={**e.payload, "user": "mallory"}),
        lambda e: replace(e, entry_hash="f" * 64),
        lambda e: replace(e, entry_hash="not a hash"),
        lambda e: replace(e, previous_hash="e" * 64),
        lambda e: replace(e, payload={"bad": 1.5}),
        lambda e: replace(e, seq=50),
    ],
    ids=["payload", "forged-hash", "junk-hash", "link", "unhashable-payload", "seq"],
)
def test_altered_entry(tamper: object) -> None:
    entries = _chain()
    entries[4] = tamper(entries[4])  # type: ignore[operator]
    verdict = verify_chain(entries)
    assert not verdict.ok
    assert verdict.kind == "altered"
    assert verdict.first_break_seq == entries[4].seq
    assert verdict.checked == 4
    assert "altered" in verdict.message


def test_altered_last_entry() -> None:
    entries = _chain()
    entries[-1] = replace(entries[-1], payload={"event": "void"})
    verdict = verify_chain(entries)
    assert (verdict.kind, verdict.first_break_seq, verdict.checked) == ("altered", 10, 9)


# --- missing ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("drop", "first_missing"),
    [({4}, 5), ({4, 5, 6}, 5), ({0}, 1), ({0, 1}, 1)],
)
def test_deleted_entries_are_missing(drop: set[int], first_missing: int) -> None:
    entries = [entry for index, entry in enumerate(_chain()) if index not in drop]
    verdict = verify_chain(entries)
    assert (verdict.kind, verdict.first_break_seq) == ("missing", first_missing)
    assert verdict.checked == first_missing - 1


def test_deleted_entry_with_renumbering_is_missing() -> None:
    entries = _chain()
    entries = entries[:4] + _renumber(entries[5:], 5)
    verdict = verify_chain(entries)
    assert (verdict.kind, verdict.first_break_seq) == ("missing", 5)


def test_rewritten_and_rehashed_entry_leaves_its_original_missing() -> None:
    entries = _chain()
    entries[4] = append_entry(entries[3], {"event": "sign", "n": 5, "user": "mallory"})
    verdict = verify_chain(entries)
    # Entry 5 is self-consistent now; entry 6 links to the original, which is gone.
    assert (verdict.kind, verdict.first_break_seq, verdict.checked) == ("missing", 6, 5)


# --- inserted ---------------------------------------------------------------------


def _intruder(entries: list[ChainEntry], *, seq: int, forged: bool = False) -> ChainEntry:
    """An entry linked after entry 4, as an attacker would write it."""
    entry = append_entry(entries[3], {"event": "sign", "n": 99, "user": "mallory"})
    entry = replace(entry, seq=seq)
    return replace(entry, entry_hash="f" * 64) if forged else entry


@pytest.mark.parametrize("forged", [False, True], ids=["valid-hash", "forged-hash"])
@pytest.mark.parametrize("before", [True, False], ids=["before-twin", "after-twin"])
def test_inserted_entry_with_duplicate_seq(forged: bool, before: bool) -> None:
    entries = _chain()
    intruder = _intruder(entries, seq=5, forged=forged)
    entries.insert(4 if before else 5, intruder)
    verdict = verify_chain(entries)
    assert (verdict.kind, verdict.first_break_seq) == ("inserted", 5)


@pytest.mark.parametrize("forged", [False, True], ids=["valid-hash", "forged-hash"])
def test_inserted_entry_with_renumbering(forged: bool) -> None:
    entries = _chain()
    entries = entries[:4] + [_intruder(entries, seq=5, forged=forged)] + _renumber(entries[4:], 6)
    verdict = verify_chain(entries)
    # A valid intruder is accepted first; the renumbered entry 5 then exposes it.
    checked = 4 if forged else 5
    assert (verdict.kind, verdict.first_break_seq, verdict.checked) == ("inserted", 5, checked)


def test_inserted_entry_whose_hash_is_forged_to_carry_the_next_link() -> None:
    entries = _chain()
    intruder = replace(_intruder(entries, seq=5), entry_hash=entries[3].entry_hash)
    entries = entries[:4] + [intruder] + _renumber(entries[4:], 6)
    verdict = verify_chain(entries)
    assert (verdict.kind, verdict.first_break_seq) == ("inserted", 5)


def test_repeated_entry_is_inserted() -> None:
    entries = _chain()
    entries.insert(5, entries[4])
    verdict = verify_chain(entries)
    assert (verdict.kind, verdict.first_break_seq) == ("inserted", 5)


# --- reordered --------------------------------------------------------------------


def test_neighbours_read_out_of_order() -> None:
    entries = _chain()
    entries[4], entries[5] = entries[5], entries[4]
    verdict = verify_chain(entries)
    assert (verdict.kind, verdict.first_break_seq, verdict.checked) == ("reordered", 5, 4)


def test_neighbours_swapped_with_their_numbers() -> None:
    entries = _chain()
    entries[4], entries[5] = replace(entries[5], seq=5), replace(entries[4], seq=6)
    verdict = verify_chain(entries)
    assert (verdict.kind, verdict.first_break_seq) == ("reordered", 5)


def test_entry_moved_back_is_reordered() -> None:
    entries = _chain()
    entries.append(entries[2])
    verdict = verify_chain(entries)
    assert (verdict.kind, verdict.first_break_seq, verdict.checked) == ("reordered", 11, 10)


def test_entry_moved_far_ahead_shows_first_as_missing() -> None:
    # Documented limit of a one-entry look-ahead.
    entries = _chain()
    entries = entries[:4] + entries[5:8] + [entries[4]] + entries[8:]
    verdict = verify_chain(entries)
    assert (verdict.kind, verdict.first_break_seq) == ("missing", 5)
