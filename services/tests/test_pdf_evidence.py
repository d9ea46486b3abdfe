"""The evidence embedded in a sealed report (services.pdf_evidence): its layout and its offline
check, each finding with its tamper twin. Real CMS signatures and timestamps, no PDF needed."""

from __future__ import annotations

import json
import random

import pytest
from seal_fixtures import SealPki, evidence, make_pki

from services.pdf_evidence import PREFIX, RECORD_FORMAT, build_files, check_evidence, strip_prefix
from services.pdf_seal import EmbeddedFile


@pytest.fixture(scope="module")
def pki() -> SealPki:
    return make_pki()


@pytest.fixture(scope="module")
def files(pki: SealPki) -> dict[str, bytes]:
    return {item.name: item.data for item in evidence(pki)}


def _failed(checks) -> dict[str, str]:  # noqa: ANN001
    return {check.name: check.detail for check in checks if not check.ok}


def _edit_json(files: dict[str, bytes], name: str, change) -> dict[str, bytes]:  # noqa: ANN001
    edited = dict(files)
    document = json.loads(edited[PREFIX + name])
    change(document)
    edited[PREFIX + name] = json.dumps(document).encode()
    return edited


def test_layout(pki: SealPki) -> None:
    items = evidence(pki)
    names = {item.name for item in items}
    assert names == {
        PREFIX + name
        for name in (
            "record.json",
            "chain.json",
            "ca.pem",
            "ca.crl",
            "tsa-roots.pem",
            "signature-1/manifest.json",
            "signature-1/snapshot.json",
            "signature-1/signature.p7s",
            "signature-1/timestamp.tsr",
            "signature-2/manifest.json",
            "signature-2/snapshot.json",
            "signature-2/signature.p7s",
            "signature-2/timestamp.tsr",
            "signature-3/manifest.json",  # the signature without PKI
            "signature-3/snapshot.json",
        )
    }
    by_name = {item.name: item for item in items}
    assert by_name[PREFIX + "record.json"].mime_type == "application/json"
    assert by_name[PREFIX + "signature-1/signature.p7s"].mime_type == (
        "application/pkcs7-signature"
    )
    assert all(item.description for item in items)
    record = json.loads(by_name[PREFIX + "record.json"].data)
    assert record["format"] == RECORD_FORMAT
    assert "token" not in json.dumps(record).replace("print_token_hash", "")


def test_build_files_refuses_mismatched_input() -> None:
    record = {"signatures": [{"seq": 1}]}
    with pytest.raises(ValueError, match="one evidence folder per signature"):
        build_files(record, {}, [])
    with pytest.raises(ValueError, match="not a signature evidence file"):
        build_files(record, {}, [{"secret.key": b"x"}])


def test_complete_evidence_checks_out(files: dict[str, bytes]) -> None:
    checks = check_evidence(files)
    assert not _failed(checks), _failed(checks)
    names = [check.name for check in checks]
    assert names[:2] == ["evidence record", "signature chain"]
    assert "signature 1 CAdES" in names and "signature 3 CAdES" not in names
    assert check_evidence(strip_prefix(files)) == checks  # with or without the folder prefix


def test_missing_or_garbage_record(files: dict[str, bytes]) -> None:
    without = {k: v for k, v in files.items() if not k.endswith("record.json")}
    assert list(_failed(check_evidence(without))) == ["evidence record"]
    garbage = dict(files)
    garbage[PREFIX + "record.json"] = b"\xff{not json"
    assert list(_failed(check_evidence(garbage))) == ["evidence record"]
    no_list = _edit_json(files, "record.json", lambda d: d.update(signatures="all of them"))
    assert list(_failed(check_evidence(no_list))) == ["evidence record"]


def test_altered_snapshot_of_a_pki_signature(pki: SealPki) -> None:
    tampered = {item.name: item.data for item in evidence(pki, tamper_snapshot=True)}
    failed = _failed(check_evidence(tampered))
    assert "content was altered" in failed["signature 1 snapshot"]
    assert "Invalid CAdES signature" in failed["signature 1 CAdES"]


def test_altered_snapshot_of_a_signature_without_pki(files: dict[str, bytes]) -> None:
    tampered = dict(files)
    name = PREFIX + "signature-3/snapshot.json"
    tampered[name] = tampered[name].replace(b"pass", b"fail")
    assert set(_failed(check_evidence(tampered))) == {"signature 3 snapshot"}


def test_manifest_disagreeing_with_the_record(files: dict[str, bytes]) -> None:
    tampered = dict(files)
    name = PREFIX + "signature-2/manifest.json"
    manifest = json.loads(tampered[name])
    manifest["content_hash"] = "esign-snapshot/1:sha256:" + "0" * 64
    tampered[name] = json.dumps(manifest).encode()
    failed = _failed(check_evidence(tampered))
    assert "another content or signature hash" in failed["signature 2 manifest"]


def test_record_claiming_another_content(files: dict[str, bytes]) -> None:
    def change(document: dict) -> None:
        document["signatures"][0]["content_hash"] = "esign-snapshot/1:sha256:" + "1" * 64

    failed = _failed(check_evidence(_edit_json(files, "record.json", change)))
    assert {"signature 1 manifest", "signature 1 snapshot", "signature 1 chain link"} <= set(
        failed
    )


