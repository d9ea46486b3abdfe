"""Sealing a report (services.pdf_seal): real keys, a real loopback TSA, a SoftHSM2 token, and
independent validators (poppler's pdfsig with NSS, pyHanko's own validator, fetching off)."""

from __future__ import annotations

import asyncio
import io
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from pki_fixtures import softhsm_token
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import DocumentSecurityStore, validate_pdf_signature
from pyhanko.sign.validation.ades import ades_lta_validation
from pyhanko.sign.validation.policy_decl import (
    PdfSignatureValidationSpec,
    RevinfoOnlineFetchingRule,
    RevocationInfoGatheringSpec,
    SignatureValidationSpec,
)
from pyhanko.sign.validation.settings import KeyUsageConstraints
from pyhanko_certvalidator.context import CertValidationPolicySpec
from pyhanko_certvalidator.policy_decl import (
    CertRevTrustPolicy,
    RevocationCheckingPolicy,
    RevocationCheckingRule,
)
from pyhanko_certvalidator.registry import SimpleTrustManager
from seal_fixtures import (
    CJK_FONT,
    LOT,
    SealPki,
    evidence,
    make_pki,
    nss_db,
    pdfsig,
    pdftotext,
    report_pdf,
    stamp,
)

from services.pdf_evidence import PREFIX
from services.pdf_seal import EmbeddedFile, SealError, SealResult, Stamp, cjk_font_path, seal_pdf
from services.pdf_verify import verify_sealed_pdf
from services.pki_hsm import generate_key_pair, hsm_signer, open_token
from services.pki_issue import SignerIdentity, issue_signer_certificate
from services.pki_keys import KeyType, generate_private_key
from services.pki_sign import CachedKeySigner

LEVELS = ("B-B", "B-T", "B-LT", "B-LTA")


@pytest.fixture(scope="module")
def pki() -> SealPki:
    return make_pki()


@pytest.fixture(scope="module")
def files(pki: SealPki) -> list[EmbeddedFile]:
    return evidence(pki)


@pytest.fixture(scope="module")
def hsm(pki: SealPki) -> Iterator[Any]:
    """The company seal's key on a SoftHSM2 token, with its certificate from the same CA."""
    token = softhsm_token()
    session = open_token(token.library, token.label, token.pin)
    public = generate_key_pair(session, "company-seal-pdf")
    certificate = issue_signer_certificate(
        pki.ca,
        SignerIdentity("ACME Medical company seal (HSM)", "company-seal"),
        public,
        crl_url="https://erp.example.com/meddev_esign/crl/1.crl",
    )
    try:
        yield hsm_signer(session, "company-seal-pdf", certificate, pki.ca.certificates)
    finally:
        session.close()


@pytest.fixture(scope="module")
def sealed(pki: SealPki, files: list[EmbeddedFile]) -> dict[str, SealResult]:
    """The report sealed at each level with the software key."""
    return {
        level: seal_pdf(report_pdf(), pki.signer, pki.options(level), stamp=stamp(), files=files)
        for level in LEVELS
    }


@pytest.fixture(scope="module")
def nss(pki: SealPki, tmp_path_factory: pytest.TempPathFactory) -> str:
    return nss_db(tmp_path_factory.mktemp("nss"), pki.ca.root, pki.tsa.root)


def _asn1(certificate) -> asn1_x509.Certificate:  # noqa: ANN001
    return asn1_x509.Certificate.load(certificate.public_bytes(Encoding.DER))


def _pyhanko_status(data: bytes, pki: SealPki, index: int = 0):  # noqa: ANN202
    """pyHanko's own verdict with the file's DSS only: fetching off, revocation required."""
    reader = PdfFileReader(io.BytesIO(data))
    embedded = reader.embedded_signatures[index]
    dss = DocumentSecurityStore.read_dss(reader)
    moment = None
    kwargs = {
        "trust_roots": [_asn1(pki.ca.root), _asn1(pki.tsa.root)],
        "allow_fetching": False,
        "revocation_mode": "require",
    }
    status = validate_pdf_signature(embedded, dss.as_validation_context(kwargs))
    moment = status.timestamp_validity.timestamp if status.timestamp_validity else moment
    return status


