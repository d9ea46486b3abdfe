"""Verify an audit trail export offline: ``python3 -m services.audit_cli FILE.jsonl``.

``python3 -m services.audit_cli chain.json`` checks a record's signature chain as a signature
evidence export carries it (:mod:`services.signature_chain`).

Needs only the Python standard library and this ``services`` package; no Odoo, no database,
no network. Exit status 0 when the export is intact, 1 when it is not, 2 when the file cannot
be read as an export.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from . import signature_chain
from .audit import verify_export
from .errors import ChainError


def _say(line: str) -> None:
    """Write one line of the report to standard output."""
    sys.stdout.write(line + "\n")


def main(argv: list[str] | None = None) -> int:
    """Verify the export named on the command line and print the verdict.

    :param argv: Command-line arguments (default: ``sys.argv[1:]``).
    :return: The exit status.
    """
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        sys.stderr.write("usage: python3 -m services.audit_cli EXPORT.jsonl\n")
        return 2
    path = Path(args[0])
    if path.suffix == ".json":
        return _signature_chain(path)
    try:
        with path.open(encoding="utf-8") as handle:
            verdict = verify_export(handle)
    except (OSError, UnicodeDecodeError, ChainError) as exc:
        sys.stderr.write(f"Cannot verify {path}: {exc}\n")
        return 2
    header = verdict.header
    chain = header.get("chain", {})
    _say(f"Audit trail: {chain.get('name', '?')} ({chain.get('company', '')})")
    _say(f"Range: entries {header['start_seq']} to {header['end_seq']}")
    _say(f"Entries in full: {verdict.selected}; proof lines: {verdict.proofs}")
    _say(f"Chain: {verdict.chain.message}")
    for problem in verdict.problems:
        _say(f"Problem: {problem}")
    _say(f"End hash: {header['end_hash']}")
    for anchor in header.get("anchors", []):
        _say(f"Checkpoint {anchor['seq']}: {anchor['hash']}")
    _say("VERDICT: INTACT" if verdict.ok else "VERDICT: BROKEN")
    return 0 if verdict.ok else 1


def _signature_chain(path: Path) -> int:
    """Verify a record's signature chain (``chain.json``) and print the verdict."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        verdict = signature_chain.verify_export(document)
    except (OSError, UnicodeDecodeError, ValueError, AttributeError, ChainError) as exc:
        sys.stderr.write(f"Cannot verify {path}: {exc}\n")
        return 2
    _say(f"Signature chain: {document.get('model', '?')} #{document.get('res_id', '?')}")
    _say(f"Signatures: {verdict.signatures}")
    _say(f"Chain: {verdict.chain.message}")
    _say("VERDICT: INTACT" if verdict.ok else "VERDICT: BROKEN")
    return 0 if verdict.ok else 1


if __name__ == "__main__":
    sys.exit(main())
