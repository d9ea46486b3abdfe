"""Verify a sealed printout offline: ``python3 -m services.verify_cli FILE.pdf --trust CA.pem``.

Checks every PAdES seal of the file (integrity, chain to ``--trust``, revocation at signing
time from the file's own validation data, the timestamps, changes made after the seal) and the
record's evidence embedded in it (each e-signature's snapshot, CAdES signature and place in the
signature chain). No Odoo, no database, no network.

Prints one line per check and a verdict line. Exit status: 0 authentic, 1 not authentic
(altered, unknown issuer, not sealed), 2 unusable input (not a PDF, broken, too large, or a
trust file that cannot be read).

``--extract DIR`` also writes the embedded files into ``DIR`` (each e-signature's folder can
then be checked on its own with ``python3 -m services.pki_cli DIR/meddev-esign/signature-1``
after copying ``ca.pem``, ``ca.crl``, ``tsa-roots.pem`` and ``chain.json`` beside it).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path, PurePosixPath

from .errors import EsignError
from .pdf_verify import Check, PdfVerdict, verify_sealed_pdf
from .pki_keys import load_certificates

__all__ = ["EXIT_INVALID", "EXIT_UNUSABLE", "EXIT_VALID", "main", "render"]

EXIT_VALID, EXIT_INVALID, EXIT_UNUSABLE = 0, 1, 2

_VERDICT_LINES = {
    "authentic": "AUTHENTIC: the file is unchanged since it was sealed, by a trusted seal.",
    "altered": "ALTERED: the file or its evidence was changed after sealing.",
    "unknown_issuer": "UNKNOWN ISSUER: the seal is not by a certificate of the trusted CA "
    "(or it was revoked, or its timestamp is by an untrusted TSA).",
    "not_sealed": "NOT SEALED: the file carries no electronic seal.",
    "unusable": "UNUSABLE: the file cannot be read as a PDF.",
}


def render(verdict: PdfVerdict) -> list[str]:
    """The report lines for ``verdict``: one per check, then the verdict.

    :param verdict: A result of :func:`verify_sealed_pdf`.
    :return: The lines, without newlines.
    """
    lines = [
        f"{'OK  ' if check.ok else 'FAIL'} {check.name}: {' '.join(check.detail.split())}"
        for check in verdict.checks
    ]
    if verdict.sha256:
        lines.append(f"SHA-256: {verdict.sha256}")
    if verdict.signer_subject:
        lines.append(f"Sealed by: {verdict.signer_subject}")
    if verdict.sealed_at:
        kind = "trusted timestamp" if verdict.timestamped else "sealing server's clock"
        lines.append(f"Sealed at: {verdict.sealed_at:%Y-%m-%d %H:%M:%S} UTC ({kind})")
    lines.append(f"VERDICT: {_VERDICT_LINES[verdict.status]}")
    return lines


def _extract(verdict: PdfVerdict, folder: Path) -> list[str]:
    """Write the embedded files under ``folder``; refuse names that would escape it."""
    written = []
    for name, data in sorted(verdict.embedded.items()):
        path = PurePosixPath(name)
        if path.is_absolute() or ".." in path.parts or not path.parts:
            continue
        target = folder.joinpath(*path.parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        written.append(str(target))
    return written


def main(argv: list[str] | None = None) -> int:
    """Verify the file named on the command line and print the report.

    :param argv: Command-line arguments (default: ``sys.argv[1:]``).
    :return: The exit status.
    """
    parser = argparse.ArgumentParser(
        prog="python3 -m services.verify_cli",
        description="Verify a sealed meddev_esign printout offline.",
    )
    parser.add_argument("pdf", type=Path, help="the sealed PDF")
    parser.add_argument(
        "--trust", type=Path, required=True, help="PEM file of the company CA (trust anchor)"
    )
    parser.add_argument(
        "--tsa-roots", type=Path, help="PEM file of the TSA roots (default: the --trust file)"
    )
    parser.add_argument(
        "--max-bytes", type=int, default=20 * 1024 * 1024, help="refuse larger files"
    )
    parser.add_argument(
        "--no-evidence", action="store_true", help="check the seals only, not the evidence"
    )
    parser.add_argument("--extract", type=Path, help="write the embedded files into this folder")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on bad usage, which is our "unusable"
        return int(exc.code or 0)
    try:
        trust = load_certificates(args.trust.read_bytes())
        tsa_roots = load_certificates(args.tsa_roots.read_bytes()) if args.tsa_roots else []
    except (OSError, ValueError, EsignError) as exc:
        sys.stderr.write(f"Cannot read the trust anchors: {exc}\n")
        return EXIT_UNUSABLE
    if not trust:
        sys.stderr.write(f"{args.trust} holds no certificate.\n")
        return EXIT_UNUSABLE
    try:
        size = args.pdf.stat().st_size
        data = b"" if size > args.max_bytes else args.pdf.read_bytes()
    except OSError as exc:
        sys.stderr.write(f"Cannot read {args.pdf}: {exc}\n")
        return EXIT_UNUSABLE
    if size > args.max_bytes:  # not read into memory at all
        detail = f"The file has {size} bytes, more than {args.max_bytes}; not read."
        verdict = PdfVerdict("unusable", "", (Check("file", False, detail),))
    else:
        verdict = verify_sealed_pdf(
            data,
            trust_roots=trust,
            tsa_roots=tsa_roots,
            max_bytes=args.max_bytes,
            check_evidence=not args.no_evidence,
        )
    for line in render(verdict):
        sys.stdout.write(line + "\n")
    if args.extract is not None and verdict.embedded:
        try:
            for path in _extract(verdict, args.extract):
                sys.stdout.write(f"Extracted: {path}\n")
        except OSError as exc:
            sys.stderr.write(f"Cannot extract the embedded files: {exc}\n")
    if verdict.status == "authentic":
        return EXIT_VALID
    if verdict.status == "unusable":
        return EXIT_UNUSABLE
    return EXIT_INVALID


if __name__ == "__main__":
    sys.exit(main())