def _pades_lta(data: bytes, pki: SealPki):  # noqa: ANN202
    """pyHanko's ETSI EN 319 102-1 long-term validation, with local data only."""
    policy = CertValidationPolicySpec(
        trust_manager=SimpleTrustManager.build(
            trust_roots=[_asn1(pki.ca.root), _asn1(pki.tsa.root)]
        ),
        revinfo_policy=CertRevTrustPolicy(
            RevocationCheckingPolicy(
                ee_certificate_rule=RevocationCheckingRule.CRL_OR_OCSP_REQUIRED,
                intermediate_ca_cert_rule=RevocationCheckingRule.CRL_OR_OCSP_REQUIRED,
            )
        ),
    )
    spec = PdfSignatureValidationSpec(
        SignatureValidationSpec(
            cert_validation_policy=policy,
            revinfo_gathering_policy=RevocationInfoGatheringSpec(
                online_fetching_rule=RevinfoOnlineFetchingRule.LOCAL_ONLY
            ),
            key_usage_settings=KeyUsageConstraints(key_usage=set()),
        )
    )
    reader = PdfFileReader(io.BytesIO(data))
    return asyncio.run(ades_lta_validation(reader.embedded_signatures[0], spec))


# --- What each level gives ------------------------------------------------------------------


@pytest.mark.parametrize("level", LEVELS)
def test_each_level_is_reached_and_verifies(
    pki: SealPki, sealed: dict[str, SealResult], level: str
) -> None:
    result = sealed[level]
    assert result.level == level
    assert result.timestamped is (level != "B-B")
    assert (result.timestamp_time is None) is (level == "B-B")
    assert result.tsa_error is None
    verdict = verify_sealed_pdf(result.pdf, trust_roots=[pki.ca.root], tsa_roots=[pki.tsa.root])
    assert verdict.status == "authentic", verdict.checks
    assert verdict.sha256 == result.sha256
    assert verdict.timestamped is (level != "B-B")
    assert verdict.signer_subject and "company seal" in verdict.signer_subject
    assert all(check.ok for check in verdict.checks), verdict.checks


def test_one_seal_per_file_on_the_last_page(pki: SealPki, files: list[EmbeddedFile]) -> None:
    result = seal_pdf(report_pdf(pages=3), pki.signer, pki.options(), stamp=stamp(), files=files)
    reader = PdfFileReader(io.BytesIO(result.pdf))
    signatures = reader.embedded_signatures
    assert len(signatures) == 1
    widget = signatures[0].sig_field
    last_page = reader.root["/Pages"]["/Kids"][2].get_object()
    assert any(annot.get_object() is widget or annot.get_object().get("/T") == "MeddevSeal"
               for annot in last_page["/Annots"])  # fmt: skip
    first_page = reader.root["/Pages"]["/Kids"][0].get_object()
    assert "/Annots" not in first_page


def test_b_lt_is_one_revision_and_lta_adds_the_document_timestamp(
    sealed: dict[str, SealResult],
) -> None:
    original = report_pdf()
    for level, extra_revisions in (("B-B", 1), ("B-T", 1), ("B-LT", 1), ("B-LTA", 2)):
        reader = PdfFileReader(io.BytesIO(sealed[level].pdf))
        assert reader.xrefs.total_revisions == 1 + extra_revisions, level
        assert sealed[level].pdf.startswith(original)  # an incremental update of the render
    assert "/DSS" not in PdfFileReader(io.BytesIO(sealed["B-T"].pdf)).root
    assert "/DSS" in PdfFileReader(io.BytesIO(sealed["B-LT"].pdf)).root


# --- Independent validators -----------------------------------------------------------------


