"""The triggers and states a policy may choose, as small records filtered by model.

A Selection field cannot be filtered by another field in the web client, so the policy form
chose among every model's triggers and every model's states. These records mirror the host
models' ``_esign_triggers`` and their state selections (synced when the module is installed or
updated, see ``_esign_sync``); the policy form picks them through Many2one fields with a domain
on the policy's model, and the policy keeps storing the plain ``trigger`` / ``reject_state``
values that the rest of the code reads.
"""

from odoo import api, fields, models


class EsignPolicyTrigger(models.Model):
    """A business action that a signing policy may gate, e.g. 'Purchase Order: Confirm'."""

    _name = "esign.policy.trigger"
    _description = "Signing Point"
    _order = "model, code"
    _rec_names_search = ["name", "code"]

    model = fields.Char(required=True, index=True, readonly=True)
    code = fields.Char(required=True, readonly=True)
    name = fields.Char(required=True, readonly=True)

    _sql_constraints = [
        ("model_code_unique", "UNIQUE(model, code)", "A signing point is declared once."),
    ]

    @api.model
    def _esign_sync(self):
        """Make the records match the triggers and states the host models declare now."""
        Policy = self.env["esign.policy"]
        self.sudo()._esign_sync_rows(
            {
                (model_name, code): label
                for model_name in Policy._esign_signable_models()
                for code, label in self.env[model_name]._esign_triggers.items()
            }
        )
        self.env["esign.policy.state"].sudo()._esign_sync_rows(
            {(model_name, value): name for model_name, value, name in Policy._esign_states()}
        )
        return True

    def _esign_sync_rows(self, wanted):
        """Create, rename and delete rows so that they are exactly ``wanted``:
        {(model, code): English label}."""
        existing = {(row.model, row.code): row for row in self.search([])}
        self.create(
            [
                {"model": model, "code": code, "name": name}
                for (model, code), name in wanted.items()
                if (model, code) not in existing
            ]
        )
        for key, row in existing.items():
            if key not in wanted:
                row.unlink()
            elif row.name != wanted[key]:
                row.name = wanted[key]


class EsignPolicyState(models.Model):
    """A state of a signable model that a rejected record may return to."""

    _name = "esign.policy.state"
    _inherit = ["esign.policy.trigger"]
    _description = "Signing Return State"

    _sql_constraints = [
        ("model_code_unique", "UNIQUE(model, code)", "A state is declared once."),
    ]

    @api.depends_context("lang")
    def _compute_display_name(self):
        """The state's label in the user's language, as the record's own form shows it."""
        labels = {}
        for model in set(self.mapped("model")):
            if model not in self.env:
                continue
            records = self.env[model]
            field = records._fields.get(records._esign_state_field)
            if field is not None and field.type == "selection":
                labels[model] = dict(field._description_selection(self.env))
        for row in self:
            row.display_name = labels.get(row.model, {}).get(row.code) or row.name

    def _esign_key(self):
        """The value the policy stores in ``reject_state``: 'model:value'."""
        self.ensure_one()
        return f"{self.model}:{self.code}"
