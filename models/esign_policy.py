import functools

from odoo import api, fields, models, tools
from odoo.exceptions import ValidationError
from odoo.osv import expression
from odoo.tools.safe_eval import safe_eval

from ..services import policy as policy_engine
from .esign_policy_step import VIA_POLICY

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


def _walk_path(records, names, fetch):
    """Follow the field path ``names`` from ``records`` through its stored columns (related
    fields followed to where they are stored). With ``fetch``, fetch each column, and no
    other, for all of ``records`` at once; without, only say whether all are in the cache.
    """
    names = list(names)
    while records and names:
        field = records._fields.get(names.pop(0))
        if field is None or not (field.store or field.related):
            break
        if not field.store:  # a related field: its own path instead
            names[:0] = field.related.split(".")
            continue
        if fetch:
            records.fetch([field.name])
        elif any(records.env.cache.get_missing_ids(records, field)):
            return False
        if not field.relational:
            break
        records = records.mapped(field.name)
    return True


def _prefetch_domain(record, domain):
    """Fetch what ``record.filtered_domain(domain)`` reads through dotted paths, for the
    records read with ``record`` (its prefetch set) at once.

    ``filtered_domain`` reads a path such as ``product_id.esign_device_class`` the way any
    field access does: the whole row of every model on the way, and a product template has
    over a hundred columns. A policy's domain is evaluated on every Sign button and every
    form that shows the signing panel, so only the path's own columns are fetched first, as
    the system (this is the policy's check, not the user's read).
    """
    record = record.sudo().with_context(active_test=False)
    # Only the paths not yet read for this record: once a batch is fetched, the other
    # records of the batch find theirs in the cache (no rescan of the batch per record).
    paths = [
        leaf[0].split(".")
        for leaf in domain
        if isinstance(leaf, (list, tuple)) and len(leaf) == 3 and "." in str(leaf[0])
        and not _walk_path(record, leaf[0].split("."), fetch=False)
    ]  # fmt: skip
    if not paths:
        return
    # Saved records only (a form's new record has nothing to fetch), at most a batch.
    ids = [id_ for id_ in record._prefetch_ids if isinstance(id_, int)][: models.PREFETCH_MAX]
    for names in paths:
        _walk_path(record.browse(ids), names, fetch=True)


