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
