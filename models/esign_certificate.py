"""The company signing CA and the signers' certificates (S5, R2, R7, R22).

Thin models: the certificates, CRLs and keys are made by ``services.pki``; these records keep
their state (who was enrolled when, by whom and how; revocations) for the UI, the signing
checks and the CRL route. Both models are configuration of the add-on and join the audit
trail (``_esign_audit = "config"``): every enrolment, renewal and revocation is recorded.
"""

import contextlib
import time
import uuid
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives import serialization

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError

from ..services import pki
from . import esign_keystore as keystores

REVOCATION_REASONS = [
    ("unspecified", "Unspecified"),
    ("key_compromise", "Key compromise"),
    ("ca_compromise", "CA compromise"),
    ("affiliation_changed", "Affiliation changed"),
    ("superseded", "Superseded"),
    ("cessation_of_operation", "Cessation of operation"),
    ("certificate_hold", "Certificate hold"),
    ("privilege_withdrawn", "Privilege withdrawn"),
    ("aa_compromise", "AA compromise"),
]
IDENTITY_METHODS = [
    ("in_person", "In person, with an official photo ID"),
    ("video", "Video call, with an official photo ID"),
    ("hr_record", "Checked against the HR record"),
    ("renewal", "Renewal of a verified identity"),
    ("other", "Other (described in the evidence)"),
]
EXPIRY_WARNING_DAYS = 30
CRL_VALIDITY = timedelta(days=7)
ADMIN_GROUP = "meddev_esign.group_esign_admin"


def _check_admin(env):
    if not env.su and not env.user.has_group(ADMIN_GROUP):
        raise AccessError(
            env._("Only an E-Signature Administrator may manage certificates and the CA.")
        )


def _to_naive(moment):
    return pki.utc(moment).replace(tzinfo=None)


