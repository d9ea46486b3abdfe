"""PKI-backed signatures in real Odoo (S5, R22, R23): certificates, keystores, CAdES, timestamps.

A real loopback TSA (certomancer served by werkzeug) and a real SoftHSM2 token come from
``services/tests/pki_fixtures.py``; nothing here is mocked. The keystore master key and the
PKCS#11 settings are put in Odoo's configuration options, as a deployment's config file would.
"""

import base64
import importlib.util
import io
import json
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from unittest.mock import patch

import psycopg2
from asn1crypto import cms
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from odoo.exceptions import AccessError, UserError
from odoo.tests import HttpCase, new_test_user, tagged
from odoo.tools import config, mute_logger

from ..models import esign_keystore as keystore
from ..services import pki
from .common import EsignCase

FIXTURES = Path(__file__).resolve().parents[1] / "services" / "tests" / "pki_fixtures.py"


def load_fixtures():
    """Load the core suite's loopback TSA / SoftHSM helpers from their file."""
    name = "meddev_esign_pki_fixtures"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, FIXTURES)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def pki_options(fixtures):
    token = fixtures.softhsm_token()
    return {
        keystore.MASTER_KEY_OPTION: pki.generate_master_key(),
        "meddev_esign_pkcs11_library": token.library,
        "meddev_esign_pkcs11_token": token.label,
        "meddev_esign_pkcs11_pin": token.pin,
    }


def setup_company(env, tsa, admin):
    company = env.company
    company.write(
        {
            "esign_pki_enabled": True,
            "esign_keystore": "software",
            "esign_key_type": "ecdsa-p256",
            "esign_tsa_urls": tsa.url,
            "esign_tsa_timeout": 3.0,
            "esign_tsa_offline": "refuse",
            "esign_tsa_roots_pem": pki.certificate_to_pem(tsa.root).decode(),
        }
    )
    env["esign.ca"].with_user(admin)._generate(company)
    return company


