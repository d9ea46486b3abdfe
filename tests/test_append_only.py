import psycopg2

from odoo.exceptions import UserError
from odoo.tests import tagged
from odoo.tools import SQL, mute_logger

from ..models import append_only
from .common import EsignCase

EVIDENCE_MODELS = (
    "esign.audit.entry",
    "esign.audit.checkpoint",
    "esign.audit.verification",
    "esign.signature",
    "esign.signature.timestamp",
    "esign.signature.verification",
)


@tagged("post_install", "-at_install")
class TestAppendOnly(EsignCase):
    """One trigger function and one ORM guard hold every evidence table.

    Verifies: R15
    """

    def test_every_evidence_table_uses_the_one_function(self):
        for name in EVIDENCE_MODELS:
            model = self.env[name]
            # The registry's record of who inherits the mixin (a model's own ``_inherit`` is
            # only its last extension's, e.g. the signature's PKI file).
            self.assertIn(name, self.env["esign.append.only"]._inherit_children, name)
            self.env.cr.execute(
                "SELECT t.tgname, p.proname FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid"
                " WHERE t.tgrelid = %s::regclass AND NOT t.tgisinternal ORDER BY t.tgname",
                [model._table],
            )
            self.assertEqual(
                self.env.cr.fetchall(),
                [
                    (f"{model._table}_append_only_row", append_only.FUNCTION),
                    (f"{model._table}_append_only_truncate", append_only.FUNCTION),
                ],
                name,
            )
        self.env.cr.execute(
            "SELECT proname FROM pg_proc WHERE proname IN %s", [append_only.OBSOLETE_FUNCTIONS]
        )
        self.assertFalse(self.env.cr.fetchall(), "the per-table functions are gone")

    def test_one_uninstall_policy(self):
        """Verifies: R19"""
        for name in EVIDENCE_MODELS:
            guards = [
                method
                for method in self.env[name]._ondelete_methods
                if method.__name__ == "_unlink_except_append_only"
            ]
            self.assertEqual(len(guards), 1, name)
            self.assertFalse(guards[0]._ondelete, name)  # the at_uninstall flag

    def test_checkpoint_token_is_filled_once(self):
        self.make_entry()
        checkpoint = self.chain._checkpoint("manual")
        self.assertTrue(checkpoint)
        checkpoint._set_timestamp_token(b"dG9rZW4=")
        self.assertTrue(checkpoint.timestamp_token)

    @mute_logger("odoo.sql_db")
    def test_checkpoint_token_cannot_be_refilled_or_smuggled(self):
        self.make_entry()
        checkpoint = self.chain._checkpoint("manual")
        with self.assertRaises(UserError):
            checkpoint.write({"seq": checkpoint.seq + 1})
        with self.assertRaises(UserError):
            checkpoint.write({"timestamp_token": b"dG9rZW4=", "entry_hash": "0" * 64})
        # The database: filling the empty token while changing another column is refused.
        with self.assertRaises(psycopg2.errors.InsufficientPrivilege), self.env.cr.savepoint():
            self.env.cr.execute(
                SQL(
                    "UPDATE esign_audit_checkpoint SET timestamp_token = 'x', seq = seq + 1"
                    " WHERE id = %s",
                    checkpoint.id,
                )
            )
        checkpoint._set_timestamp_token(b"dG9rZW4=")
        checkpoint.flush_recordset()
        with self.assertRaises(UserError):
            checkpoint._set_timestamp_token(b"b3RoZXI=")
        with self.assertRaises(UserError):
            checkpoint.write({"timestamp_token": b"b3RoZXI="})
        with self.assertRaises(psycopg2.errors.InsufficientPrivilege), self.env.cr.savepoint():
            self.env.cr.execute(
                SQL(
                    "UPDATE esign_audit_checkpoint SET timestamp_token = 'y' WHERE id = %s",
                    checkpoint.id,
                )
            )

    @mute_logger("odoo.sql_db")
    def test_verification_results_are_append_only(self):
        verification = self.chain._run_verification("manual")
        self.assertEqual(verification.company_id, self.chain.company_id)
        with self.assertRaises(UserError):
            verification.write({"verdict": "broken"})
        with self.assertRaises(UserError):
            verification.unlink()
        for statement in (
            SQL("UPDATE esign_audit_verification SET verdict = 'broken' WHERE id = %s",
                verification.id),
            SQL("DELETE FROM esign_audit_verification WHERE id = %s", verification.id),
        ):  # fmt: skip
            with self.assertRaises(psycopg2.errors.InsufficientPrivilege), self.env.cr.savepoint():
                self.env.cr.execute(statement)

    # ------------------------------------------------------------------ helpers
    @property
    def chain(self):
        return self.env["esign.audit.chain"]._for_company(self.env.company)

    def make_entry(self):
        self.env["esign.audit.entry"]._append(
            [
                {
                    "company_id": self.env.company.id,
                    "model": "res.partner",
                    "res_id": 1,
                    "record": "Append-only test",
                    "op": "write",
                    "changes": [["name", "a", "b"]],
                    "reason": "",
                }
            ]
        )