class EsignCa(models.Model):
    """A company's signing certificate authority.

    Its private key is kept like signer keys: sealed under the master key, or generated on the
    PKCS#11 token (non-extractable) when the company's keystore is the token.
    """

    _name = "esign.ca"
    _description = "Signing Certificate Authority"
    _order = "company_id, id desc"
    _esign_audit = "config"

    name = fields.Char(required=True, readonly=True, help="The CA certificate's subject.")
    company_id = fields.Many2one("res.company", required=True, index=True, readonly=True)
    active = fields.Boolean(default=True, readonly=True)
    origin = fields.Selection(
        [("generated", "Generated here"), ("imported", "Imported")],
        required=True,
        readonly=True,
        help="Generated at set-up (self-signed) or imported from an external CA.",
    )
    certificate_pem = fields.Text(
        string="CA Certificate", required=True, readonly=True, help="PEM."
    )
    chain_pem = fields.Text(
        string="Chain",
        readonly=True,
        help="PEM certificates above the CA, nearest first, up to the root (imported CAs).",
    )
    fingerprint = fields.Char(readonly=True, help="SHA-256 of the CA certificate.")
    not_after = fields.Datetime(string="Valid Until", readonly=True)
    key_ref = fields.Char(readonly=True, help="The key id the CA key is sealed under.")
    keystore = fields.Selection(
        keystores.KEYSTORES,
        string="Key Store",
        readonly=True,
        default="software",
        help="Where the CA private key is kept: sealed under the master key (software), or on "
        "the PKCS#11 token, which signs certificates and CRLs without the key ever leaving it.",
    )
    hsm_label = fields.Char(
        string="Token Key Label", readonly=True, help="PKCS#11 key store: the key pair's label."
    )
    sealed_key = fields.Binary(
        attachment=False,
        readonly=True,
        groups="base.group_system",
        help="The CA private key, AES-256-GCM under the keystore master key (never in clear).",
    )
    crl_number = fields.Integer(string="CRL Number", readonly=True, default=0)
    crl_der = fields.Binary(string="Last CRL", attachment=False, readonly=True)
    crl_this_update = fields.Datetime(string="CRL Issued", readonly=True)
    crl_next_update = fields.Datetime(string="CRL Next Update", readonly=True)
    crl_url = fields.Char(compute="_compute_crl_url", help="Where the CRL is published.")
    ocsp_url = fields.Char(
        string="OCSP URL",
        compute="_compute_crl_url",
        help="The OCSP responder (RFC 6960) that answers for this CA's certificates; written "
        "into every signer certificate.",
    )

    def _compute_crl_url(self):
        base = self.env["ir.config_parameter"].sudo().get_param("web.base.url", "")
        for ca in self:
            ca.crl_url = f"{base}/meddev_esign/crl/{ca.company_id.id}.crl"
            ca.ocsp_url = f"{base}/meddev_esign/ocsp/{ca.company_id.id}"

    # ------------------------------------------------------------------ set-up
    @api.model
    def _for_company(self, company):
        """The active CA of ``company``, or a translated error."""
        ca = self.sudo().search([("company_id", "=", company.id)], limit=1)
        if not ca:
            raise UserError(
                self.env._(
                    "%(company)s has no signing CA yet: an E-Signature Administrator must "
                    "generate or import it (company settings, E-Signature PKI tab).",
                    company=company.name,
                )
            )
        return ca

    @api.model
    def _check_replaceable(self, company):
        """Refuse to replace a CA that still has active signer certificates."""
        _check_admin(self.env)
        old = self.sudo().search([("company_id", "=", company.id)])
        if old and self.env["esign.certificate"].sudo().search_count(
            [("ca_id", "in", old.ids), ("state", "=", "active")]
        ):
            raise UserError(
                self.env._(
                    "%(company)s's CA still has active signer certificates; revoke them "
                    "before replacing the CA.",
                    company=company.name,
                )
            )
        return old

    @api.model
    def _store(self, company, authority, origin, key_ref=None, key_vals=None):
        """Keep a new CA; the old one is archived.

        :param key_vals: where the key is when it is on the token (``keystore``,
            ``hsm_label``); without them the key is sealed under the master key here.
        """
        old = self._check_replaceable(company)
        key_ref = key_ref or f"esign.ca/{uuid.uuid4()}"
        if not key_vals:
            sealed = pki.seal_private_key(
                authority.private_key, keystores.master_key(self.env), key_id=key_ref
            )
            key_vals = {"keystore": "software", "sealed_key": keystores.b64(sealed)}
        old.sudo().write({"active": False})
        cert = authority.certificate
        return self.sudo().create(
            {
                "name": cert.subject.rfc4514_string(),
                "company_id": company.id,
                "origin": origin,
                "certificate_pem": pki.certificate_to_pem(cert).decode(),
                "chain_pem": "".join(
                    pki.certificate_to_pem(item).decode() for item in authority.chain
                )
                or False,
                "fingerprint": pki.fingerprint(cert),
                "not_after": _to_naive(cert.not_valid_after_utc),
                "key_ref": key_ref,
                **key_vals,
            }
        )

    @api.model
    def _generate(self, company):
        """Generate a self-signed signing CA for ``company``, its key in the company's keystore.

        With the PKCS#11 keystore the key pair is generated on the token (non-extractable) and
        the token signs the CA certificate; otherwise the key is sealed under the master key.
        """
        self._check_replaceable(company)
        name = self.env._("%(company)s e-Signature CA", company=company.name)
        options = {
            "organization": company.name,
            "country": company.country_id.code or None,
            "key_type": pki.KeyType(company.esign_key_type),
        }
        if company.esign_keystore == "pkcs11":
            key_ref = f"esign.ca/{uuid.uuid4()}"
            _public, key_vals = keystores.new_key(
                self.env, "pkcs11", company.esign_key_type, key_ref
            )
            with keystores.token_private_key(self.env, key_vals["hsm_label"]) as key:
                try:
                    authority = pki.generate_ca(name, private_key=key, **options)
                except pki.PkiError as exc:
                    raise keystores.user_error(self.env, exc) from exc
            return self._store(company, authority, "generated", key_ref, key_vals)
        keystores.master_key(self.env)  # fail before generating anything
        try:
            authority = pki.generate_ca(name, **options)
        except pki.PkiError as exc:
            raise keystores.user_error(self.env, exc) from exc
        return self._store(company, authority, "generated")

    @api.model
    def _import(self, company, data, key_pem=None, password=None):
        """Import a CA issued by an external CA: a PKCS#12 file, or PEM certificates + key."""
        _check_admin(self.env)
        try:
            if key_pem:
                authority = pki.import_ca_pem(data, key_pem, password=password)
            else:
                authority = pki.import_ca_pkcs12(data, password)
        except pki.PkiInputError as exc:
            raise UserError(
                self.env._("The CA cannot be imported: %(reason)s", reason=exc.reason)
            ) from exc
        return self._store(company, authority, "imported")

    # ------------------------------------------------------------------ use
    def _certificate(self):
        self.ensure_one()
        return pki.load_certificate(self.certificate_pem.encode())

    def _chain(self):
        self.ensure_one()
        return tuple(pki.load_certificates(self.chain_pem.encode())) if self.chain_pem else ()

    def _embedded_certificates(self):
        """The CA certificate and its chain: embedded in every signature."""
        return (self._certificate(), *self._chain())

    def _root(self):
        """The trust anchor a verifier is given."""
        chain = self._chain()
        return chain[-1] if chain else self._certificate()

    @contextlib.contextmanager
    def _authority(self):
        """The CA with its private key usable (to issue certificates and CRLs), in a block.

        A software key is opened with the master key; a token key stays on the token, whose
        session is open while the block runs.
        """
        self.ensure_one()
        ca = self.sudo()
        if ca.keystore == "pkcs11":
            with keystores.token_private_key(self.env, ca.hsm_label) as key:
                yield pki.CertificateAuthority(self._certificate(), key, self._chain())
            return
        key = keystores.open_software_key(self.env, ca.sealed_key, ca.key_ref)
        yield pki.CertificateAuthority(self._certificate(), key, self._chain())

    def _revocations(self):
        self.ensure_one()
        certificates = (
            self.env["esign.certificate"]
            .sudo()
            .with_context(active_test=False)
            .search([("ca_id", "=", self.id), ("revoked_at", "!=", False)])
        )
        return [
            pki.Revocation(
                serial=int(cert.serial, 16),
                revoked_at=pki.utc(cert.revoked_at),
                reason=pki.RevocationReason(cert.revocation_reason or "unspecified"),
            )
            for cert in certificates
        ]

    def _issue_crl(self):
        """Sign a new CRL listing every revocation, and keep it for the public route."""
        self.ensure_one()
        ca = self.sudo()
        number = ca.crl_number + 1
        with self._authority() as authority:
            try:
                crl = pki.build_crl(
                    authority, self._revocations(), crl_number=number, valid_for=CRL_VALIDITY
                )
            except pki.PkiError as exc:
                raise keystores.user_error(self.env, exc) from exc
        der = crl.public_bytes(serialization.Encoding.DER)
        ca.write(
            {
                "crl_number": number,
                "crl_der": keystores.b64(der),
                "crl_this_update": _to_naive(crl.last_update_utc),
                "crl_next_update": _to_naive(crl.next_update_utc),
            }
        )
        return der

    def _ocsp_response(self, request_der):
        """The DER OCSP response to a request about one of this CA's certificates."""
        self.ensure_one()
        issued = (
            self.env["esign.certificate"]
            .sudo()
            .with_context(active_test=False)
            .search([("ca_id", "=", self.id)])
            .mapped("serial")
        )
        with self._authority() as authority:
            return pki.ocsp_response(
                authority,
                request_der,
                issued={int(serial, 16) for serial in issued},
                revocations=self._revocations(),
            )

    def _current_crl(self, issued_after=None):
        """The CRL's DER; re-issued when missing, due within a day, or older than asked.

        :param issued_after: a naive UTC moment the CRL must not predate (just after a
            signature's time, to prove it was not revoked then). A CRL's time has one-second
            resolution; when that moment is still ahead, issuing waits for it (at most 2 s).
        """
        self.ensure_one()
        ca = self.sudo()
        now = fields.Datetime.now()
        needed = issued_after.replace(microsecond=0) if issued_after else None
        stale = (
            not ca.crl_der
            or not ca.crl_next_update
            or ca.crl_next_update - timedelta(days=1) < now
            or (needed and ca.crl_this_update < needed)
        )
        if not stale:
            return keystores.raw(ca.crl_der)
        if needed:
            wait = (needed - datetime.now(UTC).replace(tzinfo=None)).total_seconds()
            if 0 < wait <= 2:
                time.sleep(wait)
        return self._issue_crl()


