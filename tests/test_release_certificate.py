import base64
import io
import shutil
import subprocess
import tempfile
import unicodedata
from pathlib import Path

from odoo import Command
from odoo.tests import HttpCase, new_test_user, tagged

from ..services import gs1

TOUR_PASSWORD = "tour-Pass-42"


@tagged("post_install", "-at_install")
class TestReleaseCertificate(HttpCase):
    """Acceptance: a tour signs a lot release through the wizard and prints the certificate;
    the PDF carries the manifestation and a GS1 DataMatrix that decodes to the service's UDI."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.signer = new_test_user(
            cls.env,
            login="tour_qa_manager",
            password=TOUR_PASSWORD,
            name="Tour QA Manager",
            tz="Europe/Berlin",
            groups="meddev_esign.group_esign_release_authority,stock.group_stock_user",
        )
        cls.product = cls.env["product.product"].create(
            {
                "name": "Tour Infusion Pump",
                "is_storable": True,
                "tracking": "lot",
                "use_expiration_date": True,
                "esign_device_class": "II",
                "esign_gtin": "06951234500047",
            }
        )
        cls.lot = cls.env["stock.lot"].create(
            {
                "name": "TOUR-LOT-7",
                "product_id": cls.product.id,
                "expiration_date": "2029-05-31 00:00:00",
            }
        )

    def _pdf(self):
        pdf, _fmt = (
            self.env["ir.actions.report"]
            .with_context(force_report_rendering=True)
            ._render_qweb_pdf("meddev_esign.action_report_batch_release", self.lot.ids)
        )
        self.assertTrue(pdf.startswith(b"%PDF"))
        return pdf

    def test_tour_sign_release_then_print(self):
        """Verifies: R10, R20"""
        self.assertEqual(self.lot.esign_release_state, "quarantine")
        self.start_tour(
            f"/odoo/action-meddev_esign.stock_lot_action_esign_release/{self.lot.id}",
            "meddev_esign_lot_release",
            login="tour_qa_manager",
        )
        self.lot.invalidate_recordset()
        self.assertEqual(self.lot.esign_release_state, "released")
        sig = self.env["esign.signature"].search(
            [("res_model", "=", "stock.lot"), ("res_id", "=", self.lot.id)]
        )
        self.assertEqual(sig.user_id, self.signer)
        self.assertEqual(sig.auth_method, "login_password")
        self.assertEqual(sig.reason, "Batch record reviewed; all release tests passed.")

        from pdfminer.high_level import extract_text  # noqa: PLC0415 - test-only dependency

        text = " ".join(extract_text(io.BytesIO(self._pdf())).split())
        self.assertIn("Batch Release Certificate", text)
        self.assertIn("Tour QA Manager", text)  # printed name
        self.assertIn("Released", text)  # meaning
        self.assertIn(" ".join(sig._local_time_display().split()), text)  # date-time + zone
        self.assertIn("2029-05-31", text)  # label date as YYYY-MM-DD
        self.assertIn(
            gs1.build_hri(
                self.env["report.meddev_esign.report_batch_release_certificate"]._udi(self.lot)
            ),
            text.replace(" ", ""),
        )

    def test_certificate_datamatrix_decodes_to_gs1_udi(self):
        """Verifies: R26"""
        import zxingcpp  # noqa: PLC0415 - test-only dependency
        from PIL import Image  # noqa: PLC0415

        self.assertTrue(shutil.which("pdftoppm"), "poppler-utils (pdftoppm) is required")
        with tempfile.TemporaryDirectory() as tmp:
            pdf_path = Path(tmp) / "cert.pdf"
            pdf_path.write_bytes(self._pdf())
            subprocess.run(
                [
                    "pdftoppm",
                    "-r",
                    "300",
                    "-png",
                    "-f",
                    "1",
                    "-l",
                    "1",
                    str(pdf_path),
                    str(Path(tmp) / "page"),
                ],
                check=True,
                timeout=120,
            )
            page = next(Path(tmp).glob("page*.png"))
            found = zxingcpp.read_barcodes(
                Image.open(page),
                formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.DataMatrix),
                text_mode=zxingcpp.TextMode.Plain,
            )
        self.assertEqual(len(found), 1)
        udi = self.env["report.meddev_esign.report_batch_release_certificate"]._udi(self.lot)
        self.assertEqual(found[0].symbology_identifier, "]d2")  # GS1: FNC1 in first position
        self.assertEqual(found[0].text, gs1.build_element_string(udi))
        self.assertEqual(gs1.parse_element_string("]d2" + found[0].text), udi)

    def test_lot_without_gtin_prints_without_udi(self):
        """Tamper twin: a product with no GTIN gets no barcode rather than a wrong one.

        Verifies: R26
        """
        self.product.esign_gtin = False
        self.assertIsNone(
            self.env["report.meddev_esign.report_batch_release_certificate"]._udi(self.lot)
        )
        self.assertEqual(
            self.env["report.meddev_esign.report_batch_release_certificate"]._udi_print(self.lot),
            {},
        )


@tagged("post_install", "-at_install")
class TestProductionReviewTour(HttpCase):
    """Scenario 1, steps 2-3 in the browser: the quality engineer signs Reviewed, the QA manager
    signs Approved; the supervisor who produced the batch gets no Sign button; then the MO
    completes.

    Verifies: R13, S3
    """

    def test_review_and_approve_in_the_form(self):
        env = self.env
        signer_groups = "meddev_esign.group_esign_signer,mrp.group_mrp_user,stock.group_stock_user"
        qe, qa, supervisor = (
            new_test_user(
                env, login=login, password=TOUR_PASSWORD, name=name, groups=signer_groups
            )
            for login, name in (
                ("tour_qe", "Tour Quality Engineer"),
                ("tour_qa", "Tour QA Manager"),
                ("tour_supervisor", "Tour Supervisor"),
            )
        )
        env["esign.policy"].search([("trigger", "=", "mrp_done")]).active = False
        env["esign.policy"].create(
            {
                "name": "Tour production record review",
                "model_id": env.ref("mrp.model_mrp_production").id,
                "trigger": "mrp_done",
                "prerequisite_domain": "[('qty_producing', '>', 0)]",
                "step_ids": [
                    Command.create(
                        {
                            "sequence": 10,
                            "name": "Review",
                            "signer_type": "users",
                            "meaning_id": env.ref("meddev_esign.meaning_reviewed").id,
                            "mode": "k_of_n",
                            "k": 1,
                            "user_ids": [Command.set([qe.id, supervisor.id])],
                        }
                    ),
                    Command.create(
                        {
                            "sequence": 20,
                            "name": "Approval",
                            "signer_type": "users",
                            "meaning_id": env.ref("meddev_esign.meaning_approved").id,
                            "user_ids": [Command.set([qa.id])],
                        }
                    ),
                ],
            }
        )
        product = env["product.product"].create({"name": "Tour Monitor", "is_storable": True})
        mo = (
            env["mrp.production"]
            .with_user(supervisor)
            .create({"product_id": product.id, "product_qty": 2, "user_id": supervisor.id})
        )
        mo.action_confirm()
        mo.qty_producing = 2
        url = f"/odoo/action-mrp.mrp_production_action/{mo.id}"
        # The supervisor is named on the review step but produced the batch: no Sign button.
        self.assertFalse(mo.with_user(supervisor).esign_can_sign)
        self.start_tour(url, "meddev_esign_sign_step", login="tour_qe")
        self.start_tour(url, "meddev_esign_sign_step", login="tour_qa")
        sigs = env["esign.signature"].search(
            [("res_model", "=", "mrp.production"), ("res_id", "=", mo.id)], order="id"
        )
        self.assertEqual(sigs.mapped("user_id"), qe | qa)
        self.assertEqual(sigs.mapped("meaning_code"), ["reviewed", "approved"])
        mo.with_user(supervisor).button_mark_done()
        self.assertEqual(mo.state, "done")


@tagged("post_install", "-at_install")
class TestCertificateForChina(HttpCase):
    """The demo's batch, signed by Chinese-speaking reviewers and release authority, printed
    on the company's A4 paper for a Chinese reader and for an English one.

    PDF text is read with pdfminer.six (pinned in requirements.txt for Odoo's own PDF-text
    assertions): it decodes the CID fonts wkhtmltopdf embeds for Chinese through their
    ToUnicode maps and keeps each table cell's lines, so a squeezed column or a wrapped lot
    number shows in the text. PyPDF2 2.12, Odoo's pin, is used only for the page count.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        env = cls.env
        env["res.lang"]._activate_lang("zh_CN")
        env["ir.module.module"]._load_module_terms(["meddev_esign"], ["zh_CN"], overwrite=True)
        env.company.paperformat_id = env.ref("base.paperformat_euro")
        cls.lot = env.ref("meddev_esign.demo_lot_pump_a")
        cls.mo = env.ref("meddev_esign.demo_mo_pump")
        qe = env.ref("meddev_esign.demo_user_quality_engineer")
        qa = env.ref("meddev_esign.demo_user_qa_manager")
        ra = env.ref("meddev_esign.demo_user_release_authority")
        (qe | ra).write({"lang": "zh_CN"})
        qa.lang = "en_US"
        # Scenario 1 as the README plays it: produce, review, approve, complete, release.
        cls.mo.lot_producing_id = cls.lot
        cls.mo.qty_producing = cls.mo.product_qty
        cls.mo.move_raw_ids.picked = True
        cls._sign(qe, cls.mo, "批记录完整。")
        cls._sign(qa, cls.mo, "Approved for completion.")
        cls.mo.with_user(env.ref("meddev_esign.demo_user_prod_supervisor")).button_mark_done()
        cls._sign(ra, cls.lot, "全部检验合格。")

    @classmethod
    def _sign(cls, user, record, reason):
        """Sign through the wizard; the demo's passwords equal the log-ins."""
        wizards = cls.env["esign.sign.wizard"].with_user(user).with_context(lang=user.lang)
        wizard = wizards.browse(wizards._action_open(record.with_env(wizards.env))["res_id"])
        wizard.write({"login": user.login, "reason": reason})
        wizard.action_sign(password=user.login)

    def _pdf(self, lang):
        pdf, _fmt = (
            self.env["ir.actions.report"]
            .with_context(force_report_rendering=True, lang=lang)
            ._render_qweb_pdf("meddev_esign.action_report_batch_release", self.lot.ids)
        )
        self.assertTrue(pdf.startswith(b"%PDF"))
        return pdf

    def _read(self, pdf):
        """(text, page count, (width, height) of page 1 in points)."""
        from pdfminer.high_level import extract_text  # noqa: PLC0415 - test-only dependency

        from odoo.tools.pdf import PdfFileReader  # noqa: PLC0415

        reader = PdfFileReader(io.BytesIO(pdf))
        box = reader.pages[0].mediabox
        size = (round(float(box.width)), round(float(box.height)))
        # NFKC: the embedded CJK font maps some glyphs back to Kangxi radicals (U+2F8F for
        # 行), which look the same but are other code points.
        text = unicodedata.normalize("NFKC", extract_text(io.BytesIO(pdf)))
        return text, len(reader.pages), size

    def test_scenario_signed_the_batch(self):
        """Verifies: R20"""
        self.assertEqual(self.lot.esign_release_state, "released")
        sigs = self.env["report.meddev_esign.report_batch_release_certificate"]._signatures(
            self.lot, self.mo
        )
        self.assertEqual(sigs.mapped("meaning_code"), ["reviewed", "approved", "released"])
        self.assertEqual(sigs.mapped("meaning_name"), ["审核", "Approved", "放行"])

    def test_chinese_certificate_is_one_a4_page_in_chinese(self):
        """Verifies: R10"""
        text, pages, size = self._read(self._pdf("zh_CN"))
        self.assertEqual(pages, 1, text)
        self.assertEqual(size, (595, 842))  # A4, the company's paper format
        self.assertIn("批放行证书", text)  # the title
        for meaning in ("审核", "批准", "放行"):  # every meaning, the English-signed one too
            self.assertIn(meaning, text)
        self.assertNotIn("Approved", text.replace("Approved for completion", ""))
        # The Status column is wide enough for its word on one line.
        self.assertIn("有效", text)
        # The UDI text wraps between element strings, never inside the lot number.
        self.assertIn(f"(10){self.lot.name}", text)

    def test_english_certificate_reads_chinese_signatures_in_english(self):
        """Twin: the same signatures, signed in Chinese, read in English.

        Verifies: R8, R10
        """
        text, pages, size = self._read(self._pdf("en_US"))
        self.assertEqual(pages, 1, text)
        self.assertEqual(size, (595, 842))
        for meaning in ("Reviewed", "Approved", "Released"):
            self.assertIn(meaning, text)
        for signed in ("审核", "放行"):
            self.assertNotIn(signed, text)
        self.assertIn(f"(10){self.lot.name}", text)
        # The statement sits in the page footer, on the certificate's one page.
        self.assertIn("Electronic signatures under 21 CFR Part 11.", " ".join(text.split()))

    def test_us_letter_company_prints_on_letter(self):
        """Twin: the paper comes from the company, not from the report."""
        self.env.company.paperformat_id = self.env.ref("base.paperformat_us")
        text, pages, size = self._read(self._pdf("en_US"))
        self.assertEqual(size, (612, 792))
        self.assertEqual(pages, 1, text)

    def test_logo_only_when_the_company_has_one(self):
        company = self.env.company
        company.logo = False
        html = self._html()
        self.assertNotIn('alt="Logo"', html)
        company.logo = base64.b64encode(self._png())
        self.assertIn('alt="Logo"', self._html())

    def test_default_logo_placeholder_is_not_printed(self):
        """Twin: Odoo's "Your logo" placeholder counts as no logo."""
        company = self.env.company
        company.logo = company._get_logo()
        self.assertTrue(company.uses_default_logo)
        self.assertNotIn('alt="Logo"', self._html())

    def _html(self):
        html, _fmt = (
            self.env["ir.actions.report"]
            .with_context(lang="en_US")
            ._render_qweb_html("meddev_esign.action_report_batch_release", self.lot.ids)
        )
        return html.decode()

    @staticmethod
    def _png():
        from PIL import Image  # noqa: PLC0415

        buffer = io.BytesIO()
        Image.new("RGB", (120, 40), (20, 80, 160)).save(buffer, format="PNG")
        return buffer.getvalue()

    def test_certificate_terms_have_no_line_break(self):
        """A line break inside a translatable term prints as a space, which Chinese has not."""
        views = self.env["ir.ui.view"].search(
            [
                (
                    "key",
                    "in",
                    [
                        "meddev_esign.report_batch_release_certificate",
                        "meddev_esign.certificate_layout",
                        "meddev_esign.signature_block",
                        "meddev_esign.signature_statement",
                    ],
                )
            ]
        )
        self.assertEqual(len(views), 4)
        field = self.env["ir.ui.view"]._fields["arch_db"]
        for view in views:
            for term in field.get_trans_terms(view.arch_db):
                self.assertNotIn("\n", term, view.key)
