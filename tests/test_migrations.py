"""Upgrade scripts in ``migrations/``, run against the real database.

Verifies: S2.
"""

import importlib.util
from pathlib import Path

from odoo.tests import TransactionCase, tagged

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def _migration(version, name):
    spec = importlib.util.spec_from_file_location(
        f"meddev_esign_migration_{version.replace('.', '_')}", MIGRATIONS / version / name
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@tagged("post_install", "-at_install")
class TestMigrationQaSupplierApproval(TransactionCase):
    """18.0.1.1.0: the supplier qualification step moves to the Quality Assurance group.

    Verifies: R12
    """

    def test_supplier_approval_moves_from_any_signer_to_qa(self):
        policy = self.env.ref("meddev_esign.policy_supplier_approve")
        signer = self.env.ref("meddev_esign.group_esign_signer")
        qa = self.env.ref("meddev_esign.group_esign_qa")
        policy.step_ids.write({"group_id": signer.id})  # as a 18.0.1.0.0 database has it
        _migration("18.0.1.1.0", "post-migrate.py").migrate(self.env.cr, "18.0.1.0.0")
        policy.step_ids.invalidate_recordset()
        self.assertEqual(policy.step_ids.group_id, qa)

    def test_fresh_install_is_left_alone(self):
        """Twin: no previous version, nothing to move (and a changed step stays changed)."""
        policy = self.env.ref("meddev_esign.policy_supplier_approve")
        signer = self.env.ref("meddev_esign.group_esign_signer")
        policy.step_ids.write({"group_id": signer.id})
        _migration("18.0.1.1.0", "post-migrate.py").migrate(self.env.cr, None)
        policy.step_ids.invalidate_recordset()
        self.assertEqual(policy.step_ids.group_id, signer)


@tagged("post_install", "-at_install")
class TestMigrationSessionState(TransactionCase):
    """18.0.1.2.0: the per-user session columns are dropped; the session table takes over."""

    def _columns(self):
        self.env.cr.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'res_users'"
            " AND column_name IN ('esign_session_key', 'esign_session_auth_at')"
        )
        return {name for (name,) in self.env.cr.fetchall()}

    def _as_before(self):
        """The two columns as a 18.0.1.1.0 database has them, with a value."""
        self.env.cr.execute(
            "ALTER TABLE res_users ADD COLUMN IF NOT EXISTS esign_session_key varchar,"
            " ADD COLUMN IF NOT EXISTS esign_session_auth_at timestamp"
        )
        self.env.cr.execute(
            "UPDATE res_users SET esign_session_key = 'k', esign_session_auth_at = now()"
            " WHERE id = %s",
            [self.env.user.id],
        )

    def test_upgrade_drops_the_user_columns_and_keeps_the_lockout(self):
        user = self.env.user
        user.sudo().write({"esign_failed_attempts": 2})
        user.flush_recordset()
        self._as_before()
        _migration("18.0.1.2.0", "pre-migrate.py").migrate(self.env.cr, "18.0.1.1.0")
        self.assertEqual(self._columns(), set())
        self.env.cr.execute("SELECT esign_failed_attempts FROM res_users WHERE id = %s", [user.id])
        self.assertEqual(self.env.cr.fetchone()[0], 2)
        # Run twice (a restarted upgrade): nothing left to drop, no error.
        _migration("18.0.1.2.0", "pre-migrate.py").migrate(self.env.cr, "18.0.1.1.0")

    def test_fresh_install_is_left_alone(self):
        """Twin: no previous version, nothing is dropped."""
        self._as_before()
        _migration("18.0.1.2.0", "pre-migrate.py").migrate(self.env.cr, None)
        self.assertEqual(self._columns(), {"esign_session_key", "esign_session_auth_at"})
