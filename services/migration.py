"""Reading a migration of paper-signed history: a table of wet-ink signatures and their scans.

A site going live brings in years of batch records, CAPAs and change requests signed on
paper. Each row of the table names one wet-ink signature::

    record_type, record, signer, signed_on, meaning, scan

* ``record_type``: one of :data:`RECORD_TYPES` (``lot``, ``capa``, ``change_request``,
  ``deviation``);
* ``record``: the record's reference as the ERP knows it (lot number, CAPA/2024/0007...);
* ``signer``: the name written under the signature;
* ``signed_on``: the date written beside it, ``YYYY-MM-DD`` (a spreadsheet date cell too);
* ``meaning``: the meaning's code (``approved``, ``reviewed``, ``released``...);
* ``scan``: the file name of the scanned page, a PDF inside the uploaded ZIP (folders, in the
  table or in the ZIP, are ignored).

This module checks what it can without the database: the columns, each cell's shape, dates in
the future, the scans (present, a PDF, not too large) and duplicates inside the file. It
returns every problem with its row number, so that a whole file is refused with one list and
nothing of it is written. The caller (the import wizard) adds what needs the database: unknown
records and meanings, and signatures imported before.
"""

from __future__ import annotations

import csv
import hashlib
import io
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime

__all__ = [
    "COLUMNS",
    "MAX_ROWS",
    "MAX_SCAN_BYTES",
    "RECORD_TYPES",
    "MigrationFileError",
    "Problem",
    "Row",
    "check_rows",
    "read_scans",
    "read_table",
]

#: The columns of the table, in this order in the template.
COLUMNS = ("record_type", "record", "signer", "signed_on", "meaning", "scan")

#: record_type -> the model it names.
RECORD_TYPES = {
    "lot": "stock.lot",
    "capa": "esign.capa",
    "change_request": "esign.change.request",
    "deviation": "esign.deviation",
}

MAX_ROWS = 20_000
MAX_SCAN_BYTES = 20 * 1024 * 1024
MAX_ZIP_MEMBERS = 50_000
MAX_TEXT = 256


