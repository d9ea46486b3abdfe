from odoo import api, fields, models

from .esign_keystore import KEY_TYPES, KEYSTORES


class ResCompany(models.Model):
    _inherit = "res.company"
    #: The company's e-signature settings (PKI, timestamps) are key configuration (R28): their
    #: changes go to the audit trail. Its other fields are not audited.
    _esign_audit = "config"

    @api.model
    def _esign_audit_names(self):
        return frozenset(n for n in super()._esign_audit_names() if n.startswith("esign_"))

    def _esign_audit_company(self):
        return self

    esign_pki_enabled = fields.Boolean(
        string="PKI Signatures",
        help="Every new electronic signature also carries a CAdES signature made with the "
        "signer's certificate and an RFC 3161 timestamp. A signer without a usable "
        "certificate is then refused. Needs the company's signing CA.",
    )
    esign_key_type = fields.Selection(
        KEY_TYPES,
        string="Signer Key Type",
        default="ecdsa-p256",
        required=True,
        help="Algorithm of new signer keys and of a generated CA. ECDSA P-256 is fast and "
        "short; RSA-3072 for partners that need RSA.",
    )
    esign_keystore = fields.Selection(
        KEYSTORES,
        string="Keystore",
        default="software",
        required=True,
        help="Where new signer keys, and the key of a CA generated here, are created. "
        "Software: each key is encrypted with "
        "AES-256-GCM under the master key of the Odoo configuration file "
        "(meddev_esign_master_key) or the environment (MEDDEV_ESIGN_MASTER_KEY). PKCS#11: "
        "keys are generated on the token named by meddev_esign_pkcs11_library / _token / _pin "
        "and never leave it. Secrets are never stored in the database.",
    )
    esign_certificate_days = fields.Integer(
        string="Certificate Validity (days)",
        default=730,
        help="Validity of new signer certificates; never beyond the CA's own end of validity.",
    )
    esign_tsa_urls = fields.Text(
        string="Timestamp Authorities",
        help="RFC 3161 TSA URLs, one per line, tried in this order.",
    )
    esign_tsa_timeout = fields.Float(
        string="TSA Timeout (s)", default=5.0, help="Seconds allowed per TSA before the next."
    )
    esign_tsa_offline = fields.Selection(
        [("refuse", "Refuse to sign"), ("pending", "Sign, timestamp pending")],
        string="When No TSA Answers",
        default="refuse",
        required=True,
        help="Refuse to sign: the signer gets a clear error and nothing is signed. Sign, "
        "timestamp pending: the signature is made now and marked 'timestamp pending'; a "
        "scheduled action adds the timestamp later as its own record and records the delay.",
    )
    esign_tsa_drift_seconds = fields.Integer(
        string="Tolerated Clock Drift (s)",
        default=60,
        help="A TSA time that differs from the server's clock by more than this is recorded "
        "in the audit trail (R27).",
    )
    esign_tsa_roots_pem = fields.Text(
        string="Trusted TSA Certificates",
        help="PEM certificates of the timestamp authorities' roots, used to verify tokens.",
    )
    esign_seal_enabled = fields.Boolean(
        string="Seal Regulated Reports",
        help="Every printout of a regulated report (Batch Release Certificate, manufacturing "
        "and purchase orders, quality records, audit-trail integrity report) is sealed with "
        "the company seal certificate (PAdES), carries a QR code to its public verification "
        "page and embeds the record's signature evidence. Every print is logged. Needs the "
        "signing CA and an active seal certificate.",
    )
    esign_seal_level = fields.Selection(
        [
            ("B-LT", "PAdES B-LT: timestamp and validation data"),
            ("B-LTA", "PAdES B-LTA: B-LT plus a document timestamp"),
        ],
        string="Seal Level",
        default="B-LT",
        required=True,
        help="B-LT: the seal carries a trusted timestamp and the CRL and chain needed to "
        "validate it offline, for years. B-LTA adds a document timestamp over all of it, so "
        "the file can later be re-timestamped before its algorithms age.",
    )
    esign_seal_tsa_required = fields.Boolean(
        string="Timestamp Required for Sealing",
        default=True,
        help="On (default): a printout is only sealed with a trusted time from the timestamp "
        "authorities above; if none answers, the print is refused and nothing is logged as "
        "printed. Off: the printout is then sealed without trusted time (PAdES B-B), its "
        "stamp says so and the audit trail records it.",
    )
    esign_seal_stamp_text = fields.Char(
        string="Stamp Text",
        translate=True,
        default="Electronically signed",
        help="The stamp's headline on the last page of a sealed report, in the report's "
        "language; below it the stamp names the company, the number of e-signatures, the "
        "sealing time with its zone, and the QR code to the verification page.",
    )
    esign_seal_certificate_id = fields.Many2one(
        "esign.certificate",
        string="Seal Certificate",
        compute="_compute_esign_seal_certificate_id",
        help="The company's active seal certificate, which signs its sealed reports.",
    )
    esign_ca_id = fields.Many2one(
        "esign.ca",
        string="Signing CA",
        compute="_compute_esign_ca_id",
        help="The company's active signing certificate authority.",
    )

    def _compute_esign_ca_id(self):
        for company in self:
            company.esign_ca_id = (
                self.env["esign.ca"]
                .sudo()
                .search([("company_id", "=", company.id), ("active", "=", True)], limit=1)
            )

    def _compute_esign_seal_certificate_id(self):
        for company in self:
            company.esign_seal_certificate_id = (
                self.env["esign.certificate"]
                .sudo()
                .search(
                    [
                        ("purpose", "=", "seal"),
                        ("company_id", "=", company.id),
                        ("state", "=", "active"),
                    ],
                    order="id desc",
                    limit=1,
                )
            )

    def action_esign_issue_seal(self):
        """Issue the company seal certificate (its key in the company's keystore)."""
        self.ensure_one()
        seal = self.env["esign.certificate"]._enrol_seal(self)
        return {
            "type": "ir.actions.act_window",
            "res_model": "esign.certificate",
            "res_id": seal.id,
            "view_mode": "form",
        }

    @api.model_create_multi
    def create(self, vals_list):
        """Every company gets its audit trail chain at once (one chain per company)."""
        companies = super().create(vals_list)
        chains = self.env["esign.audit.chain"].sudo()
        for company in companies:
            chains._for_company(company)
        return companies

    def _esign_tsa_url_list(self):
        self.ensure_one()
        return [line.strip() for line in (self.esign_tsa_urls or "").splitlines() if line.strip()]

    def action_esign_generate_ca(self):
        """Generate the company's signing CA (its key sealed like signer keys)."""
        self.ensure_one()
        self.env["esign.ca"]._generate(self)
        return True

    def action_esign_import_ca(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": "esign.ca.import.wizard",
            "view_mode": "form",
            "target": "new",
            "context": {"default_company_id": self.id},
        }

    def _esign_demo_set_currency(self, currency_xmlid):
        """Demo data: give the demo company its own currency (CNY for the Suzhou maker).

        Odoo refuses to change the currency of a company with journal items. A database
        installed with Odoo's generic demo data (the Odoo test suite's) has booked them in USD
        already, and keeps USD; ``make demo`` builds its database without them.
        """
        currency = self.env.ref(currency_xmlid)
        currency.active = True
        for company in self:
            booked = "account.move.line" in self.env and self.env[
                "account.move.line"
            ].sudo().search_count([("company_id", "=", company.id)], limit=1)
            if not booked:
                company.currency_id = currency
