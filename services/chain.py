"""A generic hash chain, for per-record signature chains and the audit ledger.

Each entry stores ``entry_hash = chain_hash(previous_hash, payload)``, where
``previous_hash`` is the ``entry_hash`` of the entry before it (or
:data:`GENESIS` for the first one)::

    entry_hash = sha256(version + previous_hash + canonical_json(payload))

``version`` never contains ``{``, ``previous_hash`` is always 64 hex digits
and the canonical JSON of a mapping starts with ``{``, so the concatenation
cannot be split two ways.

``seq`` is not hashed: it is the storage order. Callers that want the number
itself bound put it in the payload too.

A chain only proves that nothing changed *relative to its last entry*.
Removing entries from the end, or rewriting the whole tail, is only caught by
comparing the head hash with a copy kept elsewhere (e.g. in a signed PDF or a
timestamp token).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal, TypeAlias

from .canonical import JSONable, canonical_json
from .errors import ChainError, SnapshotError

__all__ = [
    "CHAIN_VERSION",
    "GENESIS",
    "SUPPORTED_CHAIN_VERSIONS",
    "BreakKind",
    "ChainEntry",
    "ChainVerdict",
    "append_entry",
    "chain_hash",
    "classify_break",
    "verify_chain",
]

GENESIS = "0" * 64
"""The ``previous_hash`` of the first entry of every chain."""

CHAIN_VERSION = "esign-chain/1"
"""Version prefix hashed into every entry made by this code."""

SUPPORTED_CHAIN_VERSIONS = frozenset({CHAIN_VERSION})

BreakKind: TypeAlias = Literal["altered", "missing", "inserted", "reordered"]

_HASH_RE = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class ChainEntry:
    """One stored link of a chain.

    :param seq: Position in the chain, counting up by one from the first
        entry's number.
    :param previous_hash: ``entry_hash`` of the entry before, or
        :data:`GENESIS`.
    :param entry_hash: ``chain_hash(previous_hash, payload)`` as stored.
    :param payload: The data the entry vouches for.
    """

    seq: int
    previous_hash: str
    entry_hash: str
    payload: Mapping[str, JSONable]


@dataclass(frozen=True)
class ChainVerdict:
    """Result of :func:`verify_chain`.

    :param ok: ``True`` if every entry is intact and linked.
    :param checked: Number of entries found good before the first break
        (all of them when ``ok``).
    :param first_break_seq: Where the chain first breaks: for ``"missing"``
        and ``"reordered"`` the sequence number that should have come next;
        otherwise the ``seq`` of the entry at fault. ``None`` when ``ok``.
    :param kind: The kind of the first break, ``None`` when ``ok``.
    :param message: A plain English sentence for the audit report.
    """

    ok: bool
    checked: int
    first_break_seq: int | None
    kind: BreakKind | None
    message: str


def _check_version(version: str) -> None:
    """Refuse a chain version this code does not implement.

    :param version: The version name.
    :raises ChainError: If the version is unknown.
    """
    if version not in SUPPORTED_CHAIN_VERSIONS:
        raise ChainError(f"The chain version {version!r} is not supported.", value=version)


def chain_hash(
    previous_hash: str, payload: Mapping[str, JSONable], version: str = CHAIN_VERSION
) -> str:
    """Compute the hash of a chain entry.

    :param previous_hash: Hash of the previous entry, or :data:`GENESIS`.
    :param payload: The entry's data; canonical JSON rules apply.
    :param version: Chain version, one of :data:`SUPPORTED_CHAIN_VERSIONS`.
    :return: 64 lowercase hex digits of
        ``sha256(version + previous_hash + canonical_json(payload))``.
    :raises ChainError: If the version is unknown, ``previous_hash`` is not 64
        lowercase hex digits or ``payload`` is not a mapping.
    :raises CanonicalValueError: If the payload holds a value not allowed in
        canonical JSON.
    """
    _check_version(version)
    if not isinstance(previous_hash, str) or not _HASH_RE.fullmatch(previous_hash):
        raise ChainError(
            "A previous hash must be 64 lowercase hexadecimal digits.", value=previous_hash
        )
    if not isinstance(payload, Mapping):
        raise ChainError("A chain payload must be a mapping.", value=payload)
    text = version + previous_hash + canonical_json(payload, path="payload")
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def append_entry(previous: ChainEntry | None, payload: Mapping[str, JSONable]) -> ChainEntry:
    """Build the entry that follows ``previous``.

    :param previous: The current last entry, or ``None`` to start a chain
        (its first entry gets ``seq`` 1).
    :param payload: The new entry's data.
    :return: The new entry.
    :raises ChainError: See :func:`chain_hash`.
    :raises CanonicalValueError: See :func:`chain_hash`.
    """
    if previous is None:
        return ChainEntry(1, GENESIS, chain_hash(GENESIS, payload), payload)
    link = previous.entry_hash
    return ChainEntry(previous.seq + 1, link, chain_hash(link, payload), payload)


def _is_self_consistent(entry: ChainEntry, version: str) -> bool:
    """Tell whether an entry's stored hash matches its own content.

    :param entry: The entry.
    :param version: Chain version.
    :return: ``False`` also when the stored link or payload is malformed,
        since such an entry cannot have been written by :func:`chain_hash`.
    """
    try:
        return chain_hash(entry.previous_hash, entry.payload, version) == entry.entry_hash
    except (ChainError, SnapshotError):
        return False


def verify_chain(
    entries: Iterable[ChainEntry],
    *,
    start_hash: str = GENESIS,
    start_seq: int = 1,
    version: str = CHAIN_VERSION,
) -> ChainVerdict:
    """Verify a chain in storage order and classify its first break.

    Entries are read once, holding only the last good entry's ``seq``, hash
    and link plus one entry of look-ahead, so memory use does not grow with
    the chain. An entry is good when its ``seq`` is the next number, its
    ``previous_hash`` is the last good entry's hash, and its ``entry_hash``
    matches its content. At the first entry ``a`` that is not good (``b`` is
    the entry after it, if any), the first rule that applies decides:

    1. **inserted** - two entries claim the same place: ``a`` has the same
       ``seq`` or the same ``previous_hash`` as the last good entry (reported
       at that entry's ``seq``), or ``b`` has the same ``seq`` or the same
       ``previous_hash`` as ``a`` (reported at ``a.seq``). This covers an
       extra entry that links correctly, whether its own hash is valid or
       forged, with or without the later entries renumbered.
    2. **reordered** - ``a.seq`` is below the expected number, or the
       expected entry is right behind ``a``: ``b.seq`` is the expected number,
       or ``b`` links to the last good entry and ``a`` links to ``b``
       (neighbours swapped). Reported at the expected number. An entry moved
       further than one place away is reported as ``missing`` instead, since
       a streaming check cannot look further ahead.
    3. **altered** - ``a.entry_hash`` does not match ``a``'s payload and link
       (content or stored hash edited), or ``a`` links correctly but carries
       the wrong ``seq`` (number edited). Reported at ``a.seq``.
    4. **missing** - otherwise ``a`` is self-consistent but links to a hash
       that is not in the chain: entries were deleted (with or without
       renumbering), or the entry before was rewritten and re-hashed so its
       original is gone. Reported at the expected number.

    :param entries: The chain's entries in ``seq`` order, as stored.
    :param start_hash: Hash the first entry must link to: :data:`GENESIS`,
        or a trusted checkpoint when checking only the end of a long chain.
    :param start_seq: ``seq`` the first entry must carry.
    :param version: Chain version the entries were written with.
    :return: The verdict.
    :raises ChainError: If ``version`` or ``start_hash`` is malformed.
    """
    _check_version(version)
    if not _HASH_RE.fullmatch(start_hash):
        raise ChainError("A start hash must be 64 lowercase hexadecimal digits.", value=start_hash)

    iterator = iter(entries)
    expected_seq, expected_prev = start_seq, start_hash
    # The last good entry's seq and link; None until one entry is good.
    last_seq: int | None = None
    last_prev: str | None = None
    checked = 0

    entry = next(iterator, None)
    while entry is not None:
        following = next(iterator, None)
        valid = _is_self_consistent(entry, version)
        if valid and entry.seq == expected_seq and entry.previous_hash == expected_prev:
            last_seq, last_prev = entry.seq, entry.previous_hash
            expected_seq, expected_prev = entry.seq + 1, entry.entry_hash
            checked += 1
            entry = following
            continue
        return classify_break(
            entry, following, valid, expected_seq, expected_prev, last_seq, last_prev, checked
        )

    return ChainVerdict(True, checked, None, None, f"All {checked} entries are intact and linked.")


def classify_break(
    entry: ChainEntry,
    following: ChainEntry | None,
    valid: bool,
    expected_seq: int,
    expected_prev: str,
    last_seq: int | None,
    last_prev: str | None,
    checked: int,
) -> ChainVerdict:
    """Name the first break; the rules are listed in :func:`verify_chain`.

    Only ``seq``, ``previous_hash`` and ``entry_hash`` of the two entries are
    read, so chains that hash their payload differently (the audit ledger,
    :mod:`services.audit`) share this classification.

    :param entry: The first entry that is not good.
    :param following: The entry after it, if any.
    :param valid: Whether ``entry``'s hash matches its own content.
    :param expected_seq: The ``seq`` that should have come.
    :param expected_prev: The hash the entry should have linked to.
    :param last_seq: ``seq`` of the last good entry, if any.
    :param last_prev: ``previous_hash`` of the last good entry, if any.
    :param checked: Number of good entries so far.
    :return: A failing verdict.
    """

    def broken(kind: BreakKind, seq: int, message: str) -> ChainVerdict:
        return ChainVerdict(False, checked, seq, kind, message)

    if last_seq is not None and (entry.seq == last_seq or entry.previous_hash == last_prev):
        return broken(
            "inserted",
            last_seq,
            f"Two entries claim the place of entry {last_seq}: an entry was inserted.",
        )
    if following is not None and (
        following.seq == entry.seq or following.previous_hash == entry.previous_hash
    ):
        return broken(
            "inserted",
            entry.seq,
            f"Two entries claim the place of entry {entry.seq}: an entry was inserted.",
        )
    swapped = following is not None and (
        following.seq == expected_seq
        or (
            following.previous_hash == expected_prev
            and entry.previous_hash == following.entry_hash
        )
    )
    if entry.seq < expected_seq or swapped:
        return broken(
            "reordered",
            expected_seq,
            f"The entries around entry {expected_seq} are out of order.",
        )
    if not valid or entry.previous_hash == expected_prev:
        return broken(
            "altered",
            entry.seq,
            f"Entry {entry.seq} does not match its recorded hash or position: "
            "it was altered after it was written.",
        )
    return broken(
        "missing",
        expected_seq,
        f"Entry {entry.seq} links to an entry that is not in the chain: "
        f"entries are missing from entry {expected_seq} on.",
    )
