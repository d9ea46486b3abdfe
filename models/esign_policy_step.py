"""One step of a signing policy: a meaning, who may sign, how many must, and when it is needed.

A step may carry its own condition (``condition``, a domain on the policy's model): a record
that does not match it does not need the step. That is how "purchase orders over 50,000 also
need the finance manager" is one more step of the purchase policy, not a second policy on the
same trigger. The condition is part of the policy's rules: changing it makes a new policy
version, and signatures keep the version they were made under.
"""

from odoo import api, fields, models, tools
from odoo.exceptions import ValidationError
from odoo.tools import SQL

#: Changing any of these changes what a record needs: the policy gets a new version.
STEP_VERSIONED_FIELDS = {
    "sequence",
    "name",
    "meaning_id",
    "mode",
    "k",
    "signer_type",
    "user_ids",
    "group_id",
    "user_field_id",
    "condition",
}
#: Context key: the step is written through its policy, which counts the version itself.
VIA_POLICY = "esign_step_via_policy"


class EsignPolicyStep(models.Model):
    """One step of a signing policy: a meaning, who may sign, and how many must."""

    _name = "esign.policy.step"
    _esign_audit = "config"
    _description = "Signing Policy Step"
    _order = "policy_id, sequence, id"

    policy_id = fields.Many2one(
        "esign.policy",
        required=True,
        ondelete="cascade",
        index=True,
        help="The signing policy this step belongs to.",
    )
    sequence = fields.Integer(
        string="Stage",
        default=10,
        help="Steps with the same sequence form one stage and are signed in parallel; "
        "stages are signed in order.",
    )
    name = fields.Char(
        required=True,
        translate=True,
        help="What the signers see as the step's title, e.g. 'Finance approval'.",
    )
    meaning_id = fields.Many2one(
        "esign.meaning",
        string="Meaning",
        required=True,
        ondelete="restrict",
        help="What the signature means, printed with it (e.g. Approved, Reviewed).",
    )
    mode = fields.Selection(
        [("all", "All signers"), ("k_of_n", "Any k of n")],
        required=True,
        default="all",
        help="All signers: everyone eligible must sign. Any k of n: the step is done once k "
        "different eligible people have signed.",
    )
    k = fields.Integer(
        string="k", default=1, help="How many signatures an 'any k of n' step needs."
    )
    signer_type = fields.Selection(
        [("users", "Named users"), ("group", "A group"), ("field", "A user field of the record")],
        string="Who Signs",
        required=True,
        default="group",
        help="Named users: the people listed. A group: any active member of a user group "
        "(e.g. the finance managers). A user field of the record: the person the record "
        "names, e.g. its responsible.",
    )
    user_ids = fields.Many2many(
        "res.users",
        string="Signers",
        domain=[("share", "=", False)],
        help="The people who may sign this step, when 'Who Signs' is 'Named users'.",
    )
    group_id = fields.Many2one(
        "res.groups",
        string="Signer Group",
        help="The user group whose active members may sign this step, when 'Who Signs' is "
        "'A group'.",
    )
    user_field_id = fields.Many2one(
        "ir.model.fields",
        string="Signer Field",
        ondelete="cascade",
        domain="[('model_id', '=', parent.model_id), ('relation', '=', 'res.users'), "
        "('ttype', 'in', ('many2one', 'many2many'))]",
        help="The record field that names the signer, e.g. the responsible user.",
    )
    condition = fields.Char(
        string="Needed When",
        default="[]",
        help="Only records matching this condition need this step, e.g. an amount over "
        "50,000. Empty: every record the policy applies to needs it. Other records skip "
        "the step as if it did not exist.",
    )
    model = fields.Char(
        string="Document Model Name",
        compute="_compute_model",
        help="The technical name of the policy's document model, for the condition editor.",
    )

    @api.depends("policy_id.model")
    @api.depends_context("esign_policy_model")
    def _compute_model(self):
        # A step being added in the policy form may not know its policy yet: the form passes
        # the model in the context.
        for step in self:
            step.model = step.policy_id.model or self.env.context.get("esign_policy_model")

    @api.constrains("mode", "k", "signer_type", "user_ids", "group_id", "user_field_id")
    def _check_signers(self):
        for step in self:
            if step.signer_type == "users" and not step.user_ids:
                raise ValidationError(self.env._("Step %(step)s names no signer.", step=step.name))
            if step.signer_type == "group" and not step.group_id:
                raise ValidationError(
                    self.env._("Step %(step)s needs a signer group.", step=step.name)
                )
            if step.signer_type == "field" and not step.user_field_id:
                raise ValidationError(
                    self.env._("Step %(step)s needs a signer field.", step=step.name)
                )
            if step.mode == "k_of_n" and step.k < 1:
                raise ValidationError(
                    self.env._("Step %(step)s needs k of at least 1.", step=step.name)
                )

    @api.constrains("condition", "policy_id")
    def _check_condition(self):
        """Refuse a condition that is not a domain, or that names what the model lacks."""
        Policy = self.env["esign.policy"]
        for step in self:
            try:
                domain = Policy._eval_domain(step.condition)
            except Exception as exc:  # safe_eval raises whatever the text provokes
                raise ValidationError(
                    self.env._(
                        "The condition of step %(step)s is not a valid domain: %(error)s. "
                        'Write it as a list of conditions, e.g. [("amount_total", ">", 50000)], '
                        "or use the condition editor.",
                        step=step.name,
                        error=exc,
                    )
                ) from exc
            model = step.policy_id.model
            if not domain or not model or model not in self.env:
                continue
            try:
                self.env[model].sudo().search_count(domain, limit=1)
            except Exception as exc:
                raise ValidationError(
                    self.env._(
                        "The condition of step %(step)s cannot be checked on %(model)s: "
                        "%(error)s. Pick the field in the condition editor.",
                        step=step.name,
                        model=step.policy_id.model_id.name,
                        error=exc,
                    )
                ) from exc

    def _matching(self, records):
        """The records of ``records`` that need this step (its condition holds)."""
        self.ensure_one()
        domain = self.env["esign.policy"]._eval_domain(self.condition)
        # Bookkeeping, not access: whoever looks, a record needs the same steps.
        return records.sudo().filtered_domain(domain).with_env(records.env) if domain else records

    # ------------------------------------------------------------------ versions
    @api.model_create_multi
    def create(self, vals_list):
        steps = super().create(vals_list)
        steps._bump_policy_version()
        return steps

    def write(self, vals):
        res = super().write(vals)
        if STEP_VERSIONED_FIELDS.intersection(vals):
            self._bump_policy_version()
        else:
            self.env.registry.clear_cache()  # esign.policy._esign_step_rows (due_days...)
        return res

    def unlink(self):
        policies = self.policy_id
        res = super().unlink()
        self._bump_policy_version(policies)
        return res

    def _bump_policy_version(self, policies=None):
        """A step changed on its own (not through its policy's form): the policy's rules
        changed, so its version goes up, as a change made in the form does."""
        # esign.policy._esign_step_rows (the steps' columns and conditions)
        self.env.registry.clear_cache()
        if self.env.context.get(VIA_POLICY) or self.env.context.get("esign_no_version"):
            return
        for policy in (policies if policies is not None else self.policy_id).sudo().exists():
            policy.with_context(esign_version_bump=True).write({"version": policy.version + 1})

    # ------------------------------------------------------------------ signers
    @api.model
    @tools.ormcache("group_id")
    def _group_member_ids(self, group_id):
        """Ids of the active internal users of a group, members of its sub-groups included
        (``groups_id`` holds implied groups too).

        Every signature of a group step asks, and membership changes seldom: the answer is
        cached in the registry. Odoo clears that cache, for every worker, whenever a user's
        groups or active flag or a group's members change (its own ``_has_group`` cache
        relies on the same signal); ``res.users.create`` clears it too (see res_users.py).
        One statement on the membership table when it is not cached.
        """
        self.env["res.users"].flush_model(["active", "share", "groups_id"])
        self.env.cr.execute(
            SQL(
                "SELECT u.id FROM res_users u JOIN res_groups_users_rel m ON m.uid = u.id"
                " WHERE m.gid = %s AND u.active AND u.share IS NOT TRUE ORDER BY u.id",
                group_id,
            )
        )
        return tuple(row[0] for row in self.env.cr.fetchall())

    def _eligible_users(self, record):
        """The active internal users who may sign this step on ``record``."""
        self.ensure_one()
        if self.signer_type == "group":
            return self.env["res.users"].sudo().browse(self._group_member_ids(self.group_id.id))
        if self.signer_type == "users":
            users = self.user_ids
        else:
            # The field's name is configuration any signer may use, not something to guard.
            users = record.sudo()[self.sudo().user_field_id.name]
        return users.filtered(lambda u: u.active and not u.share)
