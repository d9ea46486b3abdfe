"""The audit ledger's hash chain, its verifier and its offline export format.

Every audit entry stores its payload as canonical JSON text (see
:mod:`services.canonical`) and links to the entry before it::

    payload_sha256 = sha256(payload_text)
    entry_hash     = sha256(AUDIT_VERSION + previous_hash + payload_sha256)

Hashing the payload's digest rather than the payload itself lets an export
prove the links *between* the entries it shows without disclosing the others:
an entry left out of a filtered export is represented by its ``seq``, its two
hashes and its payload digest only (a *proof line*).

``AUDIT_VERSION`` never contains a hex digit run of 64 characters and the two
hashes are always 64 hex digits, so the concatenation cannot be split two
ways.

The verifier streams: it holds one entry of look-ahead and the last good
link, so a chain of any length is checked in constant memory. The classification of a
break (altered, missing, inserted, reordered) is the one of
:func:`services.chain.classify_break`.

Export format (JSON Lines, UTF-8, one JSON object per line):

* line 1, the header: ``{"format": EXPORT_FORMAT, "version": AUDIT_VERSION,
  "chain": {...}, "start_seq": s, "start_hash": h, "end_seq": e,
  "end_hash": eh, "anchors": [...], "selected": n, "exported_at": ...}``.
  ``start_hash`` is the hash the entry ``s`` links to: :data:`GENESIS`, or a
  checkpoint's hash listed in ``anchors``;
* then one line for every ``seq`` from ``s`` to ``e``, in order: a full entry
  ``{"seq", "previous_hash", "entry_hash", "payload"}`` (the payload as the
  stored canonical text) or a proof line ``{"seq", "previous_hash",
  "entry_hash", "payload_sha256"}``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .canonical import JSONable, canonical_json
from .chain import GENESIS, ChainEntry, ChainVerdict, classify_break
from .errors import ChainError, SnapshotError

__all__ = [
    "AUDIT_VERSION",
    "EXPORT_FORMAT",
    "GENESIS",
    "ExportVerdict",
    "Row",
    "diff_values",
    "link_hash",
    "next_links",
    "payload_digest",
    "payload_text",
    "verify_export",
    "verify_rows",
]

AUDIT_VERSION = "esign-audit/1"
"""Version prefix hashed into every audit entry made by this code."""

EXPORT_FORMAT = "meddev-esign-audit-export/1"
"""Name of the export format described in the module docstring."""

_HASH_RE = re.compile(r"[0-9a-f]{64}")

Row = tuple[int, str, str, str]
"""One stored entry as streamed from the database: seq, previous hash, entry hash, payload."""


def payload_text(payload: Mapping[str, JSONable]) -> str:
    """Serialise an entry's payload to the canonical text that is stored and hashed.

    :param payload: The entry's data.
    :return: Canonical JSON text.
    :raises ChainError: If ``payload`` is not a mapping.
    :raises CanonicalValueError: If it holds a value canonical JSON does not allow.
    """
    if not isinstance(payload, Mapping):
        raise ChainError("An audit payload must be a mapping.", value=payload)
    return canonical_json(payload, path="payload")


def payload_digest(text: str) -> str:
    """SHA-256 of a stored payload text.

    :param text: The canonical payload text.
    :return: 64 lowercase hex digits.
    """
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def link_hash(previous_hash: str, digest: str) -> str:
    """The ``entry_hash`` of an entry with the given link and payload digest.

    :param previous_hash: ``entry_hash`` of the entry before, or :data:`GENESIS`.
    :param digest: :func:`payload_digest` of the entry's payload text.
    :return: 64 lowercase hex digits.
    :raises ChainError: If either argument is not 64 lowercase hex digits.
    """
    for name, value in (("previous hash", previous_hash), ("payload digest", digest)):
        if not isinstance(value, str) or not _HASH_RE.fullmatch(value):
            raise ChainError(f"A {name} must be 64 lowercase hexadecimal digits.", value=value)
    return hashlib.sha256((AUDIT_VERSION + previous_hash + digest).encode("ascii")).hexdigest()


def next_links(head_seq: int, head_hash: str, payloads: Sequence[dict[str, Any]]) -> list[Row]:
    """Chain new payloads after the head ``(head_seq, head_hash)``.

    Each payload gets its ``"seq"`` key set to its place, so the number is part
    of what is hashed.

    :param head_seq: ``seq`` of the current last entry (0 for an empty chain).
    :param head_hash: Its ``entry_hash`` (:data:`GENESIS` for an empty chain).
    :param payloads: The new entries' data, in order; updated in place.
    :return: One ``(seq, previous_hash, entry_hash, payload_text)`` per payload.
    :raises ChainError: If the head is malformed or a payload is not a mapping.
    :raises CanonicalValueError: If a payload holds a value canonical JSON does not allow.
    """
    if head_seq < 0 or (head_seq == 0) != (head_hash == GENESIS):
        raise ChainError("A chain head must be (0, GENESIS) or a stored entry.", value=head_seq)
    rows: list[Row] = []
    seq, previous = head_seq, head_hash
    for payload in payloads:
        seq += 1
        payload["seq"] = seq
        text = payload_text(payload)
        entry_hash = link_hash(previous, payload_digest(text))
        rows.append((seq, previous, entry_hash, text))
        previous = entry_hash
    return rows


def diff_values(old: Mapping[str, JSONable], new: Mapping[str, JSONable]) -> list[list[JSONable]]:
    """Field-level changes, ``[[field, old, new], ...]`` sorted by field name.

    A field missing on one side counts as ``None`` there; unchanged fields are
    left out.

    :param old: Values before, by field name.
    :param new: Values after, by field name.
    :return: The changes.
    """
    changes: list[list[JSONable]] = []
    for name in sorted(set(old) | set(new)):
        before, after = old.get(name), new.get(name)
        if before != after:
            changes.append([name, before, after])
    return changes


# --------------------------------------------------------------------------- verification
def verify_rows(
    rows: Iterable[Row], *, start_hash: str = GENESIS, start_seq: int = 1
) -> ChainVerdict:
    """Verify stored entries in ``seq`` order: numbering, links and hashes.

    The good path is a tight loop (one SHA-256 of the payload, one of the
    link); at the first entry that is not good, the kind of break is named by
    :func:`services.chain.classify_break`.

    :param rows: ``(seq, previous_hash, entry_hash, payload_text)`` in storage order.
    :param start_hash: The hash the first row must link to: :data:`GENESIS`,
        or a trusted checkpoint's hash.
    :param start_seq: The ``seq`` the first row must carry.
    :return: The verdict.
    :raises ChainError: If ``start_hash`` is malformed.
    """
    if not _HASH_RE.fullmatch(start_hash):
        raise ChainError("A start hash must be 64 lowercase hexadecimal digits.", value=start_hash)
    sha = hashlib.sha256
    prefix = AUDIT_VERSION
    iterator = iter(rows)
    expected_seq, expected_prev = start_seq, start_hash
    last: tuple[int, str] | None = None
    for seq, previous, stored, text in iterator:
        if (
            seq == expected_seq
            and previous == expected_prev
            and sha(
                (prefix + previous + sha(text.encode("utf-8")).hexdigest()).encode("ascii")
            ).hexdigest()
            == stored
        ):
            last = (seq, previous)
            expected_seq, expected_prev = seq + 1, stored
            continue
        following = next(iterator, None)
        return _broken(
            (seq, previous, stored, _digest_or_none(text)),
            following and (following[0], following[1], following[2], None),
            expected_seq,
            expected_prev,
            last,
            expected_seq - start_seq,
        )
    checked = expected_seq - start_seq
    return ChainVerdict(True, checked, None, None, f"All {checked} entries are intact and linked.")


def _digest_or_none(text: object) -> str | None:
    """Digest of a payload text, or ``None`` if it is not text."""
    return payload_digest(text) if isinstance(text, str) else None


def _self_consistent(previous: str, stored: str, digest: str | None) -> bool:
    """Tell whether a link's stored hash matches its own link and payload digest."""
    if digest is None:
        return False
    try:
        return link_hash(previous, digest) == stored
    except ChainError:
        return False


