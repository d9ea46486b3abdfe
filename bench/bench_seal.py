#!/usr/bin/env python3
"""Benchmark: sealing a certificate-sized PDF (PAdES B-B to B-LTA) and verifying it, no Odoo.

Run ``python3 bench/bench_seal.py [--rounds N]`` from anywhere. It prints figures and never
asserts speed. The Odoo-level comparison (the unsealed render, OCA ``report_qweb_signer``) is
made by the report-level bench, which imports :func:`measure`.

What is measured, each the median over ``--rounds`` runs after warm-up:

* ``seal <level>``: :func:`services.pdf_seal.seal_pdf` of a one-page, ~60 KB certificate-like
  PDF (reportlab, two embedded TrueType fonts, a table and a logo image) with a visible QR
  stamp and 14 evidence files of three e-signatures, signed by a software ECDSA P-256 key
  (:class:`services.pki_sign.CachedKeySigner`), timestamped by a loopback TSA (certomancer in
  a child process, so its work is not counted in this interpreter's CPU time, as a real TSA's
  would not be). This is the seal's overhead over the unsealed render.
* ``verify``: :func:`services.pdf_verify.verify_sealed_pdf` of the B-LT file (every check,
  evidence included).

Both wall time and this process's CPU time are given: on a shared, loaded machine the CPU time
is the steadier figure.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
FIXTURES = ROOT / "services" / "tests" / "pki_fixtures.py"
LEVELS = ("B-B", "B-T", "B-LT", "B-LTA")
DEJAVU = Path("/usr/share/fonts/truetype/dejavu")
CJK_FONT = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
ZH_LINES = (
    "测试医疗器械有限公司",
    "已电子签名",
    "3 个电子签名",
    "盖章 2026-12-06 18:02 CST (UTC+08:00)",
)


def _load_fixtures():
    """The core suite's loopback TSA helpers, loaded from their file."""
    import importlib.util  # noqa: PLC0415

    name = "meddev_esign_pki_fixtures"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, FIXTURES)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def _serve() -> None:
    """Child process: start the loopback TSA, print its URL, root and CRL, wait for stdin."""
    import requests  # noqa: PLC0415
    from cryptography.hazmat.primitives.serialization import Encoding  # noqa: PLC0415

    tsa = _load_fixtures().start_tsa()
    crl = requests.get(tsa.crl_url, timeout=10).content
    print(
        json.dumps(
            {
                "url": tsa.url,
                "root_pem": tsa.root.public_bytes(Encoding.PEM).decode(),
                "crl_hex": crl.hex(),
            }
        ),
        flush=True,
    )
    sys.stdin.read()


