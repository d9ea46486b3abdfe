"""Tests for services.ledger_range: the row-by-row check of a binary COPY of audit entries.

The check must accept exactly the rows ``verify_rows`` accepts: every tamper below is found
at the position where the exact verifier's count of good entries ends, at the start, in the
middle, at the end of a range, and where two ranges checked side by side meet.
"""

from __future__ import annotations

from typing import Any

import pytest

from services import ledger_range
from services.audit import (
    AUDIT_VERSION,
    GENESIS,
    Row,
    link_hash,
    next_links,
    payload_digest,
    payload_text,
    verify_rows,
)
from services.ledger_range import COPY_SIGNATURE, RangeCheck, RangeResult, copy_row, join_ranges

COUNT = 12


def _chain(count: int = COUNT) -> list[Row]:
    return next_links(
        0,
        GENESIS,
        [
            {"op": "write", "model": "esign.deviation", "res_id": n, "changes": [["t", n, "批准"]]}
            for n in range(1, count + 1)
        ],
    )


def _messages(rows: list[Any], glued: bool = True) -> list[bytes]:
    """The CopyData messages PostgreSQL sends for ``rows``: the header glued to the first row
    (as PostgreSQL does) or on its own, then one message per row, then the trailer."""
    body = [copy_row(*row) for row in rows]
    if glued and body:
        head = [COPY_SIGNATURE + body[0], *body[1:]]
    else:
        head = [COPY_SIGNATURE, *body]
    return [*head, b"\xff\xff"]


def _check(rows: list[Any], start_seq: int = 1, start_hash: str | None = GENESIS, **kw: Any):
    sink = RangeCheck(start_seq, start_hash)
    for message in _messages(rows, **kw):
        sink.write(message)
    return sink.result()


def _altered(rows: list[Row], index: int) -> list[Row]:
    seq, previous, stored, text = rows[index]
    return [
        *rows[:index],
        (seq, previous, stored, text.replace("批准", "approved")),
        *rows[index + 1 :],
    ]


def test_version_is_the_ledgers() -> None:
    assert ledger_range.AUDIT_VERSION == AUDIT_VERSION.encode("ascii")


@pytest.mark.parametrize("glued", [True, False])
def test_intact_range_is_all_good(glued: bool) -> None:
    rows = _chain()
    result = _check(rows, glued=glued)
    assert result == RangeResult(COUNT, None, GENESIS, rows[-1][2])


def test_empty_range() -> None:
    assert _check([]) == RangeResult(0, None, None, None)


def _tampers(rows: list[Row]) -> dict[str, list[Any]]:
    """Every kind of fault, at the start, in the middle and at the end."""
    forged = list(rows)
    payload = {"op": "write", "model": "esign.deviation", "res_id": 99, "seq": 5}
    text = payload_text(payload)
    forged.insert(4, (5, rows[3][2], link_hash(rows[3][2], payload_digest(text)), text))
    return {
        "first altered": _altered(rows, 0),
        "middle altered": _altered(rows, 5),
        "last altered": _altered(rows, COUNT - 1),
        "first deleted": rows[1:],
        "middle deleted": rows[:6] + rows[7:],
        "swapped": rows[:3] + [rows[4], rows[3]] + rows[5:],
        "forged inserted": forged,
        "stored hash": rows[:8] + [(9, rows[8][1], "f" * 64, rows[8][3])] + rows[9:],
        "link": rows[:8] + [(9, "1" * 64, rows[8][2], rows[8][3])] + rows[9:],
        "null link": rows[:2] + [(3, None, rows[2][2], rows[2][3])] + rows[3:],
        "null number": rows[:2] + [(None, rows[2][1], rows[2][2], rows[2][3])] + rows[3:],
        "short hash": rows[:2] + [(3, rows[2][1], rows[2][2][:10], rows[2][3])] + rows[3:],
        "upper-case hash": rows[:-1] + [(12, rows[-1][1], rows[-1][2].upper(), rows[-1][3])],
    }


@pytest.mark.parametrize("label", sorted(_tampers(_chain())))
def test_first_fault_is_where_the_exact_verifier_stops(label: str) -> None:
    rows = _tampers(_chain())[label]
    result = _check(rows)
    exact = None if "null" in label else verify_rows(rows)
    assert result.bad_position is not None
    assert result.checked == result.bad_position - 1
    if exact is not None:
        assert not exact.ok
        assert result.checked == exact.checked


def test_nothing_is_checked_after_the_first_fault() -> None:
    rows = _altered(_chain(), 2)
    result = _check(rows)
    assert (result.checked, result.bad_position, result.last_hash) == (2, 3, rows[1][2])


def test_start_from_a_checkpoint_and_from_an_unknown_link() -> None:
    rows = _chain()
    assert _check(rows[4:], 5, rows[3][2]) == RangeResult(8, None, rows[3][2], rows[-1][2])
    assert _check(rows[4:], 5, GENESIS).bad_position == 1  # wrong link
    assert _check(rows[4:], 6, rows[3][2]).bad_position == 1  # wrong number
    # Without a known link the first row's is taken as given, and reported for the join.
    assert _check(rows[4:], 5, None) == RangeResult(8, None, rows[3][2], rows[-1][2])


# --- two ranges side by side ----------------------------------------------------------


def _joined(rows: list[Any], split: int = COUNT // 2) -> int | None:
    """Check seq 1..split and split+1.. apart (as two processes do) and join them."""
    first = _check([r for r in rows if r[0] is None or r[0] <= split])
    second = _check([r for r in rows if r[0] is not None and r[0] > split], split + 1, None)
    return join_ranges(first, split, second)


def test_join_intact_halves() -> None:
    assert _joined(_chain()) is None
    assert _joined(_chain(), split=1) is None
    assert _joined(_chain(), split=COUNT - 1) is None


@pytest.mark.parametrize(
    ("label", "tamper", "position"),
    [
        ("start of the first range", lambda r: _altered(r, 0), 1),
        ("middle of the first range", lambda r: _altered(r, 2), 3),
        ("end of the first range", lambda r: _altered(r, 5), 6),
        ("start of the second range", lambda r: _altered(r, 6), 7),
        ("middle of the second range", lambda r: _altered(r, 8), 9),
        ("end of the second range", lambda r: _altered(r, 11), 12),
        ("last of the first range deleted", lambda r: r[:5] + r[6:], 6),
        ("first of the second range deleted", lambda r: r[:6] + r[7:], 7),
        (
            "second range linked elsewhere",
            lambda r: r[:6] + [(7, "2" * 64, *_relinked(r[6], "2" * 64))] + r[7:],
            7,
        ),
    ],
)
def test_join_finds_the_first_fault_of_both_ranges(label: str, tamper: Any, position: int) -> None:
    rows = tamper(_chain())
    assert _joined(rows) == position, label
    # ...which is where the exact verifier over the whole chain stops.
    assert verify_rows(rows).checked == position - 1


def _relinked(row: Row, previous: str) -> tuple[str, str]:
    """A row re-hashed to link to ``previous`` (a forger's rewrite): (entry_hash, payload)."""
    return link_hash(previous, payload_digest(row[3])), row[3]


def test_join_a_fault_in_the_first_range_wins() -> None:
    rows = _altered(_altered(_chain(), 8), 3)
    assert _joined(rows) == 4


def test_join_empty_second_range() -> None:
    rows = _chain()
    first = _check(rows)
    assert join_ranges(first, COUNT, _check([], COUNT + 1, None)) is None
