"""Sealed printouts of regulated reports in real Odoo: the company seal certificate, the
report hook, the print log and its audit entries, TSA failure, SoftHSM keys, pdfsig.

A real loopback TSA and a real SoftHSM2 token come from ``services/tests/pki_fixtures.py``
(as in ``test_pki``); nothing is mocked. The seal is checked by this add-on's verifier and,
once (in ``test_verify_page``, where the OCSP route answers) by poppler's ``pdfsig``.
"""

import base64
import hashlib
import io
import os
import re
import subprocess
import tempfile
import zipfile
from pathlib import Path
from unittest.mock import patch

import psycopg2
from cryptography.x509.oid import NameOID

from odoo import Command
from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged
from odoo.tools import config, mute_logger

from ..models import esign_keystore as keystore
from ..models.esign_print import token_hash
from ..services import pdf_evidence, pdf_verify, pki
from .common import EsignCase
from .test_pki import load_fixtures, pki_options, setup_company

REGULATED = (
    "meddev_esign.action_report_batch_release",
    "meddev_esign.action_report_audit_integrity",
    "mrp.action_report_production_order",
    "purchase.action_report_purchase_order",
    "meddev_esign.action_report_change_request",
    "meddev_esign.action_report_capa",
    "meddev_esign.action_report_deviation",
    "meddev_esign.action_report_supplier_qualification",
)


class SealSetup:
    """A company with its CA, a loopback TSA, a seal certificate and sealing on."""

    @classmethod
    def setup_seal(cls, admin):
        cls.fixtures = load_fixtures()
        cls.tsa = cls.fixtures.start_tsa()
        cls.options = pki_options(cls.fixtures)
        cls.startClassPatcher(patch.dict(config.options, cls.options))
        cls.startClassPatcher(patch.dict(os.environ, {}, clear=False))
        os.environ.pop(keystore.MASTER_KEY_ENV, None)
        cls.company = setup_company(cls.env, cls.tsa, admin)
        # The TSA's own certificate with its root: its CRL goes into the seal (B-LT).
        cls.company.esign_tsa_roots_pem = (
            pki.certificate_to_pem(cls.tsa.root) + pki.certificate_to_pem(cls.tsa.tsa_certificate)
        ).decode()
        cls.ca = cls.env["esign.ca"].search([("company_id", "=", cls.company.id)])
        cls.seal = cls.env["esign.certificate"].with_user(admin)._enrol_seal(cls.company)
        cls.company.write({"esign_seal_enabled": True, "esign_seal_level": "B-LT"})

    def render(self, xmlid, records, user=None):
        report = (
            self.env["ir.actions.report"].with_user(user)
            if user
            else self.env["ir.actions.report"]
        )
        pdf, kind = report.with_context(force_report_rendering=True)._render_qweb_pdf(
            xmlid, records.ids
        )
        self.assertEqual(kind, "pdf")
        return pdf

    def verdict(self, pdf, roots=None):
        return pdf_verify.verify_sealed_pdf(
            pdf,
            trust_roots=roots or (self.ca._root(),),
            tsa_roots=tuple(pki.load_certificates(self.company.esign_tsa_roots_pem.encode())),
        )

    def last_print(self):
        return self.env["esign.print"].sudo().search([], order="id desc", limit=1)

    @staticmethod
    def pdf_text(pdf):
        from pdfminer.high_level import extract_text  # noqa: PLC0415 - test-only dependency

        return " ".join(extract_text(io.BytesIO(pdf)).split())

    @staticmethod
    def stamp_bytes(pdf):
        """The decoded streams of the seal's visible stamp (its widget's appearance, with the
        fonts and their ToUnicode maps): what a viewer draws, which text extraction skips."""
        from pyhanko.pdf_utils import generic  # noqa: PLC0415
        from pyhanko.pdf_utils.reader import PdfFileReader  # noqa: PLC0415

        reader = PdfFileReader(io.BytesIO(pdf))
        found, seen = [], set()

        def walk(value):
            if isinstance(value, generic.IndirectObject):
                if value.idnum in seen:
                    return
                seen.add(value.idnum)
                value = value.get_object()
            if isinstance(value, generic.StreamObject):
                found.append(value.data)
            if isinstance(value, generic.DictionaryObject):
                for key, item in value.items():
                    if key != "/Parent":
                        walk(item)
            elif isinstance(value, generic.ArrayObject):
                for item in value:
                    walk(item)

        for sig in reader.embedded_signatures:
            walk(sig.sig_field.get("/AP"))
        return b"\n".join(found)

    def assert_stamp_says(self, pdf, text):
        # PDF literal strings escape some characters in octal ("\\055" for "-").
        data = re.sub(rb"\\([0-7]{3})", lambda m: bytes([int(m[1], 8)]), self.stamp_bytes(pdf))
        raw = text.encode("latin-1")
        self.assertTrue(
            raw in data or raw.hex().encode() in data.lower(),
            f"the stamp does not say {text!r}",
        )

    def qr_url(self, pdf):
        """The URL the QR code on the last page encodes, read from the rendered page."""
        import zxingcpp  # noqa: PLC0415 - test-only dependency
        from PIL import Image  # noqa: PLC0415

        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "sealed.pdf"
            path.write_bytes(pdf)
            subprocess.run(
                ["pdftoppm", "-r", "200", "-png", str(path), str(Path(tmp) / "page")],
                check=True,
                timeout=120,
            )
            page = sorted(Path(tmp).glob("page*.png"))[-1]
            found = zxingcpp.read_barcodes(
                Image.open(page), formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)
            )
        self.assertEqual(len(found), 1, "one QR code on the last page")
        return found[0].text