class Tsa:
    """The loopback TSA in a child process."""

    def __enter__(self) -> Tsa:
        self.child = subprocess.Popen(
            [sys.executable, __file__, "--serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        info = json.loads(self.child.stdout.readline())
        self.url, self.root_pem, self.crl = (
            info["url"],
            info["root_pem"],
            bytes.fromhex(info["crl_hex"]),
        )
        return self

    def __exit__(self, *_exc: object) -> None:
        self.child.stdin.close()
        self.child.wait(timeout=10)


def certificate_pdf(pages: int = 1) -> bytes:
    """A Batch Release Certificate look-alike: about 80 KB for one page."""
    from reportlab.lib import colors  # noqa: PLC0415
    from reportlab.lib.pagesizes import A4  # noqa: PLC0415
    from reportlab.lib.utils import ImageReader  # noqa: PLC0415
    from reportlab.pdfbase import pdfmetrics  # noqa: PLC0415
    from reportlab.pdfbase.ttfonts import TTFont  # noqa: PLC0415
    from reportlab.pdfgen import canvas  # noqa: PLC0415

    regular, bold = "Helvetica", "Helvetica-Bold"
    if (DEJAVU / "DejaVuSans.ttf").exists():
        pdfmetrics.registerFont(TTFont("DejaVu", str(DEJAVU / "DejaVuSans.ttf")))
        pdfmetrics.registerFont(TTFont("DejaVu-Bold", str(DEJAVU / "DejaVuSans-Bold.ttf")))
        regular, bold = "DejaVu", "DejaVu-Bold"
    buffer = io.BytesIO()
    page = canvas.Canvas(buffer, pagesize=A4)
    width, height = A4
    from PIL import Image  # noqa: PLC0415

    logo = ImageReader(Image.frombytes("RGB", (160, 60), bytes(os.urandom(160 * 60 * 3))))
    for number in range(pages):
        page.drawImage(logo, 40, height - 100, 160, 60)
        page.setFont(bold, 18)
        page.drawString(220, height - 70, f"Batch Release Certificate {number + 1}")
        page.setFont(regular, 9)
        y = height - 130
        for row in range(40):
            page.setFillColor(colors.black if row % 2 else colors.darkblue)
            page.drawString(40, y, f"Lot LOT-2026-{row:04d}  Product Infusion Pump IP-{row % 7}")
            page.drawString(320, y, f"Expiry 2028-{row % 12 + 1:02d}-01  Qty {100 + row}  Passed")
            y -= 14
        page.setFont(bold, 10)
        page.drawString(40, y - 10, "Signatures: Approved (QA), Reviewed (Production), Released")
        page.showPage()
    page.save()
    return buffer.getvalue()


def _median(action: Callable[[], object], rounds: int, warmup: int = 3) -> tuple[float, float]:
    """Median wall and CPU milliseconds of ``action``."""
    for _ in range(warmup):
        action()
    walls, cpus = [], []
    for _ in range(rounds):
        wall, cpu = time.perf_counter(), time.process_time()
        action()
        cpus.append((time.process_time() - cpu) * 1000)
        walls.append((time.perf_counter() - wall) * 1000)
    return statistics.median(walls), statistics.median(cpus)


def _evidence(ca, crl_der: bytes, tsa_url: str, tsa_root_pem: str):
    """Three signatures' evidence by one person's key, made as the Odoo layer makes them."""
    import hashlib  # noqa: PLC0415

    from services import pdf_evidence, signature_chain  # noqa: PLC0415
    from services.pki_issue import SignerIdentity, issue_signer_certificate  # noqa: PLC0415
    from services.pki_keys import certificate_to_pem, generate_private_key  # noqa: PLC0415
    from services.pki_sign import CachedKeySigner, sign_detached  # noqa: PLC0415
    from services.pki_timestamp import request_timestamp  # noqa: PLC0415

    key = generate_private_key()
    certificate = issue_signer_certificate(ca, SignerIdentity("Bench", "bench"), key.public_key())
    signer = CachedKeySigner(key, certificate, ca.certificates)
    links, entries, folders = [], [], []
    previous = signature_chain.GENESIS
    for seq in (1, 2, 3):
        snapshot = b'esign-snapshot/1\n{"fields":{"lot":"LOT-2026-0001","seq":%d}}' % seq
        content_hash = "esign-snapshot/1:sha256:" + hashlib.sha256(snapshot).hexdigest()
        cms = sign_detached(snapshot, signer)
        token = request_timestamp(cms, [tsa_url]).token
        payload = {"res_model": "stock.lot", "res_id": 7, "content_hash": content_hash}
        payload["pki"] = {"cms_sha256": hashlib.sha256(cms).hexdigest()}
        stored = signature_chain.signature_hash(previous, payload)
        links.append((previous, stored, payload))
        previous = stored
        entries.append(
            {
                "seq": seq,
                "signer": "Bench",
                "login": "bench",
                "meaning": "approved",
                "signed_at_utc": "2026-12-06 10:00:00",
                "content_hash": content_hash,
                "signature_hash": stored,
                "pki": True,
            }
        )
        manifest = {
            "format": "meddev-esign-signature-evidence/1",
            "content_hash": content_hash,
            "signature_hash": stored,
            "login": "bench",
        }
        folders.append(
            {
                "manifest.json": json.dumps(manifest).encode(),
                "snapshot.json": snapshot,
                "signature.p7s": cms,
                "timestamp.tsr": token,
            }
        )
    record = {
        "company": "Bench Medical",
        "model": "stock.lot",
        "res_id": 7,
        "record": "LOT-2026-0001",
        "printed_at_utc": "2026-12-06 10:05:00",
        "printed_by": "Bench",
        "print_number": 1,
        "signatures": entries,
    }
    chain = signature_chain.export_document("stock.lot", 7, links)
    return pdf_evidence.build_files(
        record,
        chain,
        folders,
        ca_pem=certificate_to_pem(ca.certificate),
        ca_crl=crl_der,
        tsa_roots_pem=tsa_root_pem.encode(),
    )


def _hsm_signer(ca):  # noqa: ANN001, ANN202
    """A seal key on a SoftHSM2 token (None when SoftHSM2 is not installed)."""
    from services.pki_hsm import generate_key_pair, hsm_signer, open_token  # noqa: PLC0415
    from services.pki_issue import SignerIdentity, issue_signer_certificate  # noqa: PLC0415

    if not Path("/usr/lib/softhsm/libsofthsm2.so").exists():
        return None
    token = _load_fixtures().softhsm_token()
    session = open_token(token.library, token.label, token.pin)
    public = generate_key_pair(session, "bench-seal")
    certificate = issue_signer_certificate(ca, SignerIdentity("Bench HSM seal", "hsm"), public)
    return hsm_signer(session, "bench-seal", certificate, ca.certificates)


def measure(rounds: int = 30) -> dict[str, dict[str, float]]:
    """Seal and verify figures, in milliseconds (see the module docstring).

    :param rounds: Timed runs per figure.
    :return: ``{"seal B-B": {"wall_ms": ..., "cpu_ms": ...}, ..., "verify": {...},
        "pdf": {"input_bytes": ..., "sealed_bytes": ...}}``.
    """
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import logging  # noqa: PLC0415

    from cryptography.hazmat.primitives.serialization import Encoding  # noqa: PLC0415

    from services.pdf_seal import SealOptions, Stamp, seal_pdf  # noqa: PLC0415
    from services.pdf_verify import verify_sealed_pdf  # noqa: PLC0415
    from services.pki_ca import generate_ca  # noqa: PLC0415
    from services.pki_issue import SignerIdentity, issue_signer_certificate  # noqa: PLC0415
    from services.pki_keys import generate_private_key, load_certificate, utc  # noqa: PLC0415
    from services.pki_revocation import build_crl  # noqa: PLC0415
    from services.pki_sign import CachedKeySigner  # noqa: PLC0415
    from services.pki_timestamp import timestamp_imprint  # noqa: PLC0415

    logging.getLogger("pyhanko").setLevel(logging.ERROR)
    pdf = certificate_pdf()
    figures: dict[str, dict[str, float]] = {}
    with Tsa() as tsa:
        ca = generate_ca("Bench Medical e-Signature CA", organization="Bench Medical")
        key = generate_private_key()
        seal_cert = issue_signer_certificate(
            ca,
            SignerIdentity("Bench Medical company seal", "company-seal"),
            key.public_key(),
            crl_url="https://bench.invalid/meddev_esign/crl",
        )
        signer = CachedKeySigner(key, seal_cert, ca.certificates)
        tsa_root = load_certificate(tsa.root_pem.encode())
        # The CRL an auditor checks the e-signatures with is issued after them.
        crl = build_crl(ca, [], crl_number=1, this_update=utc() + timedelta(seconds=2))
        files = _evidence(ca, crl.public_bytes(Encoding.DER), tsa.url, tsa.root_pem)
        # The one in the seal's DSS is the CA's current CRL at sealing time.
        crl = build_crl(ca, [], crl_number=2).public_bytes(Encoding.DER)
        stamp = Stamp(
            lines=(
                "Bench Medical",
                "Electronically signed",
                "3 electronic signatures",
                "Sealed 2026-12-06 18:02 CST (UTC+08:00)",
            ),
            qr_url="https://erp.bench.invalid/meddev_esign/verify/" + "x" * 43,
            no_trusted_time_line="No trusted time",
        )
        sealed = {}

        def options_for(level: str) -> SealOptions:
            return SealOptions(
                level=level,
                tsa_urls=(tsa.url,),
                tsa_roots=(tsa_root,),
                trust_roots=(ca.root,),
                crls=(crl, tsa.crl),
            )

        for level in LEVELS:
            options = options_for(level)

            def action(options: SealOptions = options, level: str = level) -> None:
                sealed[level] = seal_pdf(pdf, signer, options, stamp=stamp, files=files).pdf

            wall, cpu = _median(action, rounds)
            figures[f"seal {level}"] = {"wall_ms": wall, "cpu_ms": cpu}
        lt = options_for("B-LT")
        if Path(CJK_FONT).exists():
            zh = replace(stamp, lines=ZH_LINES, font_path=CJK_FONT)
            wall, cpu = _median(lambda: seal_pdf(pdf, signer, lt, stamp=zh, files=files), rounds)
            figures["seal B-LT zh_CN stamp"] = {"wall_ms": wall, "cpu_ms": cpu}
        hsm = _hsm_signer(ca)
        if hsm is not None:
            wall, cpu = _median(lambda: seal_pdf(pdf, hsm, lt, stamp=stamp, files=files), rounds)
            figures["seal B-LT SoftHSM"] = {"wall_ms": wall, "cpu_ms": cpu}
        big = certificate_pdf(pages=50)
        wall, cpu = _median(
            lambda: seal_pdf(big, signer, lt, stamp=stamp, files=files),
            max(3, rounds // 5),
            warmup=1,
        )
        figures["seal B-LT 50 pages"] = {"wall_ms": wall, "cpu_ms": cpu}
        figures["pdf"] = {
            "input_bytes": len(pdf),
            "sealed_bytes": len(sealed["B-LT"]),
            "big_input_bytes": len(big),
        }
        verdict = verify_sealed_pdf(sealed["B-LT"], trust_roots=[ca.root], tsa_roots=[tsa_root])
        if verdict.status != "authentic":
            raise RuntimeError(f"the benchmark's sealed file does not verify: {verdict.checks}")
        for name, evidence in (("verify (seal only)", False), ("verify (seal+evidence)", True)):
            wall, cpu = _median(
                lambda evidence=evidence: verify_sealed_pdf(
                    sealed["B-LT"],
                    trust_roots=[ca.root],
                    tsa_roots=[tsa_root],
                    check_evidence=evidence,
                ),
                rounds,
            )
            figures[name] = {"wall_ms": wall, "cpu_ms": cpu}
        wall, cpu = _median(lambda: timestamp_imprint(bytes(32), [tsa.url]), rounds)
        figures["(TSA round trip alone)"] = {"wall_ms": wall, "cpu_ms": cpu}
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        _serve()
        return 0
    figures = measure(args.rounds)
    size = figures.pop("pdf")
    print(
        f"input PDF {size['input_bytes'] / 1024:.0f} KB, sealed at B-LT "
        f"{size['sealed_bytes'] / 1024:.0f} KB; 50 pages {size['big_input_bytes'] / 1024:.0f} KB; "
        f"medians of {args.rounds} runs; "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    print(f"{'':24} {'wall ms':>9} {'CPU ms':>9}")
    for name, row in figures.items():
        print(f"{name:24} {row['wall_ms']:9.1f} {row['cpu_ms']:9.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
