"""What the policy form tells the administrator while they edit the signing matrix.

A preview of the records the policy covers now, and non-blocking warnings: another active
policy already gating the same action for the same companies, or a step that nobody can sign
(an empty group, inactive users). They are computed on the unsaved form, so the administrator
sees them before saving.
"""

from odoo import api, fields, models


class EsignPolicyAssist(models.Model):
    _inherit = "esign.policy"

    preview_count = fields.Integer(
        string="Records Covered Now",
        compute="_compute_preview_count",
        help="How many existing records this policy, as it stands in the form, would ask "
        "signatures of now: those matching 'Applies When', the prerequisites, the company "
        "and, when every step has a condition, at least one step.",
    )
    matrix_warning = fields.Text(
        string="Warnings",
        compute="_compute_matrix_warning",
        help="Problems found in the policy as it stands in the form. Saving is still "
        "possible unless a rule refuses it.",
    )

    def _preview_domain(self):
        """The domain of the records covered now, or None when it cannot be computed yet
        (no model, a domain being typed)."""
        self.ensure_one()
        if not self.model or self.model not in self.env:
            return None
        try:
            domain = self._cover_domain()
            self.env[self.model].sudo().search_count(domain, limit=1)
        except Exception:  # a half-typed domain: the constraints say what is wrong on save
            return None
        return domain

    @api.depends("model", "domain", "prerequisite_domain", "company_id", "step_ids.condition")
    def _compute_preview_count(self):
        for policy in self:
            domain = policy._preview_domain()
            policy.preview_count = (
                self.env[policy.model].sudo().search_count(domain) if domain is not None else 0
            )

    def action_preview_records(self):
        """Open the records the policy covers now."""
        self.ensure_one()
        domain = self._preview_domain() or [("id", "=", False)]
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Records covered by %(policy)s", policy=self.name),
            "res_model": self.model,
            "view_mode": "list,form",
            "views": [(False, "list"), (False, "form")],
            "domain": domain,
            "target": "current",
        }

    @api.depends(
        "active",
        "model",
        "trigger",
        "company_id",
        "step_ids.signer_type",
        "step_ids.group_id",
        "step_ids.user_ids",
        "step_ids.name",
    )
    def _compute_matrix_warning(self):
        for policy in self:
            warnings = policy._overlap_warnings() + policy._signer_warnings()
            policy.matrix_warning = "\n".join(warnings) or False

    def _overlapping(self):
        """Other active policies gating the same action for at least one same company."""
        self.ensure_one()
        if not (self.active and self.model and self.trigger):
            return self.browse()
        domain = [
            ("id", "!=", self._origin.id or 0),
            ("model", "=", self.model),
            ("trigger", "=", self.trigger),
        ]
        if self.company_id:  # a policy for every company overlaps them all
            domain.append(("company_id", "in", [self.company_id.id, False]))
        return self.sudo().search(domain)

    def _overlap_warnings(self):
        return [
            self.env._(
                "%(other)s already gates the same action for the same companies: both would "
                "ask signatures. To ask more of some records only, add a step with a 'Needed "
                "When' condition to %(other)s instead.",
                other=other.display_name,
            )
            for other in self._overlapping()
        ]

    def _signer_warnings(self):
        warnings = []
        for step in self.step_ids:
            if step.signer_type == "group" and step.group_id:
                if not step._eligible_users(self.env[self.model or "res.users"]):
                    warnings.append(
                        self.env._(
                            "Nobody can sign step %(step)s: the group %(group)s has no active "
                            "internal user.",
                            step=step.name,
                            group=step.group_id.display_name,
                        )
                    )
            elif step.signer_type == "users":
                # Archived users drop out of user_ids as read: look at every one named.
                named = step.with_context(active_test=False).user_ids
                if named and not named.filtered(lambda u: u.active and not u.share):
                    warnings.append(
                        self.env._(
                            "Nobody can sign step %(step)s: its signers are all archived or "
                            "portal users.",
                            step=step.name,
                        )
                    )
        return warnings
