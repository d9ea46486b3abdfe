from odoo import fields, models
from odoo.exceptions import UserError


class EsignRejectWizard(models.TransientModel):
    """Reject the current signing request of a record, with a required reason."""

    _name = "esign.reject.wizard"
    _description = "Reject Signing Request"

    res_model = fields.Char(required=True, readonly=True)
    res_id = fields.Integer(required=True, readonly=True)
    reason = fields.Text(required=True, help="Why you reject: kept with the request and posted.")

    def action_reject(self):
        self.ensure_one()
        record = self.env[self.res_model].browse(self.res_id).exists()
        if not record:
            raise UserError(self.env._("The record no longer exists."))
        if not (self.reason or "").strip():
            raise UserError(self.env._("A rejection needs a reason."))
        requests = record.sudo().esign_request_ids.filtered(
            lambda r: r.state in ("waiting", "in_progress")
        )
        if not requests:
            raise UserError(
                self.env._(
                    "%(record)s has no signing request to reject.", record=record.display_name
                )
            )
        for req in requests:
            req.with_user(self.env.user)._reject(record, self.reason)
        return {"type": "ir.actions.act_window_close"}
