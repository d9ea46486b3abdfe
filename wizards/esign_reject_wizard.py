from odoo import api, fields, models
from odoo.exceptions import UserError

from ..services import inputs


class EsignRejectWizard(models.TransientModel):
    """Reject the current signing request of a record, with a required reason."""

    _name = "esign.reject.wizard"
    _inherit = ["esign.wizard.input"]
    _description = "Reject Signing Request"
    _esign_fixed_fields = ("res_model", "res_id")

    res_model = fields.Char(required=True, readonly=True)
    res_id = fields.Integer(required=True, readonly=True)
    reason = fields.Text(required=True, help="Why you reject: kept with the request and posted.")

    @api.model
    def default_get(self, fields_list):
        """The record to reject comes in the context: check it before the form opens."""
        defaults = super().default_get(fields_list)
        if "res_model" in defaults or "res_id" in defaults:
            self._esign_signable_record(defaults.get("res_model"), defaults.get("res_id"))
        return defaults

    @api.model_create_multi
    def create(self, vals_list):
        wizards = super().create(vals_list)
        for wizard in wizards:
            self._esign_signable_record(wizard.res_model, wizard.res_id)
        return wizards

    def action_reject(self):
        self._esign_own_one()
        record = self._esign_signable_record(self.res_model, self.res_id)
        try:
            reason = inputs.text(self.reason, "reason", required=True)
        except inputs.InputError as exc:
            if exc.problem == "empty":
                raise UserError(self.env._("A rejection needs a reason.")) from None
            raise UserError(self._esign_input_message(exc)) from None
        if hasattr(record, "_esign_ensure_requests"):
            # A record that needs signatures has its request open before anyone signs, so a
            # single-signature step (a lot's release) can be rejected too.
            record._esign_ensure_requests()
        requests = (
            self.env["esign.request"]
            .sudo()
            .search(
                [
                    ("res_model", "=", record._name),
                    ("res_id", "=", record.id),
                    ("state", "in", ("waiting", "in_progress")),
                ]
            )
        )
        if not requests:
            raise UserError(
                self.env._(
                    "%(record)s has no signing request to reject.", record=record.display_name
                )
            )
        for req in requests:
            req.with_user(self.env.user)._reject(record, reason)
        return {"type": "ir.actions.act_window_close"}