class EsignCertificate(models.Model):
    """One signer certificate and its key (software-sealed or on a PKCS#11 token)."""

    _name = "esign.certificate"
    _description = "Signer Certificate"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _order = "user_id, id desc"
    _esign_audit = "config"

    name = fields.Char(compute="_compute_name", store=True)
    user_id = fields.Many2one(
        "res.users",
        string="Signer",
        required=True,
        readonly=True,
        index=True,
        ondelete="restrict",
        help="The person the certificate was issued to: their login is its UID.",
    )
    company_id = fields.Many2one("res.company", required=True, readonly=True, index=True)
    ca_id = fields.Many2one("esign.ca", string="Issuing CA", required=True, readonly=True)
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

    @api.depends("user_id.name", "serial")
    def _compute_name(self):
        for cert in self:
            cert.name = f"{cert.user_id.name or ''} — {(cert.serial or '')[:16]}"

    # ------------------------------------------------------------------ enrolment
    @api.model
    def _enrol(self, user, identity_method, identity_evidence, company=None, previous=None):
        """Issue a certificate and key for ``user`` after identity verification (R2)."""
        _check_admin(self.env)
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
        ca = self.env["esign.ca"]._for_company(company)
        key_ref = f"esign.certificate/{uuid.uuid4()}"
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
                        valid_for=timedelta(days=company.esign_certificate_days or 730),
                        crl_url=ca.crl_url,
                        ocsp_url=ca.ocsp_url,
                    )
                else:
                    cert = pki.issue_signer_certificate(
                        authority,
                        pki.SignerIdentity(
                            name=user.name, login=user.login, email=user.email or None
                        ),
                        public,
                        valid_for=timedelta(days=company.esign_certificate_days or 730),
                        crl_url=ca.crl_url,
                        ocsp_url=ca.ocsp_url,
                    )
            except pki.PkiError as exc:
                raise keystores.user_error(self.env, exc) from exc
        return self.sudo().create(
            {
                "user_id": user.id,
                "company_id": company.id,
                "ca_id": ca.id,
                "serial": f"{cert.serial_number:x}",
                "fingerprint": pki.fingerprint(cert),
                "subject": cert.subject.rfc4514_string(),
                "not_before": _to_naive(cert.not_valid_before_utc),
                "not_after": _to_naive(cert.not_valid_after_utc),
                "certificate_pem": pki.certificate_to_pem(cert).decode(),
                "key_type": company.esign_key_type,
                "key_ref": key_ref,
                "identity_method": identity_method,
                "identity_evidence": identity_evidence,
                "identity_verified_by_id": self.env.user.id,
                "identity_verified_at": fields.Datetime.now(),
                "previous_id": previous.id if previous else False,
                **key_vals,
            }
        )

    def action_renew(self):
        """Renew with a new key (rotation); the old certificate is superseded, not voided."""
        self.ensure_one()
        _check_admin(self.env)
        if self.state not in ("active", "expired"):
            raise UserError(self.env._("Only an active or expired certificate can be renewed."))
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
        _check_admin(self.env)
        return {
            "type": "ir.actions.act_window",
            "res_model": "esign.certificate.revoke.wizard",
            "view_mode": "form",
            "target": "new",
            "context": {"default_certificate_ids": self.ids},
        }

    def _revoke(self, reason, state="revoked", at=None):
        """Revoke at once (R7): signing stops now; the CRL is re-issued."""
        _check_admin(self.env)
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

    # ------------------------------------------------------------------ signing
    @api.model
    def _signing_certificate(self, user, company):
        """The certificate ``user`` signs with now, checked; else a translated refusal (R7)."""
        certificates = self.sudo().search(
            [("user_id", "=", user.id), ("company_id", "=", company.id)], order="id desc"
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
                revocations=active.ca_id._revocations(),
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
        soon = self.sudo().search(
            [
                ("state", "=", "active"),
                ("not_after", "<", now + timedelta(days=EXPIRY_WARNING_DAYS)),
                ("expiry_warned_at", "=", False),
            ]
        )
        admins = self.env.ref(ADMIN_GROUP).users.filtered(lambda u: u.active and not u.share)
        for cert in soon:
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
