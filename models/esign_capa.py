from odoo import fields, models
from odoo.exceptions import UserError

#: The plan-level content that QA's approval covers. The closure (effectiveness verified)
#: covers it too, plus the effectiveness result, which is written after the plan approval:
#: changing the result voids the closure signature, never the plan approval.
PLAN_FIELDS = [
    "title",
    "source",
    "source_reference",
    "description",
    "root_cause",
    "action_plan",
    "effectiveness_criteria",
]


class EsignCapa(models.Model):
    """Corrective and preventive action (S4): a closed loop from a quality signal to a
    verified-effective fix.

    QA signs **Approved** on the action plan (``capa_plan``); the effectiveness check is
    signed **Verified** (``capa_close``). Closing needs both. A rejected plan returns to
    investigation; the rejected request and its signatures stay as history.
    """

    _name = "esign.capa"
    _description = "CAPA"
    _inherit = [
        "esign.signable.mixin",
        "mail.thread",
        "mail.activity.mixin",
        "esign.quality.record",
    ]
    _order = "id desc"

    _esign_signed_fields = PLAN_FIELDS
    _esign_signed_fields_by_trigger = {"capa_close": [*PLAN_FIELDS, "effectiveness_result"]}
    # Evidence is attached during implementation, after the plan is signed.
    _esign_sign_attachments = False
    _esign_triggers = {
        "capa_plan": "CAPA: Approve Action Plan",
        "capa_close": "CAPA: Close (Effectiveness Verified)",
    }
    _esign_author_fields = ["create_uid", "owner_id"]
    # A rejected plan goes back to investigation, a rejected effectiveness check to
    # implementation (the policy may name another state).
    _esign_reject_states = {"capa_plan": "investigation", "capa_close": "implementation"}

    name = fields.Char(help="Given from the CAPA/YYYY/NNNN sequence when the CAPA is saved.")
    company_id = fields.Many2one(help="The company that owns the CAPA.")
    title = fields.Char(required=True, tracking=True, help="One line naming the problem.")
    source = fields.Selection(
        [
            ("complaint", "Customer Complaint"),
            ("audit", "Audit Finding"),
            ("deviation", "Deviation"),
            ("nonconformance", "Nonconformance"),
            ("other", "Other"),
        ],
        required=True,
        default="complaint",
        tracking=True,
        help="The quality signal that started the CAPA.",
    )
    source_reference = fields.Char(
        help="Reference of the source: complaint number, audit report, deviation reference."
    )
    description = fields.Text(help="The problem as observed: what, where, when, how many.")
    root_cause = fields.Text(help="The root cause found by the investigation, and how.")
    action_plan = fields.Html(
        help="Corrective and preventive actions, owners and dates. QA signs it before it is "
        "carried out."
    )
    effectiveness_criteria = fields.Text(
        help="How effectiveness will be judged, decided with the plan (e.g. no recurrence in "
        "three months)."
    )
    effectiveness_result = fields.Text(
        help="The evidence that the actions worked, written during the effectiveness check. "
        "The effectiveness signature covers it: a later change needs a reason and a new "
        "signature."
    )
    owner_id = fields.Many2one(
        "res.users",
        string="Owner",
        required=True,
        default=lambda self: self.env.user,
        tracking=True,
        index=True,
        help="Who drives the CAPA. The owner may not approve its plan nor verify its "
        "effectiveness (segregation of duties).",
    )
    due_date = fields.Date(tracking=True, help="When the CAPA should be closed.")
    state = fields.Selection(
        [
            ("initiation", "Initiation"),
            ("investigation", "Investigation"),
            ("plan_approval", "Plan Approval"),
            ("implementation", "Implementation"),
            ("effectiveness", "Effectiveness Check"),
            ("closed", "Closed"),
            ("cancelled", "Cancelled"),
        ],
        default="initiation",
        required=True,
        readonly=True,
        copy=False,
        tracking=True,
        index=True,
        help="A rejected plan returns to Investigation; closing needs the signed plan and the "
        "signed effectiveness check.",
    )

    def write(self, vals):
        """The effectiveness result is written during the effectiveness check only."""
        if "effectiveness_result" in vals:
            for capa in self:
                if capa.effectiveness_result == vals["effectiveness_result"]:
                    continue
                if capa.state != "effectiveness":
                    raise UserError(
                        self.env._(
                            "The effectiveness result of %(record)s can only be entered during "
                            "the effectiveness check.",
                            record=capa.display_name,
                        )
                    )
        return super().write(vals)

    # ------------------------------------------------------------------ transitions
    def action_start_investigation(self):
        """Initiation -> Investigation."""
        self._esign_require_state(("initiation",), self.env._("Investigate"))
        self.write({"state": "investigation"})
        return True

    def action_submit_plan(self):
        """Investigation -> Plan Approval, once the root cause and the plan are written."""
        self._esign_require_state(("investigation",), self.env._("Submit Plan"))
        for capa in self:
            if not (capa.root_cause and capa.action_plan and capa.effectiveness_criteria):
                raise UserError(
                    self.env._(
                        "%(record)s needs a root cause, an action plan and effectiveness "
                        "criteria before its plan is approved.",
                        record=capa.display_name,
                    )
                )
        self.write({"state": "plan_approval"})
        self._esign_open_request("capa_plan")
        return True

    def action_approve_plan(self):
        """Plan Approval -> Implementation; needs QA's Approved signature (``capa_plan``)."""
        self._esign_require_state(("plan_approval",), self.env._("Approve Plan"))
        self._esign_check_gate("capa_plan")
        self.write({"state": "implementation"})
        return True

    def action_to_effectiveness(self):
        """Implementation -> Effectiveness Check: the actions are done."""
        self._esign_require_state(("implementation",), self.env._("Check Effectiveness"))
        self.write({"state": "effectiveness"})
        self._esign_open_request("capa_close")
        return True

    def action_close(self):
        """Effectiveness Check -> Closed. Closure needs every step: the signed plan (still
        covering the plan as it stands) and the signed effectiveness check."""
        self._esign_require_state(("effectiveness",), self.env._("Close"))
        for capa in self:
            if not capa.effectiveness_result:
                raise UserError(
                    self.env._(
                        "%(record)s needs its effectiveness result before it is closed.",
                        record=capa.display_name,
                    )
                )
            plan = capa.sudo().esign_request_ids.filtered(
                lambda r: r.trigger == "capa_plan" and r.state == "completed"
            )
            if capa._esign_policies("capa_plan") and not plan:
                raise UserError(
                    self.env._(
                        "%(record)s cannot close: its action plan has no completed approval.",
                        record=capa.display_name,
                    )
                )
        self._esign_check_gate("capa_plan")
        self._esign_check_gate("capa_close")
        self.write({"state": "closed"})
        return True

    def action_cancel(self):
        """Cancel a CAPA opened in error (before its plan is approved)."""
        self._esign_require_state(
            ("initiation", "investigation", "plan_approval"), self.env._("Cancel")
        )
        self.write({"state": "cancelled"})
        return True
