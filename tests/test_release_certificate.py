import io
import shutil
import subprocess
import tempfile
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
        """Tamper twin: a product with no GTIN gets no barcode rather than a wrong one."""
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
    completes."""

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
