"""Tests for services.audit: the ledger's links, streaming verifier and offline export.

Verifies: R15
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from services.audit import (
    AUDIT_VERSION,
    EXPORT_FORMAT,
    GENESIS,
    Row,
    diff_values,
    link_hash,
    next_links,
    payload_digest,
    payload_text,
    verify_export,
    verify_rows,
)
from services.errors import CanonicalValueError, ChainError


def _payloads(count: int, start: int = 1) -> list[dict[str, Any]]:
    return [
        {
            "op": "write",
            "model": "purchase.order",
            "res_id": n,
            "changes": [["partner_ref", f"R{n}", f"R{n + 1}"], ["notes", None, '批准 \\ "q"']],
        }
        for n in range(start, start + count)
    ]


def _chain(count: int = 10) -> list[Row]:
    return next_links(0, GENESIS, _payloads(count))


def _forge(rows: list[Row], seq: int, previous: str, payload: dict[str, Any]) -> Row:
    """A well-formed row that links to ``previous``, as a forger with the formula would make."""
    payload = dict(payload, seq=seq)
    text = payload_text(payload)
    return (seq, previous, link_hash(previous, payload_digest(text)), text)


# --- links ------------------------------------------------------------------------


def test_link_formula() -> None:
    digest = payload_digest("{}")
    assert digest == hashlib.sha256(b"{}").hexdigest()
    expected = hashlib.sha256((AUDIT_VERSION + GENESIS + digest).encode()).hexdigest()
    assert link_hash(GENESIS, digest) == expected


def test_next_links_numbers_and_binds_seq() -> None:
    rows = _chain(3)
    assert [r[0] for r in rows] == [1, 2, 3]
    assert rows[0][1] == GENESIS
    assert rows[1][1] == rows[0][2] and rows[2][1] == rows[1][2]
    assert json.loads(rows[2][3])["seq"] == 3
    more = next_links(3, rows[2][2], _payloads(2, start=4))
    assert [r[0] for r in more] == [4, 5] and more[0][1] == rows[2][2]
    assert verify_rows(rows + more).ok


@pytest.mark.parametrize(
    ("head_seq", "head_hash"), [(-1, GENESIS), (0, "a" * 64), (3, GENESIS), (3, "xyz")]
)
def test_next_links_refuses_bad_head(head_seq: int, head_hash: str) -> None:
    with pytest.raises(ChainError):
        next_links(head_seq, head_hash, _payloads(1))


def test_payload_must_be_canonical_mapping() -> None:
    with pytest.raises(ChainError):
        payload_text(["not", "a", "mapping"])  # type: ignore[arg-type]
    with pytest.raises(CanonicalValueError):
        payload_text({"amount": 1.5})
    with pytest.raises(ChainError):
        link_hash("short", payload_digest("{}"))


def test_diff_values_only_changes_sorted() -> None:
    old = {"b": 1, "a": [1, "Acme"], "c": "same"}
    new = {"b": 2, "a": [2, "Beta"], "c": "same", "d": "new"}
    assert diff_values(old, new) == [
        ["a", [1, "Acme"], [2, "Beta"]],
        ["b", 1, 2],
        ["d", None, "new"],
    ]
    assert diff_values(old, old) == []


# --- streaming verifier: the four kinds of break ----------------------------------


def test_intact_chain_and_empty_chain() -> None:
    verdict = verify_rows(_chain(50))
    assert verdict.ok and verdict.checked == 50
    assert verify_rows([]).ok


def test_altered_payload_is_named() -> None:
    rows = _chain()
    seq, prev, stored, text = rows[4]
    rows[4] = (seq, prev, stored, text.replace("R5", "R9"))
    verdict = verify_rows(rows)
    assert (verdict.ok, verdict.kind, verdict.first_break_seq, verdict.checked) == (
        False,
        "altered",
        5,
        4,
    )


def test_altered_and_rehashed_entry_breaks_the_next_link() -> None:
    rows = _chain()
    rows[4] = _forge(rows, 5, rows[3][2], {"op": "write", "res_id": 999})
    verdict = verify_rows(rows)
    assert verdict.kind == "missing" and verdict.first_break_seq == 6


def test_deleted_entry_is_missing() -> None:
    rows = _chain()
    del rows[6]
    verdict = verify_rows(rows)
    assert verdict.kind == "missing" and verdict.first_break_seq == 7


def test_inserted_forged_entry_is_named() -> None:
    rows = _chain()
    rows.insert(3, _forge(rows, 4, rows[2][2], {"op": "write", "res_id": 666}))
    verdict = verify_rows(rows)
    assert verdict.kind == "inserted" and verdict.first_break_seq == 4


def test_swapped_entries_are_reordered() -> None:
    rows = _chain()
    rows[2], rows[3] = rows[3], rows[2]
    verdict = verify_rows(rows)
    assert verdict.kind == "reordered" and verdict.first_break_seq == 3


def test_truncated_tail_needs_the_head() -> None:
    # A chain only vouches for itself up to its last entry: cutting the tail is found by
    # comparing the head with a checkpoint or export header (see verify_export).
    assert verify_rows(_chain()[:7]).ok


def test_start_from_checkpoint() -> None:
    rows = _chain(10)
    verdict = verify_rows(rows[5:], start_hash=rows[4][2], start_seq=6)
    assert verdict.ok and verdict.checked == 5
    assert verify_rows(rows[5:], start_hash=rows[3][2], start_seq=6).kind == "missing"
    with pytest.raises(ChainError):
        verify_rows(rows, start_hash="nope")


# --- export -----------------------------------------------------------------------


def _export(rows: list[Row], selected: set[int], **header: Any) -> list[str]:
    head = {
        "format": EXPORT_FORMAT,
        "version": AUDIT_VERSION,
        "chain": {"name": "Test"},
        "start_seq": rows[0][0],
        "start_hash": rows[0][1],
        "end_seq": rows[-1][0],
        "end_hash": rows[-1][2],
        "anchors": [],
    }
    head.update(header)
    lines = [json.dumps(head)]
    for seq, prev, stored, text in rows:
        item: dict[str, Any] = {"seq": seq, "previous_hash": prev, "entry_hash": stored}
        if seq in selected:
            item["payload"] = text
        else:
            item["payload_sha256"] = payload_digest(text)
        lines.append(json.dumps(item, ensure_ascii=False))
    return lines


def test_filtered_export_verifies_offline() -> None:
    """Verifies: R18"""
    rows = _chain(20)
    verdict = verify_export(_export(rows, {3, 7, 8}, anchors=[{"seq": 10, "hash": rows[9][2]}]))
    assert verdict.ok, (verdict.chain, verdict.problems)
    assert (verdict.selected, verdict.proofs) == (3, 17)
    assert [e["res_id"] for e in verdict.entries] == [3, 7, 8]


def test_export_tampered_payload_is_altered() -> None:
    """Verifies: R18"""
    lines = _export(_chain(10), {4})
    item = json.loads(lines[4])
    item["payload"] = item["payload"].replace("R4", "R5")
    lines[4] = json.dumps(item)
    verdict = verify_export(lines)
    assert (
        not verdict.ok and verdict.chain.kind == "altered" and verdict.chain.first_break_seq == 4
    )


def test_export_tampered_proof_line_is_caught() -> None:
    """Verifies: R18"""
    lines = _export(_chain(10), {4})
    item = json.loads(lines[6])
    item["payload_sha256"] = "0" * 64
    lines[6] = json.dumps(item)
    assert verify_export(lines).chain.kind == "altered"


def test_export_cut_tail_is_reported() -> None:
    """Verifies: R18"""
    rows = _chain(10)
    lines = _export(rows, {2})[:-2]
    verdict = verify_export(lines)
    assert verdict.chain.ok and not verdict.ok
    assert "ends at entry 8" in verdict.problems[0]


def test_export_bad_anchor_and_misplaced_payload() -> None:
    """Verifies: R18"""
    rows = _chain(10)
    verdict = verify_export(_export(rows, set(), anchors=[{"seq": 5, "hash": "f" * 64}]))
    assert verdict.problems == ("Checkpoint 5 does not match entry 5 of the export.",)
    # A payload whose seq names another place, stored with matching hashes.
    forged = next_links(0, GENESIS, _payloads(1))
    seq, prev, _stored, text = forged[0]
    text = text.replace('"seq":1', '"seq":7')
    rows = [(seq, prev, link_hash(prev, payload_digest(text)), text)]
    verdict = verify_export(_export(rows, {1}))
    assert verdict.chain.ok and "names another place" in verdict.problems[0]


def test_export_non_canonical_payload_is_reported() -> None:
    """Verifies: R18"""
    text = json.dumps({"seq": 1, "op": "write"}, indent=1)
    rows = [(1, GENESIS, link_hash(GENESIS, payload_digest(text)), text)]
    verdict = verify_export(_export(rows, {1}))
    assert "not in canonical form" in verdict.problems[0]


@pytest.mark.parametrize(
    "first",
    [
        "",
        "not json",
        "[1, 2]",
        json.dumps({"format": "other"}),
        json.dumps({"format": EXPORT_FORMAT, "version": AUDIT_VERSION}),
    ],
)
def test_export_bad_header_is_refused(first: str) -> None:
    """Verifies: R18"""
    with pytest.raises(ChainError):
        verify_export([first] if first else [])


def test_export_garbage_line_is_reported() -> None:
    """Verifies: R18"""
    lines = _export(_chain(3), {1})
    lines.insert(2, "garbage")
    verdict = verify_export(lines)
    assert not verdict.ok
    assert "Line 3 is not an audit entry" in verdict.problems[0]
