"""Wizards that carry secrets or evidence keep them to their owner, and no longer than needed."""

import base64

from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged

from .common import EsignCase


@tagged("post_install", "-at_install")
class TestWizardSecrets(EsignCase):
    """A CA import forgets its key and password, failed or not; an export is its maker's."""

    def _import_wizard(self, **vals):
        return (
            self.env["esign.ca.import.wizard"]
            .with_user(self.esign_admin)
            .create(
                {
                    "company_id": self.env.company.id,
                    "certificate_file": base64.b64encode(b"not a PKCS#12 file"),
                    "key_file": base64.b64encode(b"-----BEGIN PRIVATE KEY-----\nsecret\n"),
                    "password": "the CA's password",
                    **vals,
                }
            )
        )

    def _secrets(self, wizard):
        self.env.invalidate_all()
        self.env.cr.execute(
            "SELECT password, key_file, certificate_file FROM esign_ca_import_wizard"
            " WHERE id = %s",
            [wizard.id],
        )
        return self.env.cr.fetchone()

    def test_failed_ca_import_leaves_no_secret(self):
        """An unreadable CA file is refused, and the wizard row no longer holds key or password."""
        wizard = self._import_wizard()
        self.assertEqual(self._secrets(wizard)[0], "the CA's password")
        error = self.refused(wizard.action_import)
        self.assertTrue(str(error))
        self.assertEqual(self._secrets(wizard), (None, None, None))

    def test_bad_base64_ca_import_leaves_no_secret(self):
        """The twin: a file that is not even base64 is refused the same way."""
        wizard = self._import_wizard()
        self.env.cr.execute(
            "UPDATE esign_ca_import_wizard SET certificate_file = %s WHERE id = %s",
            [b"@@not base64@@", wizard.id],
        )
        self.env.invalidate_all()
        self.assertIn("base64", str(self.refused(wizard.action_import)))
        self.assertEqual(self._secrets(wizard), (None, None, None))

    def test_ca_import_of_another_admin_is_refused_and_keeps_nothing_readable(self):
        """Another administrator can neither run nor read someone else's import wizard."""
        wizard = self._import_wizard()
        other = new_test_user(
            self.env, login="t_admin_other", groups="meddev_esign.group_esign_admin"
        )
        with self.assertRaises(AccessError):
            wizard.with_user(other).action_import()
        with self.assertRaises(AccessError):
            wizard.with_user(other).read(["password"])

    def test_audit_export_is_its_makers_only(self):
        """An export's file belongs to the auditor who made it; another auditor cannot read it."""
        export = self.env["esign.audit.export"].with_user(self.auditor).create({})
        export.action_export()
        self.assertTrue(export.file_data)
        other = new_test_user(
            self.env, login="t_auditor_other", groups="meddev_esign.group_esign_auditor"
        )
        with self.assertRaises(AccessError):
            export.with_user(other).read(["file_data"])
        self.assertFalse(
            self.env["esign.audit.export"].with_user(other).search([("id", "=", export.id)])
        )
        # The maker still reads it.
        self.assertTrue(export.with_user(self.auditor).read(["file_data"])[0]["file_data"])
