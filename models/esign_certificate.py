"""The signers' certificates (S5, R2, R7, R22); the company CA is in ``esign_ca.py``.

A thin model: the certificates and keys are made by ``services.pki``; these records keep their
state (who was enrolled when, by whom and how; revocations) for the UI, the signing checks and
the CRL route. It is configuration of the add-on and joins the audit trail
(``_esign_audit = "config"``): every enrolment, renewal and revocation is recorded.
"""

import uuid
from datetime import timedelta

from odoo import api, fields, models
from odoo.exceptions import UserError

from ..services import pki
from . import esign_keystore as keystores
from .esign_mail_queue import queued
from .esign_pki_common import (
    ADMIN_GROUP,
    EXPIRY_WARNING_DAYS,
    IDENTITY_METHODS,
    REVOCATION_REASONS,
    check_admin,
    to_naive,
)


class EsignCertificate(models.Model):
    """One certificate and its key (software-sealed or on a PKCS#11 token).

    Most are a person's signer certificate. A company also has one *seal* certificate
    (``purpose = "seal"``, no person): the signer of its sealed printouts. It lives here, not in
    a model of its own, because everything else is the same: the same CA issues it, its key is
    in the same keystores, it is renewed and revoked the same way, its revocation is listed in
    the same CRL and answered by the same OCSP responder, and it expires through the same job.
    """

    _name = "esign.certificate"
    _description = "Signer Certificate"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _order = "user_id, id desc"
    _esign_audit = "config"

    name = fields.Char(compute="_compute_name", store=True, help="Holder and serial.")
    purpose = fields.Selection(
        [("signer", "Person's signatures"), ("seal", "Company seal (printouts)")],
        default="signer",
        required=True,
        readonly=True,
        index=True,
        help="A person's certificate signs their electronic signatures. The company seal "
        "certificate belongs to no person: it seals the PDF of regulated reports when printed.",
    )
    user_id = fields.Many2one(
        "res.users",
        string="Signer",
        readonly=True,
        index=True,
        ondelete="restrict",
        help="The person the certificate was issued to: their login is its UID. Empty for the "
        "company seal.",
    )
    company_id = fields.Many2one(
        "res.company",
        required=True,
        readonly=True,
        index=True,
        help="The company whose CA issued the certificate.",
    )
    ca_id = fields.Many2one(
        "esign.ca",
        string="Issuing CA",
        required=True,
        readonly=True,
        help="The company CA that issued the certificate and lists it in its CRL if revoked.",
    )
    serial = fields.Char(readonly=True, index=True, help="Serial number, hexadecimal.")
    fingerprint = fields.Char(readonly=True, index=True, help="SHA-256 of the certificate.")
    subject = fields.Char(readonly=True, help="The certificate's subject, RFC 4514 text.")
    not_before = fields.Datetime(string="Valid From", readonly=True)
    not_after = fields.Datetime(string="Valid Until", readonly=True, index=True)
    certificate_pem = fields.Text(string="Certificate", readonly=True, help="PEM.")
    key_type = fields.Selection(keystores.KEY_TYPES, readonly=True)
    keystore = fields.Selection(
        keystores.KEYSTORES, readonly=True, help="Where the private key is kept."
    )
    key_ref = fields.Char(
        readonly=True, help="Key id: the sealed key is bound to it; the HSM label derives from it."
    )
    sealed_key = fields.Binary(
        attachment=False,
        readonly=True,
        groups="base.group_system",
        help="Software keystore: the private key, AES-256-GCM under the master key.",
    )
    hsm_label = fields.Char(string="Token Key Label", readonly=True, help="PKCS#11 keystore.")
    state = fields.Selection(
        [
            ("active", "Active"),
            ("superseded", "Superseded"),
            ("revoked", "Revoked"),
            ("expired", "Expired"),
        ],
        default="active",
        required=True,
        readonly=True,
        index=True,
        help="Only an active, unexpired certificate signs. A superseded (renewed) certificate "
        "signs no more, but the signatures it made stay valid.",
    )
    revocation_reason = fields.Selection(
        REVOCATION_REASONS, readonly=True, help="The RFC 5280 reason listed in the CRL."
    )
    revoked_at = fields.Datetime(readonly=True)
    revoked_by_id = fields.Many2one("res.users", readonly=True)
    identity_method = fields.Selection(
        IDENTITY_METHODS,
        string="Identity Verified By",
        required=True,
        readonly=True,
        help="How the administrator verified the signer's identity before enrolment (R2).",
    )
    identity_evidence = fields.Text(
        required=True,
        readonly=True,
        groups="meddev_esign.group_esign_admin,meddev_esign.group_esign_auditor",
        help="What was checked: document type and number, witness, HR reference... Personal "
        "data: only E-Signature Administrators and Auditors can read it.",
    )
    identity_verified_by_id = fields.Many2one(
        "res.users", string="Verified and Enrolled By", required=True, readonly=True
    )
    identity_verified_at = fields.Datetime(string="Verified At", required=True, readonly=True)
    previous_id = fields.Many2one(
        "esign.certificate", string="Renewal Of", readonly=True, help="The certificate renewed."
    )
    expiry_warned_at = fields.Datetime(readonly=True)

    _sql_constraints = [
        (
            "holder_matches_purpose",
            "CHECK((purpose = 'seal') = (user_id IS NULL))",
            "A person's certificate names its signer; a company seal certificate names nobody.",
        ),
    ]

    @api.depends("user_id.name", "serial", "purpose", "company_id.name")
    def _compute_name(self):
        for cert in self:
            holder = cert.user_id.name or ""
            if cert.purpose == "seal":
                holder = self.env._("%(company)s seal", company=cert.company_id.name)
            cert.name = f"{holder} — {(cert.serial or '')[:16]}"

    # ------------------------------------------------------------------ enrolment
    @api.model
    def _enrol(self, user, identity_method, identity_evidence, company=None, previous=None):
        """Issue a certificate and key for ``user`` after identity verification (R2)."""
        check_admin(self.env)
        company = company or self.env.company
        if not identity_method or not (identity_evidence or "").strip():
            raise UserError(
                self.env._("Record how the signer's identity was verified before enrolment.")
            )
        if not user.active:
            raise UserError(self.env._("An archived user cannot be enrolled."))
        existing = self.sudo().search(
            [("user_id", "=", user.id), ("company_id", "=", company.id), ("state", "=", "active")]
        )
        if existing - (previous or self.browse()):
            raise UserError(
                self.env._(
                    "%(user)s already has an active certificate; renew or revoke it instead.",
                    user=user.name,
                )
            )
        identity = pki.SignerIdentity(name=user.name, login=user.login, email=user.email or None)

        def issue(authority, public, **where):
            return pki.issue_signer_certificate(authority, identity, public, **where)

        vals = self._issue_under_ca(company, "esign.certificate", issue, previous)
        return self.sudo().create(
            {
                **vals,
                "user_id": user.id,
                "identity_method": identity_method,
                "identity_evidence": identity_evidence,
            }
        )

    @api.model
    def _issue_under_ca(self, company, key_prefix, issue, previous=None):
        """Make a new key in ``company``'s keystore and its certificate under the company CA.

        ``previous`` is renewed (same subject, the new key); otherwise ``issue(authority,
        public_key, valid_for=, crl_url=, ocsp_url=)`` issues a new certificate. A
        :class:`pki.PkiError` becomes the keystore's translated user error.

        :return: the values of the new certificate record, but for its holder and identity.
        """
        ca = self.env["esign.ca"]._for_company(company)
        key_ref = f"{key_prefix}/{uuid.uuid4()}"
        where = {
            "valid_for": timedelta(days=company.esign_certificate_days or 730),
            "crl_url": ca.crl_url,
            "ocsp_url": ca.ocsp_url,
        }
        # The CA key first: a wrong master key or an absent token fails before a key is made.
        with ca._authority() as authority:
            public, key_vals = keystores.new_key(
                self.env, company.esign_keystore, company.esign_key_type, key_ref
            )
            try:
                if previous:
                    cert = pki.renew_certificate(
                        authority,
                        pki.load_certificate(previous.certificate_pem.encode()),
                        public_key=public,
                        **where,
                    )
                else:
                    cert = issue(authority, public, **where)
            except pki.PkiError as exc:
                raise keystores.user_error(self.env, exc) from exc
        return {
            "company_id": company.id,
            "ca_id": ca.id,
            "serial": f"{cert.serial_number:x}",
            "fingerprint": pki.fingerprint(cert),
            "subject": cert.subject.rfc4514_string(),
            "not_before": to_naive(cert.not_valid_before_utc),
            "not_after": to_naive(cert.not_valid_after_utc),
            "certificate_pem": pki.certificate_to_pem(cert).decode(),
            "key_type": company.esign_key_type,
            "key_ref": key_ref,
            "identity_verified_by_id": self.env.user.id,
            "identity_verified_at": fields.Datetime.now(),
            "previous_id": previous.id if previous else False,
            **key_vals,
        }

    def action_renew(self):
        """Renew with a new key (rotation); the old certificate is superseded, not voided."""
        self.ensure_one()
        check_admin(self.env)
        if self.state not in ("active", "expired"):
            raise UserError(self.env._("Only an active or expired certificate can be renewed."))
        if self.purpose == "seal":
            new = self._enrol_seal(self.company_id, previous=self)
            if self.state == "active":
                self._revoke("superseded", state="superseded")
            return {
                "type": "ir.actions.act_window",
                "res_model": self._name,
                "res_id": new.id,
                "view_mode": "form",
            }
        new = self._enrol(
            self.user_id,
            "renewal",
            self.env._(
                "Renewal of certificate %(serial)s (identity verified by %(method)s on %(date)s).",
                serial=self.serial,
                method=dict(self._fields["identity_method"]._description_selection(self.env))[
                    self.identity_method
                ],
                date=self.identity_verified_at,
            ),
            company=self.company_id,
            previous=self,
        )
        if self.state == "active":
            self._revoke("superseded", state="superseded")
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "res_id": new.id,
            "view_mode": "form",
        }

    def action_revoke(self):
        """Open the revocation wizard (an RFC 5280 reason is required)."""
        check_admin(self.env)
        return {
            "type": "ir.actions.act_window",
            "res_model": "esign.certificate.revoke.wizard",
            "view_mode": "form",
            "target": "new",
            "context": {"default_certificate_ids": self.ids},
        }

    def _revoke(self, reason, state="revoked", at=None):
        """Revoke at once (R7): signing stops now; the CRL is re-issued."""
        check_admin(self.env)
        if reason not in dict(REVOCATION_REASONS):
            raise UserError(self.env._("Choose an RFC 5280 revocation reason."))
        todo = self.filtered(lambda cert: not cert.revoked_at)
        if not todo:
            return
        todo.sudo().write(
            {
                "state": state,
                "revocation_reason": reason,
                "revoked_at": at or fields.Datetime.now(),
                "revoked_by_id": self.env.user.id,
            }
        )
        keystores.forget_signers(todo.mapped("fingerprint"))
        for ca in todo.ca_id:
            ca._issue_crl()

    # ------------------------------------------------------------------ company seal
    @api.model
    def _enrol_seal(self, company=None, previous=None):
        """Issue the company seal certificate and its key, in the company's keystore.

        One active seal per company. The key is made like a signer's: sealed under the master
        key, or generated on the PKCS#11 token and never leaving it.
        """
        check_admin(self.env)
        company = company or self.env.company
        existing = self.sudo().search(
            [("purpose", "=", "seal"), ("company_id", "=", company.id), ("state", "=", "active")]
        )
        if existing - (previous or self.browse()):
            raise UserError(
                self.env._(
                    "%(company)s already has an active seal certificate; renew or revoke it "
                    "instead.",
                    company=company.name,
                )
            )
        seal_name = self.env._("%(company)s e-Seal", company=company.name)

        def issue(authority, public, **where):
            return pki.issue_seal_certificate(authority, seal_name, public, **where)

        vals = self._issue_under_ca(company, "esign.certificate/seal", issue, previous)
        return self.sudo().create(
            {
                **vals,
                "purpose": "seal",
                "user_id": False,
                "identity_method": "company_seal",
                "identity_evidence": self.env._(
                    "Seal of %(company)s, issued by %(admin)s.",
                    company=company.name,
                    admin=self.env.user.name,
                ),
            }
        )

    @api.model
    def _sealing_certificate(self, company):
        """The company's usable seal certificate, or a translated refusal."""
        # One query for the row and what sealing reads of it (a print is a new request).
        seal = self.sudo().search_fetch(
            [("purpose", "=", "seal"), ("company_id", "=", company.id), ("state", "=", "active")],
            [
                "certificate_pem",
                "ca_id",
                "serial",
                "fingerprint",
                "keystore",
                "key_ref",
                "revoked_at",
                "revocation_reason",
            ],
            order="id desc",
            limit=1,
        )
        if not seal:
            raise UserError(
                self.env._(
                    "%(company)s has no active seal certificate, so its regulated reports "
                    "cannot be sealed. An E-Signature Administrator must issue one (company "
                    "settings, E-Signature PKI tab).",
                    company=company.name,
                )
            )
        try:
            pki.assert_usable(
                pki.load_certificate(seal.certificate_pem.encode()),
                revocations=seal._own_revocation(),
            )
        except pki.CertificateUnusableError as exc:
            raise UserError(
                self.env._(
                    "The seal certificate %(serial)s of %(company)s may not seal (%(problem)s). "
                    "An E-Signature Administrator must renew it.",
                    serial=seal.serial,
                    company=company.name,
                    problem=exc.problem,
                )
            ) from exc
        return seal

    def _own_revocation(self):
        """The revocation of this certificate, if any, for ``pki.assert_usable``.

        That check only looks for the certificate's own serial, so the row's own revocation
        is all it needs: the CA's whole list (``esign.ca._revocations``, a query) is for CRLs.
        """
        self.ensure_one()
        if not self.revoked_at:
            return []
        return [
            pki.Revocation(
                serial=int(self.serial, 16),
                revoked_at=pki.utc(self.revoked_at),
                reason=pki.RevocationReason(self.revocation_reason or "unspecified"),
            )
        ]

    # ------------------------------------------------------------------ signing
    @api.model
    def _signing_certificate(self, user, company):
        """The certificate ``user`` signs with now, checked; else a translated refusal (R7)."""
        certificates = self.sudo().search(
            [
                ("user_id", "=", user.id),
                ("company_id", "=", company.id),
                ("purpose", "=", "signer"),
            ],
            order="id desc",
        )
        active = certificates.filtered(lambda cert: cert.state == "active")[:1]
        if not active:
            latest = certificates[:1]
            if latest.state in ("revoked", "superseded"):
                message = self.env._(
                    "Your signing certificate %(serial)s is revoked. An E-Signature "
                    "Administrator must enrol you again before you can sign.",
                    serial=latest.serial,
                )
            elif latest.state == "expired":
                message = self.env._(
                    "Your signing certificate %(serial)s has expired. An E-Signature "
                    "Administrator must renew it before you can sign.",
                    serial=latest.serial,
                )
            else:
                message = self.env._(
                    "%(user)s has no signing certificate in %(company)s. An E-Signature "
                    "Administrator must enrol you (after verifying your identity) before you "
                    "can sign.",
                    user=user.name,
                    company=company.name,
                )
            raise UserError(message)
        try:
            pki.assert_usable(
                pki.load_certificate(active.certificate_pem.encode()),
                login=user.login,
                revocations=active._own_revocation(),
            )
        except pki.CertificateUnusableError as exc:
            raise keystores.user_error(self.env, exc) from exc
        return active

    # ------------------------------------------------------------------ expiry
    @api.model
    def _cron_expiry(self):
        """Daily: mark expired certificates; warn signers and administrators 30 days ahead."""
        now = fields.Datetime.now()
        self.sudo().search([("state", "=", "active"), ("not_after", "<", now)]).write(
            {"state": "expired"}
        )
        soon = queued(
            self.sudo().search(
                [
                    ("state", "=", "active"),
                    ("not_after", "<", now + timedelta(days=EXPIRY_WARNING_DAYS)),
                    ("expiry_warned_at", "=", False),
                ]
            )
        )
        admins = self.env.ref(ADMIN_GROUP).users.filtered(lambda u: u.active and not u.share)
        for cert in soon.filtered(lambda c: c.purpose == "seal"):
            note = self.env._(
                "The seal certificate of %(company)s expires on %(date)s. An E-Signature "
                "Administrator must renew it, or regulated reports can no longer be sealed.",
                company=cert.company_id.name,
                date=cert.not_after,
            )
            for user in admins:
                cert.activity_schedule(
                    "mail.mail_activity_data_warning",
                    date_deadline=cert.not_after.date(),
                    summary=self.env._("Seal certificate expires soon"),
                    note=note,
                    user_id=user.id,
                )
            cert.write({"expiry_warned_at": now})
        for cert in soon.filtered(lambda c: c.purpose == "signer"):
            note = self.env._(
                "The signing certificate of %(user)s expires on %(date)s. An E-Signature "
                "Administrator must renew it, or signing stops then.",
                user=cert.user_id.name,
                date=cert.not_after,
            )
            for user in cert.user_id | admins:
                cert.activity_schedule(
                    "mail.mail_activity_data_warning",
                    date_deadline=cert.not_after.date(),
                    summary=self.env._("Signing certificate expires soon"),
                    note=note,
                    user_id=user.id,
                )
            cert.write({"expiry_warned_at": now})
