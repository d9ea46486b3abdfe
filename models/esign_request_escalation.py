"""Due dates and escalation of signing steps.

A policy step may say how many working days its signers have (``due_days``, counted on the
company's working-time calendar, public holidays included), how often to remind them
(``remind_every_days``) and whom to tell when the time is up (``escalate_user_id`` and/or
``escalate_group_id``). A step's clock starts when it becomes the one to sign: when the request
opened for the first stage, else at the last signature of the stage before.

The daily reminder job drives it: a step past its due time is escalated once, with a to-do and
a message to the escalation target, recorded in the audit trail; it shows as overdue in the
request's steps, in the request list and in the "Overdue" filter.
"""

from odoo import api, fields, models
from odoo.exceptions import ValidationError
from odoo.osv.expression import AND as expression_and

from .esign_mail_queue import queued


class EsignPolicyStepDue(models.Model):
    _inherit = "esign.policy.step"

    due_days = fields.Integer(
        string="Due Within (working days)",
        default=0,
        help="Working days the signers have once the step is theirs to sign, on the company's "
        "working-time calendar (public holidays excluded). 0: no due date.",
    )
    remind_every_days = fields.Integer(
        string="Remind Every (days)",
        default=0,
        help="How often the pending signers of this step are reminded. 0: the policy's "
        "'Remind After (days)'.",
    )
    escalate_user_id = fields.Many2one(
        "res.users",
        string="Escalate To",
        domain=[("share", "=", False)],
        help="Who is told, once, when the step is past its due time.",
    )
    escalate_group_id = fields.Many2one(
        "res.groups",
        string="Escalate To Group",
        help="A group whose members are told, once, when the step is past its due time.",
    )

    @api.constrains("due_days", "remind_every_days", "escalate_user_id", "escalate_group_id")
    def _check_due(self):
        for step in self:
            if step.due_days < 0 or step.remind_every_days < 0:
                raise ValidationError(
                    self.env._("Step %(step)s: days cannot be negative.", step=step.name)
                )
            if (step.escalate_user_id or step.escalate_group_id) and not step.due_days:
                raise ValidationError(
                    self.env._(
                        "Step %(step)s escalates but has no due time: set 'Due Within'.",
                        step=step.name,
                    )
                )


class EsignRequestLineDue(models.Model):
    _inherit = "esign.request.line"

    due_at = fields.Datetime(
        string="Due",
        compute="_compute_due_at",
        store=True,
        help="When this step's signatures are due: its working days counted from the moment "
        "it became the step to sign. Set when the step becomes the one to sign, so that lists "
        "and the 'Overdue' filter read it from the database.",
    )
    overdue = fields.Boolean(
        compute="_compute_overdue",
        search="_search_overdue",
        help="The step is still to sign and its due time has passed.",
    )
    escalated_at = fields.Datetime(
        readonly=True, help="When the overdue step was escalated (once)."
    )

    def _started_at(self):
        """When this line became the one to sign: the request's opening for the first stage,
        else the last valid signature of the stages before it."""
        self.ensure_one()
        request = self.request_id
        earlier = request.line_ids.filtered(lambda line: line.sequence < self.sequence)
        signatures = request.signature_ids.filtered(
            lambda sig: sig.step_id in earlier.step_id and sig.status == "valid"
        )
        return max(signatures.mapped("signed_at"), default=request.create_date)

    @api.depends("state", "step_id.due_days")
    def _compute_due_at(self):
        """Stored when the line becomes current (its state changes) or its step's due time
        changes; a later change of the working-time calendar applies to steps that become
        current after it."""
        for line in self:
            days = line.step_id.due_days
            if not days or line.state != "current":
                line.due_at = False
                continue
            company = line.request_id.company_id or self.env.company
            calendar = company.resource_calendar_id
            start = line._started_at()
            due = calendar.plan_days(days, start, compute_leaves=True) if calendar else False
            line.due_at = due or False

    @api.depends("state", "due_at")
    def _compute_overdue(self):
        now = fields.Datetime.now()
        for line in self:
            line.overdue = bool(line.state == "current" and line.due_at and line.due_at < now)

    def _overdue_domain(self):
        return [
            ("state", "=", "current"),
            ("due_at", "!=", False),
            ("due_at", "<", fields.Datetime.now()),
        ]

    def _search_overdue(self, operator, value):
        if operator not in ("=", "!=") or not isinstance(value, bool):
            raise ValidationError(self.env._("Search 'Overdue' with = True or = False."))
        wanted = (operator == "=") == value
        if wanted:
            return self._overdue_domain()
        return ["!", *expression_and([self._overdue_domain()])]


