from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError


class EsignSupplierQualification(models.Model):
    """Supplier qualification (S2): QA's signed approval that a supplier may deliver the
    critical components of some product categories until a given date.

    A purchase order for a critical component is refused unless its supplier holds an
    approved, unexpired qualification covering the component's category (see
    ``purchase.order.button_confirm``).
    """

    _name = "esign.supplier.qualification"
    _description = "Supplier Qualification"
    _inherit = [
        "esign.signable.mixin",
        "mail.thread",
        "mail.activity.mixin",
        "esign.quality.record",
    ]
    _quality_title_field = "partner_id"
    _order = "id desc"

    _esign_signed_fields = [
        "partner_id",
        "product_category_ids",
        "scope",
        "audit_date",
        "valid_until",
    ]
    _esign_triggers = {"supplier_approve": "Supplier Qualification: Approve"}
    _esign_author_fields = ["create_uid"]

    name = fields.Char(
        help="Given from the SQ/YYYY/NNNN sequence when the qualification is saved."
    )
    company_id = fields.Many2one(help="The company whose purchases this qualification covers.")
    partner_id = fields.Many2one(
        "res.partner",
        string="Supplier",
        required=True,
        tracking=True,
        index=True,
        help="The qualified supplier (its company: contacts of the company are covered too).",
    )
    product_category_ids = fields.Many2many(
        "product.category",
        string="Product Categories",
        tracking=True,
        help="Categories of critical components the supplier is qualified for; their "
        "sub-categories are covered too.",
    )
    scope = fields.Text(
        help="What the qualification covers: processes, sites, certifications (e.g. ISO 13485)."
    )
    audit_date = fields.Date(tracking=True, help="Date of the supplier audit or assessment.")
    valid_until = fields.Date(
        required=True,
        tracking=True,
        help="Last day the qualification is valid; purchases after it are refused until the "
        "supplier is requalified.",
    )
    state = fields.Selection(
        [
            ("draft", "Draft"),
            ("approved", "Approved"),
            ("expired", "Expired"),
            ("revoked", "Revoked"),
        ],
        default="draft",
        required=True,
        readonly=True,
        copy=False,
        tracking=True,
        index=True,
        help="Draft: being assessed. Approved: QA signed it; purchases are allowed until the "
        "validity date. Expired: the validity date passed. Revoked: withdrawn by QA.",
    )
    approved_date = fields.Date(
        readonly=True, copy=False, help="When the signed qualification was approved."
    )

    @api.constrains("audit_date", "valid_until")
    def _check_dates(self):
        for qual in self:
            if qual.audit_date and qual.valid_until and qual.valid_until < qual.audit_date:
                raise ValidationError(
                    self.env._(
                        "%(record)s cannot be valid until %(until)s, before its audit on "
                        "%(audit)s.",
                        record=qual.display_name,
                        until=qual.valid_until,
                        audit=qual.audit_date,
                    )
                )

    def write(self, vals):
        """A signed field changed on an approved qualification: it needs approval again."""
        approved = self.filtered(lambda q: q.state == "approved")
        versions = {qual.id: qual.esign_version for qual in approved}
        result = super().write(vals)
        changed = approved.filtered(lambda q: q.esign_version != versions[q.id])
        if changed:
            changed.write({"state": "draft", "approved_date": False})
            changed._esign_post(
                self.env._("The approved qualification changed: it is back to draft for approval.")
            )
        return result

    # ------------------------------------------------------------------ transitions
    def action_approve(self):
        """Approve the qualification; needs QA's signature (trigger ``supplier_approve``)."""
        self._esign_require_state(("draft",), self.env._("Approve"))
        today = fields.Date.context_today(self)
        for qual in self:
            if qual.valid_until < today:
                raise UserError(
                    self.env._(
                        "%(record)s expired on %(date)s; set a later validity date first.",
                        record=qual.display_name,
                        date=qual.valid_until,
                    )
                )
            if not qual.product_category_ids:
                raise UserError(
                    self.env._(
                        "%(record)s names no product category; say which components the "
                        "supplier is qualified for.",
                        record=qual.display_name,
                    )
                )
        self._esign_check_gate("supplier_approve")
        self.write({"state": "approved", "approved_date": today})
        return True

    def action_revoke(self):
        """Withdraw an approved qualification: further purchases are refused."""
        self._esign_require_state(("approved",), self.env._("Revoke"))
        self.write({"state": "revoked"})
        return True

    @api.model
    def _cron_expire(self):
        """Daily: mark approved qualifications past their validity date as expired."""
        today = fields.Date.context_today(self)
        self.search([("state", "=", "approved"), ("valid_until", "<", today)]).write(
            {"state": "expired"}
        )

    # ------------------------------------------------------------------ purchase check
    @api.model
    def _is_qualified(self, partner, product, company=None):
        """True when ``partner`` holds an approved, unexpired qualification whose categories
        include ``product``'s category or one of its parents."""
        if not partner or not product:
            return False
        company = company or self.env.company
        categories = [int(c) for c in (product.categ_id.parent_path or "").split("/") if c]
        if not categories:
            return False
        return bool(
            self.sudo().search_count(
                [
                    ("partner_id.commercial_partner_id", "=", partner.commercial_partner_id.id),
                    ("company_id", "=", company.id),
                    ("state", "=", "approved"),
                    ("valid_until", ">=", fields.Date.context_today(self)),
                    ("product_category_ids", "in", categories),
                ],
                limit=1,
            )
        )
