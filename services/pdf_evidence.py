"""The record's evidence inside a sealed report, and its offline check.

A sealed report (:func:`services.pdf_seal.seal_pdf`) carries, as PDF embedded files under
:data:`PREFIX`::

    meddev-esign/record.json          what was printed: RECORD_FORMAT (see build_files)
    meddev-esign/chain.json           the signature chain (signature_chain.export_document)
    meddev-esign/ca.pem               the company CA certificate (optional)
    meddev-esign/ca.crl               its current CRL, DER (optional)
    meddev-esign/tsa-roots.pem        the TSAs' roots (optional)
    meddev-esign/signature-<seq>/manifest.json   as services.pki_cli.EVIDENCE_FILES says
    meddev-esign/signature-<seq>/snapshot.json
    meddev-esign/signature-<seq>/signature.p7s   (PKI signatures only)
    meddev-esign/signature-<seq>/timestamp.tsr   (when stored apart from the CMS)

A print of several records (or of a lot with the manufacturing orders it prints signatures
of) has the first record's files as above and each further record's, laid out the same way,
in ``meddev-esign/record-<n>/`` (n = 2, 3, ...).

A signature made without PKI has ``manifest.json`` and, while the record still matches what
was signed, ``snapshot.json``. :func:`check_evidence` checks them all with no server: each
snapshot against its content hash, each CMS with :func:`services.pki_verify.verify_signature`
(as ``python3 -m services.pki_cli`` does), and the chain with
:func:`services.signature_chain.verify_export`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import ChainError
from .pdf_seal import EmbeddedFile
from .pki_cli import EVIDENCE_FILES
from .pki_keys import load_certificate, load_certificates, load_crl
from .pki_verify import Verdict, verify_signature
from .signature_chain import verify_export

__all__ = [
    "PREFIX",
    "Check",
    "RECORD_FORMAT",
    "SIGNATURE_FILES",
    "build_files",
    "check_evidence",
    "strip_prefix",
]


@dataclass(frozen=True)
class Check:
    """One finding of a verification (also :class:`services.pdf_verify.Check`).

    :param name: What was checked, e.g. ``"integrity"`` or ``"signature 2 snapshot"``.
    :param ok: Whether it holds.
    :param detail: One English line saying what was found.
    """

    name: str
    ok: bool
    detail: str


PREFIX = "meddev-esign/"
"""Folder of every evidence file in the PDF's attachments."""

RECORD_FORMAT = "meddev-esign-sealed-record/1"

SIGNATURE_FILES = ("manifest.json", "snapshot.json", "signature.p7s", "timestamp.tsr")
"""The files of one signature's folder, with the meaning :data:`pki_cli.EVIDENCE_FILES` gives."""

_MIME = {
    ".json": "application/json",
    ".p7s": "application/pkcs7-signature",
    ".tsr": "application/timestamp-reply",
    ".pem": "application/x-pem-file",
    ".crl": "application/pkix-crl",
}

_DESCRIPTIONS = {
    "record.json": "The printed record and its electronic signatures",
    "chain.json": EVIDENCE_FILES["chain.json"],
    "ca.pem": EVIDENCE_FILES["ca.pem"],
    "ca.crl": EVIDENCE_FILES["ca.crl"],
    "tsa-roots.pem": EVIDENCE_FILES["tsa-roots.pem"],
}

_SIGNATURE_DIR = re.compile(r"signature-(?P<seq>[1-9][0-9]{0,5})/(?P<file>[a-z0-9.\-]+)")
_RECORD_DIR = re.compile(r"record-(?P<n>[2-9]|[1-9][0-9]{1,4})/(?P<rest>.+)", re.DOTALL)
_HEX = re.compile(r"[0-9a-f]{64}")


def _mime(name: str) -> str:
    for suffix, mime in _MIME.items():
        if name.endswith(suffix):
            return mime
    return "application/octet-stream"


def _file(name: str, data: bytes, description: str) -> EmbeddedFile:
    return EmbeddedFile(PREFIX + name, bytes(data), _mime(name), description)


def _json(value: Any) -> bytes:
    return json.dumps(value, indent=1, ensure_ascii=False, sort_keys=True).encode("utf-8")


