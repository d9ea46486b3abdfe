from odoo import api, fields, models
from odoo.exceptions import UserError


class EsignSignWizardDelegation(models.TransientModel):
    _inherit = "esign.sign.wizard"

    delegator_ids = fields.Many2many(
        "res.users",
        compute="_compute_delegator_ids",
        help="The people whose delegation, in force today, lets you sign this step for them.",
    )
    on_behalf_of_id = fields.Many2one(
        "res.users",
        string="Sign on Behalf Of",
        help="Leave empty to sign in your own name (or, if you may not, under your "
        "delegation). Choose a delegator to sign with their authority: the signature then "
        "shows 'on behalf of' them.",
    )

    @api.depends("res_model", "res_ids", "step_id")
    @api.depends_context("uid")
    def _compute_delegator_ids(self):
        Delegation = self.env["esign.delegation"]
        for wiz in self:
            records = wiz._records()[:1]
            delegations = Delegation._in_force_for(self.env.user, records) if records else []
            wiz.delegator_ids = delegations.delegator_id if delegations else False

    def _esign_form_spec(self):
        spec = super()._esign_form_spec()
        spec["delegator_ids"] = {}  # invisible: whether to offer "on behalf of"
        spec["on_behalf_of_id"] = {"fields": {"display_name": {}}}
        return spec

    def action_sign(self, password=None, totp_code=None, values=None):
        self._esign_own_one()
        self._esign_take_values(values)  # the delegator chosen in the form, checked below
        if self.on_behalf_of_id and self.on_behalf_of_id not in self.delegator_ids:
            raise UserError(
                self.env._(
                    "You hold no delegation in force from %(user)s.",
                    user=self.on_behalf_of_id.name,
                )
            )
        wizard = self.with_context(esign_on_behalf_of=self.on_behalf_of_id.id or False)
        return super(EsignSignWizardDelegation, wizard).action_sign(
            password=password, totp_code=totp_code
        )
