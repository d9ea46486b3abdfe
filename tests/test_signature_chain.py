import json

from odoo.tests import tagged

from ..services import signature_chain as sigchain
from .common import EsignCase


@tagged("post_install", "-at_install")
class TestSignatureChainOffline(EsignCase):
    """A record's stored signature chain, checked by the pure functions an auditor runs.

    Verifies: R16, R18
    """

    def setUp(self):
        super().setUp()
        self.sign(self.ra, self.lot)
        self.sig = self.signatures(self.lot)
        self.links = self.env["esign.signature"]._chain_links("stock.lot", self.lot.id)

    def document(self):
        document = sigchain.export_document("stock.lot", self.lot.id, self.links)
        return json.loads(json.dumps(document))  # as written to chain.json and read back

    def test_stored_chain_verifies_with_the_services_alone(self):
        self.assertEqual(len(self.links), len(self.sig))
        self.assertEqual(
            sigchain.verify_signature_chain(self.links),
            self.env["esign.signature"]._verify_chain("stock.lot", self.lot.id),
        )
        sig = self.sig[:1]
        verdict = sigchain.verify_export(
            self.document(),
            signature_hash_value=sig.signature_hash,
            content_hash=sig.content_hash,
        )
        self.assertTrue(verdict.ok, verdict)

    def test_edited_export_of_the_stored_chain_is_broken(self):
        document = self.document()
        document["entries"][0]["payload"]["reason"] = "edited after signing"
        verdict = sigchain.verify_export(
            document, signature_hash_value=self.sig[:1].signature_hash
        )
        self.assertFalse(verdict.ok)
        self.assertEqual((verdict.chain.kind, verdict.chain.first_break_seq), ("altered", 1))
