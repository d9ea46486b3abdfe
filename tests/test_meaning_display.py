"""A signature's meaning: its code and the exact text the signer saw are stored; every reader
reads it in their own language, translated from the code.
"""

from odoo.exceptions import UserError

from .common import EsignCase


class TestMeaningDisplay(EsignCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["res.lang"]._activate_lang("zh_CN")
        cls.env["ir.module.module"]._load_module_terms(["meddev_esign"], ["zh_CN"], overwrite=True)
        cls.qe.lang = "zh_CN"

    def _signed_in_chinese(self):
        mo = self._make_mo()
        self.sign(self.qe, mo)
        return mo, self.signatures(mo)

    def test_chinese_signature_reads_in_each_readers_language(self):
        """Verifies: R8, R10"""
        mo, sig = self._signed_in_chinese()
        # Stored: the code and the exact text the signer saw, both as signed.
        self.assertEqual(sig.meaning_code, "reviewed")
        self.assertEqual(sig.meaning_name, "审核")
        # Read: in the reader's language, from the code.
        self.assertEqual(sig.with_context(lang="en_US").meaning_label, "Reviewed")
        self.assertEqual(sig.with_context(lang="zh_CN").meaning_label, "审核")
        self.assertIn("— Reviewed —", sig.with_context(lang="en_US").manifestation)
        self.assertNotIn("审核", sig.with_context(lang="en_US").manifestation)
        self.assertIn("审核", sig.with_context(lang="zh_CN").manifestation)
        # What the chain covers is untouched: the signature still verifies.
        self.assertTrue(sig._verify_chain(mo._name, mo.id).ok)

    def test_english_signature_reads_in_chinese(self):
        """Twin: signed in English, read in Chinese.

        Verifies: R8, R10
        """
        mo = self._make_mo()
        self.sign(self.qa, mo)
        sig = self.signatures(mo)
        self.assertEqual(sig.meaning_name, "Reviewed")
        self.assertEqual(sig.with_context(lang="zh_CN").meaning_label, "审核")

    def test_archived_meaning_still_reads_translated(self):
        """Verifies: R8, R10"""
        __, sig = self._signed_in_chinese()
        sig.meaning_id.active = False
        sig.invalidate_recordset(["meaning_label"])
        self.assertEqual(sig.with_context(lang="en_US").meaning_label, "Reviewed")

    def test_code_of_a_used_meaning_is_locked(self):
        """Verifies: R8, R9"""
        __, sig = self._signed_in_chinese()
        with self.assertRaises(UserError):
            sig.meaning_id.code = "reviewed_again"
        self.assertEqual(sig.meaning_id.code, "reviewed")
        # Its name (and translations) may still be edited, and the same code written back.
        sig.meaning_id.write({"code": "reviewed", "name": "Reviewed"})

    def test_code_of_an_unused_meaning_can_change(self):
        """Twin: no signature carries it, nothing to protect.

        Verifies: R8
        """
        meaning = self.env["esign.meaning"].create({"name": "Witnessed", "code": "witnessed"})
        meaning.code = "witness"
        self.assertEqual(meaning.code, "witness")

    def test_meaning_without_a_record_reads_as_signed(self):
        """A code no meaning carries prints the text the signer saw, not an empty cell.

        Verifies: R9, R10
        """
        sig = self.env["esign.signature"].new({"meaning_code": "gone", "meaning_name": "放行"})
        self.assertEqual(sig.with_context(lang="en_US").meaning_label, "放行")
