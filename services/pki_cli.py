"""Verify an exported electronic signature offline: ``python3 -m services.pki_cli FOLDER``.

``FOLDER`` is an unzipped signature evidence export (see :data:`EVIDENCE_FILES`). No Odoo,
no database, no network: only this ``services`` package and its pinned libraries
(``cryptography``, ``pyhanko``). Exit status 0 when the signature is valid, 1 when it is
invalid or cannot be decided, 2 when the folder cannot be read as an export.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .errors import ChainError
from .pki_cms import verify_signature
from .pki_keys import load_certificate, load_certificates, load_crl
from .signature_chain import ChainExportVerdict, verify_export

EVIDENCE_FORMAT = "meddev-esign-signature-evidence/1"

#: file name -> what it holds.
EVIDENCE_FILES = {
    "manifest.json": "who signed what, when, with which meaning; the content hash stored",
    "snapshot.json": "the canonical snapshot bytes that were signed",
    "signature.p7s": "the detached CAdES signature (DER), with the signer's certificate",
    "timestamp.tsr": "the RFC 3161 timestamp token (DER), when stored apart from the CMS",
    "ca.pem": "the company CA certificate: the trust anchor for signers",
    "ca.crl": "the CA's revocation list (DER), issued after the signature",
    "tsa-roots.pem": "the trusted roots of the timestamp authorities",
    "chain.json": "the record's signature chain: every signature's hash, link and payload",
}


def _say(line: str) -> None:
    """Write one line of the report to standard output."""
    sys.stdout.write(line + "\n")


def verify_folder(folder: Path):
    """Verify the evidence in ``folder``; return (manifest, VerificationResult).

    :param folder: An unzipped export.
    :return: The manifest and the verifier's result.
    :raises ValueError: If a required file is missing or the manifest is of another format.
    """
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    if manifest.get("format") != EVIDENCE_FORMAT:
        raise ValueError(f"not a {EVIDENCE_FORMAT} export")
    for name in ("snapshot.json", "signature.p7s", "ca.pem"):
        if not (folder / name).exists():
            raise ValueError(f"{name} is missing")
    token_path, crl_path, roots_path = (
        folder / "timestamp.tsr",
        folder / "ca.crl",
        folder / "tsa-roots.pem",
    )
    result = verify_signature(
        (folder / "signature.p7s").read_bytes(),
        (folder / "snapshot.json").read_bytes(),
        trusted_ca=load_certificate((folder / "ca.pem").read_bytes()),
        tsa_roots=load_certificates(roots_path.read_bytes()) if roots_path.exists() else [],
        crl=load_crl(crl_path.read_bytes()) if crl_path.exists() else None,
        token=token_path.read_bytes() if token_path.exists() else None,
        expected_content_hash=manifest.get("content_hash"),
        expected_login=manifest.get("login"),
    )
    return manifest, result


def verify_chain_file(folder: Path, manifest: dict) -> ChainExportVerdict | None:
    """Verify the record's signature chain in ``folder`` (``chain.json``), if exported.

    :param folder: An unzipped export.
    :param manifest: Its parsed ``manifest.json``.
    :return: The verdict, or ``None`` when the export has no ``chain.json``.
    :raises ValueError: If ``chain.json`` is not a signature chain of a supported version.
    """
    path = folder / "chain.json"
    if not path.exists():
        return None
    try:
        return verify_export(
            json.loads(path.read_text(encoding="utf-8")),
            signature_hash_value=str(manifest.get("signature_hash")),
            content_hash=manifest.get("content_hash"),
            cms=(folder / "signature.p7s").read_bytes(),
        )
    except ChainError as exc:
        raise ValueError(str(exc)) from exc


def main(argv: list[str] | None = None) -> int:
    """Verify the export folder named on the command line and print the verdict.

    :param argv: Command-line arguments (default: ``sys.argv[1:]``).
    :return: The exit status.
    """
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        sys.stderr.write("usage: python3 -m services.pki_cli EXPORT_FOLDER\n")
        return 2
    try:
        manifest, result = verify_folder(Path(args[0]))
        chain = verify_chain_file(Path(args[0]), manifest)
    except (OSError, ValueError, KeyError) as exc:
        sys.stderr.write(f"Cannot verify {args[0]}: {exc}\n")
        return 2
    _say(f"Signature: {manifest.get('manifestation', '?')}")
    _say(f"Document: {manifest.get('record', '?')} ({manifest.get('model', '?')})")
    _say(f"Content hash: {manifest.get('content_hash', '?')}")
    _say(f"Signer certificate: {result.signer_subject or '?'}")
    _say(f"Timestamp (TSA): {result.timestamp_time or '-'} by {result.tsa_subject or '-'}")
    for problem in result.problems:
        _say(f"Problem ({problem.code}): {problem.message}")
    for note in result.notes:
        _say(f"Note: {note}")
    if chain is not None:
        _say(f"Signature chain: {chain.chain.message} ({chain.signatures} signatures)")
        for problem in chain.problems:
            _say(f"Problem (chain): {problem}")
    verdict = result.verdict.value
    if verdict == "valid" and chain is not None and not chain.ok:
        _say("The CAdES signature is valid, but the record's signature chain is not.")
        verdict = "invalid"
    _say(f"VERDICT: {verdict.upper()}")
    return 0 if verdict == "valid" else 1


if __name__ == "__main__":
    sys.exit(main())
