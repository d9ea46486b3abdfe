"""Signing under a delegation: who may sign for whom, and what the signature records.

A delegate signs a step in the delegator's place when they may not sign it in their own
right and an active delegation, in force today for the record's company, lets the delegator
sign it. The signature's ``user_id`` is the delegate (who re-authenticated); its
``on_behalf_of_id`` is the delegator, and the policy engine counts it as the delegator's.
Segregation of duties applies to both: the delegate may not be an author of the record, and
under "one step per person" neither of them may hold a signature on another step.
"""

import dataclasses
import json

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.osv import expression

from ..services import policy as engine
from ..services.errors import PolicyConfigError, SigningRuleError

#: Key of ``cr.precommit.data``: {(request id, step id, user id): delegation id or False},
#: the capacity ``_check_signable`` found for the signature about to be stored.
CAPACITY_KEY = "meddev_esign.delegation_capacity"


def _id(value):
    """A many2one value as an id: an int, a (id, name) pair from read(), or a record."""
    if isinstance(value, (list, tuple)):
        return value[0] if value else False
    if isinstance(value, models.BaseModel):
        return value.id
    return value or False


def _behalf_payload(vals):
    """What the chain hash covers of a signature made on behalf of someone."""
    return {
        "user_id": _id(vals.get("on_behalf_of_id")),
        "printed_name": vals.get("on_behalf_of_name") or "",
        "delegation_id": _id(vals.get("delegation_id")),
    }


class EsignSignatureDelegation(models.Model):
    _inherit = "esign.signature"

    on_behalf_of_id = fields.Many2one(
        "res.users",
        string="On Behalf Of",
        ondelete="restrict",
        index="btree_not_null",
        help="When the signer signed as delegate: the person whose authority they used.",
    )
    on_behalf_of_name = fields.Char(
        string="On Behalf Of (Printed Name)",
        help="The delegator's name as printed when the delegate signed.",
    )
    delegation_id = fields.Many2one(
        "esign.delegation",
        string="Delegation",
        ondelete="restrict",
        index="btree_not_null",
        help="The delegation under which the signer signed for someone else.",
    )

    def _manifestation(self, meaning):
        text = super()._manifestation(meaning)
        if self.on_behalf_of_id:
            text = self.env._(
                "%(manifestation)s — on behalf of %(name)s",
                manifestation=text,
                name=self.on_behalf_of_name,
            )
        return text

    @api.model
    def _chain_payload(self, vals):
        """The chain covers the delegator too, only when there is one: the hashes of the
        signatures made without a delegation stay as they were."""
        payload = super()._chain_payload(vals)
        if _id(vals.get("on_behalf_of_id")):
            payload["on_behalf_of"] = _behalf_payload(vals)
        return payload

    def _chain_links_of(self):
        links = super()._chain_links_of()
        sigs = self.sudo().sorted("id")
        if not any(sigs.mapped("on_behalf_of_id")):
            return links
        out = []
        for sig, (previous, stored, payload) in zip(sigs, links, strict=True):
            if sig.on_behalf_of_id:
                payload = {
                    **payload,
                    "on_behalf_of": _behalf_payload(
                        {
                            "on_behalf_of_id": sig.on_behalf_of_id.id,
                            "on_behalf_of_name": sig.on_behalf_of_name,
                            "delegation_id": sig.delegation_id.id,
                        }
                    ),
                }
            out.append((previous, stored, payload))
        return out

    @api.model
    def _create_signatures(self, vals_list):
        capacity = self.env.cr.precommit.data.get(CAPACITY_KEY, {})
        for vals in vals_list:
            if "on_behalf_of_id" in vals:
                continue
            key = (vals.get("request_id"), vals.get("step_id"), vals.get("user_id"))
            delegation_id = capacity.pop(key, False)
            if delegation_id:
                delegation = self.env["esign.delegation"].sudo().browse(delegation_id)
                vals["on_behalf_of_id"] = delegation.delegator_id.id
                vals["on_behalf_of_name"] = delegation.delegator_id.name
                vals["delegation_id"] = delegation.id
        return super()._create_signatures(vals_list)

    def _pki_signature_files(self, evidence=None):
        files = super()._pki_signature_files(evidence)
        sig = self.sudo()
        if sig.on_behalf_of_id:
            manifest = json.loads(files["manifest.json"])
            manifest["on_behalf_of"] = sig.on_behalf_of_name
            manifest["on_behalf_of_login"] = sig.on_behalf_of_id.login
            files["manifest.json"] = json.dumps(manifest, indent=2, ensure_ascii=False).encode()
        return files