@pytest.mark.parametrize("level", LEVELS)
def test_pdfsig_says_valid_and_trusted(
    sealed: dict[str, SealResult], nss: str, tmp_path: Path, level: str
) -> None:
    path = tmp_path / f"{level}.pdf"
    path.write_bytes(sealed[level].pdf)
    untrusted = pdfsig(path)
    assert "Signature is Valid." in untrusted
    assert "Certificate is Trusted." not in untrusted  # no trust store: NSS does not know the CA
    report = pdfsig(path, nss)
    first = report.split("Signature #2")[0]
    assert "Signature Field Name: MeddevSeal" in first
    assert "Signature Type: ETSI.CAdES.detached" in first
    assert "Signature is Valid." in first
    assert "Certificate is Trusted." in first
    assert "Total document signed" in first or level == "B-LTA"
    if level == "B-LTA":  # poppler lists the document timestamp, which it cannot check
        assert "Signature #2" in report


@pytest.mark.parametrize("level", ["B-LT", "B-LTA"])
def test_pyhanko_says_intact_timestamped_and_ltv_complete_offline(
    pki: SealPki, sealed: dict[str, SealResult], level: str
) -> None:
    status = _pyhanko_status(sealed[level].pdf, pki)
    assert status.intact and status.valid and status.trusted, status.pretty_print_details()
    assert status.timestamp_validity is not None and status.timestamp_validity.trusted
    assert status.bottom_line
    # Every certificate of the seal's path and the TSA's was checked against the DSS alone.
    assert not status.revoked


def test_pyhanko_long_term_validation_of_b_lta_passes_with_local_data_only(
    pki: SealPki, sealed: dict[str, SealResult]
) -> None:
    result = _pades_lta(sealed["B-LTA"].pdf, pki)
    assert result.ades_subindic.status.name == "PASSED", result.ades_subindic
    assert result.oldest_evidence_record_timestamp is not None


def test_b_t_alone_is_not_ltv_complete_offline(
    pki: SealPki, sealed: dict[str, SealResult]
) -> None:
    """The twin: without the DSS, pyHanko cannot establish revocation status offline."""
    reader = PdfFileReader(io.BytesIO(sealed["B-T"].pdf))
    status = validate_pdf_signature(
        reader.embedded_signatures[0],
        _no_dss_context(pki),
    )
    assert status.intact and status.valid
    assert not status.bottom_line


def _no_dss_context(pki: SealPki):  # noqa: ANN202
    from pyhanko_certvalidator import ValidationContext  # noqa: PLC0415

    return ValidationContext(
        trust_roots=[_asn1(pki.ca.root), _asn1(pki.tsa.root)],
        allow_fetching=False,
        revocation_mode="require",
        crls=[],
        ocsps=[],
    )


# --- The key on a token -----------------------------------------------------------------------


@pytest.mark.parametrize("level", LEVELS)
def test_softhsm_seal_at_each_level(
    pki: SealPki, hsm: Any, files: list[EmbeddedFile], nss: str, tmp_path: Path, level: str
) -> None:
    result = seal_pdf(report_pdf(), hsm, pki.options(level), stamp=stamp(), files=files)
    assert result.level == level
    verdict = verify_sealed_pdf(result.pdf, trust_roots=[pki.ca.root], tsa_roots=[pki.tsa.root])
    assert verdict.status == "authentic", verdict.checks
    assert "(HSM)" in (verdict.signer_subject or "")
    path = tmp_path / "hsm.pdf"
    path.write_bytes(result.pdf)
    report = pdfsig(path, nss).split("Signature #2")[0]
    assert "Signature is Valid." in report and "Certificate is Trusted." in report
    if level in ("B-LT", "B-LTA"):
        assert _pyhanko_status(result.pdf, pki).bottom_line


# --- Stamp and embedded files ----------------------------------------------------------------


