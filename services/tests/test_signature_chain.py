"""Tests for services.signature_chain: the per-record signature chain, offline.

Verifies: R16, R18
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from services import audit_cli, pki_cli
from services.chain import GENESIS, chain_hash
from services.errors import ChainError
from services.signature_chain import (
    CHAIN_FIELDS,
    EXPORT_FORMAT,
    export_document,
    signature_hash,
    signature_payload,
    verify_export,
    verify_signature_chain,
)

CMS = b"0\x82cms-bytes"
TOKEN = b"0\x82token-bytes"


def _values(n: int, **extra: Any) -> dict[str, Any]:
    """Plain values of the n-th signature of one lot."""
    values: dict[str, Any] = {
        "res_model": "stock.lot",
        "res_id": 7,
        "record_version": 1,
        "content_hash": hashlib.sha256(f"content {n}".encode()).hexdigest(),
        "user_id": 2 + n,
        "login": f"signer{n}",
        "printed_name": f"Signer 批准 {n}",
        "meaning_code": "release",
        "reason": None,
        "signed_at": datetime(2026, 11, 26, 22, 52, n, 123456),
        "signer_tz": "Asia/Shanghai",
        "auth_method": "login_password",
        "policy_id": 1,
        "policy_version": 3,
        "step_name": "Release",
        "request_id": 11,
    }
    values.update(extra)
    return values


def _links(count: int = 3) -> list[tuple[str, str, dict]]:
    """A record's chain of ``count`` signatures, the last one with a CMS."""
    links = []
    previous = GENESIS
    for n in range(1, count + 1):
        cms = CMS if n == count else None
        payload = signature_payload(
            _values(n, pki_certificate_fingerprint="ab" * 32), cms=cms, token=TOKEN
        )
        stored = signature_hash(previous, payload)
        links.append((previous, stored, payload))
        previous = stored
    return links


# --- payload ------------------------------------------------------------------------


def test_payload_covers_the_chain_fields_and_cuts_the_time_to_the_second() -> None:
    payload = signature_payload(_values(1))
    assert set(payload) == set(CHAIN_FIELDS)
    assert payload["signed_at"] == "2026-11-26 22:52:01"
    assert payload["reason"] == ""
    assert signature_payload(_values(1, signed_at="2026-11-26 22:52:01")) == payload


def test_payload_binds_the_pki_evidence_only_when_there_is_a_cms() -> None:
    plain = signature_payload(_values(1), token=TOKEN)
    assert "pki" not in plain
    signed = signature_payload(_values(1, pki_certificate_fingerprint="cd" * 32), cms=CMS)
    assert signed["pki"] == {
        "cms_sha256": hashlib.sha256(CMS).hexdigest(),
        "token_sha256": "",
        "certificate": "cd" * 32,
    }
    stamped = signature_payload(_values(1), cms=CMS, token=TOKEN)
    assert stamped["pki"]["token_sha256"] == hashlib.sha256(TOKEN).hexdigest()


def test_payload_without_a_time_or_with_a_bad_one_is_refused() -> None:
    values = _values(1)
    del values["signed_at"]
    with pytest.raises(ChainError):
        signature_payload(values)
    with pytest.raises(ChainError):
        signature_payload(_values(1, signed_at=1764197521))


def test_signature_hash_is_the_generic_chain_hash() -> None:
    payload = signature_payload(_values(1))
    assert signature_hash(GENESIS, payload) == chain_hash(GENESIS, payload)
    with pytest.raises(ChainError):
        signature_hash("not a hash", payload)


# --- verification -------------------------------------------------------------------


def test_an_intact_chain_verifies() -> None:
    verdict = verify_signature_chain(_links())
    assert (verdict.ok, verdict.checked) == (True, 3)


def test_an_altered_payload_is_named() -> None:
    links = _links()
    previous, stored, payload = links[1]
    links[1] = (previous, stored, {**payload, "reason": "added later"})
    verdict = verify_signature_chain(links)
    assert (verdict.ok, verdict.kind, verdict.first_break_seq) == (False, "altered", 2)


