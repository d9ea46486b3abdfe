"""Canonical, versioned content hash of a record (REQUIREMENTS R9, R11).

A signature covers the SHA-256 of :func:`canonical_bytes`, which are::

    <version> "\\n" <canonical JSON of the document>

where the document is::

    {"attachments": [{"checksum": ..., "mimetype": ..., "name": ...}, ...],
     "fields": {...signed field values...},
     "model": "<odoo model>",
     "res_id": <record id>}

* The version prefix (``esign-snapshot/2``) is part of the hashed bytes, the
  way Odoo's account hash chain prefixes ``$4$``: a later change of the
  canonical form gets a new version, and old signatures stay verifiable with
  the rules of the version they name.
* ``model`` and ``res_id`` are hashed, so a signature cannot be moved to
  another record with the same field values (R11).
* Attachments are sorted by ``(checksum, name)`` so the order in which the ORM
  returns them does not matter; their checksums are kept exactly as Odoo
  stores them.
* Field values follow :mod:`services.canonical`: no floats, no dates.
  Use :func:`money` for amounts, :func:`utc_iso` for datetimes and
  :func:`iso_date` for dates.

The hash is written as ``<version>:sha256:<64 lowercase hex digits>``, e.g.
``esign-snapshot/2:sha256:9f86d0...``, so a stored hash says how it was made.

The versions differ in how the Odoo layer renders a reference to another
record; the byte layout above is the same:

* ``esign-snapshot/1``: a reference is ``[id, display name]``. Renaming the
  referenced record (a product, say) changed the hash of every record that
  points to it, so one rename made all their signatures read "changed after
  signing", although nothing they signed had changed.
* ``esign-snapshot/2`` (new signatures): a reference is the record's id, a
  list of references the sorted ids. What the signed record points to is
  signed; the name of what it points to belongs to that record, whose own
  changes its own trail records.

Rows that a model adds (order lines, consumed component lots) are put in a
fixed order with :func:`sorted_rows`.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from types import MappingProxyType

from .canonical import JSONable, canonical_json_bytes
from .errors import SnapshotError

__all__ = [
    "SNAPSHOT_VERSION",
    "SUPPORTED_SNAPSHOT_VERSIONS",
    "AttachmentRef",
    "RecordSnapshot",
    "canonical_bytes",
    "content_hash",
    "SNAPSHOT_V1",
    "SignedLines",
    "iso_date",
    "line_rows",
    "money",
    "snapshot_version",
    "sorted_rows",
    "split_content_hash",
    "utc_iso",
    "verify_content_hash",
]

SNAPSHOT_V1 = "esign-snapshot/1"
"""References as ``[id, display name]``; signatures made before version 2."""

SNAPSHOT_VERSION = "esign-snapshot/2"
"""Version written into new snapshots: references as ids."""

# Only versions whose canonical form this code implements; hashing under any
# other name would produce a hash that claims rules it did not follow.
SUPPORTED_SNAPSHOT_VERSIONS = frozenset({SNAPSHOT_V1, SNAPSHOT_VERSION})

_MODEL_RE = re.compile(r"[a-z][a-z0-9_]*(?:\.[a-z0-9_]+)*")
_CHECKSUM_RE = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
_HASH_RE = re.compile(r"(?P<version>[a-z][a-z0-9-]*/[1-9][0-9]*):sha256:(?P<hex>[0-9a-f]{64})")


@dataclass(frozen=True)
class AttachmentRef:
    """An attached file, identified by the checksum Odoo stores for it.

    :param name: The attachment's file name.
    :param mimetype: The attachment's MIME type.
    :param checksum: Lowercase hex SHA-1 (40 digits, what ``ir.attachment``
        stores) or SHA-256 (64 digits), kept exactly as given.
    :raises SnapshotError: If a value is not text or the checksum is not
        lowercase hex of one of those lengths.
    """

    name: str
    mimetype: str
    checksum: str

    def __post_init__(self) -> None:
        """Check the attachment reference.

        :raises SnapshotError: If a value is malformed.
        """
        if not isinstance(self.name, str) or not isinstance(self.mimetype, str):
            raise SnapshotError("An attachment's name and MIME type must be text.")
        if not isinstance(self.checksum, str) or not _CHECKSUM_RE.fullmatch(self.checksum):
            raise SnapshotError(
                "An attachment checksum must be 40 or 64 lowercase hexadecimal digits.",
                path=f"attachments[{self.name!r}].checksum",
            )


@dataclass(frozen=True)
class RecordSnapshot:
    """The signed content of one record.

    The ``fields`` mapping is copied (top level) and checked against the
    canonical JSON rules when the snapshot is built, so errors surface early.
    Do not mutate nested lists or dicts you passed in afterwards.

    :param model: Odoo model name, e.g. ``"quality.dhr"``.
    :param res_id: Database id of the record (a positive integer).
    :param fields: Signed field values by field name.
    :param attachments: The record's attached files.
    :param version: Canonical-form version; one of
        :data:`SUPPORTED_SNAPSHOT_VERSIONS`.
    :raises SnapshotError: If any part is malformed or a field value is not
        allowed in canonical JSON.
    """

    model: str
    res_id: int
    fields: Mapping[str, JSONable]
    attachments: tuple[AttachmentRef, ...] = ()
    version: str = SNAPSHOT_VERSION

    def __post_init__(self) -> None:
        """Check and freeze the snapshot's parts.

        :raises SnapshotError: If any part is malformed.
        """
        if self.version not in SUPPORTED_SNAPSHOT_VERSIONS:
            raise SnapshotError(f"The snapshot version {self.version!r} is not supported.")
        if not isinstance(self.model, str) or not _MODEL_RE.fullmatch(self.model):
            raise SnapshotError(f"The model name {self.model!r} is not a valid Odoo model name.")
        # bool is an int subclass; True must not stand for record 1.
        if isinstance(self.res_id, bool) or not isinstance(self.res_id, int) or self.res_id <= 0:
            raise SnapshotError(f"The record id {self.res_id!r} must be a positive integer.")
        if not isinstance(self.fields, Mapping):
            raise SnapshotError("The signed fields must be a mapping of field names to values.")
        attachments = tuple(self.attachments)
        if not all(isinstance(item, AttachmentRef) for item in attachments):
            raise SnapshotError("Every attachment must be an AttachmentRef.")
        object.__setattr__(self, "fields", MappingProxyType(dict(self.fields)))
        object.__setattr__(self, "attachments", attachments)
        canonical_json_bytes(self.fields, path="fields")


def canonical_bytes(snapshot: RecordSnapshot) -> bytes:
    """Return the exact bytes a signature of ``snapshot`` covers.

    :param snapshot: The record snapshot.
    :return: ``version + "\\n" + canonical JSON``, UTF-8 encoded.
    :raises SnapshotError: If a nested field value was mutated into something
        not allowed after the snapshot was built.
    """
    attachments = sorted(snapshot.attachments, key=lambda ref: (ref.checksum, ref.name))
    document = {
        "model": snapshot.model,
        "res_id": snapshot.res_id,
        "fields": snapshot.fields,
        "attachments": [
            {"checksum": ref.checksum, "mimetype": ref.mimetype, "name": ref.name}
            for ref in attachments
        ],
    }
    # The newline cannot occur in a version name, so prefix and JSON never blur.
    prefix = f"{snapshot.version}\n".encode("ascii")
    return prefix + canonical_json_bytes(document, path="snapshot")


def content_hash(snapshot: RecordSnapshot) -> str:
    """Hash a snapshot.

    :param snapshot: The record snapshot.
    :return: ``"<version>:sha256:<hex>"``, e.g. ``"esign-snapshot/2:sha256:…"``.
    :raises SnapshotError: See :func:`canonical_bytes`.
    """
    digest = hashlib.sha256(canonical_bytes(snapshot)).hexdigest()
    return f"{snapshot.version}:sha256:{digest}"


def split_content_hash(value: str) -> tuple[str, str]:
    """Split a stored content hash into its version and hex digest.

    The Odoo layer uses the version to rebuild the snapshot under the rules
    the signature was made with.

    :param value: A hash as returned by :func:`content_hash`.
    :return: ``(version, hex_digest)``.
    :raises SnapshotError: If ``value`` is not in that format.
    """
    match = _HASH_RE.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise SnapshotError(f"The content hash {value!r} is not in the form version:sha256:hex.")
    return match["version"], match["hex"]


def snapshot_version(value: str) -> str | None:
    """The version a stored content hash was made under, if this code can rebuild it.

    :param value: A stored hash, e.g. ``"esign-snapshot/1:sha256:…"``.
    :return: One of :data:`SUPPORTED_SNAPSHOT_VERSIONS`, or ``None`` when ``value`` is
        malformed or names a version this code does not implement (such a hash cannot
        vouch for any content rebuilt here).
    """
    try:
        version, _digest = split_content_hash(value)
    except SnapshotError:
        return None
    return version if version in SUPPORTED_SNAPSHOT_VERSIONS else None


def sorted_rows(rows: Iterable[JSONable]) -> list[JSONable]:
    """Put rows (lists or objects) in one fixed order: that of their canonical JSON text.

    Rows may mix ``None``, numbers and text in one position, which ``sorted`` alone
    cannot compare (an order line without a product next to one with a product).

    :param rows: The rows; each must be allowed in canonical JSON.
    :return: A new list, sorted.
    :raises CanonicalValueError: If a row holds anything not allowed.
    """
    keyed = [(canonical_json_bytes(row, path="rows[]"), row) for row in rows]
    keyed.sort(key=lambda pair: pair[0])
    return [row for _key, row in keyed]


@dataclass(frozen=True)
class SignedLines:
    """Child rows that a record's signatures cover, declared once on the signed model.

    A purchase order's signature covers its lines, a manufacturing order's review the
    component lots it consumed. The Odoo layer reads the rows along ``path`` and passes their
    values to :func:`line_rows`; it also guards every write path of the line models on the
    way (see ``models/esign_signed_lines.py``).

    :param path: Dotted one2many path from the signed record to the rows, e.g.
        ``"order_line"`` or ``"move_raw_ids.move_line_ids"``.
    :param fields: The row fields signed (references by id, as everywhere in version 2).
    :param keep_ids: Whether a row is signed with its id, in id order (an order line is an
        agreement with the supplier line by line). Without ids, rows are signed by content
        only, in :func:`sorted_rows` order: Odoo replaces an MO's move lines when it reserves
        again, the consumed lots staying the same.
    :param v1_cells: Version 1's row, frozen: dotted paths read on each row, every cell as
        text (see :func:`line_rows`). Empty for a declaration made after version 1.
    """

    path: str
    fields: tuple[str, ...]
    keep_ids: bool = True
    v1_cells: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.path or not self.fields:
            raise SnapshotError("signed lines need a path and at least one field")


def line_rows(
    spec: SignedLines,
    version: str,
    rows: Iterable[tuple[int, Mapping[str, JSONable]]] = (),
    v1_rows: Iterable[Iterable[object]] = (),
) -> list[JSONable]:
    """The signed value of a record's child rows under ``version``.

    Version 2 and later: ``rows`` are ``(row id, {field: canonical value})``. With
    ``spec.keep_ids`` each row is ``{"id": id, **values}`` in id order, else the values alone
    in :func:`sorted_rows` order.

    Version 1 (frozen; signatures made before version 2 are checked by it): ``v1_rows`` hold
    the raw cells that ``spec.v1_cells`` name, per row. A text cell stays as it is, an empty
    one (``False``/``None``) becomes ``""``, anything else its ``str()``; rows are sorted.

    :raises SnapshotError: for version 1 when the declaration has no version 1 row.
    """
    if version == SNAPSHOT_V1:
        if not spec.v1_cells:
            raise SnapshotError(f"{spec.path} has no {SNAPSHOT_V1} rows")
        return sorted([_v1_cell(cell) for cell in row] for row in v1_rows)  # type: ignore[return-value]
    if spec.keep_ids:
        return [{"id": row_id, **values} for row_id, values in sorted(rows, key=lambda r: r[0])]
    return sorted_rows(dict(values) for _row_id, values in rows)


def _v1_cell(cell: object) -> str:
    if isinstance(cell, str):
        return cell
    if cell is False or cell is None:
        return ""
    return str(cell)


def verify_content_hash(snapshot: RecordSnapshot, expected: str) -> bool:
    """Check that ``snapshot`` still hashes to a stored value.

    A malformed ``expected`` or one made under another version yields
    ``False``: the stored hash does not vouch for this content.

    :param snapshot: The record snapshot, rebuilt from current data.
    :param expected: The hash stored with the signature.
    :return: ``True`` only if the hashes are identical.
    """
    try:
        version, _digest = split_content_hash(expected)
    except SnapshotError:
        return False
    if version != snapshot.version:
        return False
    return hmac.compare_digest(content_hash(snapshot), expected)


def money(value: Decimal | float, digits: int) -> str:
    """Render an amount at a currency's precision, rounding half up.

    Floats are read through their shortest ``repr`` (``2.675`` is taken as
    the typed ``2.675``, not the binary ``2.67499…``), which is what Odoo's
    ``float_round`` also aims for, so ``money(2.675, 2) == "2.68"``. A result
    of negative zero is written ``"0.00"``, so ``-0.001`` and ``0.001`` sign
    alike.

    :param value: The amount: a Decimal, float or int.
    :param digits: Decimal places of the currency (``0`` or more).
    :return: Fixed-point text with exactly ``digits`` decimals, e.g. ``"12.30"``.
    :raises SnapshotError: If ``value`` is not a finite number or ``digits``
        is not a non-negative integer.
    """
    if isinstance(digits, bool) or not isinstance(digits, int) or digits < 0:
        raise SnapshotError(f"The number of decimal places {digits!r} must be 0 or more.")
    if isinstance(value, bool) or not isinstance(value, Decimal | float | int):
        raise SnapshotError(f"The amount {value!r} must be a number.")
    amount = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    if not amount.is_finite():
        raise SnapshotError(f"The amount {value!r} must be a finite number.")
    try:
        rounded = amount.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)
    except InvalidOperation as exc:
        raise SnapshotError(f"The amount {value!r} is too large to round.") from exc
    if rounded.is_zero():
        rounded = abs(rounded)
    return format(rounded, "f")


def utc_iso(moment: datetime) -> str:
    """Render a datetime as UTC ISO 8601 text, to the second.

    Naive datetimes are taken as UTC because that is how Odoo stores
    ``fields.Datetime``; aware ones are converted. Microseconds are dropped
    because Odoo does not keep them, so a value read back from the database
    signs the same as the value written.

    :param moment: The datetime.
    :return: ``YYYY-MM-DDTHH:MM:SSZ``.
    :raises SnapshotError: If ``moment`` is not a datetime.
    """
    if not isinstance(moment, datetime):
        raise SnapshotError(f"The value {moment!r} must be a datetime.")
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"
        f"T{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}Z"
    )


def iso_date(day: date) -> str:
    """Render a date as ISO 8601 text.

    :param day: The date. A datetime is refused: which calendar day it falls
        on depends on a time zone the caller must choose.
    :return: ``YYYY-MM-DD``.
    :raises SnapshotError: If ``day`` is not a date or is a datetime.
    """
    if isinstance(day, datetime) or not isinstance(day, date):
        raise SnapshotError(f"The value {day!r} must be a date without a time.")
    return f"{day.year:04d}-{day.month:02d}-{day.day:02d}"