def _broken(
    entry: tuple[int, str, str, str | None],
    following: tuple[int, str, str, str | None] | None,
    expected_seq: int,
    expected_prev: str,
    last: tuple[int, str] | None,
    checked: int,
) -> ChainVerdict:
    """Classify the first bad entry; ``entry`` and ``following`` are (seq, prev, hash, digest)."""
    seq, previous, stored, digest = entry
    return classify_break(
        ChainEntry(seq, previous, stored, {}),
        None if following is None else ChainEntry(following[0], following[1], following[2], {}),
        _self_consistent(previous, stored, digest),
        expected_seq,
        expected_prev,
        None if last is None else last[0],
        None if last is None else last[1],
        checked,
    )


@dataclass(frozen=True)
class ExportVerdict:
    """Result of :func:`verify_export`.

    :param chain: The verdict on the links and hashes of the exported range.
    :param problems: Further findings, in plain English: a malformed line, a
        payload that is not canonical or names another place, an end or anchor
        that does not match the header. Empty when all is well.
    :param selected: Number of full entries (with payload) in the export.
    :param proofs: Number of proof lines (entries left out by the filter).
    :param header: The export's header.
    :param entries: The payloads of the full entries, parsed, in order.
    """

    chain: ChainVerdict
    problems: tuple[str, ...]
    selected: int
    proofs: int
    header: Mapping[str, Any]
    entries: tuple[Mapping[str, Any], ...] = field(default=(), repr=False)

    @property
    def ok(self) -> bool:
        """``True`` when the chain holds and nothing else is wrong."""
        return self.chain.ok and not self.problems


def _parse_line(number: int, line: str) -> dict[str, Any]:
    """Parse one JSON Lines line into a mapping, or raise ChainError naming the line."""
    try:
        value = json.loads(line)
    except ValueError as exc:
        raise ChainError(f"Line {number} is not valid JSON.", value=line[:80]) from exc
    if not isinstance(value, dict):
        raise ChainError(f"Line {number} is not a JSON object.", value=line[:80])
    return value


