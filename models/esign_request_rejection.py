"""The end of a request other than completion: a signer's rejection with its reason, and the
cancellation of requests whose policy no longer applies. Nothing is deleted: the request and
its signatures stay as history.
"""

from odoo import fields, models
from odoo.exceptions import AccessError, UserError


class EsignRequestRejection(models.Model):
    _inherit = "esign.request"

    def _reject(self, record, reason):
        """Reject the request: it and its signatures become history; nothing is deleted."""
        self.ensure_one()
        user = self.env.user
        if not reason or not reason.strip():
            raise UserError(self.env._("A rejection needs a reason."))
        self._lock(record)
        __, __, result = self._evaluate(record)
        if user.id not in result.next_signer_ids and not user.has_group(
            "meddev_esign.group_esign_admin"
        ):
            raise AccessError(
                self.env._(
                    "Only a signer of the current step may reject %(record)s.",
                    record=record.display_name,
                )
            )
        self.sudo().write(
            {
                "state": "rejected",
                "rejected_by_id": user.id,
                "rejected_at": fields.Datetime.now(),
                "reject_reason": reason,
                "next_signer_ids": [fields.Command.clear()],
            }
        )
        self.env["esign.audit.entry"]._append(
            [
                record._esign_audit_item(
                    "reject",
                    [
                        ["policy", None, [self.policy_id.id, self.policy_id.name]],
                        ["request", None, [self.id, self.display_name]],
                    ],
                    reason,
                )
            ]
        )
        self._done_activities(self._activities(record))
        # The state the rejection returns the record to opens no new request at once: the
        # next change of the record does (``_esign_ensure_requests``), so the rejected work
        # goes back to its author instead of straight back to the signers.
        record.with_context(esign_no_sync=True)._esign_on_request_rejected(self)
        record._esign_post_with_tracking(  # last: it joins the message of the state change
            self.env._(
                "%(policy)s rejected by %(name)s. Reason: %(reason)s. Earlier signatures stay "
                "as history; signing starts again in a new request.",
                policy=self.policy_id.name,
                name=user.name,
                reason=reason,
            )
        )

    def _cancel_stale(self, record):
        """Cancel requests still waiting for their first valid signature whose policy no
        longer gates ``record``; their to-dos close, and the record's trail says why."""
        for req in self:
            req.sudo().write({"state": "cancelled", "next_signer_ids": [fields.Command.clear()]})
            self._done_activities(req._activities(record))
            self.env["esign.audit.entry"]._append(
                [
                    record._esign_audit_item(
                        "write",
                        [["request", [req.id, req.display_name], None]],
                        self.env._("The signing policy no longer applies to the record."),
                    )
                ]
            )
            record._esign_post(
                self.env._(
                    "%(policy)s no longer applies to this record: its request is cancelled.",
                    policy=req.policy_id.name,
                )
            )