@tagged("post_install", "-at_install")
class TestSealedReports(SealSetup, EsignCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setup_seal(cls.esign_admin)
        Cert = cls.env["esign.certificate"].with_user(cls.esign_admin)
        for user in (cls.qe, cls.qa):
            Cert._enrol(user, "in_person", f"ID card of {user.name} checked", cls.company)

    # ------------------------------------------------------------------ seal certificate
    def test_seal_certificate_belongs_to_the_company_not_a_person(self):
        seal = self.seal
        self.assertEqual(seal.purpose, "seal")
        self.assertFalse(seal.user_id)
        self.assertEqual(self.company.esign_seal_certificate_id, seal)
        cert = pki.load_certificate(seal.certificate_pem.encode())
        self.assertIsNone(pki.certificate_login(cert), "no person's login in a seal")
        common_name = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
        self.assertIn(self.company.name, common_name)
        cert.verify_directly_issued_by(self.ca._certificate())
        self.assertTrue(
            self.env["esign.audit.entry"].search_count(
                [("res_model", "=", "esign.certificate"), ("res_id", "=", seal.id)]
            ),
            "issuing the seal is audited as configuration",
        )
        # One active seal per company; only an administrator issues one.
        with self.assertRaises(UserError):
            self.env["esign.certificate"].with_user(self.esign_admin)._enrol_seal(self.company)
        with self.assertRaises(AccessError):
            self.env["esign.certificate"].with_user(self.qa)._enrol_seal(self.company)
        # A seal cannot name a person, a person's certificate must.
        with (
            self.assertRaises(psycopg2.IntegrityError),
            mute_logger("odoo.sql_db"),
            self.cr.savepoint(),
        ):
            seal.sudo().write({"user_id": self.qa.id})
            seal.flush_recordset()

    def test_seal_settings_are_audited(self):
        # As applied (an approved configuration change applies under sudo, as its approver).
        self.company.with_user(self.esign_admin).sudo().write(
            {"esign_seal_level": "B-LTA", "esign_seal_tsa_required": False}
        )
        entry = self.env["esign.audit.entry"].search(
            [("res_model", "=", "res.company"), ("res_id", "=", self.company.id)], limit=1
        )
        self.assertEqual(entry.operation, "config")
        self.assertIn("esign_seal_level", entry.payload)
        self.assertIn("B-LTA", entry.payload)
        self.assertIn("esign_seal_tsa_required", entry.payload)
        # The defaults a QA manager expects: B-LT, and no seal without trusted time.
        fresh = self.env["res.company"].create({"name": "Seal Defaults Ltd."})
        self.assertEqual((fresh.esign_seal_level, fresh.esign_seal_tsa_required), ("B-LT", True))
        self.assertFalse(fresh.esign_seal_enabled)

    def test_renewed_seal_signs_revoked_seal_refuses(self):
        Cert = self.env["esign.certificate"].with_user(self.esign_admin)
        action = Cert.browse(self.seal.id).action_renew()
        new = Cert.browse(action["res_id"])
        self.assertEqual(self.seal.state, "superseded")
        self.assertEqual((new.purpose, new.state, new.previous_id), ("seal", "active", self.seal))
        pdf = self.render("meddev_esign.action_report_batch_release", self.lot)
        self.assertEqual(self.verdict(pdf).status, "authentic")
        self.assertEqual(self.last_print().seal_certificate_id, new)
        new._revoke("key_compromise")
        self.assertIn(
            int(new.serial, 16),
            {r.serial for r in self.ca._revocations()},
            "the revoked seal is in the CRL",
        )
        count = self.env["esign.print"].sudo().search_count([])
        with self.assertRaisesRegex(UserError, "seal certificate"):
            self.render("meddev_esign.action_report_batch_release", self.lot)
        self.assertEqual(self.env["esign.print"].sudo().search_count([]), count)

    # ------------------------------------------------------------------ every report
    def _regulated_records(self):
        env = self.env
        mo = self._make_mo()
        vendor = env["res.partner"].create({"name": "T Seal Vendor", "is_company": True})
        po = env["purchase.order"].create(
            {
                "partner_id": vendor.id,
                "order_line": [
                    Command.create(
                        {"product_id": self.component.id, "product_qty": 2, "price_unit": 3}
                    )
                ],
            }
        )
        chain = env["esign.audit.chain"].sudo()._for_company(self.company)
        verification = chain._run_verification()[:1]
        change = env["esign.change.request"].create(
            {
                "title": "Seal test change",
                "change_type": "engineering",
                "description": "What changes",
                "impact_description": "Impact",
                "risk_level": "low",
            }
        )
        capa = env["esign.capa"].create(
            {"title": "Seal test CAPA", "source": "complaint", "description": "Observed"}
        )
        deviation = env["esign.deviation"].create(
            {"title": "Seal test deviation", "product_id": self.component.id, "description": "x"}
        )
        qualification = env["esign.supplier.qualification"].create(
            {
                "partner_id": vendor.id,
                "scope": "Sensors",
                "audit_date": "2024-01-10",
                "valid_until": "2099-12-31",
            }
        )
        return dict(
            zip(
                REGULATED,
                (self.lot, verification, mo, po, change, capa, deviation, qualification),
                strict=True,
            )
        )

    def test_every_regulated_report_prints_sealed(self):
        for xmlid, record in self._regulated_records().items():
            with self.subTest(report=xmlid):
                self.assertTrue(self.env.ref(xmlid).esign_seal)
                pdf = self.render(xmlid, record)
                verdict = self.verdict(pdf)
                self.assertEqual(verdict.status, "authentic", verdict.checks)
                self.assertTrue(verdict.timestamped)
                printed = self.last_print()
                self.assertEqual(printed.sha256, hashlib.sha256(pdf).hexdigest())
                self.assertEqual(printed.line_ids.res_id, record.id)
                self.assertEqual(printed.level, "B-LT")
                self.assertIn(printed.report_name, self.env.ref(xmlid).name)
                checks = pdf_evidence.check_evidence(verdict.embedded)
                self.assertTrue(checks and all(c.ok for c in checks), checks)

    def test_report_not_regulated_is_not_sealed(self):
        count = self.env["esign.print"].sudo().search_count([])
        pdf = self.render("stock.action_report_lot_label", self.lot)
        self.assertEqual(self.verdict(pdf).status, "not_sealed")
        self.assertEqual(self.env["esign.print"].sudo().search_count([]), count)

    def test_sealing_off_prints_plain(self):
        self.company.esign_seal_enabled = False
        pdf = self.render("meddev_esign.action_report_batch_release", self.lot)
        self.assertEqual(self.verdict(pdf).status, "not_sealed")

    # ------------------------------------------------------------------ print log
    def test_reprint_after_a_new_signature_is_a_new_numbered_copy(self):
        mo = self._make_mo()
        self.sign(self.qe, mo)
        first = self.render("mrp.action_report_production_order", mo)
        first_print = self.last_print()
        self.sign(self.qa, mo)
        second = self.render("mrp.action_report_production_order", mo)
        second_print = self.last_print()
        self.assertNotEqual(first, second)
        self.assertEqual(first_print.line_ids.print_number, 1)
        self.assertEqual(second_print.line_ids.print_number, 2)
        self.assertEqual((first_print.signature_count, second_print.signature_count), (1, 2))
        self.assertEqual(first_print.line_ids._newer(), second_print.line_ids)
        self.assertFalse(second_print.line_ids._newer())
        # The second copy embeds both signatures' CMS evidence, and it checks out.
        verdict = self.verdict(second)
        self.assertEqual(verdict.status, "authentic")
        names = set(pdf_evidence.strip_prefix(verdict.embedded))
        self.assertTrue({"signature-1/signature.p7s", "signature-2/signature.p7s"} <= names)
        self.assertTrue({"record.json", "chain.json", "ca.pem", "ca.crl"} <= names)
        self.assertTrue(all(c.ok for c in pdf_evidence.check_evidence(verdict.embedded)))

    def test_print_is_logged_and_audited(self):
        pdf = self.render("meddev_esign.action_report_batch_release", self.lot, user=self.auditor)
        printed = self.last_print()
        self.assertEqual(printed.user_id, self.auditor)
        self.assertEqual(printed.company_id, self.company)
        self.assertEqual(printed.sha256, hashlib.sha256(pdf).hexdigest())
        self.assertTrue(printed.timestamped)
        self.assertTrue(printed.timestamp_time)
        entry = self.env["esign.audit.entry"].search(
            [("res_model", "=", "stock.lot"), ("res_id", "=", self.lot.id)], limit=1
        )
        self.assertEqual(entry.operation, "print")
        self.assertEqual(entry.user_id, self.auditor)
        self.assertIn(printed.sha256, entry.payload)
        # The log is evidence: nobody rewrites or deletes it.
        with self.assertRaises(UserError):
            printed.write({"sha256": "0" * 64})
        with self.assertRaises(UserError):
            printed.line_ids.unlink()
        # Auditors read it; plain users do not.
        self.assertTrue(printed.with_user(self.auditor).verify_url)
        with self.assertRaises(AccessError):
            printed.with_user(self.qe).read(["sha256"])

    def test_token_is_random_256_bits_and_not_a_record_id(self):
        self.render("meddev_esign.action_report_batch_release", self.lot)
        one = self.last_print()
        self.render("meddev_esign.action_report_batch_release", self.lot)
        two = self.last_print()
        tokens = []
        for printed in (one, two):
            url = printed.verify_url
            self.assertTrue(
                url.startswith(self.env["ir.config_parameter"].get_param("web.base.url"))
            )
            token = url.rsplit("/", 1)[1]
            self.assertRegex(token, r"^[A-Za-z0-9_-]{43,}$")  # 43 base64url chars = 256 bits
            self.assertEqual(printed.token_hash, token_hash(token))
            # The token is 32 random bytes, not an id written out: a digit run inside random
            # base64 may equal a small id by chance, so the check is on the decoded bytes.
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            self.assertGreaterEqual(len(raw), 32)
            self.assertNotIn(token, {str(self.lot.id), str(printed.id)})
            tokens.append(token)
        self.assertNotEqual(*tokens)

    def test_qr_code_encodes_the_verification_url(self):
        pdf = self.render("meddev_esign.action_report_batch_release", self.lot)
        self.assertEqual(self.qr_url(pdf), self.last_print().verify_url)
        self.assert_stamp_says(pdf, "Electronically signed")
        self.assert_stamp_says(pdf, "E-signatures on the record: 0")

    def test_many_records_one_file_one_seal(self):
        lot2 = self._make_lot("TEST-LOT-2")
        lots = self.lot | lot2
        pdf = self.render("meddev_esign.action_report_batch_release", lots)
        from pyhanko.pdf_utils.reader import PdfFileReader  # noqa: PLC0415

        self.assertEqual(len(PdfFileReader(io.BytesIO(pdf)).embedded_signatures), 1)
        printed = self.last_print()
        self.assertEqual(len(printed.line_ids), 2)
        self.assertEqual(set(printed.line_ids.mapped("res_id")), set(lots.ids))
        verdict = self.verdict(pdf)
        self.assertEqual(verdict.status, "authentic")
        names = set(pdf_evidence.strip_prefix(verdict.embedded))
        self.assertIn("record.json", names)
        self.assertIn("record-2/record.json", names)

    # ------------------------------------------------------------------ TSA down
    def _tsa_down(self, required):
        self.company.write(
            {
                "esign_tsa_urls": self.tsa.down_url,
                "esign_tsa_timeout": 1.0,
                "esign_seal_tsa_required": required,
            }
        )

    def test_tsa_down_and_required_refuses_the_print(self):
        self._tsa_down(required=True)
        count = self.env["esign.print"].sudo().search_count([])
        # No savepoint: the refusal's audit entry is written in a cursor of its own.
        refusal = self.refused(self.render, "meddev_esign.action_report_batch_release", self.lot)
        self.assertIn("no timestamp authority answered", str(refusal))
        self.assertEqual(self.env["esign.print"].sudo().search_count([]), count)
        refused = self.env["esign.audit.entry"].search(
            [("res_model", "=", "stock.lot"), ("res_id", "=", self.lot.id)], limit=1
        )
        self.assertEqual(refused.operation, "print_refused")

    def test_tsa_down_not_required_seals_without_trusted_time(self):
        self._tsa_down(required=False)
        pdf = self.render("meddev_esign.action_report_batch_release", self.lot)
        printed = self.last_print()
        self.assertEqual(printed.level, "B-B")
        self.assertFalse(printed.timestamped)
        self.assertTrue(printed.tsa_error)
        self.assert_stamp_says(pdf, "No trusted time")
        verdict = self.verdict(pdf)
        self.assertEqual(verdict.status, "authentic")
        self.assertFalse(verdict.timestamped)
        entry = self.env["esign.audit.entry"].search(
            [("res_model", "=", "stock.lot"), ("res_id", "=", self.lot.id)], limit=1
        )
        self.assertEqual(entry.operation, "print")
        self.assertIn("without trusted time", entry.reason)

    def test_b_lta_adds_a_document_timestamp(self):
        self.company.esign_seal_level = "B-LTA"
        pdf = self.render("meddev_esign.action_report_batch_release", self.lot)
        self.assertEqual(self.last_print().level, "B-LTA")
        from pyhanko.pdf_utils.reader import PdfFileReader  # noqa: PLC0415

        kinds = [s.sig_object_type for s in PdfFileReader(io.BytesIO(pdf)).embedded_signatures]
        self.assertIn("/DocTimeStamp", kinds)
        self.assertEqual(self.verdict(pdf).status, "authentic")

    # ------------------------------------------------------------------ keys, languages
    def test_seal_key_on_softhsm(self):
        Cert = self.env["esign.certificate"].with_user(self.esign_admin)
        Cert.browse(self.seal.id)._revoke("superseded", state="superseded")
        self.company.esign_keystore = "pkcs11"
        seal = Cert._enrol_seal(self.company)
        self.assertEqual(seal.keystore, "pkcs11")
        self.assertFalse(seal.sudo().sealed_key)
        pdf = self.render("meddev_esign.action_report_batch_release", self.lot)
        self.assertEqual(self.verdict(pdf).status, "authentic")
        self.assertEqual(self.last_print().seal_certificate_id, seal)

    def test_chinese_printout_has_a_chinese_stamp_in_a_cjk_font(self):
        self.env["res.lang"]._activate_lang("zh_CN")
        self.company.with_context(lang="zh_CN").esign_seal_stamp_text = "已电子签名"
        report = self.env["ir.actions.report"].with_context(
            lang="zh_CN", force_report_rendering=True
        )
        pdf, _kind = report._render_qweb_pdf(
            "meddev_esign.action_report_batch_release", self.lot.ids
        )
        # The CJK font's ToUnicode map covers the stamp's Chinese characters.
        self.assertIn(b"5df2", self.stamp_bytes(pdf).lower())  # 已
        self.assertEqual(self.last_print().lang, "zh_CN")
        with tempfile.NamedTemporaryFile(suffix=".pdf") as handle:
            handle.write(pdf)
            handle.flush()
            fonts = subprocess.run(
                ["pdffonts", handle.name], capture_output=True, text=True, check=True, timeout=60
            ).stdout
        self.assertIn("CJK", fonts)


@tagged("post_install", "-at_install")
class TestSealedHistoryReports(SealSetup, EsignCase):
    """The paper-history traceability report and the executed validation report are regulated
    copies too: they print sealed."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setup_seal(cls.esign_admin)

    def test_traceability_and_validation_reports_print_sealed(self):
        self.assertTrue(self.env.ref("meddev_esign.action_report_validation_run").esign_seal)
        report = self.env.ref("meddev_esign.action_report_migration_traceability")
        self.assertTrue(report.esign_seal)
        lot = self._make_lot("SEAL-PAPER-1")
        lot.company_id = self.company
        scan = b"%PDF-1.4\n% a paper batch record\n"
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w") as zipped:
            zipped.writestr("p.pdf", scan)
        wizard = (
            self.env["esign.migration.import"]
            .with_user(self.esign_admin)
            .with_company(self.company)
            .create(
                {
                    "data_file": base64.b64encode(
                        b"record_type,record,signer,signed_on,meaning,scan\n"
                        b"lot,SEAL-PAPER-1,Wang Fang,2018-01-02,approved,p.pdf\n"
                    ),
                    "data_file_name": "history.csv",
                    "scans_file": base64.b64encode(archive.getvalue()),
                }
            )
        )
        wizard.action_import()
        rows = self.env["esign.migrated.signature"].search([("res_id", "=", lot.id)])
        pdf = self.render("meddev_esign.action_report_migration_traceability", rows)
        verdict = self.verdict(pdf)
        self.assertEqual(verdict.status, "authentic", verdict.checks)
        self.assertEqual(self.last_print().sha256, hashlib.sha256(pdf).hexdigest())