def build_files(
    record: Mapping[str, Any],
    chain: Mapping[str, Any],
    signatures: Sequence[Mapping[str, bytes]],
    *,
    ca_pem: bytes | None = None,
    ca_crl: bytes | None = None,
    tsa_roots_pem: bytes | None = None,
) -> list[EmbeddedFile]:
    """The evidence files to embed in a sealed report.

    :param record: ``record.json``'s content: ``company``, ``model``, ``res_id``, ``record``
        (its name), ``printed_at_utc``, ``printed_by``, ``print_number``, optionally
        ``print_token_hash`` (never the token), and ``signatures``: one mapping per
        e-signature, oldest first, with ``seq``, ``signer``, ``login``, ``meaning``,
        ``signed_at_utc``, ``content_hash``, ``signature_hash`` and ``pki`` (bool).
        ``format`` is set here.
    :param chain: The record's ``chain.json`` (:func:`services.signature_chain.export_document`).
    :param signatures: Per e-signature, in the order of ``record["signatures"]``, its folder:
        file name (:data:`SIGNATURE_FILES`) to bytes; absent files are left out.
    :param ca_pem: The company CA certificate, PEM.
    :param ca_crl: Its current CRL, DER.
    :param tsa_roots_pem: The TSAs' roots, PEM.
    :return: The files, for :func:`services.pdf_seal.seal_pdf`.
    :raises ValueError: If the signatures do not match ``record["signatures"]`` or a folder
        holds an unknown file name.
    """
    entries = list(record.get("signatures") or [])
    if len(entries) != len(signatures):
        raise ValueError("There must be one evidence folder per signature of the record.")
    document = dict(record)
    document["format"] = RECORD_FORMAT
    files = [
        _file("record.json", _json(document), _DESCRIPTIONS["record.json"]),
        _file("chain.json", _json(dict(chain)), _DESCRIPTIONS["chain.json"]),
    ]
    for name, data in (("ca.pem", ca_pem), ("ca.crl", ca_crl), ("tsa-roots.pem", tsa_roots_pem)):
        if data:
            files.append(_file(name, data, _DESCRIPTIONS[name]))
    for position, (entry, folder) in enumerate(zip(entries, signatures, strict=True), start=1):
        seq = int(entry.get("seq") or position)
        for name, data in folder.items():
            if name not in SIGNATURE_FILES:
                raise ValueError(f"{name!r} is not a signature evidence file.")
            if data is None:
                continue
            files.append(_file(f"signature-{seq}/{name}", data, EVIDENCE_FILES[name]))
    return files


def strip_prefix(files: Mapping[str, bytes]) -> dict[str, bytes]:
    """The evidence files among ``files``, named without :data:`PREFIX`.

    :param files: Embedded files by name (e.g. :attr:`PdfVerdict.embedded`).
    :return: Those under :data:`PREFIX`, keyed by the rest of their name.
    """
    return {
        name[len(PREFIX) :]: bytes(data)
        for name, data in files.items()
        if isinstance(name, str) and name.startswith(PREFIX)
    }


def _load_json(data: bytes | None) -> Any:
    if data is None:
        return None
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None


def _hex_of(content_hash: object) -> str | None:
    """The hex digest of a stored content hash ``<version>:sha256:<hex>``."""
    if not isinstance(content_hash, str):
        return None
    tail = content_hash.rsplit(":sha256:", 1)
    return tail[1] if len(tail) == 2 and _HEX.fullmatch(tail[1]) else None


def _anchors(files: Mapping[str, bytes]) -> tuple[Any, list[Any], Any, str | None]:
    """The CA, TSA roots and CRL embedded, or why they cannot be read."""
    try:
        ca = load_certificate(files["ca.pem"]) if "ca.pem" in files else None
        roots = load_certificates(files["tsa-roots.pem"]) if "tsa-roots.pem" in files else []
        crl = load_crl(files["ca.crl"]) if "ca.crl" in files else None
    except Exception as exc:  # noqa: BLE001 - any parse failure is a finding, not a crash
        return None, [], None, f"The embedded CA, CRL or TSA roots cannot be read: {exc}"
    return ca, roots, crl, None


