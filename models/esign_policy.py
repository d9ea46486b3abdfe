import functools

from odoo import api, fields, models, tools
from odoo.exceptions import ValidationError
from odoo.tools import SQL
from odoo.tools.safe_eval import safe_eval

from ..services import policy as policy_engine

# Changing any of these makes a new policy version; signatures keep the version they used.
VERSIONED_FIELDS = {
    "model_id",
    "trigger",
    "domain",
    "prerequisite_domain",
    "author_may_not_sign",
    "one_step_per_person",
    "step_ids",
}
#: Changes after which records may be newly gated: their requests open at once.
SCOPE_FIELDS = {"active", "company_id", "model_id", "domain", "prerequisite_domain", "step_ids"}


@functools.lru_cache(maxsize=512)
def _parsed_domain(text):
    """Evaluate a policy's domain text once per distinct text: every signature checks the
    prerequisites, and parsing the text costs more than the check. The evaluation context is
    empty, so the same text always gives the same domain; a tuple keeps the cached one intact.
    """
    return tuple(safe_eval(text, {"context": {}}))


class EsignPolicy(models.Model):
    """One line of the signing matrix: which signatures a business action needs.

    There is one active policy per (model, trigger, company). The trigger is a gated business
    action that the host model declares in ``_esign_triggers`` (for example ``done`` on a
    manufacturing order). Steps with the same sequence form a stage signed in parallel; stages
    are signed in order.
    """

    _name = "esign.policy"
    _esign_audit = "config"
    _description = "Signing Policy"
    _inherit = ["mail.thread"]
    _order = "model, trigger, id"

    name = fields.Char(required=True, translate=True, tracking=True)
    active = fields.Boolean(default=True, tracking=True)
    company_id = fields.Many2one(
        "res.company",
        default=lambda self: self.env.company,
        help="Leave empty to apply the policy to every company.",
    )
    model_id = fields.Many2one(
        "ir.model",
        string="Document Model",
        required=True,
        ondelete="cascade",
        domain=lambda self: [("model", "in", self._esign_signable_models())],
        tracking=True,
        help="The kind of record signed under this policy.",
    )
    model = fields.Char(related="model_id.model", store=True, index=True)
    trigger = fields.Selection(
        selection="_selection_trigger",
        required=True,
        tracking=True,
        help="The business action that cannot happen until this policy's signatures exist.",
    )
    domain = fields.Char(
        string="Applies When",
        default="[]",
        tracking=True,
        help="Only records matching this domain need these signatures, e.g. an amount above "
        "a threshold or device class III. Empty means every record.",
    )
    prerequisite_domain = fields.Char(
        string="Prerequisites",
        default="[]",
        tracking=True,
        help="What must hold before anyone may sign, e.g. 'all quality checks passed' or "
        "'a risk assessment is attached'.",
    )
    prerequisite_message = fields.Char(
        translate=True,
        help="Shown to a signer when the prerequisites do not hold yet.",
    )
    step_ids = fields.One2many("esign.policy.step", "policy_id", string="Steps", copy=True)
    author_may_not_sign = fields.Boolean(
        string="Author May Not Sign",
        default=True,
        tracking=True,
        help="Segregation of duties: the record's author or responsible person may not sign "
        "any step.",
    )
    one_step_per_person = fields.Boolean(
        string="One Step per Person",
        default=True,
        tracking=True,
        help="Segregation of duties: one person may not sign two steps of the same request.",
    )
    reminder_days = fields.Integer(
        string="Remind After (days)",
        default=2,
        help="The daily reminder mails pending signers once a request has waited this long. "
        "0 disables reminders.",
    )
    reject_state = fields.Selection(
        selection="_selection_reject_state",
        string="On Rejection, Return To",
        tracking=True,
        help="The state the record goes back to when a signer rejects this policy's request. "
        "Empty: the default that the document model declares for this action (for example a "
        "rejected CAPA plan returns to Investigation), or no change of state.",
    )
    version = fields.Integer(
        default=1,
        readonly=True,
        copy=False,
        help="Goes up whenever the rules change. Each signature records the version it was "
        "made under.",
    )
    request_count = fields.Integer(compute="_compute_request_count")

    _sql_constraints = [
        (
            "reminder_days_positive",
            "CHECK(reminder_days >= 0)",
            "Reminder days cannot be negative.",
        ),
    ]

    @api.model
    def _selection_trigger(self):
        """Every trigger that a signable model declares, labelled 'Model: Action'."""
        triggers = {}
        for model_name in self._esign_signable_models():
            triggers.update(self.env[model_name]._esign_triggers)
        return list(triggers.items())

    @api.model
    def _esign_signable_models(self):
        """Names of the concrete models that inherit esign.signable.mixin with triggers."""
        return sorted(
            name
            for name, cls in self.env.registry.items()
            if not cls._abstract and not cls._transient and getattr(cls, "_esign_triggers", None)
        )

    @api.model
    def _selection_reject_state(self):
        """Every state of every signable model, as 'model:value', labelled 'Model: State'."""
        options = []
        for model_name in self._esign_signable_models():
            model = self.env[model_name]
            field = model._fields.get(model._esign_state_field)
            if field is None or field.type != "selection":
                continue
            label = self.env["ir.model"]._get(model_name).name or model._description
            options.extend(
                (f"{model_name}:{value}", f"{label}: {name}")
                for value, name in field._description_selection(self.env)
            )
        return options

    @api.constrains("reject_state", "model_id")
    def _check_reject_state(self):
        for policy in self.filtered("reject_state"):
            if policy.reject_state.partition(":")[0] != policy.model:
                raise ValidationError(
                    self.env._(
                        "The state a rejected %(policy)s returns to must be a state of %(model)s.",
                        policy=policy.name,
                        model=policy.model_id.name,
                    )
                )

    def _reject_target(self, record):
        """(field, value) that ``record`` returns to when this policy's request is rejected.

        The policy's own choice, else the model's default for the trigger
        (``_esign_reject_states``); ``None`` when the record keeps its state.
        """
        self.ensure_one()
        if self.reject_state:
            value = self.reject_state.partition(":")[2]
        else:
            value = record._esign_reject_states.get(self.trigger)
        return (record._esign_state_field, value) if value else None

    @api.depends("model")
    def _compute_request_count(self):
        counts = dict(
            self.env["esign.request"]._read_group(
                [("policy_id", "in", self.ids)], ["policy_id"], ["__count"]
            )
        )
        for policy in self:
            policy.request_count = counts.get(policy, 0)

    @api.constrains("model_id", "trigger", "company_id", "active")
    def _check_unique_trigger(self):
        for policy in self.filtered("active"):
            clash = self.search_count(
                [
                    ("id", "!=", policy.id),
                    ("model_id", "=", policy.model_id.id),
                    ("trigger", "=", policy.trigger),
                    ("company_id", "in", [policy.company_id.id, False]),
                ]
            )
            if clash:
                raise ValidationError(
                    self.env._(
                        "Only one active signing policy may gate %(action)s on %(model)s.",
                        action=dict(self._fields["trigger"]._description_selection(self.env)).get(
                            policy.trigger, policy.trigger
                        ),
                        model=policy.model_id.name,
                    )
                )
            model = self.env.get(policy.model)
            if model is None or policy.trigger not in getattr(model, "_esign_triggers", {}):
                raise ValidationError(
                    self.env._(
                        "%(model)s has no signing point %(trigger)s.",
                        model=policy.model_id.name,
                        trigger=policy.trigger,
                    )
                )

    @api.constrains("domain", "prerequisite_domain", "model_id")
    def _check_domains(self):
        for policy in self:
            for value in (policy.domain, policy.prerequisite_domain):
                try:
                    self.env[policy.model].search_count(policy._eval_domain(value), limit=1)
                except Exception as exc:
                    raise ValidationError(
                        self.env._(
                            "The domain %(domain)s is not valid: %(error)s",
                            domain=value,
                            error=exc,
                        )
                    ) from exc

    @api.constrains("step_ids")
    def _check_steps(self):
        for policy in self:
            if policy.active and not policy.step_ids:
                raise ValidationError(
                    self.env._(
                        "The signing policy %(name)s needs at least one step.", name=policy.name
                    )
                )

    @api.model
    @tools.ormcache("model_name")
    def _esign_active_ids(self, model_name):
        """Ids of the active policies on ``model_name``, in policy order.

        Every create and write of a signable record asks which policies may gate it (to open
        their requests), and most records of most models have none: the answer is cached in
        the registry, and any change of a policy clears it for every worker (Odoo signals a
        registry cache clear through the database).
        """
        return tuple(self.sudo().search([("model", "=", model_name), ("active", "=", True)]).ids)

    @api.model_create_multi
    def create(self, vals_list):
        policies = super().create(vals_list)
        self.env.registry.clear_cache()  # _esign_active_ids
        policies._open_pending_requests()
        return policies

    def write(self, vals):
        self.env.registry.clear_cache()  # _esign_active_ids
        if VERSIONED_FIELDS.intersection(vals) and not self.env.context.get("esign_no_version"):
            for policy in self:
                super(EsignPolicy, policy).write({**vals, "version": policy.version + 1})
        else:
            super().write(vals)
        if SCOPE_FIELDS.intersection(vals):
            self._open_pending_requests()
        return True

    def _open_pending_requests(self):
        """Open the requests of records that this policy gates from now on.

        A record's request opens when the record is created or written while a policy gates
        it (``_esign_ensure_requests``). A policy made, activated or widened later would
        otherwise leave the records already in their signing state (a lot in quarantine, an
        MO waiting for review) without a request: no to-do, nothing in "Waiting for Me". So
        the records its domains select now get theirs at once.
        """
        for policy in self.sudo().filtered("active"):
            if policy.model not in self.env or not hasattr(
                self.env[policy.model], "_esign_ensure_requests"
            ):
                continue
            domain = self._eval_domain(policy.domain) + self._eval_domain(
                policy.prerequisite_domain
            )
            records = self.env[policy.model].sudo()
            if policy.company_id and "company_id" in records._fields:
                domain.append(("company_id", "in", [policy.company_id.id, False]))
            records.search(domain)._esign_ensure_requests()

    def unlink(self):
        self.env.registry.clear_cache()  # _esign_active_ids
        return super().unlink()

    @staticmethod
    def _eval_domain(value):
        """The domain a policy's text gives, as a new list for the caller."""
        return list(_parsed_domain(value or "[]"))

    # ------------------------------------------------------------------ engine glue
    def _applies_to(self, record):
        """True when this policy gates ``record`` (its applicability domain matches)."""
        self.ensure_one()
        domain = self._eval_domain(self.domain)
        return bool(record.filtered_domain(domain)) if domain else True

    def _prerequisites_met(self, record):
        self.ensure_one()
        domain = self._eval_domain(self.prerequisite_domain)
        return bool(record.filtered_domain(domain)) if domain else True

    def _config_problem(self, record):
        """The ``PolicyConfigError`` that makes this policy unusable for ``record`` (no
        eligible signer for a step, ...), or None."""
        self.ensure_one()
        try:
            policy_engine.validate_policy(self._spec(record))
        except policy_engine.PolicyConfigError as exc:
            return exc
        return None

    def _spec(self, record):
        """The engine's view of this policy for ``record`` (signers resolved)."""
        self.ensure_one()
        return self._specs(record)[record.id]

    def _specs(self, records):
        """{record id: the engine's view of this policy for it}, signers resolved.

        The steps are read once, and a step's signers once when they do not depend on the
        record (a group or named users): many records signed at once (a bulk release) then
        share one spec. Only a step whose signer is a user field of the record is resolved
        per record.
        """
        self.ensure_one()
        # One query for the steps and their columns (self.step_ids would take two).
        step_records = self.env["esign.policy.step"].search_fetch(
            [("policy_id", "=", self.id)],
            ["sequence", "name", "meaning_id", "mode", "k", "signer_type", "group_id"],
        )
        shared = {
            step.id: frozenset(step._eligible_users(records[:1]).ids)
            for step in step_records
            if step.signer_type != "field"
        }

        def build(record):
            return policy_engine.PolicySpec(
                steps=tuple(
                    policy_engine.StepSpec(
                        step_id=step.id,
                        sequence=step.sequence,
                        name=step.name,
                        meaning_code=step.meaning_id.code,
                        mode=step.mode,
                        k=step.k if step.mode == "k_of_n" else None,
                        eligible_user_ids=shared[step.id]
                        if step.id in shared
                        else frozenset(step._eligible_users(record).ids),
                    )
                    for step in step_records
                ),
                author_may_not_sign=self.author_may_not_sign,
                one_step_per_person=self.one_step_per_person,
                version=self.version,
            )

        if len(shared) == len(step_records):  # nothing depends on the record
            spec = build(records[:1])
            return dict.fromkeys(records.ids, spec)
        return {record.id: build(record) for record in records}

    def action_view_requests(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Signing Requests"),
            "res_model": "esign.request",
            "view_mode": "list,form",
            "domain": [("policy_id", "=", self.id)],
        }


