"""The fast check of a range of audit entries, read as PostgreSQL's binary ``COPY`` stream.

:func:`services.audit.verify_rows` is the authority on a chain: it names the first break and
its kind. It reads rows as Python tuples, and building a million tuples of typed values costs
more than hashing them. This module checks the same rows where they arrive: each row of
``COPY (SELECT seq, previous_hash, entry_hash, payload ...) TO STDOUT (FORMAT binary)`` is one
CopyData message, checked as bytes with one SHA-256 of the payload and one of the link, the
formula of :func:`services.audit.link_hash`.

:class:`RangeCheck` only *finds* the first entry that is not good; it accepts exactly the rows
``verify_rows`` accepts (the same number, the same link, the same hash of the same UTF-8 bytes)
and rejects anything unusual (a NULL, a field of another length), so a fault it reports may be
a false alarm but an entry it accepts is good. The caller streams the entries from the last
good one on through ``verify_rows`` to name the break.

A range may start without a known link (``start_hash=None``): the check then takes its first
row's link as given and reports it, so that two ranges checked side by side (two processes,
two connections) are joined where they meet: the second range's first link must be the first
range's last hash.

Run as a script (``python3 services/ledger_range.py``), this module is that second process:
it reads a JSON job on standard input (the connection parameters, the COPY statement, the
range's start), runs the COPY on its own connection and writes a JSON :class:`RangeResult`.
It needs the standard library and psycopg2 only, and imports no other module of this package.
"""

from __future__ import annotations

import hashlib
import json
import struct
import sys
from dataclasses import asdict, dataclass
from typing import IO, Any

__all__ = [
    "COPY_SIGNATURE",
    "RangeCheck",
    "RangeResult",
    "copy_row",
    "join_ranges",
    "run_job",
]

#: The header PostgreSQL sends before the first row of a binary COPY (no header extension).
COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"

#: The trailer message of a binary COPY: a field count of -1.
_TRAILER = b"\xff\xff"

#: Field count (4), then (length, value) of seq (int4), previous_hash and entry_hash (64
#: characters each), then the payload's length; the payload's bytes follow.
_ROW = struct.Struct(">hii i64s i64s i")
_PAYLOAD_AT = _ROW.size

#: The prefix hashed into every link (services.audit.AUDIT_VERSION, repeated here so that the
#: worker script imports nothing from this package; a test keeps the two equal).
AUDIT_VERSION = b"esign-audit/1"


@dataclass(frozen=True)
class RangeResult:
    """What the check of one range found.

    :param checked: Number of good rows, counted from the range's first row.
    :param bad_position: 1-based position, in the range, of the first row that is not good;
        ``None`` when every row streamed is good.
    :param first_previous: The first row's ``previous_hash`` (``None`` for an empty range).
    :param last_hash: The last good row's ``entry_hash`` (``None`` if no row is good).
    """

    checked: int
    bad_position: int | None
    first_previous: str | None
    last_hash: str | None


class RangeCheck:
    """A file-like sink for psycopg2's ``copy_expert``: checks each row as it arrives.

    ``write`` is called once per row, a million times for a million entries: it is a closure
    over local variables, with one ``struct`` call per row, since attribute look-ups and a
    method call per row would cost about as much as the hashing.

    :param start_seq: The number the range's first row must carry.
    :param start_hash: The hash the first row must link to, or ``None`` to take its link as
        given (the range is joined to the one before it by :func:`join_ranges`).
    """

    def __init__(self, start_seq: int, start_hash: str | None) -> None:
        self.write, self._state = _checker(
            start_seq, None if start_hash is None else start_hash.encode("ascii")
        )

    def result(self) -> RangeResult:
        """The finding so far (call it once the COPY is over)."""
        checked, bad_position, first_previous, last_hash = self._state()
        return RangeResult(
            checked,
            bad_position,
            None if first_previous is None else first_previous.decode("ascii", "replace"),
            last_hash.decode("ascii") if checked else None,
        )

    @property
    def checked(self) -> int:
        """Number of good rows so far."""
        return self._state()[0]

    @property
    def bad_position(self) -> int | None:
        """Position of the first row that is not good, if any."""
        return self._state()[1]