class MigrationFileError(ValueError):
    """The upload cannot be read at all (not a CSV/XLSX table, not a ZIP, no header...).

    :param code: What is wrong, for the caller's translated message: ``"table"``,
        ``"columns"``, ``"too_many_rows"``, ``"zip"``, ``"zip_members"``.
    :param detail: The offending value (a column list, a count), for the message.
    """

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one row (row 1 is the header; data starts at row 2).

    :param code: ``"empty"``, ``"record_type"``, ``"date"``, ``"future"``, ``"too_long"``,
        ``"scan_missing"``, ``"scan_not_pdf"``, ``"scan_too_large"``, ``"duplicate"``, or one
        the caller adds (``"unknown_record"``, ``"unknown_meaning"``, ``"imported_before"``).
    :param column: The column concerned, or ``""``.
    :param value: The cell's text, cut to 80 characters.
    """

    row: int
    code: str
    column: str = ""
    value: str = ""


@dataclass(frozen=True)
class Row:
    """One wet-ink signature, its cells checked and its scan attached."""

    row: int
    record_type: str
    model: str
    record: str
    signer: str
    signed_on: date
    meaning: str
    scan_name: str
    scan: bytes

    @property
    def scan_sha256(self) -> str:
        """SHA-256 of the scan, 64 lowercase hex digits."""
        return hashlib.sha256(self.scan).hexdigest()

    @property
    def key(self) -> tuple[str, str, str, date, str]:
        """What makes two rows the same signature."""
        return (self.model, self.record, self.signer.casefold(), self.signed_on, self.meaning)


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def read_table(data: bytes, filename: str = "") -> list[dict[str, str]]:
    """The rows of a CSV (UTF-8, comma or semicolon) or XLSX upload, as column -> text.

    :raises MigrationFileError: If it is neither, lacks a column of :data:`COLUMNS`, or has
        more than :data:`MAX_ROWS` rows.
    """
    if data[:4] == b"PK\x03\x04" or filename.lower().endswith(".xlsx"):
        raw_rows = _xlsx_rows(data)
    else:
        raw_rows = _csv_rows(data)
    if not raw_rows:
        raise MigrationFileError("table", "empty")
    header = [_cell_text(cell).lower().replace(" ", "_") for cell in raw_rows[0]]
    missing = [column for column in COLUMNS if column not in header]
    if missing:
        raise MigrationFileError("columns", ", ".join(missing))
    body = [r for r in raw_rows[1:] if any(_cell_text(cell) for cell in r)]
    if len(body) > MAX_ROWS:
        raise MigrationFileError("too_many_rows", str(len(body)))
    index = {column: header.index(column) for column in COLUMNS}
    return [
        {
            column: _cell_text(cells[position]) if position < len(cells) else ""
            for column, position in index.items()
        }
        for cells in body
    ]


def _csv_rows(data: bytes) -> list[list[str]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise MigrationFileError("table", "not UTF-8 text") from None
    if "\x00" in text:
        raise MigrationFileError("table", "binary data")
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    try:
        return [list(r) for r in csv.reader(io.StringIO(text), dialect)]
    except csv.Error as exc:
        raise MigrationFileError("table", str(exc)) from None


def _xlsx_rows(data: bytes) -> list[list[object]]:
    import openpyxl  # noqa: PLC0415 - only XLSX uploads need it

    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a file that is not a workbook
        raise MigrationFileError("table", type(exc).__name__) from None
    try:
        sheet = book.worksheets[0]
        rows = []
        for cells in sheet.iter_rows(values_only=True):
            rows.append(list(cells))
            if len(rows) > MAX_ROWS + 1:
                raise MigrationFileError("too_many_rows", f"more than {MAX_ROWS}")
        return rows
    finally:
        book.close()


def read_scans(data: bytes | None) -> dict[str, bytes | None]:
    """The files of the scans' ZIP, by base name (folders inside the ZIP are ignored).

    A member larger than :data:`MAX_SCAN_BYTES` is not read: it maps to ``None``, so that its
    row reports "too large" instead of "missing".

    :raises MigrationFileError: If the upload is not a ZIP or has too many members.
    """
    if not data:
        return {}
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise MigrationFileError("zip") from None
    with archive:
        members = [m for m in archive.infolist() if not m.is_dir()]
        if len(members) > MAX_ZIP_MEMBERS:
            raise MigrationFileError("zip_members", str(len(members)))
        scans: dict[str, bytes | None] = {}
        for member in members:
            name = _base_name(member.filename)
            if member.file_size > MAX_SCAN_BYTES:
                scans[name] = None
                continue
            try:
                scans[name] = archive.read(member)
            except (zipfile.BadZipFile, OSError, RuntimeError, ValueError):
                raise MigrationFileError("zip", name) from None
        return scans


def _base_name(path: str) -> str:
    """A file name without its folders (either slash): tables and ZIPs rarely agree on them."""
    return path.replace("\\", "/").rsplit("/", 1)[-1]


def _parse_date(text: str) -> date | None:
    try:
        return date.fromisoformat(text[:10]) if len(text) >= 10 else None
    except ValueError:
        return None


def check_rows(
    cells: Iterable[Mapping[str, str]], scans: Mapping[str, bytes | None], today: date
) -> tuple[list[Row], list[Problem]]:
    """Check every row's cells and scan, and duplicates inside the file.

    :param cells: What :func:`read_table` returned.
    :param scans: What :func:`read_scans` returned.
    :param today: The day of the import: a signature dated after it is refused.
    :return: The good rows and every problem found (by row number); an import writes the
        rows only when the problems are none.
    """
    rows: list[Row] = []
    problems: list[Problem] = []
    seen: dict[tuple, int] = {}
    for number, row in enumerate(cells, start=2):
        found = _row_problems(number, row, scans, today)
        if found:
            problems.extend(found)
            continue
        good = Row(
            row=number,
            record_type=row["record_type"],
            model=RECORD_TYPES[row["record_type"]],
            record=row["record"],
            signer=row["signer"],
            signed_on=_parse_date(row["signed_on"]),
            meaning=row["meaning"].lower(),
            scan_name=row["scan"],
            scan=scans[_base_name(row["scan"])],
        )
        if good.key in seen:
            problems.append(Problem(number, "duplicate", "", f"row {seen[good.key]}"))
            continue
        seen[good.key] = number
        rows.append(good)
    return rows, problems


def _row_problems(
    number: int, row: Mapping[str, str], scans: Mapping[str, bytes | None], today: date
) -> list[Problem]:
    found = [Problem(number, "empty", column) for column in COLUMNS if not row.get(column)]
    found += [
        Problem(number, "too_long", column, row[column][:80])
        for column in COLUMNS
        if len(row.get(column) or "") > MAX_TEXT
    ]
    if found:
        return found
    if row["record_type"] not in RECORD_TYPES:
        found.append(Problem(number, "record_type", "record_type", row["record_type"][:80]))
    signed_on = _parse_date(row["signed_on"])
    if signed_on is None:
        found.append(Problem(number, "date", "signed_on", row["signed_on"][:80]))
    elif signed_on > today:
        found.append(Problem(number, "future", "signed_on", row["signed_on"][:80]))
    name = _base_name(row["scan"])
    if name not in scans:
        found.append(Problem(number, "scan_missing", "scan", name[:80]))
    elif scans[name] is None:
        found.append(Problem(number, "scan_too_large", "scan", name[:80]))
    elif not scans[name].startswith(b"%PDF-"):
        found.append(Problem(number, "scan_not_pdf", "scan", name[:80]))
    return found