def test_chain_of_another_record_or_length(files: dict[str, bytes]) -> None:
    other = _edit_json(files, "chain.json", lambda d: d.update(res_id=43))
    assert "another record" in _failed(check_evidence(other))["signature chain"]
    shorter = _edit_json(files, "chain.json", lambda d: d["entries"].pop())
    failed = _failed(check_evidence(shorter))
    assert "2 signature(s), record.json 3" in failed["signature chain"]
    assert "signature 3 chain link" in failed


def test_broken_chain(pki: SealPki) -> None:
    broken = {item.name: item.data for item in evidence(pki, break_chain=True)}
    assert "signature chain" in _failed(check_evidence(broken))


def test_missing_cms_ca_or_snapshot(files: dict[str, bytes]) -> None:
    no_cms = {k: v for k, v in files.items() if not k.endswith("signature-2/signature.p7s")}
    assert "not embedded" in _failed(check_evidence(no_cms))["signature 2 CAdES"]
    no_ca = {k: v for k, v in files.items() if not k.endswith("ca.pem")}
    failed = _failed(check_evidence(no_ca))
    assert set(failed) == {"signature 1 CAdES", "signature 2 CAdES"}
    no_snapshot = {k: v for k, v in files.items() if not k.endswith("signature-1/snapshot.json")}
    failed = _failed(check_evidence(no_snapshot))
    assert "without its snapshot" in failed["signature 1 CAdES"]
    bad_ca = dict(files)
    bad_ca[PREFIX + "ca.pem"] = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
    assert "cannot be read" in _failed(check_evidence(bad_ca))["signature 1 CAdES"]


def test_cms_of_another_signer(files: dict[str, bytes]) -> None:
    """Bob's CMS under Alice's folder: the manifest's login no longer matches."""
    swapped = dict(files)
    swapped[PREFIX + "signature-1/manifest.json"] = files[PREFIX + "signature-1/manifest.json"]
    swapped[PREFIX + "signature-1/signature.p7s"] = files[PREFIX + "signature-2/signature.p7s"]
    failed = _failed(check_evidence(swapped))
    assert "signature 1 CAdES" in failed and "signature 1 chain link" in failed


def test_evidence_without_embedded_files_is_not_a_pdf_attachment() -> None:
    assert isinstance(EmbeddedFile("x", b"y"), EmbeddedFile)
    assert list(_failed(check_evidence({}))) == ["evidence record"]


def test_random_mutations_never_raise(files: dict[str, bytes]) -> None:
    rng = random.Random(2026)
    names = sorted(files)
    for _ in range(60):
        mutated = dict(files)
        name = rng.choice(names)
        data = bytearray(mutated[name])
        if data:
            for _ in range(rng.randint(1, 5)):
                data[rng.randrange(len(data))] = rng.randrange(256)
        if rng.random() < 0.2:
            data = data[: rng.randrange(len(data) + 1)]
        mutated[name] = bytes(data)
        checks = check_evidence(mutated)
        assert checks and all(check.detail for check in checks)


# --- Prints of several records: record-<n>/ folders ---------------------------------------


def _in_folder(items: list[EmbeddedFile], folder: str) -> dict[str, bytes]:
    """One record's evidence moved under ``folder``, as a print of several records has it."""
    return {PREFIX + folder + item.name[len(PREFIX) :]: item.data for item in items}


@pytest.fixture(scope="module")
def two_records(pki: SealPki, files: dict[str, bytes]) -> dict[str, bytes]:
    return {**files, **_in_folder(evidence(pki), "record-2/")}


def test_every_record_of_a_multi_record_print_is_checked(
    two_records: dict[str, bytes], files: dict[str, bytes]
) -> None:
    checks = check_evidence(two_records)
    assert not _failed(checks), _failed(checks)
    names = [check.name for check in checks]
    first = [check.name for check in check_evidence(files)]
    assert names[: len(first)] == first  # the first record's findings keep their names
    assert names[len(first) :] == [f"record 2: {name}" for name in first]
    assert check_evidence(strip_prefix(two_records)) == checks


def test_altered_snapshot_in_a_later_record(pki: SealPki, files: dict[str, bytes]) -> None:
    """The tamper twin: only the second record's first snapshot was altered."""
    tampered = {**files, **_in_folder(evidence(pki, tamper_snapshot=True), "record-2/")}
    failed = _failed(check_evidence(tampered))
    assert set(failed) == {"record 2: signature 1 snapshot", "record 2: signature 1 CAdES"}
    assert "content was altered" in failed["record 2: signature 1 snapshot"]


def test_later_record_without_its_record_json_or_with_a_broken_chain(
    pki: SealPki, two_records: dict[str, bytes], files: dict[str, bytes]
) -> None:
    no_record = {k: v for k, v in two_records.items() if k != PREFIX + "record-2/record.json"}
    assert list(_failed(check_evidence(no_record))) == ["record 2: evidence record"]
    broken = {**files, **_in_folder(evidence(pki, break_chain=True), "record-2/")}
    assert "record 2: signature chain" in _failed(check_evidence(broken))


def test_missing_or_stray_record_folders(pki: SealPki, files: dict[str, bytes]) -> None:
    gap = {**files, **_in_folder(evidence(pki), "record-3/")}
    failed = _failed(check_evidence(gap))
    assert list(failed) == ["evidence folders"]
    assert "record-2/" in failed["evidence folders"]
    stray = {**files, PREFIX + "record-1/record.json": b"{}", PREFIX + "record-x": b""}
    failed = _failed(check_evidence(stray))
    assert list(failed) == ["evidence folders"]
    assert "record-1/record.json" in failed["evidence folders"]