def verify_export(lines: Iterable[str]) -> ExportVerdict:
    """Verify an export offline, with no database: see the module docstring for the format.

    Checks, in one pass:

    * every line from ``start_seq`` to ``end_seq`` is there, links to the one
      before and matches its hash (the chain verdict);
    * every full entry's payload is canonical JSON whose ``"seq"`` is the
      line's own;
    * the last line's hash is the header's ``end_hash``, and every anchor
      (checkpoint) inside the range matches the entry at its ``seq``.

    :param lines: The export's lines, header first.
    :return: The verdict.
    :raises ChainError: If the header is missing, malformed or of another format.
    """
    iterator = iter(lines)
    first = next(iterator, None)
    if first is None:
        raise ChainError("The export is empty: it has no header line.")
    header = _parse_line(1, first)
    if header.get("format") != EXPORT_FORMAT or header.get("version") != AUDIT_VERSION:
        raise ChainError(
            "This file is not a meddev_esign audit export of a supported version.",
            value=header.get("format"),
        )
    try:
        start_seq = int(header["start_seq"])
        start_hash = str(header["start_hash"])
        end_seq = int(header["end_seq"])
        end_hash = str(header["end_hash"])
        anchors = {int(a["seq"]): str(a["hash"]) for a in header.get("anchors", [])}
    except (KeyError, TypeError, ValueError) as exc:
        raise ChainError("The export header lacks its range or anchors.") from exc

    problems: list[str] = []
    entries: list[Mapping[str, Any]] = []
    counts = {"selected": 0, "proofs": 0}
    seen: dict[int, str] = {}

    def links() -> Iterator[tuple[int, str, str, str | None]]:
        for number, line in enumerate(iterator, start=2):
            if not line.strip():
                continue
            try:
                item = _parse_line(number, line)
                seq = int(item["seq"])
                previous, stored = str(item["previous_hash"]), str(item["entry_hash"])
            except (ChainError, KeyError, TypeError, ValueError):
                problems.append(f"Line {number} is not an audit entry or proof line.")
                return
            if "payload" in item:
                text = item["payload"]
                digest = _check_payload(seq, text, problems, entries)
                counts["selected"] += 1
            else:
                digest = str(item.get("payload_sha256", ""))
                counts["proofs"] += 1
            seen[seq] = stored
            yield seq, previous, stored, digest

    verdict = _verify_links(links(), start_hash, start_seq)
    if verdict.ok:
        last_seq = start_seq + verdict.checked - 1
        if last_seq != end_seq or seen.get(end_seq) != end_hash:
            problems.append(
                f"The export ends at entry {last_seq}, but its header says it ends at entry "
                f"{end_seq} with hash {end_hash}: entries were cut off or the header was edited."
            )
        for seq, anchor in sorted(anchors.items()):
            if seq == start_seq - 1:
                if anchor != start_hash:
                    problems.append(f"The starting checkpoint {seq} does not match the start.")
            elif start_seq <= seq <= end_seq and seen.get(seq) != anchor:
                problems.append(f"Checkpoint {seq} does not match entry {seq} of the export.")
    return ExportVerdict(
        verdict,
        tuple(problems),
        counts["selected"],
        counts["proofs"],
        header,
        tuple(entries),
    )


def _check_payload(
    seq: int, text: object, problems: list[str], entries: list[Mapping[str, Any]]
) -> str | None:
    """Check a full entry's payload; return its digest (``None`` if it is not text)."""
    if not isinstance(text, str):
        problems.append(f"Entry {seq}: the payload is not text.")
        return None
    try:
        value = json.loads(text)
        if not isinstance(value, dict) or canonical_json(value) != text:
            problems.append(f"Entry {seq}: the payload is not in canonical form.")
        elif value.get("seq") != seq:
            problems.append(f"Entry {seq}: the payload names another place ({value.get('seq')}).")
        else:
            entries.append(value)
    except (ValueError, SnapshotError):
        problems.append(f"Entry {seq}: the payload is not valid canonical JSON.")
    return payload_digest(text)


def _verify_links(
    links: Iterable[tuple[int, str, str, str | None]], start_hash: str, start_seq: int
) -> ChainVerdict:
    """Like :func:`verify_rows`, over (seq, previous_hash, entry_hash, payload digest)."""
    if not _HASH_RE.fullmatch(start_hash):
        raise ChainError("A start hash must be 64 lowercase hexadecimal digits.", value=start_hash)
    iterator = iter(links)
    expected_seq, expected_prev = start_seq, start_hash
    last: tuple[int, str] | None = None
    for seq, previous, stored, digest in iterator:
        if (
            seq == expected_seq
            and previous == expected_prev
            and _self_consistent(previous, stored, digest)
        ):
            last = (seq, previous)
            expected_seq, expected_prev = seq + 1, stored
            continue
        return _broken(
            (seq, previous, stored, digest),
            next(iterator, None),
            expected_seq,
            expected_prev,
            last,
            expected_seq - start_seq,
        )
    checked = expected_seq - start_seq
    return ChainVerdict(True, checked, None, None, f"All {checked} entries are intact and linked.")