def test_stamp_text_is_on_the_last_page(sealed: dict[str, SealResult], tmp_path: Path) -> None:
    text = pdftotext(sealed["B-LT"].pdf, tmp_path)
    for line in ("ACME Medical", "Electronically signed", "3 electronic signatures", "UTC+08:00"):
        assert line in text
    assert "No trusted time" not in text
    assert LOT in text  # the report itself is untouched


def test_chinese_stamp_embeds_a_cjk_font(
    pki: SealPki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEDDEV_ESIGN_FONT_CACHE", str(tmp_path / "fonts"))
    (tmp_path / "fonts").mkdir()
    cjk_font_path.cache_clear()
    lines = (
        "艾克美医疗",
        "已电子签名",
        "3 个电子签名",
        "盖章时间 2026-12-06 18:02 CST (UTC+08:00)",
    )
    result = seal_pdf(
        report_pdf(), pki.signer, pki.options(), stamp=stamp(lines, font_path=CJK_FONT)
    )
    text = pdftotext(result.pdf, tmp_path)
    for line in lines:
        assert line in text
    path = tmp_path / "cjk.pdf"
    path.write_bytes(result.pdf)
    fonts = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True).stdout
    cjk = [row for row in fonts.splitlines() if "NotoSansCJK" in row]
    assert cjk and all(" yes yes " in row for row in cjk), fonts  # embedded and subset
    assert len(result.pdf) < 200_000  # a subset, not the 16 MB face
    cjk_font_path.cache_clear()


def test_chinese_stamp_without_a_font_is_refused(pki: SealPki) -> None:
    with pytest.raises(SealError) as caught:
        seal_pdf(report_pdf(), pki.signer, pki.options("B-B"), stamp=stamp(("已电子签名",)))
    assert caught.value.code == "font"
    with pytest.raises(SealError) as caught:
        seal_pdf(
            report_pdf(),
            pki.signer,
            pki.options("B-B"),
            stamp=stamp(("x",), font_path="/nonexistent/font.ttc"),
        )
    assert caught.value.code == "font"


def test_evidence_is_embedded_before_signing(
    sealed: dict[str, SealResult], files: list[EmbeddedFile], tmp_path: Path
) -> None:
    path = tmp_path / "sealed.pdf"
    path.write_bytes(sealed["B-LT"].pdf)
    listing = subprocess.run(["pdfdetach", "-list", str(path)], capture_output=True, text=True)
    names = {line.split(": ", 1)[1] for line in listing.stdout.splitlines()[1:]}
    assert names == {item.name for item in files}
    assert f"{PREFIX}record.json" in names and f"{PREFIX}signature-1/signature.p7s" in names
    verdict = verify_sealed_pdf(sealed["B-LT"].pdf, trust_roots=[], check_evidence=False)
    assert {name: bytes(data) for name, data in verdict.embedded.items()} == {
        item.name: item.data for item in files
    }
    # "Total document signed": the files are inside the signed revision.
    assert "Total document signed" in pdfsig(path)


def test_percent_signs_and_an_invisible_seal(pki: SealPki, tmp_path: Path) -> None:
    result = seal_pdf(
        report_pdf(), pki.signer, pki.options("B-B"), stamp=stamp(("100% of lots %(ts)s",))
    )
    assert "100% of lots %(ts)s" in pdftotext(result.pdf, tmp_path)
    invisible = seal_pdf(report_pdf(), pki.signer, pki.options("B-B"))
    assert verify_sealed_pdf(invisible.pdf, trust_roots=[pki.ca.root]).status == "authentic"


# --- TSA down ----------------------------------------------------------------------------------


def test_tsa_down_and_timestamp_required_refuses(pki: SealPki) -> None:
    options = pki.options("B-LT", tsa_urls=(pki.tsa.down_url, pki.tsa.garbage_url), tsa_timeout=2)
    with pytest.raises(SealError) as caught:
        seal_pdf(report_pdf(), pki.signer, options, stamp=stamp())
    assert caught.value.code == "tsa_unavailable"
    assert pki.tsa.down_url in str(caught.value) and pki.tsa.garbage_url in str(caught.value)


