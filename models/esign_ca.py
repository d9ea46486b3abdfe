"""The company signing CA: its certificate and key, and the CRL it issues (S5, R2, R22).

A thin model: the certificates, CRLs and keys are made by ``services.pki``. It is
configuration of the add-on and joins the audit trail (``_esign_audit = "config"``).
"""

import contextlib
import time
import uuid
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives import serialization

from odoo import api, fields, models
from odoo.exceptions import UserError

from ..services import pki
from . import esign_keystore as keystores
from .esign_pki_common import (
    CRL_VALIDITY,
    check_admin,
    to_naive,
)


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
        check_admin(self.env)
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
                "not_after": to_naive(cert.not_valid_after_utc),
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
        check_admin(self.env)
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
            .search([("ca_id", "=", self.id), ("revoked_at", "!=", False)], order="id")
        )
        return [revocation for cert in certificates for revocation in cert._own_revocation()]

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
                "crl_this_update": to_naive(crl.last_update_utc),
                "crl_next_update": to_naive(crl.next_update_utc),
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