def test_a_removed_signature_is_missing() -> None:
    links = _links(4)
    del links[1]
    verdict = verify_signature_chain(links)
    assert (verdict.ok, verdict.kind, verdict.first_break_seq) == (False, "missing", 2)


# --- chain.json ---------------------------------------------------------------------


def _document() -> tuple[dict, str, str]:
    links = _links()
    document = json.loads(json.dumps(export_document("stock.lot", 7, links)))
    return document, links[-1][1], links[-1][2]["content_hash"]


def test_an_exported_chain_verifies_offline() -> None:
    document, own_hash, content_hash = _document()
    assert document["format"] == EXPORT_FORMAT
    verdict = verify_export(
        document, signature_hash_value=own_hash, content_hash=content_hash, cms=CMS
    )
    assert verdict.ok
    assert (verdict.signatures, verdict.problems) == (3, ())


def test_an_exported_chain_with_an_edited_entry_is_broken() -> None:
    document, own_hash, content_hash = _document()
    document["entries"][0]["payload"]["printed_name"] = "Somebody Else"
    verdict = verify_export(document, signature_hash_value=own_hash, content_hash=content_hash)
    assert not verdict.ok
    assert (verdict.chain.kind, verdict.chain.first_break_seq) == ("altered", 1)


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("signature_hash_value", "f" * 64, "not a link"),
        ("content_hash", "e" * 64, "content hash"),
        ("cms", b"another CMS", "CAdES signature"),
    ],
)
def test_an_exported_signature_that_disagrees_with_its_chain_is_named(
    field: str, value: object, problem: str
) -> None:
    document, own_hash, content_hash = _document()
    kwargs: dict[str, Any] = {
        "signature_hash_value": own_hash,
        "content_hash": content_hash,
        "cms": CMS,
    }
    kwargs[field] = value
    verdict = verify_export(document, **kwargs)
    assert verdict.chain.ok
    assert not verdict.ok
    assert problem in verdict.problems[0]


@pytest.mark.parametrize(
    "document",
    [{}, {"format": EXPORT_FORMAT}, {"format": EXPORT_FORMAT, "version": "esign-chain/1"}],
)
def test_a_document_of_another_format_or_without_entries_is_refused(document: dict) -> None:
    with pytest.raises(ChainError):
        verify_export(document, signature_hash_value="0" * 64)


def test_the_cli_reads_chain_json_next_to_the_evidence(tmp_path: Path) -> None:
    document, own_hash, content_hash = _document()
    manifest = {"signature_hash": own_hash, "content_hash": content_hash}
    (tmp_path / "signature.p7s").write_bytes(CMS)
    assert pki_cli.verify_chain_file(tmp_path, manifest) is None  # older exports: no chain
    (tmp_path / "chain.json").write_text(json.dumps(document), encoding="utf-8")
    assert pki_cli.verify_chain_file(tmp_path, manifest).ok
    (tmp_path / "signature.p7s").write_bytes(b"swapped")
    assert not pki_cli.verify_chain_file(tmp_path, manifest).ok
    (tmp_path / "chain.json").write_text(json.dumps({"format": "other"}), encoding="utf-8")
    with pytest.raises(ValueError, match="signature chain"):
        pki_cli.verify_chain_file(tmp_path, manifest)


def test_the_audit_cli_checks_a_chain_json(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    document, _own, _content = _document()
    path = tmp_path / "chain.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    assert audit_cli.main([str(path)]) == 0
    assert "VERDICT: INTACT" in capsys.readouterr().out
    document["entries"][2]["payload"]["content_hash"] = "0" * 64
    path.write_text(json.dumps(document), encoding="utf-8")
    assert audit_cli.main([str(path)]) == 1
    assert "VERDICT: BROKEN" in capsys.readouterr().out
    path.write_text("[1, 2]", encoding="utf-8")
    assert audit_cli.main([str(path)]) == 2
