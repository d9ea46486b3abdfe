"""Tests for services.migration: reading a table of wet-ink signatures and their scans.

Verifies: S11
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from datetime import date

import openpyxl
import pytest

from services import migration
from services.migration import MigrationFileError

TODAY = date(2026, 12, 6)
HEADER = "record_type,record,signer,signed_on,meaning,scan\n"
PDF = b"%PDF-1.4\n% a scanned page\n"


def _zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _check(table: str, scans: dict[str, bytes]):
    cells = migration.read_table((HEADER + table).encode())
    return migration.check_rows(cells, migration.read_scans(_zip(scans)), TODAY)


def test_good_rows_carry_their_scan_and_its_hash():
    rows, problems = _check(
        "lot,LOT-2019-001,Wang Fang,2019-03-04,released,scans/lot-001.pdf\n"
        "capa,CAPA/2020/0007,Li Wei,2020-07-01,approved,capa-7.pdf\n",
        {"batch/lot-001.pdf": PDF, "capa-7.pdf": PDF + b"7"},
    )
    assert problems == []
    assert [(r.row, r.model, r.record, r.signed_on) for r in rows] == [
        (2, "stock.lot", "LOT-2019-001", date(2019, 3, 4)),
        (3, "esign.capa", "CAPA/2020/0007", date(2020, 7, 1)),
    ]
    # Folders inside the ZIP do not matter; the table names the file.
    assert rows[0].scan == PDF
    assert rows[1].scan_sha256 == hashlib.sha256(PDF + b"7").hexdigest()


def test_semicolon_csv_and_a_byte_order_mark():
    table = (
        "\ufeffrecord_type;record;signer;signed_on;meaning;scan\n"
        "lot;L1;Ann;2024-01-02;approved;a.pdf\n"
    )
    cells = migration.read_table(table.encode("utf-8"))
    assert cells == [
        {
            "record_type": "lot",
            "record": "L1",
            "signer": "Ann",
            "signed_on": "2024-01-02",
            "meaning": "approved",
            "scan": "a.pdf",
        }
    ]


def test_xlsx_with_date_cells():
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Record Type", "Record", "Signer", "Signed On", "Meaning", "Scan"])
    sheet.append(["lot", "LOT-7", "张伟", date(2021, 5, 6), "released", "lot-7.pdf"])
    sheet.append([None, None, None, None, None, None])  # blank rows are skipped
    buffer = io.BytesIO()
    book.save(buffer)
    cells = migration.read_table(buffer.getvalue(), "history.xlsx")
    rows, problems = migration.check_rows(cells, {"lot-7.pdf": PDF}, TODAY)
    assert problems == []
    assert rows[0].signer == "张伟"
    assert rows[0].signed_on == date(2021, 5, 6)


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "table"),
        (b"\xff\xfe\x00garbage", "table"),
        (b"record,signer\nL1,Ann\n", "columns"),
        (b"PK\x03\x04 not really a workbook", "table"),
    ],
)
def test_unreadable_tables_are_refused_whole(data, code):
    with pytest.raises(MigrationFileError) as info:
        migration.read_table(data)
    assert info.value.code == code


def test_too_many_rows(monkeypatch):
    monkeypatch.setattr(migration, "MAX_ROWS", 3)
    table = HEADER + "lot,L,A,2020-01-01,approved,a.pdf\n" * 4
    with pytest.raises(MigrationFileError) as info:
        migration.read_table(table.encode())
    assert info.value.code == "too_many_rows"


def test_every_bad_row_is_named_with_its_number():
    rows, problems = _check(
        "lot,L1,Ann,2020-01-01,approved,a.pdf\n"  # 2: good
        "lot,,Ann,2020-01-01,approved,a.pdf\n"  # 3: no record
        "batch,L2,Ann,2020-01-01,approved,a.pdf\n"  # 4: unknown record type
        "lot,L3,Ann,01/02/2020,approved,a.pdf\n"  # 5: not a date
        "lot,L4,Ann,2027-01-01,approved,a.pdf\n"  # 6: in the future
        "lot,L5,Ann,2020-01-01,approved,gone.pdf\n"  # 7: scan missing
        "lot,L6,Ann,2020-01-01,approved,photo.jpg\n"  # 8: not a PDF
        "lot,L1,ANN,2020-01-01,approved,a.pdf\n"  # 9: duplicate of row 2
        f"lot,L7,{'x' * 300},2020-01-01,approved,a.pdf\n",  # 10: too long
        {"a.pdf": PDF, "photo.jpg": b"\xff\xd8\xff"},
    )
    assert [r.row for r in rows] == [2]
    assert [(p.row, p.code, p.column) for p in problems] == [
        (3, "empty", "record"),
        (4, "record_type", "record_type"),
        (5, "date", "signed_on"),
        (6, "future", "signed_on"),
        (7, "scan_missing", "scan"),
        (8, "scan_not_pdf", "scan"),
        (9, "duplicate", ""),
        (10, "too_long", "signer"),
    ]
    assert problems[6].value == "row 2"


def test_today_itself_is_not_the_future():
    rows, problems = _check("lot,L1,Ann,2026-12-06,approved,a.pdf\n", {"a.pdf": PDF})
    assert problems == [] and rows


def test_scans_zip(monkeypatch):
    assert migration.read_scans(None) == {}
    with pytest.raises(MigrationFileError) as info:
        migration.read_scans(b"not a zip")
    assert info.value.code == "zip"
    monkeypatch.setattr(migration, "MAX_SCAN_BYTES", 10)
    scans = migration.read_scans(_zip({"big.pdf": PDF, "empty.pdf": b""}))
    assert scans == {"big.pdf": None, "empty.pdf": b""}
    _rows, problems = migration.check_rows(
        [
            {
                "record_type": "lot",
                "record": "L",
                "signer": "A",
                "signed_on": "2020-01-01",
                "meaning": "approved",
                "scan": name,
            }
            for name in ("big.pdf", "empty.pdf")
        ],
        scans,
        TODAY,
    )
    assert [p.code for p in problems] == ["scan_too_large", "scan_not_pdf"]
    monkeypatch.setattr(migration, "MAX_ZIP_MEMBERS", 1)
    with pytest.raises(MigrationFileError) as info:
        migration.read_scans(_zip({"a.pdf": PDF, "b.pdf": PDF}))
    assert info.value.code == "zip_members"
