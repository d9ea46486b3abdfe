"""Verifying sealed reports (services.pdf_verify and the offline CLI services.verify_cli): every
tamper twin is made for real (byte edits, pyHanko incremental updates, other CAs), and
verify_sealed_pdf, the CLI and poppler's pdfsig must each say what is wrong."""

from __future__ import annotations

import io
import os
import random
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.generic import pdf_name
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from seal_fixtures import LOT, SealPki, evidence, make_pki, pdfsig, report_pdf, stamp

from services.pdf_evidence import PREFIX
from services.pdf_seal import EmbeddedFile, seal_pdf
from services.pdf_verify import PdfVerdict, verify_sealed_pdf
from services.pki_keys import certificate_to_pem
from services.verify_cli import main

ADDON_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def pki() -> SealPki:
    return make_pki()


@pytest.fixture(scope="module")
def files(pki: SealPki) -> list[EmbeddedFile]:
    return evidence(pki)


@pytest.fixture(scope="module")
def genuine(pki: SealPki, files: list[EmbeddedFile]) -> bytes:
    return seal_pdf(report_pdf(), pki.signer, pki.options("B-LT"), stamp=stamp(), files=files).pdf


@pytest.fixture(scope="module")
def trust(pki: SealPki, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("trust")
    (folder / "ca.pem").write_bytes(certificate_to_pem(pki.ca.root))
    (folder / "tsa.pem").write_bytes(certificate_to_pem(pki.tsa.root))
    return folder / "ca.pem", folder / "tsa.pem"


def _verify(data: bytes, pki: SealPki, **kwargs) -> PdfVerdict:  # noqa: ANN003
    return verify_sealed_pdf(data, trust_roots=[pki.ca.root], tsa_roots=[pki.tsa.root], **kwargs)


def _cli(
    data: bytes, trust: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str]:
    path = tmp_path / "input.pdf"
    path.write_bytes(data)
    code = main([str(path), "--trust", str(trust[0]), "--tsa-roots", str(trust[1])])
    return code, capsys.readouterr().out


def _failed(verdict: PdfVerdict) -> dict[str, str]:
    return {check.name: check.detail for check in verdict.checks if not check.ok}


def _overlay_text(data: bytes) -> bytes:
    """An incremental update that paints a white box over the lot number and a new one."""
    writer = IncrementalPdfFileWriter(io.BytesIO(data))
    stream = generic.StreamObject(
        stream_data=b"q 1 1 1 rg 70 725 250 18 re f Q "
        b"BT /F1 11 Tf 72 730 Td (Lot LOT-2026-0099) Tj ET"
    )
    writer.add_stream_to_page(0, writer.add_object(stream), prepend=False)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _add_annotation(data: bytes) -> bytes:
    """An incremental update that adds a FreeText annotation ("approved") to the page."""
    writer = IncrementalPdfFileWriter(io.BytesIO(data))
    page_ref = writer.find_page_for_modification(0)[0]
    page = page_ref.get_object()
    annotation = generic.DictionaryObject(
        {
            pdf_name("/Type"): pdf_name("/Annot"),
            pdf_name("/Subtype"): pdf_name("/FreeText"),
            pdf_name("/Rect"): generic.ArrayObject(map(generic.FloatObject, (300, 700, 500, 720))),
            pdf_name("/Contents"): generic.TextStringObject("Lot LOT-2026-0099 approved"),
            pdf_name("/DA"): generic.TextStringObject("/Helv 10 Tf 0 g"),
        }
    )
    annots = page["/Annots"].get_object() if "/Annots" in page else generic.ArrayObject()
    annots.append(writer.add_object(annotation))
    page["/Annots"] = annots
    writer.update_container(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _remove_signature(data: bytes) -> bytes:
    """An incremental update that drops the seal's field and widget, as a forger would."""
    writer = IncrementalPdfFileWriter(io.BytesIO(data))
    form = writer.root["/AcroForm"]
    form["/Fields"] = generic.ArrayObject()
    writer.update_container(form)
    for index in range(len(writer.root["/Pages"]["/Kids"])):
        page = writer.find_page_for_modification(index)[0].get_object()
        if "/Annots" in page:
            del page["/Annots"]
            writer.update_container(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


# --- The genuine file ------------------------------------------------------------------------


def test_genuine_file_is_authentic_everywhere(
    pki: SealPki,
    genuine: bytes,
    trust: tuple[Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    verdict = _verify(genuine, pki)
    assert verdict.status == "authentic", _failed(verdict)
    names = [check.name for check in verdict.checks]
    for expected in (
        "seal 1 (MeddevSeal) integrity",
        "seal 1 (MeddevSeal) signer",
        "seal 1 (MeddevSeal) revocation",
        "seal 1 (MeddevSeal) timestamp",
        "seal 1 (MeddevSeal) modifications",
        "evidence record",
        "signature chain",
        "signature 1 CAdES",
        "signature 2 CAdES",
        "signature 3 snapshot",
    ):
        assert expected in names
    code, out = _cli(genuine, trust, tmp_path, capsys)
    assert code == 0
    assert out.splitlines()[-1].startswith("VERDICT: AUTHENTIC")
    assert "FAIL" not in out
    assert f"SHA-256: {verdict.sha256}" in out


def test_module_runs_standalone(genuine: bytes, trust: tuple[Path, Path], tmp_path: Path) -> None:
    """``python3 -m services.verify_cli``, from the add-on folder, as an auditor runs it."""
    path = tmp_path / "certificate.pdf"
    path.write_bytes(genuine)
    done = subprocess.run(
        [sys.executable, "-m", "services.verify_cli", str(path), "--trust", str(trust[0]),
         "--tsa-roots", str(trust[1]), "--extract", str(tmp_path / "out")],
        cwd=ADDON_ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "VERDICT: AUTHENTIC" in done.stdout
    assert (tmp_path / "out" / "meddev-esign" / "signature-1" / "signature.p7s").is_file()


def test_non_pki_signature_without_snapshot_is_reported_not_a_crash(pki: SealPki) -> None:
    files = evidence(pki, drop_non_pki_snapshot=True)
    data = seal_pdf(report_pdf(), pki.signer, pki.options("B-LT"), files=files).pdf
    verdict = _verify(data, pki)
    assert verdict.status == "authentic"
    detail = {check.name: check.detail for check in verdict.checks}["signature 3 snapshot"]
    assert "changed since signing" in detail and "not embedded" in detail


def test_a_later_document_timestamp_keeps_the_seal_authentic(pki: SealPki) -> None:
    data = seal_pdf(report_pdf(), pki.signer, pki.options("B-LTA")).pdf
    verdict = _verify(data, pki)
    assert verdict.status == "authentic", _failed(verdict)
    modifications = {c.name: c.detail for c in verdict.checks}["seal 1 (MeddevSeal) modifications"]
    assert "document timestamp" in modifications


# --- Tamper twins ----------------------------------------------------------------------------


def test_one_changed_byte_in_the_page_content(
    pki: SealPki,
    genuine: bytes,
    trust: tuple[Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    position = genuine.index(LOT.encode()) + len(LOT) - 1  # "...0042" -> "...0043"
    tampered = genuine[:position] + b"3" + genuine[position + 1 :]
    verdict = _verify(tampered, pki)
    assert verdict.status == "altered"
    assert "seal 1 (MeddevSeal) integrity" in _failed(verdict)
    code, out = _cli(tampered, trust, tmp_path, capsys)
    assert code == 1
    assert "FAIL seal 1 (MeddevSeal) integrity: The signed bytes were changed" in out
    assert "VERDICT: ALTERED" in out
    path = tmp_path / "tampered.pdf"
    path.write_bytes(tampered)
    assert "Signature is Invalid." in pdfsig(path) or "Digest Mismatch" in pdfsig(path)


def test_incremental_update_overlaying_text(
    pki: SealPki,
    genuine: bytes,
    trust: tuple[Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    tampered = _overlay_text(genuine)
    verdict = _verify(tampered, pki)
    assert verdict.status == "altered"
    failed = _failed(verdict)
    assert set(failed) == {"seal 1 (MeddevSeal) modifications"}, failed
    assert "changed after the seal" in failed["seal 1 (MeddevSeal) modifications"]
    code, out = _cli(tampered, trust, tmp_path, capsys)
    assert code == 1
    assert "FAIL seal 1 (MeddevSeal) modifications: The file was changed after the seal" in out
    path = tmp_path / "overlay.pdf"
    path.write_bytes(tampered)
    report = pdfsig(path)
    assert "Total document signed" not in report  # poppler sees the seal no longer covers all


def test_incremental_update_adding_an_annotation(
    pki: SealPki, genuine: bytes, trust: tuple[Path, Path], tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    tampered = _add_annotation(genuine)
    verdict = _verify(tampered, pki)
    assert verdict.status == "altered"
    assert "seal 1 (MeddevSeal) modifications" in _failed(verdict)
    code, out = _cli(tampered, trust, tmp_path, capsys)
    assert code == 1 and "VERDICT: ALTERED" in out


def test_signature_dictionary_removed(
    pki: SealPki,
    genuine: bytes,
    trust: tuple[Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    stripped = _remove_signature(genuine)
    verdict = _verify(stripped, pki)
    assert verdict.status == "not_sealed"
    assert _failed(verdict) == {"seal": "The PDF carries no electronic seal."}
    code, out = _cli(stripped, trust, tmp_path, capsys)
    assert code == 1
    assert "VERDICT: NOT SEALED" in out


def test_signature_contents_zeroed(pki: SealPki, genuine: bytes) -> None:
    """The signature dictionary kept, its CMS blanked: the seal cannot be validated."""
    start = genuine.index(b"/Contents <") + len(b"/Contents <")
    end = genuine.index(b">", start)
    blanked = genuine[:start] + b"0" * (end - start) + genuine[end:]
    verdict = _verify(blanked, pki)
    assert verdict.status == "altered", verdict.checks
    assert "signature cannot be read" in _failed(verdict)["seal"]


def test_sealed_by_another_ca(
    pki: SealPki, trust: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = make_pki("Forger Inc")
    data = seal_pdf(report_pdf(), other.signer, other.options("B-LT"), stamp=stamp()).pdf
    verdict = _verify(data, pki)
    assert verdict.status == "unknown_issuer"
    failed = _failed(verdict)
    assert "Forger Inc" in failed["seal 1 (MeddevSeal) signer"]
    assert "does not chain to the trusted root" in failed["seal 1 (MeddevSeal) signer"]
    code, out = _cli(data, trust, tmp_path, capsys)
    assert code == 1 and "VERDICT: UNKNOWN ISSUER" in out
    # The twin: with that CA trusted, the same file is authentic.
    assert (
        verify_sealed_pdf(data, trust_roots=[other.ca.root], tsa_roots=[other.tsa.root]).status
        == "authentic"
    )


def test_resealed_copy_of_an_altered_file_by_an_unknown_key(
    pki: SealPki,
    files: list[EmbeddedFile],
    trust: tuple[Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A forger re-renders the report with another lot, copies the evidence, seals it."""
    forger = make_pki("ACME Medical")  # same name, another key and CA
    data = seal_pdf(
        report_pdf(lot="LOT-2026-0099"),
        forger.signer,
        forger.options("B-LT"),
        stamp=stamp(),
        files=files,
    ).pdf
    verdict = _verify(data, pki)
    assert verdict.status == "unknown_issuer"
    assert "seal 1 (MeddevSeal) signer" in _failed(verdict)
    code, out = _cli(data, trust, tmp_path, capsys)
    assert code == 1 and "VERDICT: UNKNOWN ISSUER" in out


def test_resealed_on_top_of_an_altered_file(pki: SealPki, genuine: bytes) -> None:
    """The altered bytes stay under the first seal even when a valid key seals again."""
    position = genuine.index(LOT.encode()) + len(LOT) - 1
    altered = genuine[:position] + b"9" + genuine[position + 1 :]
    resealed = seal_pdf(
        altered, pki.signer, pki.options("B-LT", field_name="MeddevSeal2"), stamp=stamp()
    ).pdf
    verdict = _verify(resealed, pki)
    assert verdict.status == "altered"
    assert "seal 1 (MeddevSeal) integrity" in _failed(verdict)


def test_resealed_by_a_valid_key_with_altered_evidence(
    pki: SealPki, trust: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Even under a genuine seal, an embedded snapshot that is not what was signed shows."""
    data = seal_pdf(
        report_pdf(lot="LOT-2026-0099"),
        pki.signer,
        pki.options("B-LT"),
        files=evidence(pki, tamper_snapshot=True),
    ).pdf
    verdict = _verify(data, pki)
    assert verdict.status == "altered"
    failed = _failed(verdict)
    assert "content was altered" in failed["signature 1 snapshot"]
    assert "signature 1 CAdES" in failed  # the CMS does not cover the altered snapshot
    code, out = _cli(data, trust, tmp_path, capsys)
    assert code == 1 and "FAIL signature 1 snapshot" in out


def test_broken_signature_chain_in_the_evidence(pki: SealPki) -> None:
    data = seal_pdf(
        report_pdf(), pki.signer, pki.options("B-B"), files=evidence(pki, break_chain=True)
    ).pdf
    verdict = _verify(data, pki)
    assert verdict.status == "altered"
    assert "signature chain" in _failed(verdict)


def test_untrusted_tsa(pki: SealPki, genuine: bytes) -> None:
    other = make_pki("Other")
    verdict = verify_sealed_pdf(genuine, trust_roots=[pki.ca.root], tsa_roots=[other.ca.root])
    assert verdict.status == "unknown_issuer"
    assert "untrusted TSA" in _failed(verdict)["seal 1 (MeddevSeal) timestamp"]


def test_evidence_can_be_skipped(pki: SealPki) -> None:
    data = seal_pdf(
        report_pdf(), pki.signer, pki.options("B-B"), files=evidence(pki, tamper_snapshot=True)
    ).pdf
    assert _verify(data, pki, check_evidence=False).status == "authentic"
    assert _verify(data, pki).status == "altered"


# --- Unusable input, hostile input -------------------------------------------------------------


def _classic_pdf(
    objects: list[bytes], *, size: int | None = None, count: int | None = None
) -> bytes:
    """A PDF with a correct classic xref table (object 1 is the catalog), or a lying one."""
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    entries = count if count is not None else len(objects) + 1
    out += b"xref\n0 %d\n0000000000 65535 f \n" % entries
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    total = size if size is not None else len(objects) + 1
    out += b"trailer\n<</Size %d /Root 1 0 R>>\nstartxref\n%d\n%%%%EOF\n" % (total, xref)
    return bytes(out)


def _garbage(genuine: bytes) -> dict[str, bytes]:
    rng = random.Random(14)
    half = genuine[: len(genuine) // 2]
    catalog = b"<</Type/Catalog/Pages 2 0 R>>"
    pages = b"<</Type/Pages/Kids[3 0 R]/Count 1>>"
    page = b"<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>"
    huge_xref = _classic_pdf([catalog, pages, page], size=999_999_999, count=999_999_999)
    nested = b"<</Type/Page/X " + b"[" * 50_000 + b"]" * 50_000 + b">>"
    deep = _classic_pdf([catalog, pages, nested])
    loop = _classic_pdf([catalog, b"<</Type/Pages/Kids[2 0 R]/Count 1>>"])
    sig_field = _classic_pdf(
        [
            b"<</Type/Catalog/Pages 2 0 R/AcroForm<</Fields[4 0 R]>>>>",
            pages,
            page,
            b"<</FT/Sig/T(Seal)/V<</Type/Sig/Filter/Adobe.PPKLite/SubFilter/ETSI.CAdES.detached"
            b"/ByteRange[0 99999999999 99999999999 5]/Contents<3082>>>>>",
        ]
    )
    names_loop = _classic_pdf(
        [
            b"<</Type/Catalog/Pages 2 0 R/Names<</EmbeddedFiles 4 0 R>>>>",
            pages,
            page,
            b"<</Kids[4 0 R]>>",
        ]
    )
    return {
        "empty": b"",
        "text": b"hello, auditor",
        "png": b"\x89PNG\r\n\x1a\n" + os.urandom(200),
        "header only": b"%PDF-1.7\n%%EOF\n",
        "truncated": half,
        "random after header": b"%PDF-1.7\n" + bytes(rng.randrange(256) for _ in range(5000)),
        "huge xref": huge_xref,
        "deep nesting": deep,
        "page tree loop": loop,
        "forged signature field": sig_field,
        "attachment tree loop": names_loop,
    }


def test_garbage_is_unusable_and_never_raises(pki: SealPki, genuine: bytes) -> None:
    for name, data in _garbage(genuine).items():
        started = time.monotonic()
        verdict = _verify(data, pki)
        assert time.monotonic() - started < 10, name
        assert verdict.status in ("unusable", "not_sealed", "altered"), (name, verdict.checks)
        assert not verdict.ok
        assert verdict.checks and verdict.checks[-1].detail


@pytest.mark.parametrize("name", ["empty", "text", "truncated", "huge xref"])
def test_garbage_in_the_cli_exits_2(
    pki: SealPki,
    genuine: bytes,
    trust: tuple[Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
) -> None:
    code, out = _cli(_garbage(genuine)[name], trust, tmp_path, capsys)
    assert code == 2, out
    assert "VERDICT: UNUSABLE" in out


def test_random_byte_flips_never_raise(pki: SealPki, genuine: bytes) -> None:
    rng = random.Random(1414)
    for _ in range(40):
        data = bytearray(genuine)
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        verdict = _verify(bytes(data), pki)
        assert verdict.status in ("altered", "unusable", "not_sealed", "unknown_issuer")


def test_truncations_never_raise(pki: SealPki, genuine: bytes) -> None:
    for cut in range(0, len(genuine), max(1, len(genuine) // 25)):
        verdict = _verify(genuine[:cut], pki)
        assert verdict.status != "authentic"


def test_too_large(
    pki: SealPki,
    genuine: bytes,
    trust: tuple[Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    verdict = _verify(genuine, pki, max_bytes=len(genuine) - 1)
    assert verdict.status == "unusable"
    assert "larger than" in verdict.checks[0].detail
    path = tmp_path / "big.pdf"
    path.write_bytes(genuine)
    code = main([str(path), "--trust", str(trust[0]), "--max-bytes", "1000"])
    out = capsys.readouterr().out
    assert code == 2 and "not read" in out


def test_not_sealed(pki: SealPki, trust: tuple[Path, Path], tmp_path: Path,
                    capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    verdict = _verify(report_pdf(), pki)
    assert verdict.status == "not_sealed"
    code, out = _cli(report_pdf(), trust, tmp_path, capsys)
    assert code == 1 and "VERDICT: NOT SEALED" in out


def test_cli_bad_trust_file(genuine: bytes, tmp_path: Path) -> None:
    path = tmp_path / "x.pdf"
    path.write_bytes(genuine)
    (tmp_path / "bad.pem").write_text("not a certificate")
    assert main([str(path), "--trust", str(tmp_path / "bad.pem")]) == 2
    assert main([str(path), "--trust", str(tmp_path / "missing.pem")]) == 2
    assert main([str(tmp_path / "missing.pdf"), "--trust", str(tmp_path / "bad.pem")]) == 2
    assert main([]) == 2


def test_cli_extract_refuses_paths_that_escape(pki: SealPki, tmp_path: Path) -> None:
    evil = [EmbeddedFile("../escape.txt", b"x"), EmbeddedFile("/abs.txt", b"y")]
    data = seal_pdf(report_pdf(), pki.signer, pki.options("B-B"), files=evil).pdf
    (tmp_path / "ca.pem").write_bytes(certificate_to_pem(pki.ca.root))
    path = tmp_path / "evil.pdf"
    path.write_bytes(data)
    out = tmp_path / "out"
    main([str(path), "--trust", str(tmp_path / "ca.pem"), "--extract", str(out)])
    assert not (tmp_path / "escape.txt").exists()
    assert not list(out.rglob("*")) or all(p.is_relative_to(out) for p in out.rglob("*"))
    assert PdfFileReader(io.BytesIO(data)).embedded_signatures


def test_an_attachment_that_inflates_past_the_limit(pki: SealPki) -> None:
    """40 MB of zeros compress to 40 KB: the verifier refuses to inflate it (32 MB a stream)
    and says the attachment cannot be read, instead of taking the memory."""
    bomb = EmbeddedFile(f"{PREFIX}record.json", bytes(40 * 1024 * 1024))
    data = seal_pdf(report_pdf(), pki.signer, pki.options("B-B"), files=[bomb]).pdf
    assert len(data) < 200_000
    verdict = _verify(data, pki)
    assert verdict.status == "altered"
    assert "record.json" in _failed(verdict)["attachments"]
    assert not verdict.embedded
    assert _verify(data, pki, check_evidence=False).status == "authentic"


def test_incremental_update_replacing_an_attachment(pki: SealPki, genuine: bytes) -> None:
    """A forged record.json attached after the seal: the difference analysis catches it."""
    from pyhanko.pdf_utils import embed  # noqa: PLC0415

    writer = IncrementalPdfFileWriter(io.BytesIO(genuine))
    forged = embed.EmbeddedFileObject.from_file_data(writer, b'{"record": "LOT-2026-0099"}')
    embed.embed_file(
        writer, embed.FileSpec(file_spec_string="zz-record.json", embedded_data=forged)
    )
    out = io.BytesIO()
    writer.write(out)
    verdict = _verify(out.getvalue(), pki)
    assert verdict.status == "altered"
    assert "seal 1 (MeddevSeal) modifications" in _failed(verdict)


@pytest.mark.parametrize("level", ["B-LT", "B-LTA"])
def test_validation_data_without_a_crl_is_unproven_not_forged(pki: SealPki, level: str) -> None:
    """The TSA's CA's CRL, or the company CA's, left out of the DSS: the seal stays authentic
    and the verifier says which revocation status the file does not prove."""
    for crls, unproven in (((pki.crl,), "timestamp"), ((pki.tsa_crl,), "revocation")):
        data = seal_pdf(report_pdf(), pki.signer, pki.options(level, crls=crls)).pdf
        verdict = _verify(data, pki)
        assert verdict.status == "authentic", _failed(verdict)
        details = {check.name: check.detail for check in verdict.checks}
        detail = details[f"seal 1 (MeddevSeal) {unproven}"]
        assert "not in the file" in detail or "no usable CRL" in detail, detail
    # The twin: a revoked TSA or seal is still caught (see the revocation tests); and with
    # every CRL given, nothing is left unproven.
    full = _verify(seal_pdf(report_pdf(), pki.signer, pki.options(level)).pdf, pki)
    assert not any("not in the file" in c.detail or "no usable" in c.detail for c in full.checks)


def test_seal_revoked_before_it_was_made(pki: SealPki) -> None:
    """A key revoked before the seal (sealed where nothing checked it, the CRL added later
    as validation data): the verifier finds the revocation in the file, with no network."""
    from asn1crypto import crl as asn1_crl  # noqa: PLC0415
    from pyhanko.sign.validation import DocumentSecurityStore  # noqa: PLC0415

    from services.pki_keys import utc  # noqa: PLC0415
    from services.pki_revocation import Revocation, build_crl  # noqa: PLC0415

    revoked_at = utc() - timedelta(minutes=10)
    crl = build_crl(
        pki.ca,
        [Revocation(pki.certificate.serial_number, revoked_at)],
        crl_number=9,
        this_update=utc() - timedelta(minutes=1),
    ).public_bytes(Encoding.DER)
    # Below B-LT, with no trust roots given, seal_pdf checks nothing: as a careless caller.
    sealed = seal_pdf(report_pdf(), pki.signer, pki.options("B-T", trust_roots=())).pdf
    contents = PdfFileReader(io.BytesIO(sealed)).embedded_signatures[0].pkcs7_content
    out = io.BytesIO(sealed)
    DocumentSecurityStore.add_dss(
        out, contents, crls=[asn1_crl.CertificateList.load(crl)], certs=None
    )
    verdict = _verify(out.getvalue(), pki)
    assert verdict.status == "unknown_issuer", verdict.checks
    assert "revoked" in _failed(verdict)["seal 1 (MeddevSeal) revocation"]