def test_tsa_down_and_timestamp_optional_seals_at_b_b(pki: SealPki, tmp_path: Path) -> None:
    options = pki.options(
        "B-LT", tsa_urls=(pki.tsa.down_url,), tsa_timeout=2, timestamp_required=False
    )
    result = seal_pdf(report_pdf(), pki.signer, options, stamp=stamp())
    assert result.level == "B-B" and not result.timestamped and result.timestamp_time is None
    assert result.tsa_error and pki.tsa.down_url in result.tsa_error
    assert "No trusted time" in pdftotext(result.pdf, tmp_path)
    verdict = verify_sealed_pdf(result.pdf, trust_roots=[pki.ca.root])
    assert verdict.status == "authentic" and not verdict.timestamped
    assert any("No timestamp" in check.detail for check in verdict.checks)


def test_no_tsa_configured(pki: SealPki) -> None:
    with pytest.raises(SealError) as caught:
        seal_pdf(report_pdf(), pki.signer, pki.options("B-T", tsa_urls=()))
    assert caught.value.code == "tsa_unavailable"


@pytest.mark.parametrize(
    "bad", ["down_url", "garbage_url", "html_url", "refuse_url", "replay_url"]
)
def test_the_next_tsa_is_asked(pki: SealPki, bad: str) -> None:
    options = pki.options("B-T", tsa_urls=(getattr(pki.tsa, bad), pki.tsa.url), tsa_timeout=2)
    result = seal_pdf(report_pdf(), pki.signer, options)
    assert result.timestamped and result.level == "B-T"


# --- Bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [b"", b"hello", b"%PDF-1.4\n%%EOF", report_pdf()[:200], b"\x00" * 10, "not bytes"],
)
def test_a_non_pdf_is_refused(pki: SealPki, data: Any) -> None:
    with pytest.raises(SealError) as caught:
        seal_pdf(data, pki.signer, pki.options("B-B"))
    assert caught.value.code == "bad_pdf"


def test_bad_options_and_files(pki: SealPki) -> None:
    with pytest.raises(SealError) as caught:
        seal_pdf(report_pdf(), pki.signer, pki.options("B-XL"))
    assert caught.value.code == "bad_input"
    for files in (
        [EmbeddedFile("a.json", b"1"), EmbeddedFile("a.json", b"2")],
        [EmbeddedFile("证据.json", b"1")],
        [EmbeddedFile("", b"1")],
    ):
        with pytest.raises(SealError) as caught:
            seal_pdf(report_pdf(), pki.signer, pki.options("B-B"), files=files)
        assert caught.value.code == "bad_input"
    with pytest.raises(SealError) as caught:
        seal_pdf(report_pdf(), pki.signer, pki.options("B-B"), stamp=Stamp(("x",), "", "none"))
    assert caught.value.code == "bad_input"


@pytest.fixture(scope="module")
def revoked() -> SealPki:
    return make_pki("Revoked Corp", revoked=True)


@pytest.mark.parametrize("level", LEVELS)
def test_a_revoked_seal_certificate_cannot_seal(revoked: SealPki, level: str) -> None:
    with pytest.raises(SealError) as caught:
        seal_pdf(report_pdf(), revoked.signer, revoked.options(level))
    assert caught.value.code == "signer"
    assert "revoked" in str(caught.value).lower()


@pytest.mark.parametrize("level", LEVELS)
def test_a_seal_certificate_of_another_ca_cannot_seal(pki: SealPki, level: str) -> None:
    other = make_pki("Other Corp")
    with pytest.raises(SealError) as caught:
        seal_pdf(report_pdf(), other.signer, pki.options(level))
    assert caught.value.code == "signer"


def test_long_term_levels_need_the_roots(pki: SealPki) -> None:
    for changes in ({"tsa_roots": ()}, {"trust_roots": ()}):
        with pytest.raises(SealError) as caught:
            seal_pdf(report_pdf(), pki.signer, pki.options("B-LT", **changes))
        assert caught.value.code == "bad_input"
    # Below B-LT the roots are optional (nothing is checked then).
    assert seal_pdf(report_pdf(), pki.signer, pki.options("B-T", trust_roots=())).timestamped


