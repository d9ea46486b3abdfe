"""The public verification page and upload, over real HTTP (HttpCase), on sealed printouts
made by the real report hook, with a loopback TSA. Nothing is mocked."""

import datetime
import io
import json
import shutil
import subprocess
import tempfile
from pathlib import Path

from odoo import fields
from odoo.tests import HttpCase, new_test_user, tagged

from ..services import pdf_seal, pki
from .test_sealed_reports import SealSetup

PASSWORD = "Verify-Page-42"
VERIFY = "/meddev_esign/verify"


@tagged("post_install", "-at_install")
class TestVerifyPage(SealSetup, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        env = cls.env
        cls.admin = new_test_user(
            env,
            login="vp_admin",
            password=PASSWORD,
            groups="meddev_esign.group_esign_admin,base.group_system,stock.group_stock_user",
        )
        cls.ra = new_test_user(
            env,
            login="vp_ra",
            password=PASSWORD,
            name="Verify Page Releaser",
            tz="Asia/Shanghai",
            groups="meddev_esign.group_esign_release_authority,stock.group_stock_user",
        )
        cls.auditor = new_test_user(
            env,
            login="vp_auditor",
            password=PASSWORD,
            name="Verify Page Auditor",
            groups="meddev_esign.group_esign_auditor",
        )
        cls.setup_seal(cls.admin)
        env["ir.config_parameter"].sudo().set_param("meddev_esign.verify_rate_limit", "1000")
        cls.ra_cert = (
            env["esign.certificate"]
            .with_user(cls.admin)
            ._enrol(cls.ra, "in_person", "ID card checked", cls.company)
        )
        product = env["product.product"].create(
            {
                "name": "Verify Page Pump",
                "is_storable": True,
                "tracking": "lot",
                "esign_device_class": "II",
                "esign_gtin": "06951234500047",
            }
        )
        cls.lot = env["stock.lot"].create({"name": "VP-LOT-1", "product_id": product.id})
        wizards = env["esign.sign.wizard"].with_user(cls.ra)
        wizard = wizards.browse(wizards._action_open(cls.lot.with_user(cls.ra))["res_id"])
        wizard.write({"login": cls.ra.login, "reason": "All release tests passed."})
        wizard.action_sign(password=PASSWORD)
        cls.signature = env["esign.signature"].search(
            [("res_model", "=", "stock.lot"), ("res_id", "=", cls.lot.id)]
        )

    def print_lot(self, lot=None, user=None):
        pdf = self.render("meddev_esign.action_report_batch_release", lot or self.lot, user=user)
        return pdf, self.last_print()

    def token_path(self, printed):
        return VERIFY + "/" + printed.sudo().verify_url.rsplit("/", 1)[1]

    def upload(self, data, json_answer=False, name="copy.pdf"):
        headers = {"Accept": "application/json"} if json_answer else None
        return self.url_open(
            VERIFY, files={"pdf": (name, data, "application/pdf")}, headers=headers, timeout=60
        )

    # ------------------------------------------------------------------ the page
    def test_page_shows_what_the_printout_shows(self):
        self.assertTrue(self.signature.pki_cms)
        _pdf, printed = self.print_lot(user=self.auditor)
        response = self.url_open(self.token_path(printed))
        self.assertEqual(response.status_code, 200)
        page = response.text
        self.assertIn("VP-LOT-1", page)
        self.assertIn("Verify Page Releaser", page)  # printed name
        self.assertIn(self.signature.meaning_label, page)  # meaning
        self.assertIn(self.signature._local_time_display(), page)  # date-time with zone
        self.assertIn("Valid", page)
        self.assertIn("Verify Page Auditor", page)  # printed by
        self.assertIn("This is the latest print", page)
        self.assertIn(self.company.name, page)
        # Nothing internal: no back-end link, no record id, no login.
        self.assertNotIn("/odoo", page)
        self.assertNotIn("/web", page)
        self.assertNotIn(self.ra.login, page)
        self.assertEqual(response.headers["Cache-Control"], "no-store")

    def _sign_as(self, user, record, reason, on_behalf_of=None):
        wizards = self.env["esign.sign.wizard"].with_user(user)
        wizard = wizards.browse(wizards._action_open(record.with_user(user))["res_id"])
        vals = {"login": user.login, "reason": reason}
        if on_behalf_of:  # the deputy may sign in their own name too: they choose
            vals["on_behalf_of_id"] = on_behalf_of.id
        wizard.write(vals)
        wizard.action_sign(password=PASSWORD)

    def test_delegate_signature_is_told_on_behalf_of(self):
        """Verifies: R10
        A deputy releases a lot under the release authority's signed delegation: the page, the
        upload's answer and the record.json sealed into the PDF name the delegator. The twin:
        the release authority's own release names nobody else."""
        deputy = new_test_user(
            self.env,
            login="vp_deputy",
            password=PASSWORD,
            name="Verify Page Deputy",
            tz="Asia/Shanghai",
            groups="meddev_esign.group_esign_release_authority,stock.group_stock_user",
        )
        self.env["esign.certificate"].with_user(self.admin)._enrol(
            deputy, "in_person", "ID card checked", self.company
        )
        today = fields.Date.context_today(self.env["esign.delegation"].with_user(self.ra))
        delegation = (
            self.env["esign.delegation"]
            .with_user(self.ra)
            .create(
                {
                    "delegator_id": self.ra.id,
                    "delegate_id": deputy.id,
                    "grantor_id": self.ra.id,
                    "date_from": today,
                    "date_to": today + datetime.timedelta(days=7),
                    "note": "Annual leave",
                }
            )
        )
        self._sign_as(self.ra, delegation, "Going on leave")
        lot = self.env["stock.lot"].create(
            {"name": "VP-LOT-DELEGATED", "product_id": self.lot.product_id.id}
        )
        self._sign_as(deputy, lot, "All release tests passed.", on_behalf_of=self.ra)
        pdf, printed = self.print_lot(lot)
        page = self.url_open(self.token_path(printed)).text
        self.assertIn("Verify Page Deputy", page)
        self.assertIn("(on behalf of Verify Page Releaser)", page)
        answer = self.upload(pdf, json_answer=True).json()
        (sig,) = answer["records"][0]["signatures"]
        self.assertEqual(
            (sig["name"], sig["on_behalf_of"]), ("Verify Page Deputy", "Verify Page Releaser")
        )
        embedded = self.verdict(pdf).embedded
        record = json.loads(embedded["meddev-esign/record.json"])
        self.assertEqual(record["signatures"][0]["on_behalf_of"], "Verify Page Releaser")
        # The twin: the own-name release.
        pdf, printed = self.print_lot()
        self.assertNotIn("on behalf of", self.url_open(self.token_path(printed)).text)
        record = json.loads(self.verdict(pdf).embedded["meddev-esign/record.json"])
        self.assertNotIn("on_behalf_of", record["signatures"][0])

    def test_newer_print_and_revoked_certificate_are_told(self):
        _pdf, first = self.print_lot()
        self.print_lot()
        self.ra_cert.with_user(self.admin)._revoke("key_compromise")
        page = self.url_open(self.token_path(first)).text
        self.assertIn("A newer print of this record exists", page)
        self.assertIn("Certificate revoked", page)

    def test_record_changed_since_signing_is_told_by_page_and_upload(self):
        """Sign, print, then change a signed field with a reason: the signature no longer
        counts, and the page and the upload of the (unaltered) copy say so for it.

        Verifies: R10, R11, R24
        """
        pdf, printed = self.print_lot(user=self.auditor)
        # The twin before the change: the same copy, the signature valid.
        answer = self.upload(pdf, json_answer=True).json()
        self.assertEqual(answer["status"], "authentic")
        self.assertEqual([sig["state"] for sig in answer["records"][0]["signatures"]], ["valid"])
        page = self.url_open(self.token_path(printed)).text
        self.assertNotIn("Changed since signing", page)
        self.assertIn("Valid", page)

        self.lot.with_context(esign_change_reason="Relabelled after printing").ref = "VP-REF-2"
        self.env.flush_all()
        self.signature.invalidate_recordset(["status"])
        self.assertEqual(self.signature.status, "changed")
        page = self.url_open(self.token_path(printed)).text
        self.assertIn("Changed since signing", page)
        self.assertIn("Verify Page Releaser", page)
        answer = self.upload(pdf, json_answer=True).json()
        # The file is the sealed one; the signature it shows no longer counts.
        self.assertEqual(answer["status"], "authentic")
        signature = answer["records"][0]["signatures"][0]
        self.assertEqual(signature["state"], "changed")
        self.assertEqual(signature["name"], "Verify Page Releaser")
        html = self.upload(pdf).text
        self.assertIn("Authentic: unchanged since printed on", html)
        self.assertIn("Changed since signing", html)

    def test_revoked_certificate_is_told_by_the_upload(self):
        """Verifies: R7, R24"""
        pdf, _printed = self.print_lot()
        answer = self.upload(pdf, json_answer=True).json()
        self.assertEqual(answer["records"][0]["signatures"][0]["state"], "valid")
        self.assertNotIn("Certificate revoked", self.upload(pdf).text)
        self.ra_cert.with_user(self.admin)._revoke("key_compromise")
        answer = self.upload(pdf, json_answer=True).json()
        self.assertEqual(answer["records"][0]["signatures"][0]["state"], "revoked")
        self.assertIn("Certificate revoked", self.upload(pdf).text)

    def test_unknown_and_malformed_tokens_get_the_same_answer(self):
        self.print_lot()
        unknown = self.url_open(VERIFY + "/" + "A" * 43)
        malformed = self.url_open(VERIFY + "/%27%3Bselect%201--")
        numeric = self.url_open(VERIFY + f"/{self.lot.id}")
        for response in (unknown, malformed, numeric):
            self.assertEqual(response.status_code, 404)
        self.assertEqual(unknown.content, malformed.content)
        self.assertEqual(unknown.content, numeric.content)
        self.assertIn("Not found", unknown.text)
        self.assertNotIn("VP-LOT-1", unknown.text)

    def test_rate_limit_per_client_address(self):
        self.env["ir.config_parameter"].sudo().set_param("meddev_esign.verify_rate_limit", "3")
        codes = [self.url_open(VERIFY + "/" + "B" * 43).status_code for _ in range(4)]
        self.assertEqual(codes, [404, 404, 404, 429])
        self.assertEqual(self.upload(b"%PDF-1.7 x").status_code, 429)
        self.assertIn("Too many requests", self.url_open(VERIFY).text)

    def test_token_of_another_company_shows_that_company_only(self):
        other = self.env["res.company"].create({"name": "VP Other Devices Ltd."})
        self.admin.write({"company_ids": [(4, other.id)]})
        other.write(
            {
                "esign_tsa_urls": self.tsa.url,
                "esign_tsa_roots_pem": self.company.esign_tsa_roots_pem,
                "esign_seal_enabled": True,
            }
        )
        self.env["esign.ca"].with_user(self.admin)._generate(other)
        self.env["esign.certificate"].with_user(self.admin)._enrol_seal(other)
        product = self.lot.product_id
        lot = self.env["stock.lot"].create(
            {"name": "VP-OTHER-LOT", "product_id": product.id, "company_id": other.id}
        )
        pdf, printed = self.print_lot(lot, user=self.admin.with_company(other))
        self.assertEqual(printed.company_id, other)
        page = self.url_open(self.token_path(printed)).text
        self.assertIn("VP Other Devices Ltd.", page)
        self.assertIn("VP-OTHER-LOT", page)
        self.assertNotIn(self.company.name, page)
        self.assertNotIn("VP-LOT-1", page)
        answer = self.upload(pdf, json_answer=True).json()
        self.assertEqual(answer["status"], "authentic")
        self.assertEqual(answer["company"], "VP Other Devices Ltd.")

    # ------------------------------------------------------------------ the upload
    def test_upload_authentic_copy(self):
        pdf, printed = self.print_lot(user=self.auditor)
        response = self.upload(pdf)
        self.assertEqual(response.status_code, 200)
        self.assertIn("Authentic: unchanged since printed on", response.text)
        self.assertIn("Verify Page Auditor", response.text)
        answer = self.upload(pdf, json_answer=True).json()
        self.assertEqual(answer["status"], "authentic")
        self.assertEqual(answer["sha256"], printed.sha256)
        self.assertEqual(answer["records"][0]["name"], "VP-LOT-1")
        # Nothing uploaded is stored.
        self.assertFalse(
            self.env["ir.attachment"].sudo().search_count([("checksum", "=", printed.sha256)])
        )

    def test_upload_one_changed_byte_is_altered(self):
        pdf, _printed = self.print_lot()
        tampered = bytearray(pdf)
        tampered[pdf.index(b"stream", 200) + 20] ^= 0x01
        answer = self.upload(bytes(tampered), json_answer=True).json()
        self.assertEqual(answer["status"], "altered")
        self.assertIn("Altered after sealing", answer["message"])

    def test_upload_incremental_update_after_the_seal_is_altered(self):
        from pyhanko.pdf_utils.incremental_writer import (  # noqa: PLC0415
            IncrementalPdfFileWriter,
        )
        from pyhanko.stamp import TextStamp, TextStampStyle  # noqa: PLC0415

        pdf, _printed = self.print_lot()
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
        TextStamp(writer, TextStampStyle(stamp_text="EXPIRY 2099-12-31")).apply(0, 60, 400)
        out = io.BytesIO()
        writer.write(out)
        answer = self.upload(out.getvalue(), json_answer=True).json()
        self.assertEqual(answer["status"], "altered", answer["checks"])
        page = self.upload(out.getvalue())
        self.assertIn("Altered after sealing", page.text)

    def test_upload_sealed_by_another_ca_is_unknown_issuer(self):
        self.company.esign_seal_enabled = False
        plain = self.render("meddev_esign.action_report_batch_release", self.lot)
        authority = pki.generate_ca("Forger CA", organization="Forger")
        key = pki.generate_private_key()
        cert = pki.issue_seal_certificate(authority, "Forger e-Seal", key.public_key())
        signer = pki.CachedKeySigner(key, cert, (authority.certificate,))
        forged = pdf_seal.seal_pdf(
            plain,
            signer,
            pdf_seal.SealOptions(
                level="B-B", timestamp_required=False, trust_roots=(authority.certificate,)
            ),
        )
        answer = self.upload(forged.pdf, json_answer=True).json()
        self.assertEqual(answer["status"], "unknown_issuer")
        self.assertIn("unknown issuer", answer["message"])

    def test_upload_not_sealed(self):
        self.company.esign_seal_enabled = False
        plain = self.render("meddev_esign.action_report_batch_release", self.lot)
        answer = self.upload(plain, json_answer=True).json()
        self.assertEqual(answer["status"], "not_sealed")
        self.assertIn("Not sealed", self.upload(plain).text)

    def test_upload_non_pdf_and_broken_pdf(self):
        response = self.upload(b"GIF89a not a pdf", json_answer=True)
        self.assertEqual(response.status_code, 400)
        self.assertEqual(response.json()["status"], "not_pdf")
        broken = self.upload(b"%PDF-1.7\n1 0 obj << /Type /Catalog", json_answer=True).json()
        self.assertIn(broken["status"], ("unusable", "not_sealed"))
        self.assertIn("PDF", broken["message"])

    def test_upload_too_large(self):
        big = b"%PDF-1.7\n" + b"0" * (20 * 1024 * 1024)
        response = self.upload(big, json_answer=True)
        self.assertEqual(response.status_code, 413)
        self.assertEqual(response.json()["status"], "too_large")

    def test_upload_form_on_the_page(self):
        response = self.url_open(VERIFY)
        self.assertEqual(response.status_code, 200)
        self.assertIn('enctype="multipart/form-data"', response.text)
        self.assertIn('name="pdf"', response.text)

    # ------------------------------------------------------------------ pdfsig
    def test_pdfsig_trusts_the_printed_report(self):
        """poppler's pdfsig, with the company CA in a throw-away NSS database. NSS asks the
        seal certificate's OCSP responder (this server's route) whether it is revoked."""
        self.assertTrue(shutil.which("pdfsig") and shutil.which("certutil"))
        pdf = self.render("meddev_esign.action_report_batch_release", self.lot)
        with tempfile.TemporaryDirectory() as tmp:
            nss = Path(tmp) / "nss"
            nss.mkdir()
            subprocess.run(
                ["certutil", "-N", "-d", f"sql:{nss}", "--empty-password"], check=True, timeout=60
            )
            ca = Path(tmp) / "ca.pem"
            ca.write_bytes(pki.certificate_to_pem(self.ca._root()))
            subprocess.run(
                ["certutil", "-A", "-d", f"sql:{nss}", "-n", "esign-ca", "-t", "CT,C,C", "-i", ca],
                check=True,
                timeout=60,
            )
            path = Path(tmp) / "sealed.pdf"
            path.write_bytes(pdf)
            out = subprocess.run(
                ["pdfsig", "-nssdir", f"sql:{nss}", str(path)],
                capture_output=True,
                text=True,
                timeout=60,
            ).stdout
            tampered = bytearray(pdf)
            start = pdf.index(b"stream", 200) + 20
            tampered[start] ^= 0x01
            path.write_bytes(bytes(tampered))
            bad = subprocess.run(
                ["pdfsig", "-nssdir", f"sql:{nss}", str(path)],
                capture_output=True,
                text=True,
                timeout=60,
            ).stdout
        self.assertIn("Signature is Valid", out)
        self.assertIn("Certificate is Trusted", out)
        self.assertNotIn("Signature is Valid", bad)

    # ------------------------------------------------------------------ the tour
    def test_tour_auditor_prints_opens_the_page_and_uploads(self):
        """The auditor prints from the Print menu, opens the page from the print log's address
        (what the QR code encodes) and uploads the very PDF the Print menu gave."""
        new_test_user(
            self.env,
            login="vp_tour_auditor",
            password="vp_tour_auditor",
            name="Tour Auditor",
            groups="meddev_esign.group_esign_auditor",
        )
        self.start_tour(
            f"/odoo/action-meddev_esign.stock_lot_action_esign_release/{self.lot.id}",
            "meddev_esign_sealed_print",
            login="vp_tour_auditor",
        )
        printed = (
            self.env["esign.print"].sudo().search([("user_id.login", "=", "vp_tour_auditor")])
        )
        self.assertEqual(len(printed), 1, "one print: the one the Print menu made")
        self.assertEqual(printed.line_ids.res_id, self.lot.id)
