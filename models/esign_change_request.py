from odoo import fields, models
from odoo.exceptions import UserError

#: States after approval: a change to a signed field sends the request back to review.
APPROVED_STATES = ("implementation", "verification", "closed")


class EsignChangeRequest(models.Model):
    """Design / engineering change control (S1).

    The author signs **Authored** to submit (``cr_submit``); R&D and QA review in parallel
    and QA approves (``cr_approve``); the BoM change is applied only then; someone other than
    the author signs **Verified** to close (``cr_close``). The signed-content version is the
    mixin's ``esign_version``: it goes up whenever a signed field changes.
    """

    _name = "esign.change.request"
    _description = "Change Request"
    _inherit = [
        "esign.signable.mixin",
        "mail.thread",
        "mail.activity.mixin",
        "esign.quality.record",
    ]
    _order = "id desc"

    _esign_signed_fields = [
        "title",
        "change_type",
        "product_ids",
        "bom_ids",
        "new_bom_id",
        "description",
        "impact_description",
        "risk_assessment",
        "risk_level",
    ]
    # A rejected submission or approval goes back to proposal, a rejected verification to
    # implementation (the policy may name another state).
    _esign_reject_states = {
        "cr_submit": "proposal",
        "cr_approve": "proposal",
        "cr_close": "implementation",
    }
    _esign_triggers = {
        "cr_submit": "Change Request: Submit",
        "cr_approve": "Change Request: Approve",
        "cr_close": "Change Request: Close",
    }
    _esign_author_fields = ["create_uid", "author_id"]

    name = fields.Char(
        help="Given from the CR/YYYY/NNNN sequence when the change request is saved."
    )
    company_id = fields.Many2one(help="The company whose products the change concerns.")
    title = fields.Char(required=True, tracking=True, help="One line saying what changes.")
    change_type = fields.Selection(
        [("design", "Design Change"), ("engineering", "Engineering Change")],
        required=True,
        default="design",
        tracking=True,
        help="Design: changes the device design (design controls, 21 CFR 820.30(i)). "
        "Engineering: changes how it is made (materials, process, BoM).",
    )
    product_ids = fields.Many2many(
        "product.product", string="Products", help="The devices or components affected."
    )
    bom_ids = fields.Many2many(
        "mrp.bom",
        string="Affected BoMs",
        context={"active_test": False},
        help="The bills of materials that the change replaces; they are archived when the "
        "change is approved and a new BoM is given.",
    )
    new_bom_id = fields.Many2one(
        "mrp.bom",
        string="New BoM",
        context={"active_test": False},
        tracking=True,
        help="The new BoM version, prepared archived. It is activated only when the change "
        "is approved, and the affected BoMs are archived then.",
    )
    description = fields.Text(help="What changes and why.")
    impact_description = fields.Text(
        string="Impact",
        help="Impact on the device, its labelling, validation, regulatory filings, stock and "
        "work in progress.",
    )
    risk_assessment = fields.Html(
        help="Risk assessment of the change (ISO 14971): hazards, risk before and after, controls."
    )
    risk_level = fields.Selection(
        [("low", "Low"), ("medium", "Medium"), ("high", "High")],
        default="medium",
        required=True,
        tracking=True,
        help="Overall residual risk of the change.",
    )
    author_id = fields.Many2one(
        "res.users",
        string="Author",
        required=True,
        default=lambda self: self.env.user,
        tracking=True,
        index=True,
        help="Who drafted the change. The author signs Authored, but may neither review, "
        "approve nor verify the change (segregation of duties).",
    )
    state = fields.Selection(
        [
            ("proposal", "Proposal"),
            ("review", "Review"),
            ("approval", "Approval"),
            ("implementation", "Implementation"),
            ("verification", "Verification"),
            ("closed", "Closed"),
            ("cancelled", "Cancelled"),
        ],
        default="proposal",
        required=True,
        readonly=True,
        copy=False,
        tracking=True,
        index=True,
        help="Proposal: being drafted. Review: R&D and QA review in parallel. Approval: QA "
        "approves. Implementation: approved; the BoM change is applied. Verification: the "
        "change is verified. A change to a signed field after approval returns it to Review.",
    )
    bom_change_applied = fields.Boolean(
        string="BoM Change Applied",
        readonly=True,
        copy=False,
        help="Set when the approval applied the BoM change.",
    )
    bom_applied_date = fields.Datetime(string="BoM Change Applied On", readonly=True, copy=False)

    def write(self, vals):
        """A signed field changed after approval: the change goes back to review (S1.5)."""
        if not set(self._esign_signed_fields).intersection(vals):
            return super().write(vals)
        approved = self.filtered(lambda cr: cr.state in APPROVED_STATES)
        versions = {cr.id: cr.esign_version for cr in approved}
        result = super().write(vals)
        changed = approved.filtered(lambda cr: cr.esign_version != versions[cr.id])
        if changed:
            changed.write({"state": "review"})
            changed._esign_post(
                self.env._(
                    "A signed field changed after approval: the change request is back in "
                    "review and needs its review and approval signatures again."
                )
            )
        return result

    # ------------------------------------------------------------------ transitions
    def action_submit(self):
        """Proposal -> Review; needs the author's Authored signature (``cr_submit``)."""
        self._esign_require_state(("proposal",), self.env._("Submit"))
        for cr in self:
            if not (cr.description and cr.impact_description):
                raise UserError(
                    self.env._(
                        "%(record)s needs a description and an impact description before it "
                        "is submitted.",
                        record=cr.display_name,
                    )
                )
        self._esign_check_gate("cr_submit")
        self.write({"state": "review"})
        self._esign_open_request("cr_approve")
        return True

    def _esign_reviews_done(self):
        """True when the first stage (the parallel reviews) of ``cr_approve`` is signed."""
        self.ensure_one()
        for policy in self._esign_policies("cr_approve"):
            request = self.env["esign.request"]._for_record(self, policy)
            if not request:
                return False
            __, __, result = request._evaluate(self)
            if not result.steps:  # conditions leave every step out: nothing to review
                continue
            first = min(step.stage for step in result.steps)
            if not all(step.complete for step in result.steps if step.stage == first):
                return False
        return True

    def action_request_approval(self):
        """Review -> Approval, once the parallel reviews are signed. No signature of its own."""
        self._esign_require_state(("review",), self.env._("Request Approval"))
        for cr in self:
            if not cr._esign_reviews_done():
                raise UserError(
                    self.env._(
                        "%(record)s cannot go to approval before its reviews are signed.",
                        record=cr.display_name,
                    )
                )
        self.write({"state": "approval"})
        return True

    def action_approve(self):
        """Approval -> Implementation; needs ``cr_approve``. Applies the BoM change."""
        self._esign_require_state(("approval",), self.env._("Approve"))
        self._esign_check_gate("cr_approve")
        self.write({"state": "implementation"})
        self._apply_bom_change()
        return True

    def _apply_bom_change(self):
        """Activate the new BoM and archive the ones it replaces; only called on approval."""
        for cr in self:
            if cr.new_bom_id:
                cr.new_bom_id.sudo().active = True
                (cr.bom_ids - cr.new_bom_id).sudo().filtered("active").active = False
                cr._esign_post(
                    self.env._(
                        "BoM change applied: %(new)s is active; %(old)s archived.",
                        new=cr.new_bom_id.display_name,
                        old=", ".join((cr.bom_ids - cr.new_bom_id).mapped("display_name"))
                        or self.env._("nothing"),
                    )
                )
            cr.write({"bom_change_applied": True, "bom_applied_date": fields.Datetime.now()})

    def action_to_verification(self):
        """Implementation -> Verification: the change is implemented and ready to verify."""
        self._esign_require_state(("implementation",), self.env._("Verify"))
        self.write({"state": "verification"})
        self._esign_open_request("cr_close")
        return True

    def action_close(self):
        """Verification -> Closed; needs the Verified signature of a non-author (``cr_close``)."""
        self._esign_require_state(("verification",), self.env._("Close"))
        self._esign_check_gate("cr_close")
        self.write({"state": "closed"})
        return True

    def action_cancel(self):
        """Cancel a change request that is not implemented yet."""
        self._esign_require_state(("proposal", "review", "approval"), self.env._("Cancel"))
        self.write({"state": "cancelled"})
        return True