class EsignPolicy(models.Model):
    """One line of the signing matrix: which signatures a business action needs.

    There is one active policy per (model, trigger, company). The trigger is a gated business
    action that the host model declares in ``_esign_triggers`` (for example ``done`` on a
    manufacturing order). Steps with the same sequence form a stage signed in parallel; stages
    are signed in order. A step with a condition is needed only by the records matching it, so
    "above 50,000 the finance manager signs too" is one more step of the same policy.
    """

    _name = "esign.policy"
    _esign_audit = "config"
    _description = "Signing Policy"
    _inherit = ["mail.thread"]
    _order = "model, trigger, id"

    name = fields.Char(
        required=True,
        translate=True,
        tracking=True,
        help="A name people recognise in lists and on signatures, e.g. 'Purchase approval'.",
    )
    active = fields.Boolean(
        default=True,
        tracking=True,
        help="Archived policies gate nothing; their signatures stay as they were.",
    )
    company_id = fields.Many2one(
        "res.company",
        default=lambda self: self.env.company,
        help="The company whose records this policy covers. Leave empty to apply the policy "
        "to every company.",
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
    trigger_id = fields.Many2one(
        "esign.policy.trigger",
        string="Signing Point",
        compute="_compute_trigger_id",
        readonly=False,
        domain="[('model', '=', model)]",
        help="The business action that waits for the signatures, e.g. confirming a purchase "
        "order. Only the actions of the chosen document model are offered.",
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
    reject_state_id = fields.Many2one(
        "esign.policy.state",
        string="Return To on Rejection",
        compute="_compute_reject_state_id",
        readonly=False,
        domain="[('model', '=', model)]",
        help="Where the record goes back to when a signer rejects it, among the states of "
        "the chosen document model. Empty: the model's usual state for this action, or it "
        "keeps its state.",
    )
    version = fields.Integer(
        default=1,
        readonly=True,
        copy=False,
        help="Goes up whenever the rules change. Each signature records the version it was "
        "made under.",
    )
    request_count = fields.Integer(
        compute="_compute_request_count",
        help="How many signing requests this policy has opened, in any state.",
    )

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
    @tools.ormcache()
    def _esign_signable_models(self):
        """Names of the concrete models that inherit esign.signable.mixin with triggers.

        Every sign and reject wizard checks its model against them, and walking the
        registry's seven hundred models took over a millisecond each time; they change only
        when modules are installed, which builds a new registry (and an empty cache).
        """
        return tuple(
            sorted(
                name
                for name, cls in self.env.registry.items()
                if not cls._abstract
                and not cls._transient
                and getattr(cls, "_esign_triggers", None)
            )
        )

    @api.model
    def _esign_states(self):
        """[(model, value, label)] of every state of every signable model."""
        states = []
        for model_name in self._esign_signable_models():
            model = self.env[model_name]
            field = model._fields.get(model._esign_state_field)
            if field is None or field.type != "selection":
                continue
            states.extend(
                (model_name, value, name) for value, name in field._description_selection(self.env)
            )
        return states

    @api.model
    def _selection_reject_state(self):
        """Every state of every signable model, as 'model:value', labelled 'Model: State'."""
        labels = {}
        options = []
        for model_name, value, name in self._esign_states():
            if model_name not in labels:
                model = self.env[model_name]
                labels[model_name] = (
                    self.env["ir.model"]._get(model_name).name or model._description
                )
            options.append((f"{model_name}:{value}", f"{labels[model_name]}: {name}"))
        return options

    @api.depends("model", "trigger")
    def _compute_trigger_id(self):
        choices = (
            self.env["esign.policy.trigger"].sudo().search([("model", "in", self.mapped("model"))])
        )
        by_key = {(choice.model, choice.code): choice.id for choice in choices}
        for policy in self:
            policy.trigger_id = by_key.get((policy.model, policy.trigger), False)

    @api.depends("model", "reject_state")
    def _compute_reject_state_id(self):
        choices = (
            self.env["esign.policy.state"].sudo().search([("model", "in", self.mapped("model"))])
        )
        by_key = {choice._esign_key(): choice.id for choice in choices}
        for policy in self:
            policy.reject_state_id = by_key.get(policy.reject_state, False)

    @api.onchange("trigger_id", "reject_state_id", "model_id")
    def _onchange_choices(self):
        """The form picks the filtered choices; the policy keeps their plain values. Another
        model empties the choices that were the former model's."""
        for policy in self:
            policy.trigger = policy.trigger_id.code or False
            state = policy.reject_state_id
            policy.reject_state = state._esign_key() if state else False

    @api.model
    def _esign_choice_values(self, vals):
        """``vals`` with the form's choice records turned into the stored plain values."""
        vals = dict(vals)
        if "trigger_id" in vals:
            choice = self.env["esign.policy.trigger"].sudo().browse(vals.pop("trigger_id"))
            if choice:
                vals["trigger"] = choice.code
        if "reject_state_id" in vals:
            choice = self.env["esign.policy.state"].sudo().browse(vals.pop("reject_state_id"))
            vals["reject_state"] = choice._esign_key() if choice else False
        return vals

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
            clash = self.search(
                [
                    ("id", "!=", policy.id),
                    ("model_id", "=", policy.model_id.id),
                    ("trigger", "=", policy.trigger),
                    ("company_id", "in", [policy.company_id.id, False]),
                ],
                limit=1,
            )
            if clash:
                raise ValidationError(
                    self.env._(
                        "Only one active signing policy may gate %(action)s on %(model)s, and "
                        "%(other)s already does. To ask more signatures of some records only "
                        "(e.g. orders over 50,000 also need the finance manager), open %(other)s "
                        "and add a step with a 'Needed When' condition instead.",
                        action=dict(self._fields["trigger"]._description_selection(self.env)).get(
                            policy.trigger, policy.trigger
                        ),
                        model=policy.model_id.name,
                        other=clash.display_name,
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
            policy.step_ids._check_condition()  # the model may have changed under them

    @api.constrains("step_ids")
    def _check_steps(self):
        for policy in self:
            if policy.active and not policy.step_ids:
                raise ValidationError(
                    self.env._(
                        "The signing policy %(name)s needs at least one step.", name=policy.name
                    )
                )

    @api.model_create_multi
    def create(self, vals_list):
        vals_list = [self._esign_choice_values(vals) for vals in vals_list]
        # The steps made with the policy are its version 1, not a change of it.
        policies = super(EsignPolicy, self.with_context(**{VIA_POLICY: True})).create(vals_list)
        policies = policies.with_env(self.env)
        self.env.registry.clear_cache()  # _esign_active_ids
        policies._open_pending_requests()
        return policies

    def write(self, vals):
        vals = self._esign_choice_values(vals)
        self.env.registry.clear_cache()  # _esign_active_ids
        # Steps written through the policy: the policy counts the version once, here.
        this = self.with_context(**{VIA_POLICY: True}) if "step_ids" in vals else self
        if VERSIONED_FIELDS.intersection(vals) and not self.env.context.get("esign_no_version"):
            for policy in this:
                super(EsignPolicy, policy).write({**vals, "version": policy.version + 1})
        else:
            super(EsignPolicy, this).write(vals)
        if SCOPE_FIELDS.intersection(vals):
            self._open_pending_requests()
        return True

    def _cover_domain(self):
        """The domain of the records this policy gates now: its applicability and
        prerequisites, its company, and, when every step has a condition, at least one of
        them (a record that needs no step needs no signature)."""
        self.ensure_one()
        domain = self._eval_domain(self.domain) + self._eval_domain(self.prerequisite_domain)
        records = self.env[self.model]
        if self.company_id and "company_id" in records._fields:
            domain.append(("company_id", "in", [self.company_id.id, False]))
        conditions = [self._eval_domain(step.condition) for step in self.step_ids]
        if conditions and all(conditions):
            domain = expression.AND([domain, expression.OR(conditions)])
        return domain

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
            records = self.env[policy.model].sudo()
            records.search(policy._cover_domain())._esign_ensure_requests()

    def unlink(self):
        self.env.registry.clear_cache()  # _esign_active_ids
        return super().unlink()

    @staticmethod
    def _eval_domain(value):
        """The domain a policy's text gives, as a new list for the caller."""
        return list(_parsed_domain(value or "[]"))

    # ------------------------------------------------------------------ engine glue
    def _applies_to(self, record):
        """True when this policy gates ``record``: its applicability domain matches, and at
        least one of its steps is needed (a step without condition, or one that matches)."""
        self.ensure_one()
        domain = self._eval_domain(self.domain)
        if domain:
            _prefetch_domain(record, domain)
            if not record.filtered_domain(domain):
                return False
        conditions = self._esign_step_conditions(self.id)
        if not conditions or not all(conditions):
            return True
        matched = record.sudo()
        for text in conditions:
            condition = self._eval_domain(text)
            _prefetch_domain(record, condition)
            if matched.filtered_domain(condition):
                return True
        return False

    def _prerequisites_met(self, record):
        self.ensure_one()
        domain = self._eval_domain(self.prerequisite_domain)
        if not domain:
            return True
        _prefetch_domain(record, domain)
        return bool(record.filtered_domain(domain))

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
        per record. A step with a condition is left out of the spec of the records that do
        not match it; its condition is checked once for all ``records``.
        """
        self.ensure_one()
        # The steps' columns come from the registry cache (no statement once cached).
        step_records = self._esign_signing_steps()
        # {step id: ids of the records that need it}, for the steps with a condition.
        needed_by = {
            step.id: frozenset(step._matching(records).ids)
            for step in step_records
            if self._eval_domain(step.condition)
        }
        shared = {
            step.id: frozenset(step._eligible_users(records[:1]).ids)
            for step in step_records
            if step.signer_type != "field"
        }

        def build(record):
            steps = step_records.filtered(
                lambda step: step.id not in needed_by or record.id in needed_by[step.id]
            )
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
                    for step in steps
                ),
                author_may_not_sign=self.author_may_not_sign,
                one_step_per_person=self.one_step_per_person,
                version=self.version,
                skipped_step_ids=frozenset((step_records - steps).ids),
            )

        if len(shared) == len(step_records):  # signers do not depend on the record
            # One spec per set of needed steps: without conditions, one for all records.
            by_steps = {}
            specs = {}
            for record in records:
                key = frozenset(sid for sid, ids in needed_by.items() if record.id in ids)
                if key not in by_steps:
                    by_steps[key] = build(record)
                specs[record.id] = by_steps[key]
            return specs
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