def test_a_cms_larger_than_reserved_is_sealed_anyway(
    pki: SealPki, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The room for the CMS is estimated from the certificates and the TSA token; a bigger
    CMS (a TSA that starts sending more certificates) is sealed with pyHanko's own sizing."""
    import services.pdf_seal as module  # noqa: PLC0415

    monkeypatch.setattr(module, "_reserve", lambda signer, stamper: 2000)
    result = seal_pdf(report_pdf(), pki.signer, pki.options("B-LT"))
    assert result.level == "B-LT" and result.timestamp_time is not None
    verdict = verify_sealed_pdf(result.pdf, trust_roots=[pki.ca.root], tsa_roots=[pki.tsa.root])
    assert verdict.status == "authentic"
    assert verdict.sealed_at == result.timestamp_time


def test_qr_code_reads_back_the_verification_url(
    sealed: dict[str, SealResult], tmp_path: Path
) -> None:
    """zbarimg (an independent decoder) reads the stamp's QR code from the rendered page."""
    path = tmp_path / "sealed.pdf"
    path.write_bytes(sealed["B-LT"].pdf)
    subprocess.run(
        ["pdftoppm", "-r", "200", "-png", str(path), str(tmp_path / "page")], check=True
    )
    done = subprocess.run(
        ["zbarimg", "-q", "--raw", str(tmp_path / "page-1.png")], capture_output=True, text=True
    )
    assert done.stdout.strip() == stamp().qr_url


def test_a_chromium_rendered_report(
    pki: SealPki, files: list[EmbeddedFile], tmp_path: Path
) -> None:
    """A report as a browser engine prints it (Skia PDF: embedded CJK fonts, links, outline)."""
    html = tmp_path / "report.html"
    html.write_text(
        "<html><head><meta charset='utf-8'></head><body>"
        "<h1>Batch Release Certificate 批次放行证书</h1><p>Lot LOT-2026-0042</p>"
        "<a href='#s'>Signatures</a><h2 id='s'>Signatures</h2>"
        "<table border='1'><tr><td>Approved</td><td>Alice Zhang</td></tr></table>"
        "</body></html>",
        encoding="utf-8",
    )
    rendered = tmp_path / "report.pdf"
    subprocess.run(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer",
         f"--print-to-pdf={rendered}", str(html)],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    lines = ("艾克美医疗", "已电子签名", "3 个电子签名", "盖章 2026-12-06 18:02 CST (UTC+08:00)")
    result = seal_pdf(
        rendered.read_bytes(),
        pki.signer,
        pki.options("B-LTA"),
        stamp=stamp(lines, font_path=CJK_FONT),
        files=files,
    )
    verdict = verify_sealed_pdf(result.pdf, trust_roots=[pki.ca.root], tsa_roots=[pki.tsa.root])
    assert verdict.status == "authentic", verdict.checks
    text = pdftotext(result.pdf, tmp_path)
    assert "批次放行证书" in text and "已电子签名" in text
    assert _pyhanko_status(result.pdf, pki).bottom_line


@pytest.mark.parametrize("store", ["software", "SoftHSM2"])
def test_rsa_3072_seal_key(
    pki: SealPki, files: list[EmbeddedFile], nss: str, tmp_path: Path, store: str
) -> None:
    """RSA keys (PKCS#1 v1.5 in software, the combined mechanism on the token) seal too."""
    if store == "software":
        key = generate_private_key(KeyType.RSA_3072)
        public = key.public_key()
    else:
        token = softhsm_token()
        session = open_token(token.library, token.label, token.pin)
        public = generate_key_pair(session, "company-seal-rsa", KeyType.RSA_3072)
    certificate = issue_signer_certificate(
        pki.ca, SignerIdentity(f"RSA seal ({store})", "company-seal"), public
    )
    if store == "software":
        signer = CachedKeySigner(key, certificate, pki.ca.certificates)
    else:
        signer = hsm_signer(session, "company-seal-rsa", certificate, pki.ca.certificates)
    try:
        result = seal_pdf(report_pdf(), signer, pki.options("B-LT"), stamp=stamp(), files=files)
    finally:
        if store != "software":
            session.close()
    verdict = verify_sealed_pdf(result.pdf, trust_roots=[pki.ca.root], tsa_roots=[pki.tsa.root])
    assert verdict.status == "authentic", verdict.checks
    path = tmp_path / "rsa.pdf"
    path.write_bytes(result.pdf)
    report = pdfsig(path, nss)
    assert "Signature is Valid." in report and "Certificate is Trusted." in report


def test_stamp_box_can_be_moved(pki: SealPki) -> None:
    moved = Stamp(
        ("ACME Medical",), "https://erp.example.com/v/x", "none", box=(36, 700, 300, 780)
    )
    result = seal_pdf(report_pdf(), pki.signer, pki.options("B-B"), stamp=moved)
    widget = PdfFileReader(io.BytesIO(result.pdf)).embedded_signatures[0].sig_field
    assert [float(value) for value in widget["/Rect"]] == [36, 700, 300, 780]
    default = seal_pdf(report_pdf(), pki.signer, pki.options("B-B"), stamp=stamp())
    widget = PdfFileReader(io.BytesIO(default.pdf)).embedded_signatures[0].sig_field
    assert [float(value) for value in widget["/Rect"]] == [327, 18, 577, 90]  # A4, bottom right
    for box in ((0, 0, 10, 10), ("a", 1, 2, 3)):
        with pytest.raises(SealError) as caught:
            seal_pdf(
                report_pdf(),
                pki.signer,
                pki.options("B-B"),
                stamp=Stamp(("x",), "https://x", "none", box=box),
            )
        assert caught.value.code == "bad_input"


def test_stamp_above_the_report_footer(pki: SealPki) -> None:
    """The stamp sits ``bottom`` points up (above a footer in the report's bottom margin)."""
    above = Stamp(("ACME Medical",), "https://erp.example.com/v/x", "none", bottom=56.7)
    result = seal_pdf(report_pdf(), pki.signer, pki.options("B-B"), stamp=above)
    widget = PdfFileReader(io.BytesIO(result.pdf)).embedded_signatures[0].sig_field
    assert [float(value) for value in widget["/Rect"]] == [327, 57, 577, 129]
    # Twins: a bottom off the page or not a number is refused, nothing sealed.
    for bottom in (-1, 800, "low"):
        with pytest.raises(SealError) as caught:
            seal_pdf(
                report_pdf(),
                pki.signer,
                pki.options("B-B"),
                stamp=Stamp(("x",), "https://x", "none", bottom=bottom),
            )
        assert caught.value.code == "bad_input"


def test_tsa_certificates_come_from_the_tsa_itself(pki: SealPki) -> None:
    """The TSA's own certificate (whose CRL the seal then embeds) is learnt from its token, so
    an administrator needs to configure only the TSA's root."""
    from services.pdf_seal import tsa_certificates  # noqa: PLC0415

    found = tsa_certificates((pki.tsa.down_url, pki.tsa.url), 5.0)
    assert pki.tsa.tsa_certificate in found
    points = pki.tsa.tsa_certificate.extensions.get_extension_for_class(x509.CRLDistributionPoints)
    assert points.value  # its CRL can be found from it
    assert tsa_certificates((pki.tsa.url,), 5.0) == tsa_certificates((pki.tsa.url,), 5.0)
    # Twins: no TSA answers, or none is configured: nothing learnt, nothing raised.
    assert tsa_certificates((pki.tsa.down_url,), 1.0) == ()
    assert tsa_certificates((pki.tsa.garbage_url,), 1.0) == ()
    assert tsa_certificates((), 1.0) == ()