def _check_signature(
    seq: int,
    entry: Mapping[str, Any],
    folder: Mapping[str, bytes],
    chain: Mapping[str, Any] | None,
    anchors: tuple[Any, list[Any], Any, str | None],
) -> list[Check]:
    label = f"signature {seq}"
    checks: list[Check] = []
    manifest = _load_json(folder.get("manifest.json"))
    if not isinstance(manifest, Mapping):
        return [Check(f"{label} manifest", False, "manifest.json is missing or not JSON.")]
    content_hash = entry.get("content_hash")
    same = manifest.get("content_hash") == content_hash and manifest.get(
        "signature_hash"
    ) == entry.get("signature_hash")
    checks.append(
        Check(
            f"{label} manifest",
            same,
            "manifest.json agrees with record.json."
            if same
            else "manifest.json names another content or signature hash than record.json.",
        )
    )
    snapshot = folder.get("snapshot.json")
    expected = _hex_of(content_hash)
    if snapshot is None:
        checks.append(
            Check(
                f"{label} snapshot",
                True,
                "No snapshot embedded: the record changed since signing, or the snapshot was "
                "not embedded; its content cannot be compared offline.",
            )
        )
    elif expected is None:
        checks.append(Check(f"{label} snapshot", False, "The content hash is malformed."))
    else:
        ok = hashlib.sha256(snapshot).hexdigest() == expected
        checks.append(
            Check(
                f"{label} snapshot",
                ok,
                "The embedded snapshot hashes to the signed content hash."
                if ok
                else "The embedded snapshot does not hash to the signed content hash: "
                "the content was altered.",
            )
        )
    cms = folder.get("signature.p7s")
    if entry.get("pki") or cms is not None:
        checks.append(_check_cms(label, manifest, cms, snapshot, folder, anchors))
    if chain is not None:
        try:
            verdict = verify_export(
                chain,
                signature_hash_value=str(entry.get("signature_hash")),
                content_hash=content_hash if isinstance(content_hash, str) else None,
                cms=cms,
            )
            ok = not verdict.problems
            detail = (
                "It is a link of the record's signature chain."
                if ok
                else " ".join(verdict.problems)
            )
        except ChainError as exc:
            ok, detail = False, str(exc)
        checks.append(Check(f"{label} chain link", ok, detail))
    return checks


def _check_cms(
    label: str,
    manifest: Mapping[str, Any],
    cms: bytes | None,
    snapshot: bytes | None,
    folder: Mapping[str, bytes],
    anchors: tuple[Any, list[Any], Any, str | None],
) -> Check:
    name = f"{label} CAdES"
    ca, roots, crl, problem = anchors
    if cms is None:
        return Check(name, False, "The PKI signature's signature.p7s is not embedded.")
    if snapshot is None:
        return Check(name, False, "The CAdES signature cannot be checked without its snapshot.")
    if problem:
        return Check(name, False, problem)
    if ca is None:
        return Check(name, False, "ca.pem is not embedded: the signer cannot be checked.")
    result = verify_signature(
        cms,
        snapshot,
        trusted_ca=ca,
        tsa_roots=roots,
        crl=crl,
        token=folder.get("timestamp.tsr"),
        expected_content_hash=manifest.get("content_hash"),
        expected_login=manifest.get("login"),
    )
    who = result.signer_subject or "?"
    if result.verdict is Verdict.VALID:
        when = (
            f", timestamped {result.timestamp_time:%Y-%m-%d %H:%M:%S} UTC"
            if (result.timestamp_time)
            else ""
        )
        return Check(name, True, f"Valid CAdES signature by {who}{when}.")
    reasons = "; ".join(p.message for p in result.problems) or "no reason given"
    if result.verdict is Verdict.INDETERMINATE:
        # Nothing is proven wrong (e.g. no timestamp yet): say so, do not call it altered.
        return Check(name, True, f"CAdES signature by {who}, not fully proven: {reasons}")
    return Check(name, False, f"Invalid CAdES signature: {reasons}")


