"""Real material for the sealed-report tests: a report PDF, a company CA with its seal, evidence.

Nothing is mocked: the CA, the seal certificate and the e-signatures are real keys and
certificates (:mod:`services.pki_ca`, :mod:`services.pki_issue`), the timestamps come from the
loopback TSA of :mod:`pki_fixtures`, and the report is a real PDF drawn with reportlab.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import requests
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from pki_fixtures import TestTsa, start_tsa

from services import pdf_evidence, signature_chain
from services.pdf_seal import EmbeddedFile, SealOptions, Stamp
from services.pki_ca import CertificateAuthority, generate_ca
from services.pki_issue import SignerIdentity, issue_signer_certificate
from services.pki_keys import PrivateKey, certificate_to_pem, generate_private_key, utc
from services.pki_revocation import Revocation, build_crl
from services.pki_sign import CachedKeySigner, sign_detached
from services.pki_timestamp import request_timestamp
from services.snapshot import RecordSnapshot, canonical_bytes, content_hash

CJK_FONT = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
LOT = "LOT-2026-0042"


def report_pdf(pages: int = 1, lot: str = LOT) -> bytes:
    """A Batch Release Certificate look-alike (uncompressed page content, for tamper tests)."""
    from reportlab.pdfgen import canvas  # noqa: PLC0415 - only the tests draw PDFs

    buffer = io.BytesIO()
    page = canvas.Canvas(buffer, pageCompression=0, invariant=1)
    for number in range(1, pages + 1):
        page.setFont("Helvetica-Bold", 16)
        page.drawString(72, 760, "Batch Release Certificate")
        page.setFont("Helvetica", 11)
        page.drawString(72, 730, f"Lot {lot}   Product Infusion Pump IP-7   Page {number}")
        page.drawString(72, 712, "Result: released for distribution")
        page.showPage()
    page.save()
    return buffer.getvalue()


@dataclass
class SealPki:
    """A company CA, its seal certificate and key, and the TSA, as the Odoo side holds them."""

    ca: CertificateAuthority
    key: PrivateKey
    certificate: x509.Certificate
    signer: CachedKeySigner
    crl: bytes
    tsa: TestTsa
    tsa_crl: bytes
    extra: dict[str, Any] = field(default_factory=dict)

    def options(self, level: str = "B-LT", **changes: Any) -> SealOptions:
        """Seal options for this PKI, with the company CA's current CRL and the TSA's."""
        options = SealOptions(
            level=level,
            tsa_urls=(self.tsa.url,),
            tsa_timeout=5.0,
            tsa_roots=(self.tsa.root,),
            trust_roots=(self.ca.root,),
            crls=(self.crl, self.tsa_crl),
            reason="Controlled copy",
            location="Shenzhen",
        )
        return replace(options, **changes)


def make_pki(
    name: str = "ACME Medical", *, revoked: bool = False, tsa: TestTsa | None = None
) -> SealPki:
    """A fresh company CA with a seal certificate (its key in memory), timestamped by
    ``tsa`` (a new loopback TSA unless given: a renewed CA keeps its company's TSA)."""
    tsa = tsa or start_tsa()
    ca = generate_ca(f"{name} e-Signature CA", organization=name, country="CN")
    key = generate_private_key()
    certificate = issue_signer_certificate(
        ca,
        SignerIdentity(f"{name} company seal", "company-seal"),
        key.public_key(),
        crl_url="https://erp.example.com/meddev_esign/crl/1.crl",
    )
    revocations = (
        [Revocation(certificate.serial_number, utc() - timedelta(minutes=5))] if revoked else []
    )
    crl = build_crl(ca, revocations, crl_number=1).public_bytes(Encoding.DER)
    tsa_crl = requests.get(tsa.crl_url, timeout=10).content
    return SealPki(
        ca, key, certificate, CachedKeySigner(key, certificate, ca.certificates), crl, tsa, tsa_crl
    )


def stamp(lines: tuple[str, ...] | None = None, font_path: str | None = None) -> Stamp:
    """The stamp the Odoo side prints."""
    return Stamp(
        lines=lines
        or (
            "ACME Medical",
            "Electronically signed",
            "3 electronic signatures",
            "Sealed 2026-12-06 18:02 CST (UTC+08:00)",
        ),
        qr_url="https://erp.example.com/meddev_esign/verify/q9Xv0Jz3bWm1T5yKc8rP2dLhA4sN7fEu6gHiBoVwYtQ",
        no_trusted_time_line="No trusted time",
        font_path=font_path,
    )


def evidence(
    pki: SealPki,
    *,
    tamper_snapshot: bool = False,
    drop_non_pki_snapshot: bool = False,
    break_chain: bool = False,
) -> list[EmbeddedFile]:
    """A record's evidence: two PKI e-signatures by Alice and Bob, and one without PKI.

    :param tamper_snapshot: Embed an altered snapshot for the first signature (its content
        hash and CMS are the genuine ones).
    :param drop_non_pki_snapshot: Leave out the non-PKI signature's snapshot (the record
        changed since it was signed).
    :param break_chain: Change a payload in ``chain.json`` after hashing.
    """
    tsa = pki.tsa
    people = []
    for name, login in (("Alice Zhang", "alice"), ("Bob Li", "bob")):
        key = generate_private_key()
        cert = issue_signer_certificate(pki.ca, SignerIdentity(name, login), key.public_key())
        people.append((name, login, CachedKeySigner(key, cert, pki.ca.certificates)))
    people.append(("Carol Wang", "carol", None))
    links, entries, folders = [], [], []
    previous = signature_chain.GENESIS
    for seq, (name, login, signer) in enumerate(people, start=1):
        snapshot = RecordSnapshot("stock.lot", 42, {"lot": LOT, "result": "pass", "seq": seq})
        content = canonical_bytes(snapshot)
        stored_hash = content_hash(snapshot)
        payload: dict[str, Any] = {
            "res_model": "stock.lot",
            "res_id": 42,
            "content_hash": stored_hash,
            "login": login,
            "printed_name": name,
            "meaning_code": "approved",
            "signed_at": "2026-12-06 09:00:00",
        }
        folder: dict[str, bytes] = {}
        if signer is not None:
            cms_der = sign_detached(content, signer)
            token = request_timestamp(cms_der, [tsa.url], timeout=5).token
            payload["pki"] = {"cms_sha256": hashlib.sha256(cms_der).hexdigest()}
            folder["signature.p7s"] = cms_der
            folder["timestamp.tsr"] = token
        stored = signature_chain.signature_hash(previous, payload)
        links.append((previous, stored, payload))
        previous = stored
        manifest = {
            "format": "meddev-esign-signature-evidence/1",
            "signer": name,
            "login": login,
            "content_hash": stored_hash,
            "signature_hash": stored,
            "model": "stock.lot",
            "res_id": 42,
        }
        folder["manifest.json"] = json.dumps(manifest).encode()
        if tamper_snapshot and seq == 1:
            content = content.replace(LOT.encode(), b"LOT-2026-0099")
        if not (drop_non_pki_snapshot and signer is None):
            folder["snapshot.json"] = content
        folders.append(folder)
        entries.append(
            {
                "seq": seq,
                "signer": name,
                "login": login,
                "meaning": "Approved",
                "signed_at_utc": "2026-12-06 09:00:00",
                "content_hash": stored_hash,
                "signature_hash": stored,
                "pki": signer is not None,
            }
        )
    chain = signature_chain.export_document("stock.lot", 42, links)
    if break_chain:
        chain["entries"][1]["payload"]["meaning_code"] = "rejected"
    record = {
        "company": "ACME Medical",
        "model": "stock.lot",
        "res_id": 42,
        "record": LOT,
        "printed_at_utc": "2026-12-06 10:02:00",
        "printed_by": "Dana Auditor",
        "print_number": 3,
        "print_token_hash": hashlib.sha256(b"token").hexdigest(),
        "signatures": entries,
    }
    # The CRL an auditor checks the e-signatures with was issued after they were timestamped.
    crl = build_crl(pki.ca, [], crl_number=2, this_update=utc() + timedelta(seconds=2))
    return pdf_evidence.build_files(
        record,
        chain,
        folders,
        ca_pem=certificate_to_pem(pki.ca.certificate),
        ca_crl=crl.public_bytes(Encoding.DER),
        tsa_roots_pem=certificate_to_pem(tsa.root),
    )


def nss_db(folder: Path, *roots: x509.Certificate) -> str:
    """A throw-away NSS database trusting ``roots``; returns pdfsig's ``-nssdir`` value."""
    assert shutil.which("certutil"), "certutil (libnss3-tools) is required"
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["certutil", "-N", "-d", f"sql:{folder}", "--empty-password"],
        check=True,
        capture_output=True,
    )
    for index, root in enumerate(roots):
        pem = folder / f"root{index}.pem"
        pem.write_bytes(root.public_bytes(Encoding.PEM))
        subprocess.run(
            [
                "certutil",
                "-A",
                "-d",
                f"sql:{folder}",
                "-n",
                f"root{index}",
                "-t",
                "C,C,C",
                "-i",
                pem,
            ],
            check=True,
            capture_output=True,
        )
    return f"sql:{folder}"


def pdfsig(path: Path, nssdir: str | None = None) -> str:
    """poppler's ``pdfsig`` report of ``path``."""
    command = ["pdfsig"]
    if nssdir:
        command += ["-nssdir", nssdir]
    done = subprocess.run([*command, str(path)], capture_output=True, text=True, timeout=60)
    return done.stdout + done.stderr


def pdftotext(data: bytes, folder: Path, page: int | None = None) -> str:
    """poppler's text of a PDF (one page if given)."""
    path = folder / "text.pdf"
    path.write_bytes(data)
    command = ["pdftotext", "-enc", "UTF-8"]
    if page is not None:
        command += ["-f", str(page), "-l", str(page)]
    subprocess.run([*command, str(path), str(folder / "text.txt")], check=True, timeout=60)
    return (folder / "text.txt").read_text(encoding="utf-8")
