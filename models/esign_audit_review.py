from odoo import api, fields, models
from odoo.exceptions import UserError


class EsignAuditReview(models.Model):
    """Periodic review of the audit trail (R17, Annex 11 §9): an auditor or QA person reviews
    one period of one chain and signs it **Reviewed** (``audit_review``). Submitting fixes the
    range, takes a checkpoint and verifies the chain; the completed review is itself an entry
    of the trail.
    """

    _name = "esign.audit.review"
    _description = "Audit Trail Review"
    _inherit = [
        "esign.signable.mixin",
        "mail.thread",
        "mail.activity.mixin",
        "esign.quality.record",
    ]
    _order = "id desc"
    _quality_title_field = "chain_id"

    _esign_signed_fields = [
        "chain_id",
        "date_from",
        "date_to",
        "first_seq",
        "last_seq",
        "head_hash",
        "entry_count",
        "verification_id",
        "findings",
    ]
    _esign_triggers = {"audit_review": "Audit Trail Review: Reviewed"}
    _esign_reject_states = {"audit_review": "draft"}

    name = fields.Char(help="Given from the AUD/YYYY/NNNN sequence when the review is saved.")
    company_id = fields.Many2one(help="The company whose audit trail is reviewed.")
    chain_id = fields.Many2one(
        "esign.audit.chain",
        string="Audit Trail",
        required=True,
        default=lambda self: self.env["esign.audit.chain"]._for_company(self.env.company),
        help="The company's audit trail being reviewed.",
    )
    date_from = fields.Datetime(
        string="From", required=True, help="Start of the reviewed period (your time zone)."
    )
    date_to = fields.Datetime(string="To", required=True, help="End of the reviewed period.")
    first_seq = fields.Integer(string="First Entry", readonly=True, copy=False)
    last_seq = fields.Integer(string="Last Entry", readonly=True, copy=False)
    entry_count = fields.Integer(string="Entries Reviewed", readonly=True, copy=False)
    head_hash = fields.Char(
        string="Hash of Last Entry",
        readonly=True,
        copy=False,
        help="The hash of the last reviewed entry: the signature vouches for everything up to it.",
    )
    verification_id = fields.Many2one(
        "esign.audit.verification",
        string="Integrity Check",
        readonly=True,
        copy=False,
        help="The verification run when the review was submitted.",
    )
    verdict = fields.Selection(related="verification_id.verdict", string="Integrity")
    findings = fields.Text(help="What the reviewer found: unusual changes, follow-ups.")
    state = fields.Selection(
        [
            ("draft", "Draft"),
            ("to_review", "Submitted for Signature"),
            ("reviewed", "Reviewed"),
        ],
        default="draft",
        required=True,
        readonly=True,
        copy=False,
        tracking=True,
        index=True,
    )

    @api.constrains("date_from", "date_to")
    def _check_period(self):
        for review in self:
            if review.date_from and review.date_to and review.date_from > review.date_to:
                raise UserError(self.env._("The review period ends before it starts."))

    def _entry_domain(self):
        self.ensure_one()
        return [
            ("chain_id", "=", self.chain_id.id),
            ("at", ">=", self.date_from),
            ("at", "<=", self.date_to),
        ]

    def action_submit(self):
        """Draft -> Submitted: fix the range, checkpoint and verify the chain, open signing."""
        self._esign_require_state(("draft",), self.env._("Submit"))
        entries = self.env["esign.audit.entry"].sudo()
        for review in self:
            found = entries.search(review._entry_domain(), order="seq")
            if not found:
                raise UserError(
                    self.env._("%(record)s: no entry in this period.", record=review.display_name)
                )
            review.chain_id._checkpoint("review")
            verification = review.chain_id._run_verification("review")
            review.write(
                {
                    "first_seq": found[0].seq,
                    "last_seq": found[-1].seq,
                    "entry_count": len(found),
                    "head_hash": found[-1].entry_hash,
                    "verification_id": verification.id,
                    "state": "to_review",
                }
            )
        self._esign_open_request("audit_review")
        return True

    def action_open_entries(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "meddev_esign.esign_audit_entry_action"
        )
        action["domain"] = self._entry_domain()
        action["context"] = {"create": False}
        return action

    def action_reset(self):
        """A rejected review returns to draft to be redone on the current trail."""
        self._esign_require_state(("to_review",), self.env._("Reset to Draft"))
        self.write({"state": "draft"})
        return True

    def _esign_on_request_completed(self, request):
        """Signed Reviewed: the review becomes an entry of the trail it reviewed."""
        if request.trigger == "audit_review":
            for review in self.sudo():
                review.write({"state": "reviewed"})
                self.env["esign.audit.entry"]._append(
                    [
                        review._esign_audit_item(
                            "review",
                            [
                                ["reviewed_range", None, [review.first_seq, review.last_seq]],
                                ["reviewed_hash", None, review.head_hash],
                                ["entries", None, review.entry_count],
                                ["integrity", None, review.verdict or ""],
                            ],
                            review.findings,
                        )
                    ]
                )
        return super()._esign_on_request_completed(request)
