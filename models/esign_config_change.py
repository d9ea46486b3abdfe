"""A proposed change of the signing configuration, and its approval by electronic signature.

``models/esign_config_capture.py`` captures a user's change of a policy, a step, a meaning or
the company's PKI/TSA settings as one of these records instead of applying it. The shipped
policy ``policy_config_change_approve`` gates it: a second E-Signature Administrator signs it
with the meaning Approved (password re-authentication through the sign wizard; the proposer
may not sign his own change). The last signature applies the change, under the approver's
user id; a rejection (with its reason) discards it. A change whose target moved on since it
was proposed is refused at approval.
"""

import json
import logging

from markupsafe import Markup

from odoo import Command, api, fields, models
from odoo.exceptions import UserError

from ..services import config_change as cc

_logger = logging.getLogger(__name__)

#: The models whose changes are held, with the label of what a change is about.
CONTROLLED_MODELS = ("esign.policy", "esign.policy.step", "esign.meaning", "res.company")


class EsignConfigChange(models.Model):
    _name = "esign.config.change"
    _description = "Configuration Change"
    _inherit = [
        "esign.signable.mixin",
        "mail.thread",
        "mail.activity.mixin",
        "esign.quality.record",
    ]
    _order = "id desc"
    _quality_title_field = "summary"
    # The proposal and its outcome are configuration history: audited as "config".
    _esign_audit = "config"
    # Administrators follow and discuss a change without any right to write it.
    _mail_post_access = "read"

    _esign_signed_fields = [
        "target_model",
        "target_id",
        "operation",
        "values_json",
        "old_json",
        "fingerprint",
    ]
    _esign_triggers = {"config_approve": "Configuration Change: Approve"}
    _esign_reject_states = {"config_approve": "rejected"}
    _esign_author_fields = ["proposer_id", "create_uid"]

    name = fields.Char(help="Given from the CFG/YYYY/NNNN sequence when the change is proposed.")
    summary = fields.Char(readonly=True, help="What the change is about.")
    target_model = fields.Char(string="Configuration Model", required=True, readonly=True)
    target_id = fields.Many2oneReference(
        string="Configuration Record", model_field="target_model", readonly=True
    )
    target_name = fields.Char(string="Configuration Item", readonly=True)
    policy_id = fields.Many2one(
        "esign.policy",
        string="Signing Policy",
        readonly=True,
        index=True,
        ondelete="set null",
        help="The signing policy that the change concerns (its own fields or its steps).",
    )
    operation = fields.Selection(
        [("create", "Create"), ("write", "Change"), ("unlink", "Delete")],
        required=True,
        readonly=True,
    )
    values_json = fields.Text(
        string="New Values (JSON)",
        readonly=True,
        help="The values as proposed; applied exactly so once approved.",
    )
    old_json = fields.Text(
        string="Old Values (JSON)",
        readonly=True,
        help="The values in force when the change was proposed.",
    )
    fingerprint = fields.Char(
        readonly=True,
        help="SHA-256 of the configuration item when the change was proposed. It must be the "
        "same at approval, or the change is refused.",
    )
    diff_html = fields.Html(
        string="Old → New", compute="_compute_diff_html", sanitize=False, readonly=True
    )
    proposer_id = fields.Many2one(
        "res.users",
        string="Proposed By",
        readonly=True,
        default=lambda self: self.env.user,
        help="The administrator who made the change. He may not approve it himself.",
    )
    approver_id = fields.Many2one("res.users", string="Approved By", readonly=True)
    created_id = fields.Many2oneReference(
        string="Created Record",
        model_field="target_model",
        readonly=True,
        help="The record that an approved creation made.",
    )
    applied_at = fields.Datetime(string="Applied On", readonly=True)
    reject_reason = fields.Text(readonly=True)
    state = fields.Selection(
        [("pending", "Pending Approval"), ("applied", "Applied"), ("rejected", "Rejected")],
        default="pending",
        required=True,
        readonly=True,
        copy=False,
        tracking=True,
        index=True,
    )

    # ------------------------------------------------------------------ proposing
    @api.model
    def _esign_anchor(self, record, values):
        """The record whose fingerprint guards the change: a step's policy, else itself."""
        if record._name == "esign.policy.step":
            policy = record.policy_id or self.env["esign.policy"].browse(values.get("policy_id"))
            return policy.sudo().exists()
        return record.sudo()

    @api.model
    def _esign_fingerprint(self, anchor):
        if not anchor:
            return False
        parts = [anchor._esign_field_values(sorted(anchor._esign_audit_names()), by_id=True)]
        if anchor._name == "esign.policy":
            steps = anchor.with_context(active_test=False).step_ids.sorted("id")
            names = sorted(steps._esign_audit_names())
            parts += [step._esign_field_values(names, by_id=True) for step in steps]
        return cc.fingerprint(parts)

    @api.model
    def _esign_propose(self, record, operation, values):
        """Keep ``operation`` with ``values`` on ``record`` as a pending change.

        ``record`` is empty for a create. The change is made by the proposer (its author for
        segregation of duties) with sudo, as administrators have no right to write changes.
        """
        record = record.sudo()
        anchor = self._esign_anchor(record, values)
        old = {}
        if record and operation == "write":
            names = [n for n in values if record._fields[n].store]
            old = record._esign_field_values(names)
            lines = {}
            for name in names:
                if record._fields[name].type in ("one2many", "many2many"):
                    comodel = record[name].with_context(active_test=False)
                    audit = sorted(comodel._esign_audit_names())
                    lines[name] = {
                        str(line.id): line._esign_field_values(audit) for line in comodel
                    }
            if lines:
                old["__lines__"] = lines
        elif record and operation != "create":  # a new record made archived has no "old"
            old = record._esign_field_values(sorted(record._esign_audit_names()))
        policy = anchor if anchor._name == "esign.policy" else self.env["esign.policy"]
        model_label = self.env["ir.model"]._get(record._name).name
        item = record.display_name if record else values.get("name") or ""
        company = record.company_id if "company_id" in record._fields and record else None
        if record._name == "res.company":
            company = record
        change = self.sudo().create(
            {
                "summary": f"{model_label}: {item}" if item else model_label,
                "target_model": record._name,
                "target_id": record.id or False,
                "target_name": item,
                "policy_id": policy.id or False,
                "operation": operation,
                "values_json": cc.dump_values(values),
                "old_json": cc.dump_values(old),
                "fingerprint": self._esign_fingerprint(anchor),
                "proposer_id": self.env.uid,
                "company_id": (company or self.env.company).id,
            }
        )
        return change.with_env(self.env)

    def _esign_notify_proposed(self):
        """Tell the proposer, at once and in his language, that nothing changed yet."""
        if not self:
            return
        message = self.env._(
            "Your change is not applied yet: %(changes)s awaits the approval of a second "
            "E-Signature Administrator (Configuration > Configuration Changes). Until then "
            "the configuration in force stays as it was.",
            changes=", ".join(self.sudo().mapped("name")),
        )
        self.env.user._bus_send(
            "simple_notification",
            {
                "type": "warning",
                "sticky": True,
                "title": self.env._("Configuration change awaits approval"),
                "message": message,
            },
        )
        for change in self.sudo():
            change.message_post(body=message, subtype_xmlid="mail.mt_note")

    # ------------------------------------------------------------------ the target
    def _esign_target(self):
        self.ensure_one()
        if self.target_model not in CONTROLLED_MODELS or not self.target_id:
            return None
        return self.env[self.target_model].sudo().browse(self.target_id).exists()

    def _esign_is_stale(self):
        """True when the configuration item moved on since the change was proposed."""
        self.ensure_one()
        if self.operation == "create" and self.target_model != "esign.policy.step":
            return False
        target = self._esign_target()
        if self.operation != "create" and not target:
            return True
        values = cc.load_values(self.values_json)
        anchor = self._esign_anchor(target or self.env[self.target_model], values)
        return self._esign_fingerprint(anchor) != (self.fingerprint or False)

    def _esign_check_applicable(self):
        for change in self:
            if change.state != "pending":
                raise UserError(
                    self.env._("%(change)s is no longer pending.", change=change.display_name)
                )
            if change._esign_is_stale():
                raise UserError(
                    self.env._(
                        "%(change)s cannot be approved: the configuration changed since this "
                        "proposal. Reject it and propose the change again on the current "
                        "configuration.",
                        change=change.display_name,
                    )
                )

    # ------------------------------------------------------------------ approval
    def action_esign_sign(self):
        """Refuse at once, before any password is asked, a change that can no longer apply."""
        self._esign_one()
        self._esign_check_applicable()
        return super().action_esign_sign()

    def _esign_on_request_completed(self, request):
        if request.trigger == "config_approve":
            approver = request.signature_ids.sorted("id")[-1:].user_id
            for change in self:
                change._esign_apply(approver)
        return super()._esign_on_request_completed(request)

    def _esign_apply(self, approver):
        """Apply the approved change through the target's own ORM method (policy versions,
        requests opened by a wider scope, the audit trail), as the approver."""
        self.ensure_one()
        self._esign_check_applicable()
        values = cc.load_values(self.values_json)
        reason = self.env._(
            "Configuration change %(change)s proposed by %(proposer)s, approved by %(approver)s.",
            change=self.name,
            proposer=self.proposer_id.name,
            approver=approver.name,
        )
        # sudo() keeps the approver's user id: the audit entries and tracking name him. The
        # superuser environment is what lets the held write through (see the capture).
        env = self.env(user=approver.id or self.env.uid, su=True)
        ctx = {"esign_change_reason": reason}
        # esign_no_sync (set while the signature completes) must not reach the target: a
        # policy's wider scope opens the requests of the records it now gates.
        Target = env[self.target_model].with_context(esign_no_sync=False, **ctx)
        vals = {
            "state": "applied",
            "approver_id": approver.id,
            "applied_at": fields.Datetime.now(),
        }
        if self.operation == "create" and self.target_id:
            # Made archived at the proposal (a policy or meaning): the approval puts it in force.
            created = Target.browse(self.target_id).exists()
            if not created:
                raise UserError(
                    self.env._(
                        "%(change)s cannot be approved: the proposed record no longer exists.",
                        change=self.display_name,
                    )
                )
            if values.get("active", True):
                created.write({"active": True})
            vals["created_id"] = created.id
        elif self.operation == "create":
            vals["created_id"] = Target.create(values).id
        elif self.operation == "write":
            Target.browse(self.target_id).write(values)
        else:
            Target.browse(self.target_id).unlink()
        self.sudo().write(vals)
        self.sudo().message_post(body=reason, subtype_xmlid="mail.mt_note")

    def _esign_on_request_rejected(self, request):
        result = super()._esign_on_request_rejected(request)
        self.sudo().write({"reject_reason": request.reject_reason})
        return result

    def write(self, vals):
        """What was proposed is evidence: only the add-on's own code (sudo) moves a change
        on; an administrator's write over RPC is refused."""
        if not self.env.su and set(vals) - {"esign_change_reason"}:
            raise UserError(
                self.env._(
                    "A configuration change cannot be edited. Reject it and propose a new one."
                )
            )
        return super().write(vals)

    @api.ondelete(at_uninstall=False)
    def _unlink_except_kept(self):
        raise UserError(self.env._("Configuration changes are kept as evidence."))

    # ------------------------------------------------------------------ readable difference
    @api.depends("values_json", "old_json", "operation", "target_model")
    @api.depends_context("lang")
    def _compute_diff_html(self):
        for change in self:
            change.diff_html = change._esign_diff_table()

    def _esign_diff_table(self):
        self.ensure_one()
        if self.target_model not in CONTROLLED_MODELS:
            return False
        rows = self.env["esign.config.diff"]._rows(self)
        head = Markup("<tr><th>%s</th><th>%s</th><th>%s</th></tr>") % (
            self.env._("Setting"),
            self.env._("Old"),
            self.env._("New"),
        )
        body = Markup("").join(
            Markup("<tr><td>%s</td><td>%s</td><td><strong>%s</strong></td></tr>") % row
            for row in rows
        )
        return Markup(
            "<table class='table table-sm o_esign_config_diff'><thead>%s</thead>"
            "<tbody>%s</tbody></table>"
        ) % (head, body)

    def _esign_old_values(self):
        return json.loads(self.old_json or "{}")

    # ------------------------------------------------------------------ demo
    @api.model
    def _esign_demo_changes(self):
        """Demo data: one policy change approved by the second administrator, one pending."""
        admin = self.env.ref("base.user_admin")
        approver = self.env.ref("meddev_esign.demo_user_it_admin")
        purchase = self.env.ref("meddev_esign.demo_policy_po_approval")
        purchase.with_user(admin).write(
            {"prerequisite_message": "Attach the supplier's quotation before the approval."}
        )
        change = self.search([("policy_id", "=", purchase.id), ("state", "=", "pending")])
        Wizard = self.env["esign.sign.wizard"].with_user(approver)
        try:
            with self.env.cr.savepoint():
                action = Wizard._action_open(change.with_user(approver))
                wizard = Wizard.browse(action["res_id"])
                wizard.write({"login": approver.login, "reason": "Four-eyes review done."})
                wizard.action_sign(password="esign.admin")
        except UserError as exc:  # e.g. a demo database whose PKI needs certificates first
            _logger.warning("Demo configuration change left pending: %s", exc)
        review = self.env.ref("meddev_esign.demo_policy_mo_review")
        step = review.step_ids.filtered(lambda s: s.sequence == 20)[:1]
        review.with_user(admin).write(
            {
                "reminder_days": 1,
                "step_ids": [Command.update(step.id, {"name": "QA approval of the batch record"})],
            }
        )