def _checker(start_seq: int, start_link: bytes | None) -> tuple[Any, Any]:
    """The ``write`` function of a :class:`RangeCheck` and the function reading its state."""
    sha = hashlib.sha256
    unpack = _ROW.unpack_from
    prefix = AUDIT_VERSION
    payload_at = _PAYLOAD_AT
    signature = COPY_SIGNATURE
    expected_seq = start_seq
    expected_link = start_link
    bad_position: int | None = None
    first_previous: bytes | None = None
    started = False

    def write(row: bytes) -> None:
        nonlocal expected_seq, expected_link, bad_position, first_previous, started
        if bad_position is not None:
            return  # the rest is read by the exact verifier, from the last good row on
        if not started:
            if row.startswith(signature):
                row = row[len(signature) :]
            if not row or row == _TRAILER:
                return  # the header alone, or the trailer of an empty range
            started = True
            first_previous = row[14:78]
            if expected_link is None:
                expected_link = first_previous
        elif row == _TRAILER:
            return
        try:
            fields, seq_size, seq, link_size, link, hash_size, stored, size = unpack(row)
        except struct.error:  # shorter than a row: a NULL or a field cut short
            bad_position = expected_seq - start_seq + 1
            return
        if (
            seq == expected_seq
            and link == expected_link
            and fields == 4
            and seq_size == 4
            and link_size == 64
            and hash_size == 64
            and size == len(row) - payload_at
            and sha(prefix + link + sha(row[payload_at:]).hexdigest().encode("ascii"))
            .hexdigest()
            .encode("ascii")
            == stored
        ):
            expected_seq = seq + 1
            expected_link = stored
            return
        bad_position = expected_seq - start_seq + 1

    def state() -> tuple[int, int | None, bytes | None, bytes | None]:
        return expected_seq - start_seq, bad_position, first_previous, expected_link

    return write, state


def join_ranges(first: RangeResult, first_size: int, second: RangeResult) -> int | None:
    """Join two ranges checked side by side into one finding.

    :param first: The first range's result; it was checked from the chain's known start.
    :param first_size: The number of rows the first range must hold (its bounds' width).
    :param second: The result of the range right after it, checked with ``start_hash=None``.
    :return: The 1-based position, over both ranges, of the first row that is not good, or
        ``None`` when both ranges are good and joined.
    """
    if first.bad_position is not None:
        return first.bad_position
    if first.checked != first_size:
        return first.checked + 1  # the first range ends early: its last rows are missing
    if second.bad_position == 1 or (second.checked and second.first_previous != first.last_hash):
        return first_size + 1  # the second range does not start where the first one ends
    if second.bad_position is not None:
        return first_size + second.bad_position
    return None


def copy_row(seq: int | None, previous: str | None, stored: str | None, payload: str) -> bytes:
    """One row as PostgreSQL's binary COPY sends it (for tests and the benchmark)."""

    def field(value: bytes | None) -> bytes:
        return b"\xff\xff\xff\xff" if value is None else struct.pack(">i", len(value)) + value

    return (
        struct.pack(">h", 4)
        + field(None if seq is None else struct.pack(">i", seq))
        + field(None if previous is None else previous.encode("utf-8"))
        + field(None if stored is None else stored.encode("utf-8"))
        + field(payload.encode("utf-8"))
    )


def run_job(job: dict[str, Any], connect: Any) -> RangeResult:
    """Run one range check on a connection of its own.

    :param job: ``{"connection": {...}, "query": "COPY ... TO STDOUT (FORMAT binary)",
        "params": [...], "start_seq": s, "start_hash": h}``.
    :param connect: ``psycopg2.connect``.
    :return: The range's result.
    """
    connection = connect(**job["connection"])
    try:
        connection.set_client_encoding("UTF8")
        connection.set_session(isolation_level="REPEATABLE READ", readonly=True)
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL jit = off")  # a plan this cheap costs more to compile
            query = cursor.mogrify(job["query"], job.get("params") or ()).decode("utf-8")
            sink = RangeCheck(int(job["start_seq"]), job.get("start_hash"))
            cursor.copy_expert(query, sink)
        connection.rollback()
        return sink.result()
    finally:
        connection.close()


def main(stdin: IO[str] = sys.stdin, stdout: IO[str] = sys.stdout) -> int:
    """The worker process: one JSON job in, one JSON :class:`RangeResult` out."""
    if sys.path and sys.path[0].rstrip("/").endswith("services"):
        del sys.path[0]  # run as a script: this package's modules must not shadow others
    import psycopg2  # noqa: PLC0415 - only the worker process needs it

    result = run_job(json.load(stdin), psycopg2.connect)
    json.dump(asdict(result), stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
