"""Signing a request: the checks that a user may sign a step now, and the signatures of one
policy step on one record or on many at once (a bulk release takes the same path).
"""

from markupsafe import Markup

from odoo import api, fields, models
from odoo.exceptions import UserError

from ..services import policy as engine
from ..services.errors import SigningRuleError
from .esign_messages import signing_refusal


class EsignRequestSigning(models.Model):
    _inherit = "esign.request"

    def _check_prerequisites(self, record):
        """Raise the policy's own message unless its prerequisites hold on ``record``."""
        if not self.policy_id._prerequisites_met(record):
            raise UserError(
                self.policy_id.prerequisite_message
                or self.env._(
                    "%(record)s cannot be signed yet: the prerequisites of %(policy)s do not "
                    "hold.",
                    record=record.display_name,
                    policy=self.policy_id.name,
                )
            )

    def _check_signable(self, record, step, user, current_hash=None, spec=None):
        """Raise a clear, translated error unless ``user`` may sign ``step`` now.

        :return: the policy spec, for the caller to reuse.
        """
        self.ensure_one()
        self._check_prerequisites(record)
        spec, facts, _result = self._evaluate(record, current_hash, spec)
        try:
            engine.check_can_sign(spec, facts, user.id, step.id, record._esign_author_ids())
        except SigningRuleError as exc:
            raise signing_refusal(self.env, exc, step, record, user) from exc
        return spec

    def _sign(
        self, record, step, *, reason, auth_method, expected_hash=None, lock=True, todos=None
    ):
        """Create the signature of ``env.user`` on ``step``. The caller re-authenticated.

        Pass ``lock=False`` only when this transaction already holds the record's lock
        (``_lock``, or ``_for_record(..., create=True)`` just before).
        """
        self.ensure_one()
        if lock:
            # Once the lock is granted, no other signer committed on this record since this
            # transaction's snapshot (REPEATABLE READ: it would have failed the UPDATE), so
            # what this transaction already read of the request is current.
            self._lock(record)
        expected = {record.id: expected_hash} if expected_hash else {}
        return self._sign_records(
            {record.id: self},
            record,
            step,
            reason=reason,
            auth_method=auth_method,
            expected=expected,
            todos=todos,
        )

    @api.model
    def _sign_records(self, request_of, records, step, *, reason, auth_method, expected, todos):
        """Sign ``step`` of one policy on each of ``records`` as ``env.user``, all or none.

        The caller re-authenticated and holds the records' lock. One signature or five
        hundred (a bulk release) take the same path, in phases over all the records, so
        that each kind of work costs one statement for all of them instead of one per
        record: the content hashes (one attachment search), the checks (one policy spec),
        the signatures (one chain-head read, one INSERT), the to-dos (one read), the state
        refresh (one read and one write of the lines and of the requests). A record that
        may not be signed stops everything before any signature exists.

        :param request_of: {record id: its open request}, all of one policy.
        :param expected: {record id: content hash the signer saw}; a missing one is not
            compared.
        :param todos: a list to collect the settled to-dos in, for the caller to remove
            them all at once; None removes them now.
        :return: the signatures, in the order of ``records``.
        """
        user = self.env.user
        requests = self.sudo().browse([request_of[record.id].id for record in records])
        policy = requests.policy_id
        policy.ensure_one()
        trigger = policy.trigger
        # The signature's audit entry and those of what the signature changes (e.g. the
        # lot's release) are appended together, in order, when the block ends.
        with self.env["esign.audit.entry"]._batched():
            records._esign_prefetch_signer()
            hashes = records.sudo()._esign_content_hashes(trigger)
            for record in records:
                seen = expected.get(record.id)
                if seen and seen != hashes[record.id]:
                    raise UserError(
                        self.env._(
                            "%(record)s changed while you were signing. Close the wizard, "
                            "review the record again and sign what you see.",
                            record=record.display_name,
                        )
                    )
            specs = policy.sudo()._specs(records)
            for record in records:
                request_of[record.id]._check_signable(
                    record, step, user, hashes[record.id], specs[record.id]
                )
            meaning = step.meaning_id.with_context(lang=user.lang)
            now = fields.Datetime.now()
            signatures = self.env["esign.signature"]._create_signatures(
                [
                    {
                        "request_id": request_of[record.id].id,
                        "policy_id": policy.id,
                        "policy_version": policy.version,
                        "step_id": step.id,
                        "step_name": step.name,
                        "company_id": request_of[record.id].company_id.id,
                        "user_id": user.id,
                        "printed_name": user.name,
                        "login": user.login,
                        "meaning_id": meaning.id,
                        "meaning_code": meaning.code,
                        "meaning_name": meaning.name,
                        "reason": reason or "",
                        "signed_at": now,
                        "signer_tz": user.tz or "UTC",
                        "auth_method": auth_method,
                        "res_model": record._name,
                        "res_id": record.id,
                        "record_name": record.display_name,
                        "record_version": record.sudo().esign_version,
                        "content_hash": hashes[record.id],
                    }
                    for record in records
                ]
            )
            activities = requests._activities_of(records)
            requests._refresh_state(
                notify=True,
                known={
                    request_of[record.id].id: (hashes[record.id], specs[record.id])
                    for record in records
                },
            )
            # The signature's manifestation in this environment's language, as its computed
            # field gives it (meaning codes are unique), without looking the meaning up again.
            label = step.meaning_id.with_env(signatures.env).name or meaning.name

            def manifestation(signature):
                return signature._manifestation(label)

            settled = []
            for record, signature in zip(records, signatures, strict=True):
                request = request_of[record.id]
                self.env["esign.audit.entry"]._append(
                    [
                        record._esign_audit_item(
                            "sign",
                            [
                                ["content_hash", None, hashes[record.id]],
                                ["meaning", None, meaning.code],
                                ["signature", None, [signature.id, manifestation(signature)]],
                                ["signature_hash", None, signature.signature_hash],
                                ["step", None, step.name],
                            ],
                            reason,
                        )
                    ]
                )
                todos_here = activities.get(record.id, [])
                if request.state == "completed":  # e.g. the other candidates of k-of-n
                    settled.extend(todos_here)
                    # What completion changes on the record (a lot's release) opens no new
                    # request.
                    record.with_context(esign_no_sync=True)._esign_on_request_completed(request)
                else:
                    settled.extend(todo for todo in todos_here if todo.user_id == user.id)
                # Last, so that the note joins the tracking message of what the signature
                # changed (e.g. the lot's release state) instead of making a second message.
                signer = signature.printed_name
                if signature.on_behalf_of_name:  # a delegate: the delegator is named too
                    signer = self.env._(
                        "%(delegate)s on behalf of %(delegator)s",
                        delegate=signer,
                        delegator=signature.on_behalf_of_name,
                    )
                record._esign_post_with_tracking(
                    Markup("%s<br/>%s")
                    % (
                        self.env._(
                            "Signed %(meaning)s (%(step)s) by %(name)s on %(when)s.",
                            meaning=signature.meaning_name,
                            step=step.name,
                            name=signer,
                            when=signature._local_time_display(),
                        ),
                        self.env._("Reason: %(reason)s", reason=reason) if reason else "",
                    )
                )
        if todos is None:
            self._done_activities(settled)
        else:
            todos.extend(settled)
        return signatures