class EsignPolicyStep(models.Model):
    """One step of a signing policy: a meaning, who may sign, and how many must."""

    _name = "esign.policy.step"
    _esign_audit = "config"
    _description = "Signing Policy Step"
    _order = "policy_id, sequence, id"

    policy_id = fields.Many2one("esign.policy", required=True, ondelete="cascade", index=True)
    sequence = fields.Integer(
        default=10,
        help="Steps with the same sequence form one stage and are signed in parallel; "
        "stages are signed in order.",
    )
    name = fields.Char(required=True, translate=True)
    meaning_id = fields.Many2one("esign.meaning", required=True, ondelete="restrict")
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
        required=True,
        default="group",
    )
    user_ids = fields.Many2many("res.users", string="Signers", domain=[("share", "=", False)])
    group_id = fields.Many2one("res.groups", string="Signer Group")
    user_field_id = fields.Many2one(
        "ir.model.fields",
        string="Signer Field",
        ondelete="cascade",
        domain="[('model_id', '=', parent.model_id), ('relation', '=', 'res.users'), "
        "('ttype', 'in', ('many2one', 'many2many'))]",
        help="The record field that names the signer, e.g. the responsible user.",
    )

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

    def _eligible_users(self, record):
        """The active internal users who may sign this step on ``record``."""
        self.ensure_one()
        if self.signer_type == "group":
            # groups_id holds implied groups too, so members of sub-groups are included. One
            # statement on the membership table (this runs for every signature): the same rows
            # as a search on groups_id, active and share, without building an ORM query.
            users = self.env["res.users"].sudo()
            users.flush_model(["active", "share", "groups_id"])
            self.env.cr.execute(
                SQL(
                    "SELECT u.id FROM res_users u JOIN res_groups_users_rel m ON m.uid = u.id"
                    " WHERE m.gid = %s AND u.active AND u.share IS NOT TRUE ORDER BY u.id",
                    self.group_id.id,
                )
            )
            return users.browse([row[0] for row in self.env.cr.fetchall()])
        if self.signer_type == "users":
            users = self.user_ids
        else:
            # The field's name is configuration any signer may use, not something to guard.
            users = record.sudo()[self.sudo().user_field_id.name]
        return users.filtered(lambda u: u.active and not u.share)