class EsignRequestDue(models.Model):
    _inherit = "esign.request"

    overdue = fields.Boolean(
        compute="_compute_overdue",
        search="_search_overdue",
        help="A step still to sign is past its due time.",
    )

    @api.depends("line_ids.overdue")
    def _compute_overdue(self):
        for request in self:
            request.overdue = any(request.line_ids.mapped("overdue"))

    def _search_overdue(self, operator, value):
        if operator not in ("=", "!=") or not isinstance(value, bool):
            raise ValidationError(self.env._("Search 'Overdue' with = True or = False."))
        wanted = (operator == "=") == value
        overdue = [("line_ids", "any", self.env["esign.request.line"]._overdue_domain())]
        return overdue if wanted else ["!", *overdue]

    def _esign_reminder_days(self):
        """Days between reminders: the shortest cadence of the steps now to sign, else the
        policy's."""
        self.ensure_one()
        cadences = [
            line.step_id.remind_every_days
            for line in self.line_ids
            if line.state == "current" and line.step_id.remind_every_days
        ]
        return min(cadences) if cadences else self.policy_id.reminder_days

    @api.model
    def _escalate_overdue(self):
        """Escalate, once, every step past its due time, to its escalation target."""
        lines = (
            self.env["esign.request.line"]
            .sudo()
            .search([("overdue", "=", True), ("escalated_at", "=", False)])
        )
        now = fields.Datetime.now()
        for line in lines:
            step = line.step_id
            targets = step.escalate_user_id | step.escalate_group_id.users
            targets = targets.filtered(lambda user: user.active and not user.share)
            line.escalated_at = now
            request = line.request_id
            record = request._record()
            if not record.exists():
                continue
            if targets and hasattr(record, "activity_schedule"):
                target = queued(record.sudo())
                for user in targets:
                    lang_env = self.with_context(lang=user.lang or self.env.lang).env
                    target.activity_schedule(
                        act_type_xmlid="mail.mail_activity_data_todo",
                        summary=lang_env._("Overdue signature: %(step)s", step=step.name),
                        note=lang_env._(
                            "The step %(step)s of %(policy)s on %(record)s was due on "
                            "%(due)s and is still waiting for %(signers)s.",
                            step=step.name,
                            policy=request.policy_id.name,
                            record=record.display_name,
                            due=fields.Datetime.to_string(line.due_at),
                            signers=", ".join(request.next_signer_ids.mapped("name")) or "-",
                        ),
                        user_id=user.id,
                    )
            message = self.env._(
                "Escalated: the step %(step)s was due on %(due)s (UTC). Told: %(targets)s.",
                step=step.name,
                due=fields.Datetime.to_string(line.due_at),
                targets=", ".join(targets.mapped("name")) or self.env._("nobody (no target)"),
            )
            record._esign_post(message, partner_ids=targets.partner_id.ids)
            self.env["esign.audit.entry"]._append(
                [
                    record._esign_audit_item(
                        "escalation",
                        [
                            ["escalated_step", None, step.name],
                            ["due_at", None, fields.Datetime.to_string(line.due_at)],
                            ["escalated_to", None, targets.mapped("login")],
                        ],
                        message,
                    )
                ]
            )
