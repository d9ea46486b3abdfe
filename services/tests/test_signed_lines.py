"""Tests for services.snapshot's signed child rows (``SignedLines``, ``line_rows``).

Verifies: R9, R11.
"""

from __future__ import annotations

import pytest

from services.errors import SnapshotError
from services.snapshot import SNAPSHOT_V1, SNAPSHOT_VERSION, SignedLines, line_rows

ORDER_LINES = SignedLines(
    path="order_line",
    fields=("name", "product_id", "product_qty", "price_unit"),
    v1_cells=("product_id.display_name", "product_qty", "price_unit"),
)
COMPONENTS = SignedLines(
    path="move_raw_ids.move_line_ids",
    fields=("product_id", "lot_id", "quantity"),
    keep_ids=False,
    v1_cells=("product_id.display_name", "lot_id.name", "quantity"),
)


def test_rows_with_ids_in_id_order() -> None:
    rows = [(9, {"price_unit": "2.00"}), (3, {"price_unit": "1.00"})]
    assert line_rows(ORDER_LINES, SNAPSHOT_VERSION, rows=rows) == [
        {"id": 3, "price_unit": "1.00"},
        {"id": 9, "price_unit": "2.00"},
    ]


def test_rows_by_content_ignore_ids_and_order() -> None:
    """Odoo replaces an MO's move lines when it reserves again: the content signs alike."""
    first = [(1, {"lot_id": 7, "quantity": "2.00"}), (2, {"lot_id": 5, "quantity": "1.00"})]
    again = [(41, {"lot_id": 5, "quantity": "1.00"}), (40, {"lot_id": 7, "quantity": "2.00"})]
    assert line_rows(COMPONENTS, SNAPSHOT_VERSION, rows=first) == line_rows(
        COMPONENTS, SNAPSHOT_VERSION, rows=again
    )


def test_rows_by_content_tell_another_lot() -> None:
    """Tamper twin: consuming another lot is another content."""
    signed = [(1, {"lot_id": 7, "quantity": "2.00"})]
    other = [(1, {"lot_id": 8, "quantity": "2.00"})]
    assert line_rows(COMPONENTS, SNAPSHOT_VERSION, rows=signed) != line_rows(
        COMPONENTS, SNAPSHOT_VERSION, rows=other
    )


def test_version_1_rows_are_frozen() -> None:
    """Version 1's rows: text as is, empty as "", numbers as ``str()``, sorted."""
    cells = [["Sensor", 3.0, 2.5], [False, 0.0, 10.0]]
    assert line_rows(ORDER_LINES, SNAPSHOT_V1, v1_rows=cells) == [
        ["", "0.0", "10.0"],
        ["Sensor", "3.0", "2.5"],
    ]
    assert line_rows(COMPONENTS, SNAPSHOT_V1, v1_rows=[["Resistor", None, 10.0]]) == [
        ["Resistor", "", "10.0"]
    ]


def test_version_1_needs_a_version_1_row() -> None:
    """Bad input: rows declared after version 1 have no version 1 form."""
    late = SignedLines(path="line_ids", fields=("name",))
    with pytest.raises(SnapshotError):
        line_rows(late, SNAPSHOT_V1, v1_rows=[["x"]])


@pytest.mark.parametrize("path, fields", [("", ("name",)), ("order_line", ())])
def test_declaration_needs_a_path_and_fields(path: str, fields: tuple[str, ...]) -> None:
    with pytest.raises(SnapshotError):
        SignedLines(path=path, fields=fields)
