"""Faults found by the HTTP fault battery (bench/faults.py), held in-process.

* A lock or statement timeout of the database while another transaction holds the audit
  chain's append lock: the signer gets a clear "busy, try again", not a psycopg2 traceback,
  and nothing of the attempt is written.
* A PKCS#11 token that refuses to sign (a wrong PIN): besides the signer's clear refusal, the
  E-Signature Administrators get an alert, once per certificate, that survives the rollback.
"""

import os
from unittest.mock import patch

from odoo.exceptions import UserError
from odoo.sql_db import db_connect
from odoo.tests import tagged
from odoo.tools import config

from ..models import esign_keystore as keystore
from ..models.esign_ledger_store import LOCK_NAMESPACE
from .common import EsignCase
from .test_pki import load_fixtures, pki_options, setup_company

BUSY = "The audit trail is busy"


class TestChainBusy(EsignCase):
    def _chain_id(self):
        return self.env["esign.audit.chain"].sudo()._chain_id_for(self.env.company.id)

    def _item(self):
        company = self.env.company
        return {
            "company_id": company.id,
            "model": "res.company",
            "res_id": company.id,
            "record": company.name,
            "op": "config",
            "changes": [["esign_test", None, 1]],
            "reason": "",
        }

    def _entries(self):
        return self.env["esign.audit.entry"].sudo().search_count([])

    def test_contended_chain_with_a_lock_timeout_is_busy_not_a_traceback(self):
        chain_id = self._chain_id()
        self.env.flush_all()
        before = self._entries()
        with db_connect(self.env.cr.dbname).cursor() as other:
            other.execute("SELECT pg_advisory_xact_lock(%s, %s)", (LOCK_NAMESPACE, chain_id))
            with self.assertRaises(UserError) as caught, self.env.cr.savepoint():
                self.env.cr.execute("SET LOCAL lock_timeout = '200ms'")
                self.env["esign.audit.entry"]._append([self._item()])
            other.rollback()
        self.assertIn(BUSY, str(caught.exception))
        self.assertEqual(self._entries(), before, "a refused append leaves no entry")

    def test_contended_chain_with_a_statement_timeout_is_busy_too(self):
        chain_id = self._chain_id()
        with db_connect(self.env.cr.dbname).cursor() as other:
            other.execute("SELECT pg_advisory_xact_lock(%s, %s)", (LOCK_NAMESPACE, chain_id))
            with self.assertRaises(UserError) as caught, self.env.cr.savepoint():
                self.env.cr.execute("SET LOCAL statement_timeout = '200ms'")
                self.env["esign.audit.entry"]._append([self._item()])
            other.rollback()
        self.assertIn(BUSY, str(caught.exception))

    def test_free_chain_appends_as_before(self):
        """The twin: with nobody holding the chain, the same timeout changes nothing."""
        before = self._entries()
        self.env.cr.execute("SET LOCAL lock_timeout = '200ms'")
        self.env["esign.audit.entry"]._append([self._item()])
        self.env.flush_all()
        self.assertEqual(self._entries(), before + 1)

    def test_signing_on_a_contended_chain_is_refused_whole_then_signs(self):
        lot = self._make_lot("FAULT-BUSY-1")
        chain_id = self._chain_id()
        self.env.flush_all()
        with db_connect(self.env.cr.dbname).cursor() as other:
            other.execute("SELECT pg_advisory_xact_lock(%s, %s)", (LOCK_NAMESPACE, chain_id))
            with self.assertRaises(UserError) as caught, self.env.cr.savepoint():
                self.env.cr.execute("SET LOCAL lock_timeout = '200ms'")
                self.sign(self.ra, lot)
            other.rollback()
        self.assertIn(BUSY, str(caught.exception))
        self.assertFalse(self.signatures(lot), "no signature without its audit entry")
        self.assertEqual(lot.esign_release_state, "quarantine")
        self.sign(self.ra, lot)
        self.assertEqual(len(self.signatures(lot)), 1)
        self.assertEqual(lot.esign_release_state, "released")


@tagged("post_install", "-at_install")
class TestTokenAlert(EsignCase):
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
        cls.company.esign_keystore = "pkcs11"
        cls.cert = (
            cls.env["esign.certificate"]
            .with_user(cls.esign_admin)
            ._enrol(cls.qa, "in_person", "ID card checked", cls.company)
        )

    def alerts(self):
        return self.cert.sudo().activity_ids.filtered(
            lambda act: act.summary.startswith("Signing token unavailable")
        )

    def test_wrong_pin_refuses_and_alerts_the_administrators_once(self):
        with patch.dict(config.options, {"meddev_esign_pkcs11_pin": "0000"}):
            mo = self._make_mo()
            exc = self.refused(self.sign, self.qa, mo)
            self.assertIn("refused the PIN", str(exc))
            self.assertFalse(self.signatures(mo), "a refused signature leaves no row")
            alerts = self.alerts()
            self.assertIn(self.esign_admin, alerts.user_id)
            self.refused(self.sign, self.qa, self._make_mo())
            self.assertEqual(self.alerts(), alerts, "one open alert per certificate")

    def test_missing_token_alerts_too(self):
        with patch.dict(config.options, {"meddev_esign_pkcs11_token": "no-such-token"}):
            exc = self.refused(self.sign, self.qa, self._make_mo())
        self.assertIn("cannot be used", str(exc))
        self.assertTrue(self.alerts())

    def test_usable_token_signs_without_alert(self):
        mo = self._make_mo()
        self.sign(self.qa, mo)
        self.assertEqual(len(self.signatures(mo)), 1)
        self.assertFalse(self.alerts())