def check_evidence(files: Mapping[str, bytes]) -> list[Check]:
    """Check the evidence embedded in a sealed report, offline.

    A print of several records (or of a lot with the manufacturing orders behind it) holds the
    first record's evidence at the top of :data:`PREFIX` and each further record's in
    ``record-<n>/`` (n = 2, 3, ...), laid out the same way; every folder is checked, and the
    findings of record n are named ``"record <n>: ..."``.

    :param files: The embedded files by name, with or without :data:`PREFIX` (e.g.
        :attr:`services.pdf_verify.PdfVerdict.embedded`).
    :return: One :class:`Check` per finding; never raises for malformed input.
    """
    found = strip_prefix(files) if any(str(n).startswith(PREFIX) for n in files) else dict(files)
    top: dict[str, bytes] = {}
    records: dict[int, dict[str, bytes]] = {}
    strays: list[str] = []
    for name, data in found.items():
        match = _RECORD_DIR.fullmatch(str(name))
        if match:
            records.setdefault(int(match["n"]), {})[match["rest"]] = data
        elif str(name).startswith("record-"):
            strays.append(str(name))
        else:
            top[name] = data
    checks = _check_record(top)
    gaps = sorted(set(range(2, max(records, default=1) + 1)) - set(records))
    if strays or gaps:
        problems = []
        if gaps:
            problems.append("missing record folder(s) " + ", ".join(f"record-{n}/" for n in gaps))
        if strays:
            problems.append("unexpected file(s) " + ", ".join(sorted(strays)[:5]))
        checks.append(Check("evidence folders", False, "; ".join(problems).capitalize() + "."))
    for number in sorted(records):
        label = f"record {number}: "
        try:
            found_checks = _check_record(records[number])
        except Exception as exc:  # noqa: BLE001 - hostile evidence must not crash a verifier
            found_checks = [Check("evidence record", False, f"Cannot be checked: {exc}")]
        checks.extend(Check(label + check.name, check.ok, check.detail) for check in found_checks)
    return checks


def _check_record(found: Mapping[str, bytes]) -> list[Check]:
    """The findings of one record's evidence folder (names relative to the folder)."""
    checks: list[Check] = []
    record = _load_json(found.get("record.json"))
    if not isinstance(record, Mapping) or record.get("format") != RECORD_FORMAT:
        return [Check("evidence record", False, f"record.json ({RECORD_FORMAT}) is missing.")]
    entries = record.get("signatures")
    if not isinstance(entries, list) or not all(isinstance(e, Mapping) for e in entries):
        return [Check("evidence record", False, "record.json lists no signatures.")]
    checks.append(
        Check(
            "evidence record",
            True,
            f"{record.get('record', '?')} ({record.get('model', '?')}), print "
            f"{record.get('print_number', '?')} by {record.get('printed_by', '?')} at "
            f"{record.get('printed_at_utc', '?')} UTC, {len(entries)} e-signature(s).",
        )
    )
    chain = _load_json(found.get("chain.json"))
    if not isinstance(chain, Mapping):
        checks.append(Check("signature chain", False, "chain.json is missing or not JSON."))
        chain = None
    else:
        try:
            verdict = verify_export(chain)
            ok = verdict.chain.ok and verdict.signatures == len(entries)
            same_record = chain.get("model") == record.get("model") and chain.get(
                "res_id"
            ) == record.get("res_id")
            detail = verdict.chain.message
            if verdict.signatures != len(entries):
                detail += (
                    f" The chain has {verdict.signatures} signature(s), record.json "
                    f"{len(entries)}."
                )
            if not same_record:
                ok = False
                detail += " The chain is of another record."
            checks.append(Check("signature chain", ok, detail))
        except ChainError as exc:
            checks.append(Check("signature chain", False, str(exc)))
            chain = None
    anchors = _anchors(found)
    folders: dict[int, dict[str, bytes]] = {}
    for name, data in found.items():
        match = _SIGNATURE_DIR.fullmatch(name)
        if match:
            folders.setdefault(int(match["seq"]), {})[match["file"]] = data
    for position, entry in enumerate(entries, start=1):
        try:
            seq = int(entry.get("seq") or position)
        except (TypeError, ValueError):
            seq = position
        try:
            checks.extend(_check_signature(seq, entry, folders.get(seq, {}), chain, anchors))
        except Exception as exc:  # noqa: BLE001 - hostile evidence must not crash a verifier
            checks.append(Check(f"signature {seq}", False, f"Cannot be checked: {exc}"))
    return checks