class EsignRequestDelegation(models.Model):
    _inherit = "esign.request"

    waiting_for_me = fields.Boolean(
        string="Waiting for Me",
        compute="_compute_waiting_for_me",
        search="_search_waiting_for_me",
        help="Open and waiting for your signature: in your own name, or for a colleague "
        "whose delegation you hold today (for that delegation's company).",
    )

    def _esign_acting_for(self):
        """(user id, company id or None) pairs the current user signs for today: themself in
        every company, and each delegator whose delegation they hold, in its company."""
        Delegation = self.env["esign.delegation"]
        held = Delegation.sudo().browse(Delegation._received_ids(self.env.uid))
        pairs = [(self.env.uid, None)]
        pairs += [(d.delegator_id.id, d.company_id.id) for d in held if d._covers_today()]
        return pairs

    def _waiting_for_me_domain(self):
        alternatives = [
            [("next_signer_ids", "in", [user_id])]
            + ([("company_id", "=", company_id)] if company_id else [])
            for user_id, company_id in self._esign_acting_for()
        ]
        return expression.AND(
            [[("state", "in", ("waiting", "in_progress"))], expression.OR(alternatives)]
        )

    @api.depends_context("uid")
    def _compute_waiting_for_me(self):
        mine = self.filtered_domain(self._waiting_for_me_domain()) if self.ids else self.browse()
        for request in self:
            request.waiting_for_me = request in mine

    def _search_waiting_for_me(self, operator, value):
        if operator not in ("=", "!=") or not isinstance(value, bool):
            raise UserError(self.env._("Search 'Waiting for Me' with = True or = False."))
        domain = self._waiting_for_me_domain()
        return domain if (operator == "=") == value else ["!", *expression.AND([domain])]

    def _facts(self, record, current_hash=None):
        """A signature made on behalf of someone counts as theirs for the engine."""
        facts = super()._facts(record, current_hash)
        sigs = self.sudo().signature_ids
        if not any(sigs.mapped("on_behalf_of_id")):
            return facts
        return [
            dataclasses.replace(fact, user_id=sig.on_behalf_of_id.id)
            if sig.on_behalf_of_id
            else fact
            for fact, sig in zip(facts, sigs, strict=True)
        ]

    def _signers_elsewhere(self, record, step, user, current_hash=None):
        """Whether ``user`` (the person, whatever capacity) holds a valid signature on
        another step of this request."""
        self.ensure_one()
        sigs = self.sudo().signature_ids
        facts = super()._facts(record, current_hash)  # user ids as signed, not as counted
        return any(
            fact.valid and fact.user_id == user.id and sig.step_id != step
            for fact, sig in zip(facts, sigs, strict=True)
        )

    def _delegate_refusal(self, policy, record, step, user, delegation, spec, facts, current_hash):
        """Why ``user`` may not sign ``step`` for ``delegation``'s delegator, or None.

        ``self`` is the record's request, or empty when none is open yet.
        """
        delegator = delegation.delegator_id
        authors = record._esign_author_ids()
        if policy.author_may_not_sign and user.id in authors:
            return self.env._(
                "%(user)s is an author of %(record)s and may not sign it, not even on behalf "
                "of %(delegator)s.",
                user=user.name,
                record=record.display_name,
                delegator=delegator.name,
            )
        if step.signer_type == "group" and step.group_id not in user.groups_id:
            return self.env._(
                "%(user)s does not hold the group %(group)s that the step %(step)s needs.",
                user=user.name,
                group=step.group_id.full_name,
                step=step.name,
            )
        try:
            delegation._check_delegate_qualified()
        except UserError as exc:
            return str(exc.args[0])
        if (
            self
            and policy.one_step_per_person
            and self._signers_elsewhere(record, step, user, current_hash)
        ):
            return self.env._(
                "%(user)s already signed another step of %(record)s: one person signs one "
                "step, in their own name or on behalf of someone.",
                user=user.name,
                record=record.display_name,
            )
        try:
            engine.check_can_sign(spec, facts, delegator.id, step.id, authors)
        except SigningRuleError as exc:
            return self.env._(
                "%(delegator)s could not sign this step now, so neither can their delegate "
                "(%(reason)s).",
                delegator=delegator.name,
                reason=str(exc),
            )
        return None

    def _check_signable(self, record, step, user, current_hash=None, spec=None):
        """Also accept a delegate signing for their delegator; remember in which capacity.

        With ``esign_on_behalf_of`` (a delegator's id) in the context, as the sign wizard puts
        it when the signer chooses to sign on behalf of someone, only that capacity is tried.
        Otherwise the signer signs in their own right when they may, else under a delegation.
        """
        capacity = self.env.cr.precommit.data.setdefault(CAPACITY_KEY, {})
        key = (self.id, step.id, user.id)
        capacity[key] = False
        wanted = self.env.context.get("esign_on_behalf_of")
        if wanted:
            return self._check_signable_for(record, step, user, current_hash, spec, wanted)
        try:
            spec = super()._check_signable(record, step, user, current_hash, spec)
        except UserError as own_refusal:
            if not self.env["esign.delegation"]._in_force_for(user, record):
                raise
            try:
                return self._check_signable_for(record, step, user, current_hash, spec)
            except UserError as refusal:
                raise refusal from own_refusal
        policy = self.policy_id
        if policy.one_step_per_person and any(self.sudo().signature_ids.mapped("on_behalf_of_id")):
            # The engine counts a signature on behalf of someone as theirs: the person who
            # made it may not sign another step in their own name either.
            if self._signers_elsewhere(record, step, user, current_hash):
                raise UserError(
                    self.env._(
                        "%(user)s already signed another step of %(record)s: one person signs "
                        "one step, in their own name or on behalf of someone.",
                        user=user.name,
                        record=record.display_name,
                    )
                )
        return spec

    def _check_signable_for(self, record, step, user, current_hash, spec, delegator_id=None):
        """Accept ``user`` signing ``step`` under one of their delegations in force (the one
        from ``delegator_id`` when given) and record it as the signature's capacity."""
        delegations = self.env["esign.delegation"]._in_force_for(user, record)
        if delegator_id:
            delegations = delegations.filtered(lambda d: d.delegator_id.id == delegator_id)
        if not delegations:
            raise UserError(
                self.env._(
                    "%(user)s holds no delegation in force today that covers %(record)s.",
                    user=user.name,
                    record=record.display_name,
                )
            )
        self._check_prerequisites(record)
        spec, facts, _result = self._evaluate(record, current_hash, spec)
        reasons = []
        for delegation in delegations:
            reason = self._delegate_refusal(
                self.policy_id, record, step, user, delegation, spec, facts, current_hash
            )
            if reason is None:
                capacity = self.env.cr.precommit.data.setdefault(CAPACITY_KEY, {})
                capacity[(self.id, step.id, user.id)] = delegation.id
                return spec
            reasons.append(reason)
        raise UserError(reasons[0])


class EsignSignableDelegation(models.AbstractModel):
    _inherit = "esign.signable.mixin"

    def _esign_signable_for_user(self, user=None):
        """Also the steps the user may sign as a delegate (the Sign button appears)."""
        out = super()._esign_signable_for_user(user)
        user = user or self.env.user
        if not self.id:
            return out
        delegations = self.env["esign.delegation"]._in_force_for(user, self)
        if not delegations:
            return out
        for policy in self._esign_policies():
            if not policy._prerequisites_met(self):
                continue
            request = self.env["esign.request"]._for_record(self, policy)
            spec = policy._spec(self)
            facts = request._facts(self) if request else []
            for delegation in delegations:
                try:
                    steps = engine.signable_steps(
                        spec, facts, delegation.delegator_id.id, self._esign_author_ids()
                    )
                except PolicyConfigError:
                    steps = ()
                for step_id in steps:
                    step = self.env["esign.policy.step"].browse(step_id)
                    if (policy, step) in out:
                        continue
                    if request._delegate_refusal(
                        policy, self, step, user, delegation, spec, facts, None
                    ):
                        continue
                    out.append((policy, step))
        return out
