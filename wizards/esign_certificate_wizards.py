import base64
import binascii

from odoo import fields, models
from odoo.exceptions import AccessError, UserError

from ..models.esign_certificate import IDENTITY_METHODS, REVOCATION_REASONS


class EsignCertificateEnrolWizard(models.TransientModel):
    """Enrol a signer: record how their identity was verified, then issue key and certificate."""

    _name = "esign.certificate.enrol.wizard"
    _inherit = ["esign.wizard.input"]
    _description = "Enrol a Signer"

    user_id = fields.Many2one("res.users", string="Signer", required=True)
    company_id = fields.Many2one(
        "res.company", required=True, default=lambda self: self.env.company
    )
    identity_method = fields.Selection(
        [item for item in IDENTITY_METHODS if item[0] not in ("renewal", "company_seal")],
        string="Identity Verified By",
        required=True,
        help="How you verified that this person is who the account says (R2).",
    )
    identity_evidence = fields.Text(
        required=True,
        help="What you checked: document type and number, witness, HR reference...",
    )

    def action_enrol(self):
        self._esign_own_one()
        _check_company(self.company_id)
        certificate = self.env["esign.certificate"]._enrol(
            self.user_id,
            self.identity_method,
            self.identity_evidence,
            company=self.company_id,
        )
        return {
            "type": "ir.actions.act_window",
            "res_model": "esign.certificate",
            "res_id": certificate.id,
            "view_mode": "form",
        }


class EsignCertificateRevokeWizard(models.TransientModel):
    """Revoke certificates with an RFC 5280 reason; the CRL is re-issued at once."""

    _name = "esign.certificate.revoke.wizard"
    _inherit = ["esign.wizard.input"]
    _description = "Revoke Signer Certificates"

    certificate_ids = fields.Many2many("esign.certificate", required=True)
    reason = fields.Selection(
        REVOCATION_REASONS,
        required=True,
        default="unspecified",
        help="The RFC 5280 reason published in the CRL.",
    )

    def action_revoke(self):
        self._esign_own_one()
        if not self.certificate_ids:
            raise UserError(self.env._("Choose the certificates to revoke."))
        self.certificate_ids.check_access("read")  # none of another company
        self.certificate_ids._revoke(self.reason)
        return {"type": "ir.actions.act_window_close"}


#: What a CA import carries that must not outlive it: the CA's key and the password opening it.
SECRET_FIELDS = ("password", "key_file", "certificate_file")


class EsignCaImportWizard(models.TransientModel):
    """Import the company's signing CA from an external CA (PKCS#12, or PEM + key)."""

    _name = "esign.ca.import.wizard"
    _inherit = ["esign.wizard.input"]
    _description = "Import a Signing CA"
    _esign_text_limits = {"password": 1024}

    company_id = fields.Many2one("res.company", required=True)
    # Both files are columns of the wizard (attachment=False), not ir.attachment rows, so that
    # _forget_secrets_now can wipe them with the password in one statement.
    certificate_file = fields.Binary(
        string="PKCS#12 or PEM Certificates",
        attachment=False,
        help="A .p12/.pfx file with the CA key and chain, or a PEM bundle: the CA certificate "
        "first, then its chain.",
    )
    key_file = fields.Binary(
        string="PEM Private Key",
        attachment=False,
        help="Only with a PEM bundle: the CA's private key.",
    )
    password = fields.Char(help="Password of the PKCS#12 file or of the PEM key, if any.")

    def action_import(self):
        self._esign_own_one()
        _check_company(self.company_id)
        if not self.certificate_file:
            raise UserError(self.env._("Choose the CA's PKCS#12 or PEM file."))
        password = self.password.encode() if self.password else None
        try:
            try:
                key = base64.b64decode(self.key_file) if self.key_file else None
                data = base64.b64decode(self.certificate_file)
            except (binascii.Error, ValueError):
                raise UserError(
                    self.env._("The uploaded file is not valid base64 data.")
                ) from None
            self.env["esign.ca"]._import(self.company_id, data, key, password)
        except Exception:
            # The refusal rolls this transaction back, but the wizard row with the key, the
            # PKCS#12 file and its password was committed when the dialog saved it: wipe them
            # on a cursor of their own, so a failed import leaves no secret behind.
            self._forget_secrets_now()
            raise
        self.write(dict.fromkeys(SECRET_FIELDS, False))
        return {"type": "ir.actions.act_window_close"}

    def _forget_secrets_now(self):
        """Empty the secret fields of these wizards in a transaction that commits at once."""
        with self.env.registry.cursor() as cr:
            cr.execute(
                "UPDATE esign_ca_import_wizard SET password = NULL, key_file = NULL,"
                " certificate_file = NULL WHERE id IN %s",
                [tuple(self.ids)],
            )


def _check_company(company):
    """Refuse a company the current user does not work in."""
    env = company.env
    if not env.su and company not in env.user.company_ids:
        raise AccessError(
            env._("You do not work in %(company)s.", company=company.sudo().display_name)
        )
