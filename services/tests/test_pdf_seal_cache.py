"""What a seal keeps from the last one (services.pdf_seal_validation, the TSA's token, the QR
symbol's version), and that nothing kept hides a change: a revoked seal certificate, a
renewed CA or an expired result is seen by the very next seal.

Verifies: R7, R22, R24
"""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import DocumentSecurityStore
from seal_fixtures import SealPki, make_pki, report_pdf, stamp

from services import pdf_seal_validation
from services.pdf_seal import SealError, seal_pdf
from services.pdf_seal_stamp import _qr_symbol, qr_stream
from services.pdf_verify import verify_sealed_pdf
from services.pki_issue import SignerIdentity, issue_signer_certificate
from services.pki_keys import generate_private_key, utc
from services.pki_revocation import Revocation, build_crl
from services.pki_sign import CachedKeySigner


@pytest.fixture(scope="module")
def pki() -> SealPki:
    return make_pki("Cache Medical")


@pytest.fixture(autouse=True)
def _nothing_kept() -> None:
    pdf_seal_validation.forget()


def _renewed_ca(pki: SealPki) -> SealPki:
    """The same company after renewing its CA: a new root, a new seal certificate and CRL
    under it; the same TSA."""
    return make_pki("Cache Medical", tsa=pki.tsa)


def _dss(data: bytes) -> tuple[set[bytes], set[bytes]]:
    """The DER of the certificates and of the CRLs in the file's DSS."""
    dss = DocumentSecurityStore.read_dss(PdfFileReader(io.BytesIO(data)))
    certificates = {cert.dump() for cert in dss.load_certs()}
    crls = {item.get_object().data for item in dss.crls}
    return certificates, crls


def _der(certificate) -> bytes:  # noqa: ANN001
    return certificate.public_bytes(Encoding.DER)


def _authentic(data: bytes, pki: SealPki) -> bool:
    verdict = verify_sealed_pdf(data, trust_roots=[pki.ca.root], tsa_roots=[pki.tsa.root])
    return verdict.status == "authentic"


def test_a_kept_validation_writes_the_same_dss(pki: SealPki) -> None:
    """The second seal with the same inputs takes the kept validation, and its DSS holds the
    same certificates and CRLs as the first one's, validated by pyHanko there and then."""
    first = seal_pdf(report_pdf(), pki.signer, pki.options("B-LT"), stamp=stamp())
    assert len(pdf_seal_validation._KEPT) == 1
    kept = next(iter(pdf_seal_validation._KEPT.values()))
    second = seal_pdf(report_pdf(), pki.signer, pki.options("B-LT"), stamp=stamp())
    assert next(iter(pdf_seal_validation._KEPT.values())) is kept  # used, not made again
    certificates, crls = _dss(second.pdf)
    assert (certificates, crls) == _dss(first.pdf)
    # Complete: the seal's chain, the TSA's, and the company CA's and the TSA's CRLs.
    assert {_der(pki.certificate), _der(pki.ca.root), _der(pki.tsa.root)} <= certificates
    assert _der(pki.tsa.tsa_certificate) in certificates
    assert {pki.crl, pki.tsa_crl} <= crls
    assert _authentic(first.pdf, pki) and _authentic(second.pdf, pki)


def test_b_lta_with_a_kept_validation_keeps_its_result_unchanged(pki: SealPki) -> None:
    """At B-LTA pyHanko adds the document timestamp's path to the list it was given: the
    kept result is a copy, so the next seals write the same DSS."""
    seal_pdf(report_pdf(), pki.signer, pki.options("B-LTA"))
    kept = next(iter(pdf_seal_validation._KEPT.values()))
    paths = len(kept.status.validation_paths)
    for _ in range(2):
        result = seal_pdf(report_pdf(), pki.signer, pki.options("B-LTA"))
        assert result.level == "B-LTA" and _authentic(result.pdf, pki)
    assert len(kept.status.validation_paths) == paths


def test_a_revoked_seal_certificate_is_refused_by_the_next_seal(pki: SealPki) -> None:
    """Tamper twin: the seal certificate is revoked after a seal was validated and kept; the
    CA's new CRL is the next seal's input, and that seal is refused at once."""
    assert seal_pdf(report_pdf(), pki.signer, pki.options("B-LT")).level == "B-LT"
    revoked = build_crl(
        pki.ca,
        [Revocation(pki.certificate.serial_number, utc() - timedelta(seconds=5))],
        crl_number=2,
    ).public_bytes(Encoding.DER)
    with pytest.raises(SealError) as caught:
        seal_pdf(report_pdf(), pki.signer, pki.options("B-LT", crls=(revoked, pki.tsa_crl)))
    assert caught.value.code == "signer"
    assert "revoked" in str(caught.value).lower()
    # The kept result of the unrevoked CRL is not used for the revoked one, nor kept for it.
    assert len(pdf_seal_validation._KEPT) == 1


