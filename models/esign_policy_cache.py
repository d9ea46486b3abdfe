"""What every signature and every gated write asks of the signing matrix, cached in the
registry: the active policies of a model, the steps' conditions, and the step and meaning
columns a signature reads.

They change only when an administrator configures the matrix. Every change of a policy, a
step or a meaning clears the registry cache (``registry.clear_cache()`` in their create,
write and unlink), and Odoo signals that clearing to every worker and server through the
database: the next request anywhere reads the new configuration.
"""

from odoo import api, models, tools

#: The step columns a signature reads: its spec, the request lines (name, meaning, due date)
#: and the signature's own values. Cached per policy by ``esign.policy._esign_step_rows``.
SIGNING_STEP_FIELDS = (
    "sequence",
    "name",
    "meaning_id",
    "mode",
    "k",
    "signer_type",
    "group_id",
    "condition",
    "due_days",
)
#: The meaning columns a signature reads (its code, and its name for the manifestation).
SIGNING_MEANING_FIELDS = ("code", "name")


class EsignPolicyCache(models.Model):
    _inherit = "esign.policy"

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

    @api.model
    def _esign_step_conditions(self, policy_id):
        """The condition text of each step of a policy ('' for none), from the cached step
        columns: whether a policy gates a record is asked on every write."""
        _step_ids, columns, _meaning_ids, _meaning_columns = self._esign_step_rows(policy_id)
        conditions = dict(columns)["condition"]
        return tuple(text if self._eval_domain(text) else "" for text in conditions)

    @api.model
    @tools.ormcache("policy_id", "self.env.lang")
    def _esign_step_rows(self, policy_id):
        """The columns of a policy's steps that a signature reads, and those of their
        meanings, as plain values: ``(step ids, ((field, values), ...), meaning ids,
        ((field, values), ...))``, in this environment's language.

        Every signature needs them, and they change only when the policy is configured: the
        answer is cached in the registry like ``_esign_active_ids``. A change of a step or a
        meaning clears it, for every worker (a translation is written through ``write``).
        """
        steps = (
            self.env["esign.policy.step"]
            .sudo()
            .search_fetch([("policy_id", "=", policy_id)], SIGNING_STEP_FIELDS)
        )
        meanings = steps.meaning_id
        meanings.fetch(SIGNING_MEANING_FIELDS)
        cache = self.env.cache

        def columns(records, names):
            return tuple(
                (name, tuple(cache.get(rec, records._fields[name]) for rec in records))
                for name in names
            )

        return (
            tuple(steps.ids),
            columns(steps, SIGNING_STEP_FIELDS),
            tuple(meanings.ids),
            columns(meanings, SIGNING_MEANING_FIELDS),
        )

    def _esign_signing_steps(self):
        """This policy's steps with what a signature reads of them (and of their meanings)
        already in the ORM cache, from ``_esign_step_rows``: no statement when it is cached.

        The values go into the cache as Odoo's own fetch puts them, without overwriting a
        value this transaction already holds (a pending change of its own).
        """
        self.ensure_one()
        step_ids, step_columns, meaning_ids, meaning_columns = self._esign_step_rows(self.id)
        steps = self.env["esign.policy.step"].browse(step_ids)
        meanings = self.env["esign.meaning"].browse(meaning_ids)
        for records, columns in ((steps, step_columns), (meanings, meaning_columns)):
            for name, values in columns:
                self.env.cache.insert_missing(records, records._fields[name], values)
        return steps
