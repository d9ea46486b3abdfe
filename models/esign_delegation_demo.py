from odoo import api, models


class EsignDelegationDemo(models.Model):
    _inherit = "esign.delegation"

    @api.model
    def _esign_demo_sign(self, delegation_id, lot_id):
        """Demo only: the grantor signs the delegation, then the delegate releases ``lot_id``
        on the delegator's behalf. The demo has no password to re-enter: the signatures are
        made as the wizard makes them once the signer is re-authenticated."""
        delegation = self.browse(delegation_id)
        Request = self.env["esign.request"]
        steps = (
            (delegation, delegation.grantor_id, False, "Annual leave"),
            (
                self.env["stock.lot"].browse(lot_id),
                delegation.delegate_id,
                delegation.delegator_id.id,
                "Batch record reviewed",
            ),
        )
        for record, user, on_behalf, reason in steps:
            policy = record._esign_policies()[:1]
            if not policy or not policy._prerequisites_met(record):
                continue
            as_user = Request.with_user(user).with_context(esign_on_behalf_of=on_behalf)
            request = as_user._for_record(record.with_user(user), policy, create=True)
            request.with_env(as_user.env)._sign(
                record.with_user(user),
                policy.step_ids[:1],
                reason=reason,
                auth_method="login_password",
            )
        return True
