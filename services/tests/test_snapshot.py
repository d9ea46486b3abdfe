"""Tests for services.snapshot: canonical, versioned record content hashes.

Verifies: R11
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import ROUND_HALF_EVEN, Decimal

import pytest

from services.errors import CanonicalValueError, SnapshotError
from services.snapshot import (
    SNAPSHOT_V1,
    SNAPSHOT_VERSION,
    AttachmentRef,
    RecordSnapshot,
    canonical_bytes,
    content_hash,
    iso_date,
    money,
    snapshot_version,
    sorted_rows,
    split_content_hash,
    utc_iso,
    verify_content_hash,
)

SHA1_A = hashlib.sha1(b"device history record").hexdigest()
SHA1_B = hashlib.sha1(b"inspection report").hexdigest()
SHA256_C = hashlib.sha256(b"risk file").hexdigest()
# Hashes of the snapshot in test_non_ascii_text_is_stable, computed once and frozen.
PINNED_CHINESE_HASH = (
    "esign-snapshot/2:sha256:e3f0833cfee587eb40334a1f61521d0ec164081b00ef806f548a7ae46e8b2050"
)
# The same content under version 1: signatures made before version 2 must keep verifying.
PINNED_CHINESE_HASH_V1 = (
    "esign-snapshot/1:sha256:91ecee4780aedc49d517ec6b56d6f7c36ea08574300c76c161252f64a63d88b4"
)


def _fields() -> dict[str, object]:
    return {
        "name": "DHR-0001",
        "qty": 5,
        "amount": money(Decimal("12.3"), 2),
        "released": True,
        "note": None,
        "lines": [{"lot": "L1", "qty": 2}, {"lot": "L2", "qty": 3}],
        "signed_on": utc_iso(datetime(2025, 1, 2, 3, 4, 5)),
    }


def _attachments() -> tuple[AttachmentRef, ...]:
    return (
        AttachmentRef("dhr.pdf", "application/pdf", SHA1_A),
        AttachmentRef("inspection.pdf", "application/pdf", SHA1_B),
        AttachmentRef("risk.xlsx", "application/vnd.ms-excel", SHA256_C),
    )


def _snapshot(**changes: object) -> RecordSnapshot:
    values: dict[str, object] = {
        "model": "quality.dhr",
        "res_id": 7,
        "fields": _fields(),
        "attachments": _attachments(),
    }
    values.update(changes)
    return RecordSnapshot(**values)  # type: ignore[arg-type]


BASE_HASH = content_hash(_snapshot())


# --- determinism ------------------------------------------------------------------


def test_same_data_in_other_order_hashes_the_same() -> None:
    reordered_fields = dict(reversed(list(_fields().items())))
    reordered = _snapshot(fields=reordered_fields, attachments=tuple(reversed(_attachments())))
    assert canonical_bytes(reordered) == canonical_bytes(_snapshot())
    assert content_hash(reordered) == BASE_HASH
    assert verify_content_hash(reordered, BASE_HASH)


def test_order_inside_a_list_field_is_signed() -> None:
    # Twin of the test above: only mapping keys and attachments are reordered.
    fields = _fields()
    fields["lines"] = list(reversed(fields["lines"]))  # type: ignore[call-overload]
    assert content_hash(_snapshot(fields=fields)) != BASE_HASH


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("name", "DHR-0002"),
        ("qty", 6),
        ("qty", "5"),
        ("amount", money(Decimal("12.31"), 2)),
        ("released", False),
        ("note", ""),
        ("lines", [{"lot": "L1", "qty": 2}, {"lot": "L2", "qty": 4}]),
        ("signed_on", utc_iso(datetime(2025, 1, 2, 3, 4, 6))),
    ],
)
def test_any_single_field_change_changes_the_hash(name: str, value: object) -> None:
    fields = _fields()
    fields[name] = value
    changed = _snapshot(fields=fields)
    assert content_hash(changed) != BASE_HASH
    assert not verify_content_hash(changed, BASE_HASH)


def test_added_or_removed_field_changes_the_hash() -> None:
    added = _fields() | {"extra": None}
    removed = {key: value for key, value in _fields().items() if key != "note"}
    assert content_hash(_snapshot(fields=added)) != BASE_HASH
    assert content_hash(_snapshot(fields=removed)) != BASE_HASH


@pytest.mark.parametrize(
    "changes",
    [{"res_id": 8}, {"model": "quality.check"}],
)
def test_same_fields_on_another_record_hash_differently(changes: dict[str, object]) -> None:
    moved = _snapshot(**changes)
    assert moved.fields == _snapshot().fields
    assert content_hash(moved) != BASE_HASH
    assert not verify_content_hash(moved, BASE_HASH)


def test_unchanged_record_verifies() -> None:
    assert verify_content_hash(_snapshot(), BASE_HASH)


@pytest.mark.parametrize(
    "attachments",
    [
        (
            AttachmentRef("dhr.pdf", "application/pdf", hashlib.sha1(b"edited").hexdigest()),
            *_attachments()[1:],
        ),
        (AttachmentRef("renamed.pdf", "application/pdf", SHA1_A), *_attachments()[1:]),
        (AttachmentRef("dhr.pdf", "text/plain", SHA1_A), *_attachments()[1:]),
        _attachments()[1:],
        (*_attachments(), AttachmentRef("new.pdf", "application/pdf", SHA1_A)),
    ],
    ids=["checksum", "name", "mimetype", "removed", "added"],
)
def test_attachment_change_changes_the_hash(attachments: tuple[AttachmentRef, ...]) -> None:
    assert content_hash(_snapshot(attachments=attachments)) != BASE_HASH


def test_snapshot_fields_are_copied() -> None:
    fields = _fields()
    snapshot = _snapshot(fields=fields)
    fields["name"] = "changed later"
    assert content_hash(snapshot) == BASE_HASH


# --- values -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [1.5, float("nan"), float("inf"), Decimal("NaN"), {1, 2}, date(2025, 1, 1), b"x"],
)
def test_unsafe_field_values_are_rejected(bad: object) -> None:
    with pytest.raises(SnapshotError) as caught:
        _snapshot(fields=_fields() | {"amount": bad})
    assert isinstance(caught.value, CanonicalValueError)
    assert caught.value.path == "fields.amount"


@pytest.mark.parametrize("good", [Decimal("12.30"), "12.30", 12, None])
def test_safe_amount_forms_are_accepted(good: object) -> None:
    snapshot = _snapshot(fields=_fields() | {"amount": good})
    assert content_hash(snapshot).startswith(SNAPSHOT_VERSION)


@pytest.mark.parametrize(
    ("version", "pinned"),
    [(SNAPSHOT_VERSION, PINNED_CHINESE_HASH), (SNAPSHOT_V1, PINNED_CHINESE_HASH_V1)],
)
def test_non_ascii_text_is_stable(version: str, pinned: str) -> None:
    snapshot = RecordSnapshot(
        model="quality.dhr",
        res_id=1,
        fields={"name": "医疗器械批号 A-1", "note": "灭菌后放行"},
        attachments=(),
        version=version,
    )
    raw = canonical_bytes(snapshot)
    assert raw == (
        version.encode()
        + b"\n"
        + '{"attachments":[],"fields":{"name":"医疗器械批号 A-1","note":"灭菌后放行"},'
        '"model":"quality.dhr","res_id":1}'.encode()
    )
    # A pinned vector: if this changes, old signatures stop verifying.
    assert content_hash(snapshot) == f"{version}:sha256:" + hashlib.sha256(raw).hexdigest()
    assert content_hash(snapshot) == pinned


def test_other_chinese_text_or_other_normal_form_hashes_differently() -> None:
    def hash_of(name: str) -> str:
        return content_hash(RecordSnapshot("quality.dhr", 1, {"name": name}))

    assert hash_of("医疗器械批号 A-1") != hash_of("医疗器械批号 A-2")
    # No Unicode normalisation: the exact stored text is signed.
    assert hash_of("caf\u00e9") != hash_of("cafe\u0301")


# --- version and hash format ------------------------------------------------------


def test_version_prefix_is_hashed_and_shown() -> None:
    assert canonical_bytes(_snapshot()).startswith(b"esign-snapshot/2\n")
    assert BASE_HASH.startswith("esign-snapshot/2:sha256:")
    assert split_content_hash(BASE_HASH) == (SNAPSHOT_VERSION, BASE_HASH.rsplit(":", 1)[1])


@pytest.mark.parametrize(
    "stored",
    [
        BASE_HASH.replace("esign-snapshot/2", "esign-snapshot/3"),
        BASE_HASH.replace("esign-snapshot/2", "esign-snapshot/1"),  # same digest, older rules
        content_hash(_snapshot(version=SNAPSHOT_V1)),  # the same content under version 1
        BASE_HASH.rsplit(":", 1)[1],  # bare hex without version
        BASE_HASH.upper(),
        BASE_HASH[:-1],
        "",
    ],
)
def test_malformed_or_foreign_stored_hash_does_not_verify(stored: str) -> None:
    assert not verify_content_hash(_snapshot(), stored)


@pytest.mark.parametrize("stored", ["", "sha256:abc", "esign-snapshot/1:md5:" + "0" * 64])
def test_split_rejects_malformed_hash(stored: str) -> None:
    with pytest.raises(SnapshotError):
        split_content_hash(stored)


def test_unsupported_version_is_refused() -> None:
    with pytest.raises(SnapshotError):
        _snapshot(version="esign-snapshot/3")


def test_a_version_1_hash_verifies_its_version_1_snapshot() -> None:
    old = _snapshot(version=SNAPSHOT_V1)
    stored = content_hash(old)
    assert stored.startswith("esign-snapshot/1:sha256:")
    assert verify_content_hash(old, stored)
    assert stored != BASE_HASH  # the version is hashed: same fields, another hash


@pytest.mark.parametrize(
    ("stored", "version"),
    [
        (BASE_HASH, SNAPSHOT_VERSION),
        (BASE_HASH.replace("esign-snapshot/2", "esign-snapshot/1"), SNAPSHOT_V1),
        (BASE_HASH.replace("esign-snapshot/2", "esign-snapshot/3"), None),  # unknown rules
        ("esign-snapshot/2:sha256:abc", None),
        ("", None),
        (None, None),
    ],
)
def test_snapshot_version_of_a_stored_hash(stored: str, version: str | None) -> None:
    assert snapshot_version(stored) == version


def test_sorted_rows_mixes_none_numbers_and_text() -> None:
    rows = [[12, "2.00"], [None, "1.00"], [3, "5.00"], {"id": 2}, [3, "4.00"]]
    assert sorted_rows(rows) == [[12, "2.00"], [3, "4.00"], [3, "5.00"], [None, "1.00"], {"id": 2}]
    # The order is that of the rows, not of how they arrived.
    assert sorted_rows(reversed(rows)) == sorted_rows(rows)
    assert sorted_rows([]) == []


def test_sorted_rows_refuses_a_float() -> None:
    with pytest.raises(CanonicalValueError):
        sorted_rows([[1, 2.5]])


# --- record identity and attachments ----------------------------------------------


@pytest.mark.parametrize(
    "changes",
    [
        {"res_id": 0},
        {"res_id": -3},
        {"res_id": True},
        {"res_id": "7"},
        {"model": "Quality DHR"},
        {"model": ""},
        {"fields": [("name", "x")]},
        {"attachments": ("dhr.pdf",)},
    ],
)
def test_malformed_identity_is_refused(changes: dict[str, object]) -> None:
    with pytest.raises(SnapshotError):
        _snapshot(**changes)


@pytest.mark.parametrize("checksum", [SHA1_A.upper(), SHA1_A[:-1], "", "g" * 40, SHA256_C + "0"])
def test_malformed_attachment_checksum_is_refused(checksum: str) -> None:
    with pytest.raises(SnapshotError):
        AttachmentRef("dhr.pdf", "application/pdf", checksum)


def test_sha1_and_sha256_checksums_are_kept_as_given() -> None:
    refs = (AttachmentRef("a", "x/y", SHA1_A), AttachmentRef("b", "x/y", SHA256_C))
    raw = canonical_bytes(_snapshot(attachments=refs))
    assert SHA1_A.encode() in raw and SHA256_C.encode() in raw


# --- helpers ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "digits", "text"),
    [
        (2.675, 2, "2.68"),  # binary 2.67499… must still round up
        (Decimal("2.665"), 2, "2.67"),
        (0.125, 2, "0.13"),
        (Decimal("-0.125"), 2, "-0.13"),
        (Decimal("1.005"), 2, "1.01"),
        (12.3, 2, "12.30"),
        (1, 0, "1"),
        (Decimal("0.5"), 0, "1"),
        (1234.5678, 3, "1234.568"),
        (-0.001, 2, "0.00"),  # no negative zero
    ],
)
def test_money_rounds_half_up(value: Decimal | float, digits: int, text: str) -> None:
    assert money(value, digits) == text


def test_money_is_not_bankers_rounding() -> None:
    # Twin of the test above: half-even would give 0.12 and sign another text.
    assert Decimal("0.125").quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN) == Decimal("0.12")
    assert money(Decimal("0.125"), 2) != "0.12"


@pytest.mark.parametrize(
    ("value", "digits"),
    [
        (float("nan"), 2),
        (float("inf"), 2),
        (Decimal("NaN"), 2),
        (True, 2),
        ("12.3", 2),
        (1, -1),
        (1, 2.0),
        (Decimal("1e30"), 2),
    ],
)
def test_money_rejects_bad_input(value: object, digits: object) -> None:
    with pytest.raises(SnapshotError):
        money(value, digits)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (datetime(2025, 1, 2, 3, 4, 5), "2025-01-02T03:04:05Z"),
        (datetime(2025, 1, 2, 3, 4, 5, 999999), "2025-01-02T03:04:05Z"),
        (datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC), "2025-01-02T03:04:05Z"),
        (
            datetime(2025, 1, 2, 1, 4, 5, tzinfo=timezone(timedelta(hours=8))),
            "2025-01-01T17:04:05Z",
        ),
    ],
)
def test_utc_iso(moment: datetime, text: str) -> None:
    assert utc_iso(moment) == text


@pytest.mark.parametrize("bad", [date(2025, 1, 2), "2025-01-02T03:04:05Z", None])
def test_utc_iso_rejects_non_datetimes(bad: object) -> None:
    with pytest.raises(SnapshotError):
        utc_iso(bad)  # type: ignore[arg-type]


def test_iso_date() -> None:
    assert iso_date(date(2025, 1, 2)) == "2025-01-02"


@pytest.mark.parametrize("bad", [datetime(2025, 1, 2), "2025-01-02", None])
def test_iso_date_rejects_non_dates(bad: object) -> None:
    with pytest.raises(SnapshotError):
        iso_date(bad)  # type: ignore[arg-type]
