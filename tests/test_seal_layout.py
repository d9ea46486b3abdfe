"""The seal's stamp leaves the report readable, and the seal's validation data includes the
TSA's revocation status with no administrator pasting the TSA's certificate. Real Odoo, real
wkhtmltopdf renders, the loopback TSA; nothing is mocked."""

import io

from cryptography import x509

from odoo.tests import tagged

from ..services import pdf_evidence, pdf_seal, pki
from .common import EsignCase
from .test_sealed_reports import SealSetup

BATCH = "meddev_esign.action_report_batch_release"
NOT_IN_FILE = "revocation status is not in the file"


def _last_page_text_boxes(pdf):
    """(x0, y0, x1, y1, text) of every text line of the last page, in PDF points."""
    from pdfminer.high_level import extract_pages  # noqa: PLC0415 - test-only dependency
    from pdfminer.layout import LTTextContainer, LTTextLine  # noqa: PLC0415

    pages = list(extract_pages(io.BytesIO(pdf)))
    boxes = []

    def walk(item):
        if isinstance(item, LTTextLine):
            if item.get_text().strip():
                boxes.append((item.x0, item.y0, item.x1, item.y1, item.get_text().strip()))
        elif isinstance(item, LTTextContainer) or hasattr(item, "__iter__"):
            for child in item:
                walk(child)

    walk(pages[-1])
    return boxes


def _stamp_rect(pdf):
    from pyhanko.pdf_utils.reader import PdfFileReader  # noqa: PLC0415

    widget = PdfFileReader(io.BytesIO(pdf)).embedded_signatures[0].sig_field
    return [float(value) for value in widget["/Rect"]]


def _overlaps(rect, box):
    x1, y1, x2, y2 = rect
    return box[0] < x2 and box[2] > x1 and box[1] < y2 and box[3] > y1


@tagged("post_install", "-at_install")
class TestSealLayout(SealSetup, EsignCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setup_seal(cls.esign_admin)

    # ------------------------------------------------------------------ the stamp
    def test_stamp_sits_above_the_footer_over_blank_room(self):
        """The stamp is above the report's bottom margin (where the footer is drawn) and no
        text of the last page, the footer included, runs under it.

        Verifies: R10, R24
        """
        report = self.env.ref(BATCH)
        margin = report.get_paperformat().margin_bottom * 72 / 25.4
        for lots in (self.lot, self.lot | self._make_lot("LAYOUT-LOT-2")):
            with self.subTest(records=len(lots)):
                pdf = self.render(BATCH, lots)
                rect = _stamp_rect(pdf)
                self.assertGreaterEqual(rect[1], margin, "the stamp is above the footer")
                boxes = _last_page_text_boxes(pdf)
                self.assertTrue(boxes, "the last page has text")
                under = [box[4] for box in boxes if _overlaps(rect, box)]
                self.assertEqual(under, [], "text under the stamp")
                footer = [box for box in boxes if box[3] <= margin]
                self.assertTrue(footer, "the footer is on the last page, below the stamp")

    def test_unsealed_print_has_no_stamp_room(self):
        """The twin: with sealing off, the report's layout is the plain one."""
        sealed = self.env["ir.actions.report"]._get_report(BATCH)
        html = sealed._render_qweb_html(BATCH, self.lot.ids)[0]
        bodies = sealed._prepare_html(html, report_model="stock.lot")[0]
        self.assertIn("o_esign_stamp_room", str(bodies[-1]))
        self.company.esign_seal_enabled = False
        bodies = sealed._prepare_html(html, report_model="stock.lot")[0]
        self.assertNotIn("o_esign_stamp_room", str(bodies[-1]))

    # ------------------------------------------------------------------ TSA revocation data
    def test_tsa_revocation_data_from_the_tsa_root_alone(self):
        """Only the TSA's root is configured: the TSA's own certificate is learnt from its
        token, and its CRL goes into the seal's validation data (B-LT complete).

        Verifies: R23, R24
        """
        from pyhanko.pdf_utils.reader import PdfFileReader  # noqa: PLC0415
        from pyhanko.sign.validation.dss import DocumentSecurityStore  # noqa: PLC0415

        self.company.esign_tsa_roots_pem = pki.certificate_to_pem(self.tsa.root).decode()
        pdf = self.render(BATCH, self.lot)
        verdict = self.verdict(pdf)
        self.assertEqual(verdict.status, "authentic", verdict.checks)
        timestamp = next(c for c in verdict.checks if c.name.endswith("timestamp"))
        self.assertTrue(timestamp.ok)
        self.assertNotIn(NOT_IN_FILE, timestamp.detail)
        dss = DocumentSecurityStore.read_dss(PdfFileReader(io.BytesIO(pdf)))
        issuers = {x509.load_der_x509_crl(ref.get_object().data).issuer for ref in dss.crls}
        self.assertIn(self.tsa.root.subject, issuers, "the CRL of the TSA's CA is in the DSS")
        self.assertIn(self.ca._certificate().subject, issuers, "and the company CA's")
        self.assertTrue(all(c.ok for c in pdf_evidence.check_evidence(verdict.embedded)))

    def test_without_the_tsa_crl_the_verifier_says_so(self):
        """The twin: a seal whose validation data lacks the TSA's CRL is told apart (the TSA
        known by its root only, so its certificate is not itself a trust anchor)."""
        self.company.esign_tsa_roots_pem = pki.certificate_to_pem(self.tsa.root).decode()
        self.company.esign_seal_enabled = False
        plain = self.render(BATCH, self.lot)
        with self.ca._authority() as authority:
            key = pki.generate_private_key()
            cert = pki.issue_seal_certificate(authority, "Twin seal", key.public_key())
        signer = pki.CachedKeySigner(key, cert, self.ca._embedded_certificates())
        options = pdf_seal.SealOptions(
            level="B-LT",
            tsa_urls=(self.tsa.url,),
            tsa_roots=(self.tsa.root,),
            trust_roots=(self.ca._root(),),
            crls=(self.ca._current_crl(),),
        )
        result = pdf_seal.seal_pdf(plain, signer, options)
        verdict = self.verdict(result.pdf)
        timestamp = next(c for c in verdict.checks if c.name.endswith("timestamp"))
        self.assertIn(NOT_IN_FILE, timestamp.detail)