def test_a_renewed_ca_is_seen_by_the_next_seal(pki: SealPki) -> None:
    """Tamper twin: the company CA is renewed (new root, new seal certificate under it); the
    next seal embeds the new chain and validates against the new root only."""
    seal_pdf(report_pdf(), pki.signer, pki.options("B-LT"))
    renewed = _renewed_ca(pki)
    sealed = seal_pdf(report_pdf(), renewed.signer, renewed.options("B-LT"))
    certificates, crls = _dss(sealed.pdf)
    assert _der(renewed.ca.root) in certificates and _der(pki.ca.root) not in certificates
    assert renewed.crl in crls and pki.crl not in crls
    assert _authentic(sealed.pdf, renewed)
    assert not _authentic(sealed.pdf, pki)
    # The new seal certificate with the old CA's root as the anchor (all else the same as
    # the kept seal): refused, whatever was kept.
    for crls in ((pki.crl, pki.tsa_crl), (renewed.crl, renewed.tsa_crl)):
        with pytest.raises(SealError) as caught:
            seal_pdf(
                report_pdf(),
                renewed.signer,
                renewed.options("B-LT", trust_roots=(pki.ca.root,), crls=crls),
            )
        assert caught.value.code == "signer"


def test_a_renewed_seal_certificate_is_seen_by_the_next_seal(pki: SealPki) -> None:
    seal_pdf(report_pdf(), pki.signer, pki.options("B-LT"))
    key = generate_private_key()
    renewed = issue_signer_certificate(
        pki.ca,
        SignerIdentity("Cache Medical company seal (renewed)", "company-seal"),
        key.public_key(),
        crl_url="https://erp.example.com/meddev_esign/crl/1.crl",
    )
    signer = CachedKeySigner(key, renewed, pki.ca.certificates)
    sealed = seal_pdf(report_pdf(), signer, pki.options("B-LT"))
    certificates, _crls = _dss(sealed.pdf)
    assert _der(renewed) in certificates and _der(pki.certificate) not in certificates
    assert len(pdf_seal_validation._KEPT) == 2


def test_a_kept_validation_expires(pki: SealPki, monkeypatch: pytest.MonkeyPatch) -> None:
    """A result is used for at most KEEP_FOR seconds: then pyHanko validates again."""
    seal_pdf(report_pdf(), pki.signer, pki.options("B-LT"))
    first = next(iter(pdf_seal_validation._KEPT.values()))
    seal_pdf(report_pdf(), pki.signer, pki.options("B-LT"))
    assert next(iter(pdf_seal_validation._KEPT.values())) is first
    monkeypatch.setattr(pdf_seal_validation, "KEEP_FOR", 0.0)
    seal_pdf(report_pdf(), pki.signer, pki.options("B-LT"))
    assert next(iter(pdf_seal_validation._KEPT.values())) is not first


def test_a_kept_validation_ends_with_its_crl(pki: SealPki) -> None:
    """A result holds until the earliest next update of its CRLs (or certificates' end)."""
    seal_pdf(report_pdf(), pki.signer, pki.options("B-LT"))
    kept = next(iter(pdf_seal_validation._KEPT.values()))
    crl_next_update = min(
        item["tbs_cert_list"]["next_update"].native for item in kept.context.crls
    )
    assert kept.not_after <= crl_next_update
    assert kept.not_after <= pki.certificate.not_valid_after_utc


def test_qr_symbol_version_is_kept_per_data_shape() -> None:
    """URLs of one length share the symbol version the qrcode package found by trial; a
    longer URL gets its own (a bigger symbol), and each symbol is drawn run by run."""
    import qrcode  # noqa: PLC0415

    base = "https://erp.example.com/meddev_esign/verify/"
    for token in ("A" * 43, "b" * 43, "c" * 200):
        modules = _qr_symbol(base + token)
        code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, mask_pattern=2)
        code.add_data(base + token)
        code.make(fit=True)
        assert modules == code.modules
    stream, size = qr_stream(_qr_symbol(base + "A" * 43))
    count = len(_qr_symbol(base + "A" * 43))
    assert size == count + 8
    dark = sum(sum(row) for row in _qr_symbol(base + "A" * 43))
    drawn = sum(int(line.split()[2]) for line in stream.splitlines() if line.endswith(b" re"))
    assert drawn == dark  # every dark module, once
