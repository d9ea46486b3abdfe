"""Faults found by the HTTP fault battery (bench/faults.py), held in-process.

* A lock or statement timeout of the database while another transaction holds the audit
  chain's append lock: the signer gets a clear "busy, try again", not a psycopg2 traceback,
  and nothing of the attempt is written.
* A PKCS#11 token that refuses to sign (a wrong PIN): besides the signer's clear refusal, the
  E-Signature Administrators get an alert, once per certificate, that survives the rollback.
"""

import os
from unittest.mock import patch

from odoo import SUPERUSER_ID, api
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
    """Two connections of their own: one holds a chain's append lock, the other appends to it
    under a timeout (the test's own transaction already holds the lock of the chains it
    appended to while setting up, so it cannot play either part)."""

    #: A chain number nobody else locks; the refused append never reaches its INSERT.
    CHAIN = 2_000_000_001

    def _item(self, chain_id):
        company = self.env.company
        return {
            "chain_id": chain_id,
            "company_id": company.id,
            "model": "res.company",
            "res_id": company.id,
            "record": company.name,
            "op": "config",
            "changes": [["esign_test", None, 1]],
            "reason": "",
        }

    def _contended_append(self, timeout_setting):
        """Append while another connection holds the chain's lock; return the UserError."""
        dbname = self.env.cr.dbname
        with db_connect(dbname).cursor() as holder, db_connect(dbname).cursor() as signer:
            holder.execute("SELECT pg_advisory_xact_lock(%s, %s)", (LOCK_NAMESPACE, self.CHAIN))
            signer.execute(f"SET LOCAL {timeout_setting} = '200ms'")
            entries = api.Environment(signer, SUPERUSER_ID, {})["esign.audit.entry"]
            with self.assertRaises(UserError) as caught:
                entries._append([self._item(self.CHAIN)])
            signer.rollback()
            holder.rollback()
        return caught.exception

    def test_contended_chain_with_a_lock_timeout_is_busy_not_a_traceback(self):
        self.assertIn(BUSY, str(self._contended_append("lock_timeout")))

    def test_contended_chain_with_a_statement_timeout_is_busy_too(self):
        self.assertIn(BUSY, str(self._contended_append("statement_timeout")))

    def test_free_chain_appends_as_before(self):
        """The twin: with nobody else holding the chain, the same timeout changes nothing."""
        chain_id = self.env["esign.audit.chain"].sudo()._chain_id_for(self.env.company.id)
        entries = self.env["esign.audit.entry"].sudo()
        before = entries.search_count([("chain_id", "=", chain_id)])
        self.env.cr.execute("SET LOCAL lock_timeout = '200ms'")
        entries._append([self._item(chain_id)])
        self.env.flush_all()
        self.assertEqual(entries.search_count([("chain_id", "=", chain_id)]), before + 1)


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
        # The alert is written through a cursor of its own, as in production: read it afresh.
        self.env.invalidate_all()
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