@tagged("post_install", "-at_install")
class TestPki(EsignCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.fixtures = load_fixtures()
        cls.tsa = cls.fixtures.start_tsa()
        cls.options = pki_options(cls.fixtures)
        cls.startClassPatcher(patch.dict(config.options, cls.options))
        cls.startClassPatcher(patch.dict(os.environ, {}, clear=False))
        os.environ.pop(keystore.MASTER_KEY_ENV, None)
        cls.company = setup_company(cls.env, cls.tsa, cls.esign_admin)
        cls.ca = cls.env["esign.ca"].search([("company_id", "=", cls.company.id)])
        cls.Cert = cls.env["esign.certificate"].with_user(cls.esign_admin)
        cls.qe_cert = cls.enrol(cls.qe)

    @classmethod
    def enrol(cls, user, method="in_person"):
        return cls.Cert._enrol(user, method, f"ID card of {user.name} checked", cls.company)

    def make_cert(self, user, *, login=None, start=None, days=1):
        """A certificate row issued by the company CA with chosen dates or login."""
        key = pki.generate_private_key()
        key_ref = f"esign.certificate/test-{user.id}-{time.time_ns()}"
        sealed = pki.seal_private_key(
            key, pki.parse_master_key(self.options[keystore.MASTER_KEY_OPTION]), key_id=key_ref
        )
        with self.ca._authority() as authority:
            cert = pki.issue_signer_certificate(
                authority,
                pki.SignerIdentity(name=user.name, login=login or user.login),
                key.public_key(),
                now=start,
                valid_for=timedelta(days=days),
            )
        return (
            self.env["esign.certificate"]
            .sudo()
            .create(
                {
                    "user_id": user.id,
                    "company_id": self.company.id,
                    "ca_id": self.ca.id,
                    "serial": f"{cert.serial_number:x}",
                    "fingerprint": pki.fingerprint(cert),
                    "subject": cert.subject.rfc4514_string(),
                    "not_before": cert.not_valid_before_utc.replace(tzinfo=None),
                    "not_after": cert.not_valid_after_utc.replace(tzinfo=None),
                    "certificate_pem": pki.certificate_to_pem(cert).decode(),
                    "key_type": "ecdsa-p256",
                    "keystore": "software",
                    "key_ref": key_ref,
                    "sealed_key": keystore.b64(sealed),
                    "identity_method": "other",
                    "identity_evidence": "test",
                    "identity_verified_by_id": self.esign_admin.id,
                    "identity_verified_at": datetime.now(),
                }
            )
        )

    def sign_review(self, user=None, mo=None):
        mo = mo or self._make_mo()
        self.sign(user or self.qe, mo)
        return mo, self.signatures(mo)

    def assert_refused(self, fragment, user=None):
        """Signing is refused with a message containing ``fragment``, and no row is made."""
        mo = self._make_mo()
        exc = self.refused(self.sign, user or self.qe, mo)
        self.assertIn(fragment, str(exc))
        self.assertFalse(self.signatures(mo), "a refused signature must leave no row")
        return exc

    # ------------------------------------------------------------------ enrolment
    def test_enrolment_records_identity_and_seals_the_key(self):
        """Verifies: R2, R22"""
        cert = self.qe_cert
        self.assertEqual(cert.state, "active")
        self.assertEqual(cert.identity_verified_by_id, self.esign_admin)
        self.assertEqual(cert.identity_method, "in_person")
        self.assertTrue(cert.identity_verified_at)
        issued = pki.load_certificate(cert.certificate_pem.encode())
        self.assertEqual(pki.certificate_login(issued), self.qe.login)
        self.assertEqual(cert.fingerprint, pki.fingerprint(issued))
        self.assertEqual(int(cert.serial, 16), issued.serial_number)
        sealed = keystore.raw(cert.sudo().sealed_key)
        self.assertTrue(sealed.startswith(b"esign-keystore/1\n"))
        self.assertNotIn(b"PRIVATE KEY", sealed)
        # Enrolment is audited as configuration.
        entries = self.env["esign.audit.entry"].search(
            [("res_model", "=", "esign.certificate"), ("res_id", "=", cert.id)]
        )
        self.assertTrue(entries)

    def test_identity_evidence_is_for_administrators_and_auditors(self):
        """The certificate is public; how the person's identity was checked is personal data.

        Verifies: R2
        """
        as_signer = self.qe_cert.with_user(self.qe)
        self.assertEqual(as_signer.fingerprint, self.qe_cert.fingerprint)
        with self.assertRaises(AccessError):
            as_signer.read(["identity_evidence"])
        self.assertIn("ID card", self.qe_cert.with_user(self.auditor).identity_evidence)
        self.assertIn("ID card", self.qe_cert.with_user(self.esign_admin).identity_evidence)

    def test_enrolment_needs_an_administrator_and_evidence(self):
        """Verifies: R2"""
        with self.assertRaises(AccessError):
            self.env["esign.certificate"].with_user(self.qa)._enrol(
                self.qa, "in_person", "x", self.company
            )
        with self.assertRaises(UserError):
            self.Cert._enrol(self.qa, "in_person", "  ", self.company)
        with self.assertRaises(UserError):  # one active certificate per signer
            self.enrol(self.qe)

    # ------------------------------------------------------------------ signing
    def test_sign_with_software_key_verifies(self):
        """Verifies: R22, S5"""
        mo, sig = self.sign_review()
        self.assertEqual(len(sig), 1)
        self.assertEqual(sig.certificate_id, self.qe_cert)
        self.assertEqual(sig.pki_status, "stamped")
        self.assertEqual(sig.pki_tsa_url, self.tsa.url)
        self.assertTrue(sig.pki_timestamp_at)
        # The snapshot signed is the one the content hash is computed from.
        digest = __import__("hashlib").sha256(keystore.raw(sig.pki_snapshot)).hexdigest()
        self.assertTrue(sig.content_hash.endswith(digest))
        self.assertTrue(sig._verify_chain(mo._name, mo.id).ok)
        sig.with_user(self.auditor).action_pki_verify()
        self.assertEqual(sig.pki_verdict, "valid", sig.pki_verification_id.problems)
        # The chain covers the CMS: the same row with another CMS would not chain.
        vals = {key: sig[key] for key in ("pki_token", "pki_certificate_fingerprint")}
        self.assertNotEqual(
            sig._chain_payload({**sig.read()[0], **vals, "pki_cms": keystore.b64(b"x")})["pki"],
            sig._chain_payload({**sig.read()[0], **vals, "pki_cms": sig.pki_cms})["pki"],
        )

    def test_exported_evidence_keeps_the_meaning_as_signed(self):
        """The evidence holds what the signer saw (Chinese), whoever exports it.

        Verifies: R8, R18
        """
        self.env["res.lang"]._activate_lang("zh_CN")
        self.env["ir.module.module"]._load_module_terms(
            ["meddev_esign"], ["zh_CN"], overwrite=True
        )
        self.qe.lang = "zh_CN"
        __, sig = self.sign_review()
        auditor_sig = sig.with_user(self.auditor).with_context(lang="en_US")
        archive = zipfile.ZipFile(io.BytesIO(auditor_sig._pki_evidence_zip()))
        manifest = json.loads(archive.read("evidence/manifest.json"))
        self.assertEqual(manifest["meaning"], "reviewed")
        self.assertEqual(manifest["meaning_signed"], "审核")
        self.assertIn("— 审核 —", manifest["manifestation"])
        self.assertIn("— 审核 —", archive.read("evidence/README.txt").decode())
        # The English reader's own view of the same signature reads in English.
        self.assertIn("— Reviewed —", auditor_sig.manifestation)

    def test_exported_evidence_verifies_offline_and_tampering_is_found(self):
        """Verifies: R11, R18, S5"""
        __, sig = self.sign_review()
        archive = zipfile.ZipFile(io.BytesIO(sig.with_user(self.auditor)._pki_evidence_zip()))
        self.assertIn("services/pki_cli.py", archive.namelist())
        with tempfile.TemporaryDirectory() as tmp:
            archive.extractall(tmp)

            def cli():
                return subprocess.run(
                    [sys.executable, "-m", "services.pki_cli", "evidence"],
                    cwd=tmp,
                    capture_output=True,
                    text=True,
                    check=False,
                )

            run = cli()
            self.assertEqual(run.returncode, 0, run.stdout + run.stderr)
            self.assertIn("VERDICT: VALID", run.stdout)
            snapshot = Path(tmp, "evidence", "snapshot.json")
            original = snapshot.read_bytes()
            snapshot.write_bytes(original.replace(b"5.00", b"6.00"))
            run = cli()
            self.assertEqual(run.returncode, 1, run.stdout + run.stderr)
            self.assertIn("VERDICT: INVALID", run.stdout)
            snapshot.write_bytes(original)
            Path(tmp, "evidence", "manifest.json").write_text("{}")
            self.assertEqual(cli().returncode, 2)
        action = sig.with_user(self.auditor).action_pki_export()
        self.assertEqual(action["url"], f"/meddev_esign/signature/{sig.id}/evidence.zip")

    def test_audit_checkpoints_get_a_timestamp_once(self):
        """Verifies: R23, R27"""
        self._make_mo()
        chain = self.env["esign.audit.chain"]._for_company(self.company)
        checkpoint = chain._checkpoint("manual")
        self.assertEqual(checkpoint.timestamp_status, "stamped")
        token = cms.ContentInfo.load(base64.b64decode(checkpoint.timestamp_token))
        imprint = token["content"]["encap_content_info"]["content"].parsed["message_imprint"]
        self.assertEqual(imprint["hashed_message"].native.hex(), checkpoint.entry_hash)
        with self.assertRaises(UserError):
            checkpoint._set_timestamp_token(checkpoint.timestamp_token)
        # A TSA that does not answer leaves an interval checkpoint for the daily cron.
        self.company.esign_tsa_urls = self.tsa.down_url
        self._make_mo()
        late = self.env["esign.audit.checkpoint"]._store(
            chain.id, chain.head_seq, chain.head_hash, "interval"
        )
        with mute_logger("odoo.addons.meddev_esign.models.esign_audit"):
            self.assertFalse(late._request_timestamp())
        self.company.esign_tsa_urls = self.tsa.url
        self.assertEqual(late._request_timestamp(), late)
        self.assertEqual(late.timestamp_status, "stamped")

    def test_signature_rows_with_crypto_stay_immutable(self):
        """Verifies: R11, R16"""
        __, sig = self.sign_review()
        with self.assertRaises(UserError):
            sig.write({"pki_cms": False})
        with mute_logger("odoo.sql_db"), self.assertRaises(psycopg2.Error), self.cr.savepoint():
            self.cr.execute("UPDATE esign_signature SET pki_token = NULL WHERE id = %s", [sig.id])

    def test_sign_with_softhsm_key(self):
        """Verifies: R22, S5"""
        self.company.esign_keystore = "pkcs11"
        cert = self.enrol(self.qa)
        self.assertEqual(cert.keystore, "pkcs11")
        self.assertTrue(cert.hsm_label)
        self.assertFalse(cert.sudo().sealed_key)
        __, sig = self.sign_review(self.qa)
        self.assertEqual(sig.certificate_id, cert)
        self.assertEqual(sig._pki_verify().verdict, "valid")

    def test_ca_generated_on_the_token_issues_certificates_and_crls(self):
        """With the PKCS#11 keystore the CA key pair is made on the token and never leaves it:
        the token signs the CA certificate, the signer certificates and the CRL.

        Verifies: R22, S5
        """
        self.qe_cert._revoke("superseded")
        self.company.esign_keystore = "pkcs11"
        ca = self.env["esign.ca"].with_user(self.esign_admin)._generate(self.company)
        self.assertEqual((ca.keystore, ca.origin), ("pkcs11", "generated"))
        self.assertTrue(ca.hsm_label)
        self.assertFalse(ca.sudo().sealed_key, "a token CA key is never stored in the database")
        self.assertFalse(self.ca.active, "the previous CA is archived")
        root = ca._certificate()
        root.verify_directly_issued_by(root)
        cert = self.enrol(self.qe)
        self.assertEqual(cert.ca_id, ca)
        pki.load_certificate(cert.certificate_pem.encode()).verify_directly_issued_by(root)
        __, sig = self.sign_review(self.qe)
        self.assertEqual(sig._pki_verify().verdict, "valid")
        cert._revoke("key_compromise")
        crl = pki.load_crl(keystore.raw(ca.crl_der))
        self.assertTrue(crl.is_signature_valid(root.public_key()))
        self.assertIn(
            int(cert.serial, 16), [rev.serial for rev in pki.revocations_from_crl(crl, root)]
        )

    def test_ca_on_the_token_with_a_wrong_pin_or_no_token_is_refused(self):
        """Verifies: R22"""
        self.qe_cert._revoke("superseded")
        self.company.esign_keystore = "pkcs11"
        for option, value, fragment in [
            ("meddev_esign_pkcs11_pin", "0000", "refused the PIN"),
            ("meddev_esign_pkcs11_token", "no-such-token", "cannot be used"),
        ]:
            with patch.dict(config.options, {option: value}):
                exc = self.refused(
                    self.env["esign.ca"].with_user(self.esign_admin)._generate, self.company
                )
            self.assertIn(fragment, str(exc))
            self.assertEqual(self.env["esign.ca"]._for_company(self.company), self.ca)

    def test_rsa_3072_key_type(self):
        """Verifies: R22"""
        self.company.esign_key_type = "rsa-3072"
        cert = self.enrol(self.qa)
        self.assertEqual(cert.key_type, "rsa-3072")
        __, sig = self.sign_review(self.qa)
        self.assertEqual(sig._pki_verify().verdict, "valid")

    def test_pki_off_keeps_the_plain_flow(self):
        self.company.esign_pki_enabled = False
        mo, sig = self.sign_review(self.qa)  # qa has no certificate
        self.assertEqual(sig.pki_status, "none")
        self.assertNotIn("pki", sig._chain_payload(sig.read()[0] | {"user_id": sig.user_id.id}))
        self.assertTrue(sig._verify_chain(mo._name, mo.id).ok)

    # ------------------------------------------------------------------ refusals
    def test_signer_without_certificate_is_refused(self):
        """Verifies: R22"""
        self.assert_refused("has no signing certificate", self.qa)

    def test_expired_certificate_is_refused(self):
        """Verifies: R22"""
        self.qe_cert.sudo().write({"state": "superseded", "revoked_at": datetime.now()})
        self.make_cert(self.qe, start=datetime.now(UTC) - timedelta(days=10), days=2)
        self.assert_refused("has expired")

    def test_revoked_certificate_is_refused(self):
        """Verifies: R7, R22"""
        self.qe_cert._revoke("key_compromise")
        self.assertEqual(self.qe_cert.state, "revoked")
        self.assert_refused("is revoked")

    def test_other_users_certificate_is_refused(self):
        """Verifies: R1, R22"""
        self.make_cert(self.qa, login=self.qe.login, days=30)
        self.assert_refused("issued to another person", self.qa)

    def test_wrong_master_key_is_refused(self):
        """Verifies: R22"""
        keystore._SIGNER_CACHE.clear()
        with patch.dict(config.options, {keystore.MASTER_KEY_OPTION: pki.generate_master_key()}):
            self.assert_refused("not the one it was sealed under")

    def test_missing_master_key_is_refused(self):
        """Verifies: R22"""
        keystore._SIGNER_CACHE.clear()
        with patch.dict(config.options, {keystore.MASTER_KEY_OPTION: ""}):
            self.assert_refused(keystore.MASTER_KEY_OPTION)

    def test_hsm_wrong_pin_and_missing_token_are_refused(self):
        """Verifies: R22"""
        self.company.esign_keystore = "pkcs11"
        self.enrol(self.qa)
        with patch.dict(config.options, {"meddev_esign_pkcs11_pin": "0000"}):
            self.assert_refused("refused the PIN", self.qa)
        with patch.dict(config.options, {"meddev_esign_pkcs11_token": "no-such-token"}):
            self.assert_refused("cannot be used", self.qa)

    # ------------------------------------------------------------------ timestamps
    def test_tsa_down_refuses_in_strict_mode(self):
        """Verifies: R23"""
        self.company.esign_tsa_urls = self.tsa.down_url
        self.assert_refused("No timestamp authority answered")

    def test_tsa_garbage_is_refused_and_the_next_tsa_is_tried(self):
        """Verifies: R23"""
        self.company.esign_tsa_urls = f"{self.tsa.garbage_url}\n{self.tsa.html_url}"
        exc = self.assert_refused("No timestamp authority answered")
        self.assertIn(self.tsa.garbage_url, str(exc))
        self.company.esign_tsa_urls = f"{self.tsa.garbage_url}\n{self.tsa.url}"
        __, sig = self.sign_review()
        self.assertEqual(sig.pki_tsa_url, self.tsa.url)

    def test_tsa_down_pending_then_filled_by_the_cron(self):
        """Verifies: R23, S10"""
        self.company.write({"esign_tsa_urls": self.tsa.down_url, "esign_tsa_offline": "pending"})
        with mute_logger("odoo.addons.meddev_esign.models.esign_signature"):
            mo, sig = self.sign_review()
        self.assertEqual(sig.pki_status, "pending")
        self.assertTrue(sig.pki_timestamp_pending)
        self.assertFalse(sig.pki_token)
        pending = sig._pki_verify()
        self.assertEqual(pending.verdict, "indeterminate")
        # Only the missing token: revocation is judged now, from a CRL issued after now.
        self.assertEqual(pending.problem_codes, "no_timestamp", pending.problems)
        # Still down: nothing is added, nothing is lost.
        self.env["esign.signature"]._cron_pki_timestamps()
        self.assertFalse(sig.timestamp_ids)
        self.company.esign_tsa_urls = self.tsa.url
        self.env["esign.signature"]._cron_pki_timestamps()
        sig.invalidate_recordset()
        self.assertEqual(sig.pki_status, "stamped_late")
        late = sig.timestamp_ids
        self.assertEqual(len(late), 1)
        self.assertGreaterEqual(late.delay_seconds, 0)
        entry = self.env["esign.audit.entry"].search(
            [("res_model", "=", "esign.signature"), ("operation", "=", "timestamp")], limit=1
        )
        self.assertEqual(entry.res_id, sig.id)
        self.assertEqual(sig._pki_verify().verdict, "valid")
        self.assertTrue(sig._verify_chain(mo._name, mo.id).ok)  # the row never changed
        with self.assertRaises(UserError):
            late.write({"delay_seconds": 0})
        with mute_logger("odoo.sql_db"), self.assertRaises(psycopg2.Error), self.cr.savepoint():
            self.cr.execute("DELETE FROM esign_signature_timestamp WHERE id = %s", [late.id])

    def test_clock_drift_is_audited(self):
        """Verifies: R27"""
        __, sig = self.sign_review()
        now = datetime.now(UTC)
        stamp = pki.TimestampResult(
            token=keystore.raw(sig.pki_token),
            gen_time=now + timedelta(seconds=300),
            tsa_url=self.tsa.url,
            local_time=now,
        )
        with mute_logger("odoo.addons.meddev_esign.models.esign_signature"):
            sig._pki_check_drift(stamp, self.company)
        entry = self.env["esign.audit.entry"].search(
            [("operation", "=", "clock_drift"), ("res_id", "=", sig.id)]
        )
        self.assertEqual(len(entry), 1)
        self.assertIn("300.000", entry.payload)

    # ------------------------------------------------------------------ verification
    def test_tampering_is_detected(self):
        """Verifies: R11"""
        __, sig = self.sign_review()
        __, other = self.sign_review()
        good = sig._pki_evidence()
        self.assertEqual(sig._pki_verify(good).verdict, "valid")
        cms = bytearray(good["cms"])
        cms[-10] ^= 0x01  # inside the signature value
        content = good["content"].replace(b'"res_id":', b'"res_id": ', 1)
        cases = {
            "cms": {**good, "cms": bytes(cms)},
            "snapshot": {**good, "content": content + b" "},
            "token": {**good, "token": keystore.raw(other.pki_token)},
        }
        for name, evidence in cases.items():
            with self.subTest(name):
                result = sig._pki_verify(evidence)
                self.assertEqual(result.verdict, "invalid", name)

    def test_signed_before_revocation_stays_valid_after_is_refused(self):
        """Verifies: R7, R22"""
        __, sig = self.sign_review()
        time.sleep(1.1)  # a CRL has one-second resolution
        self.qe_cert._revoke("key_compromise")
        result = sig._pki_verify()
        self.assertEqual(result.verdict, "valid", result.problems)
        self.assertIn("after the signature", result.notes)
        self.assert_refused("is revoked")

    def test_renewal_supersedes_and_old_signatures_stay_valid(self):
        """Verifies: R22"""
        __, sig = self.sign_review()
        time.sleep(1.1)
        action = self.qe_cert.with_user(self.esign_admin).action_renew()
        new = self.env["esign.certificate"].browse(action["res_id"])
        self.assertEqual(self.qe_cert.state, "superseded")
        self.assertEqual(self.qe_cert.revocation_reason, "superseded")
        self.assertEqual(new.state, "active")
        self.assertEqual(new.previous_id, self.qe_cert)
        self.assertEqual(new.identity_method, "renewal")
        self.assertNotEqual(new.fingerprint, self.qe_cert.fingerprint)
        self.assertEqual(sig._pki_verify().verdict, "valid")
        __, sig2 = self.sign_review()
        self.assertEqual(sig2.certificate_id, new)

    def test_deactivating_a_user_revokes_their_certificates(self):
        """Verifies: R7"""
        self.qe.sudo().active = False
        self.assertEqual(self.qe_cert.state, "revoked")
        self.assertEqual(self.qe_cert.revocation_reason, "cessation_of_operation")
        crl = pki.load_crl(keystore.raw(self.ca.crl_der))
        self.assertIn(
            int(self.qe_cert.serial, 16),
            [rev.serial for rev in pki.revocations_from_crl(crl, self.ca._certificate())],
        )

    def test_expiry_warning_cron(self):
        """Verifies: R22, S12"""
        self.qe_cert.sudo().write({"state": "superseded"})
        soon = self.make_cert(self.qe, days=20)
        self.env["esign.certificate"]._cron_expiry()
        activities = self.env["mail.activity"].search(
            [("res_model", "=", "esign.certificate"), ("res_id", "=", soon.id)]
        )
        self.assertIn(self.qe, activities.user_id)
        self.assertIn(self.esign_admin, activities.user_id)
        self.assertTrue(soon.expiry_warned_at)
        self.env["esign.certificate"]._cron_expiry()  # warned once
        self.assertEqual(
            len(activities),
            self.env["mail.activity"].search_count(
                [("res_model", "=", "esign.certificate"), ("res_id", "=", soon.id)]
            ),
        )


@tagged("post_install", "-at_install")
class TestPkiCrlRoute(HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        fixtures = load_fixtures()
        cls.startClassPatcher(patch.dict(config.options, pki_options(fixtures)))
        cls.company = cls.env.company
        setup_company(cls.env, fixtures.start_tsa(), cls.env.ref("base.user_admin"))

    def test_crl_route_returns_the_signed_crl(self):
        """Verifies: R7, R22"""
        ca = self.env["esign.ca"].search([("company_id", "=", self.company.id)])
        response = self.url_open(f"/meddev_esign/crl/{self.company.id}.crl")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.headers["Content-Type"], "application/pkix-crl")
        crl = pki.load_crl(response.content)
        self.assertEqual(pki.revocations_from_crl(crl, ca._certificate()), ())
        self.assertEqual(self.url_open("/meddev_esign/crl/999999.crl").status_code, 404)

    def test_evidence_route_needs_a_login_and_a_signature(self):
        """Verifies: R18"""
        response = self.url_open("/meddev_esign/signature/999999/evidence.zip")
        self.assertIn("/web/login", response.url)  # no session: the log-in page
        self.authenticate("admin", "admin")
        response = self.url_open("/meddev_esign/signature/999999/evidence.zip")
        self.assertEqual(response.status_code, 404)

    def test_ocsp_route_answers_good_revoked_and_malformed(self):
        """Verifies: R7, R22"""
        ca = self.env["esign.ca"].search([("company_id", "=", self.company.id)])
        admin = self.env.ref("base.user_admin")
        signer = new_test_user(
            self.env, login="ocsp_signer", groups="meddev_esign.group_esign_signer"
        )
        cert = (
            self.env["esign.certificate"]
            .with_user(admin)
            ._enrol(signer, "in_person", "ID card checked", self.company)
        )
        issued = pki.load_certificate(cert.certificate_pem.encode())
        access = issued.extensions.get_extension_for_class(x509.AuthorityInformationAccess)
        url = access.value[0].access_location.value
        self.assertTrue(url.endswith(f"/meddev_esign/ocsp/{self.company.id}"))
        path = f"/meddev_esign/ocsp/{self.company.id}"

        def ask(body):
            response = self.url_open(
                path, data=body, headers={"Content-Type": "application/ocsp-request"}
            )
            self.assertEqual(response.status_code, 200)
            self.assertEqual(response.headers["Content-Type"], "application/ocsp-response")
            return ocsp.load_der_ocsp_response(response.content)

        query = (
            ocsp.OCSPRequestBuilder()
            .add_certificate(issued, ca._certificate(), hashes.SHA1())
            .build()
            .public_bytes(serialization.Encoding.DER)
        )
        self.assertEqual(ask(query).certificate_status, ocsp.OCSPCertStatus.GOOD)
        cert.with_user(admin)._revoke("key_compromise")
        answer = ask(query)
        self.assertEqual(answer.certificate_status, ocsp.OCSPCertStatus.REVOKED)
        self.assertEqual(answer.revocation_reason, x509.ReasonFlags.key_compromise)
        self.assertEqual(
            ask(b"garbage").response_status, ocsp.OCSPResponseStatus.MALFORMED_REQUEST
        )
        missing = self.url_open("/meddev_esign/ocsp/999999", data=query)
        self.assertEqual(missing.status_code, 404)
