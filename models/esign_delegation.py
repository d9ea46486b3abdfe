from odoo import api, fields, models, tools
from odoo.exceptions import AccessError, UserError, ValidationError

from ..services import delegation as rules

#: The groups whose membership makes someone a signer: a delegate must hold each of them that
#: the delegator holds (with the groups the signing matrix's steps name).
SIGNER_GROUPS = (
    "meddev_esign.group_esign_signer",
    "meddev_esign.group_esign_release_authority",
    "meddev_esign.group_esign_qa",
)
#: States in which a delegation holds days: the chain and overlap rules count them.
HOLDING_STATES = ("draft", "active")


class EsignDelegation(models.Model):
    """A signer's authority handed to a colleague for a range of days (a signer on leave).

    The delegation is itself a signed record: it stays a draft until its grantor (the
    delegator, or an E-Signature Administrator recording it for them) signs it under the
    shipped policy "Delegation: Activate" with password re-authentication. The completed
    signature activates it. From then until ``date_to`` the delegate may sign every step the
    delegator may sign, and each such signature records the delegator as ``on_behalf_of``.
    Eligibility always checks the dates, so a delegation ends by itself; the daily cron only
    moves the state to Expired for the lists. It can be revoked, with a reason, at any time.
    """

    _name = "esign.delegation"
    _description = "Signing Delegation"
    _inherit = ["esign.signable.mixin", "mail.thread", "mail.activity.mixin"]
    _order = "date_from desc, id desc"

    _esign_signed_fields = [
        "delegator_id",
        "delegate_id",
        "grantor_id",
        "date_from",
        "date_to",
        "company_id",
        "note",
    ]
    _esign_triggers = {"delegation_activate": "Delegation: Activate"}
    _esign_reject_states = {"delegation_activate": "cancelled"}
    # The grantor signs the delegation they made: the shipped policy lets the author sign.
    _esign_sign_attachments = False

    name = fields.Char(
        compute="_compute_name", store=True, help="Delegator → delegate, and the days it covers."
    )
    company_id = fields.Many2one(
        "res.company",
        required=True,
        default=lambda self: self.env.company,
        tracking=True,
        help="The company whose records the delegate may sign for the delegator. Both must "
        "work for it.",
    )
    delegator_id = fields.Many2one(
        "res.users",
        string="Delegator",
        required=True,
        default=lambda self: self.env.user,
        tracking=True,
        index=True,
        domain=[("share", "=", False)],
        help="The signer whose authority is handed on, e.g. a release authority on leave.",
    )
    delegate_id = fields.Many2one(
        "res.users",
        string="Delegate",
        required=True,
        tracking=True,
        index=True,
        domain=[("share", "=", False)],
        help="The colleague who signs for the delegator. They must hold every signer group "
        "the delegator holds, and may not pass the authority on.",
    )
    grantor_id = fields.Many2one(
        "res.users",
        string="Signed By",
        required=True,
        default=lambda self: self.env.user,
        tracking=True,
        help="Who signs the delegation to put it in force: the delegator, or an E-Signature "
        "Administrator recording it for them.",
    )
    date_from = fields.Date(
        string="From",
        required=True,
        default=fields.Date.context_today,
        tracking=True,
        help="First day the delegate may sign for the delegator.",
    )
    date_to = fields.Date(
        string="To",
        required=True,
        tracking=True,
        help="Last day (included) the delegate may sign for the delegator. The delegation "
        "ends by itself after it.",
    )
    note = fields.Text(
        string="Reason",
        help="Why the authority is delegated, e.g. annual leave or a business trip.",
    )
    state = fields.Selection(
        [
            ("draft", "Draft"),
            ("active", "Active"),
            ("expired", "Expired"),
            ("revoked", "Revoked"),
            ("cancelled", "Cancelled"),
        ],
        default="draft",
        required=True,
        readonly=True,
        copy=False,
        tracking=True,
        index=True,
        help="Draft: waits for its signature. Active: signed; in force on its days. Expired: "
        "its last day has passed. Revoked: ended early, with a reason. Cancelled: never "
        "signed, or its signature was rejected.",
    )
    in_force = fields.Boolean(
        string="In Force Today",
        compute="_compute_in_force",
        search="_search_in_force",
        help="Active, and today lies between From and To.",
    )
    revoked_by_id = fields.Many2one(
        "res.users", readonly=True, copy=False, help="Who revoked the delegation."
    )
    revoked_at = fields.Datetime(readonly=True, copy=False, help="When it was revoked.")
    revoke_reason = fields.Text(
        readonly=True, copy=False, help="Why it was revoked, as recorded in the audit trail."
    )
    signature_on_behalf_ids = fields.One2many(
        "esign.signature",
        "delegation_id",
        string="Signatures on Behalf",
        readonly=True,
        help="The signatures the delegate made under this delegation.",
    )

    _sql_constraints = [
        (
            "dates_ordered",
            "CHECK(date_to >= date_from)",
            "A delegation ends on or after it starts.",
        ),
    ]

    @api.depends("delegator_id", "delegate_id", "date_from", "date_to")
    def _compute_name(self):
        for rec in self:
            rec.name = (
                f"{rec.delegator_id.name or '?'} → {rec.delegate_id.name or '?'} "
                f"({rec.date_from or ''} – {rec.date_to or ''})"
            )

    def _today(self):
        """Today in the delegator's time zone: the days of a delegation are theirs."""
        self.ensure_one()
        tz = self.delegator_id.tz or self.env.user.tz or "UTC"
        return fields.Date.context_today(self.with_context(tz=tz))

    def _covers_today(self):
        self.ensure_one()
        return self.state == "active" and self.date_from <= self._today() <= self.date_to

    @api.depends("state", "date_from", "date_to")
    def _compute_in_force(self):
        for rec in self:
            rec.in_force = bool(rec.date_from and rec.date_to) and rec._covers_today()

    def _search_in_force(self, operator, value):
        if operator not in ("=", "!=") or not isinstance(value, bool):
            raise UserError(self.env._("Search 'In Force Today' with = or != and a yes/no."))
        today = fields.Date.context_today(self)
        domain = [("state", "=", "active"), ("date_from", "<=", today), ("date_to", ">=", today)]
        positive = (operator == "=") == value
        return domain if positive else ["!", "&", "&", *domain]

    # ------------------------------------------------------------------ rules
    @api.model
    def _signer_groups(self):
        """Every group that makes a signer: the signer groups and those the matrix names."""
        groups = self.env["res.groups"].sudo().browse()
        for xmlid in SIGNER_GROUPS:
            groups |= self.env.ref(xmlid, raise_if_not_found=False) or groups.browse()
        steps = (
            self.env["esign.policy.step"]
            .sudo()
            .search([("signer_type", "=", "group"), ("policy_id.active", "=", True)])
        )
        return groups | steps.group_id

    def _check_delegate_qualified(self):
        """Refuse a delegate who lacks a signer group of the delegator, or the company."""
        signer_groups = self._signer_groups()
        for rec in self.sudo():
            delegate, delegator = rec.delegate_id, rec.delegator_id
            if not delegate.active or delegate.share:
                raise ValidationError(
                    self.env._("%(user)s is not an active internal user.", user=delegate.name)
                )
            missing = (signer_groups & delegator.groups_id) - delegate.groups_id
            if missing:
                raise ValidationError(
                    self.env._(
                        "%(delegate)s cannot sign for %(delegator)s: they do not hold the "
                        "signer group(s) %(groups)s.",
                        delegate=delegate.name,
                        delegator=delegator.name,
                        groups=", ".join(missing.mapped("full_name")),
                    )
                )
            for user in delegate | delegator:
                if rec.company_id not in user.company_ids:
                    raise ValidationError(
                        self.env._(
                            "%(user)s does not work for %(company)s: a delegation there needs "
                            "both the delegator and the delegate in that company.",
                            user=user.name,
                            company=rec.company_id.name,
                        )
                    )

    def _check_no_chain(self):
        """Refuse self-delegation, overlapping delegations of a delegator, and any chain."""
        for rec in self.sudo():
            others = self.sudo().search(
                [
                    ("id", "!=", rec.id),
                    ("state", "in", HOLDING_STATES),
                    ("date_from", "<=", rec.date_to),
                    ("date_to", ">=", rec.date_from),
                    "|",
                    ("delegator_id", "in", (rec.delegator_id | rec.delegate_id).ids),
                    ("delegate_id", "=", rec.delegator_id.id),
                ]
            )
            found = rules.conflict(rec._span(), [other._span() for other in others])
            if found is None:
                continue
            code, other = found
            other_rec = self.browse(other.key) if other else self
            messages = {
                "self": self.env._("Nobody can delegate their signing authority to themselves."),
                "dates": self.env._("A delegation ends on or after it starts."),
                "overlap": self.env._(
                    "%(user)s already delegates their authority on some of these days "
                    "(%(other)s).",
                    user=rec.delegator_id.name,
                    other=other_rec.display_name,
                ),
                "chain_onward": self.env._(
                    "%(user)s signs for someone else on some of these days (%(other)s) and may "
                    "not pass that authority on: delegations never chain.",
                    user=rec.delegator_id.name,
                    other=other_rec.display_name,
                ),
                "chain_received": self.env._(
                    "%(user)s has delegated their own authority away on some of these days "
                    "(%(other)s) and cannot receive any: delegations never chain.",
                    user=rec.delegate_id.name,
                    other=other_rec.display_name,
                ),
            }
            raise ValidationError(messages[code])

    def _span(self):
        self.ensure_one()
        return rules.Span(
            self.id, self.delegator_id.id, self.delegate_id.id, self.date_from, self.date_to
        )

    @api.constrains("grantor_id", "delegator_id")
    def _check_grantor(self):
        for rec in self.sudo():
            if rec.grantor_id != rec.delegator_id and not rec.grantor_id.has_group(
                "meddev_esign.group_esign_admin"
            ):
                raise ValidationError(
                    self.env._(
                        "Only %(user)s, or an E-Signature Administrator for them, may sign "
                        "this delegation.",
                        user=rec.delegator_id.name,
                    )
                )

    @api.constrains("delegator_id", "delegate_id", "date_from", "date_to", "company_id", "state")
    def _check_rules(self):
        holding = self.filtered(lambda r: r.state in HOLDING_STATES)
        holding._check_no_chain()
        holding._check_delegate_qualified()

    # ------------------------------------------------------------------ life cycle
    @api.model_create_multi
    def create(self, vals_list):
        is_admin = self.env.user.has_group("meddev_esign.group_esign_admin")
        for vals in vals_list:
            delegator = vals.get("delegator_id", self.env.uid)
            if delegator != self.env.uid and not is_admin and not self.env.su:
                raise AccessError(
                    self.env._("Only an E-Signature Administrator delegates for someone else.")
                )
        self.env.registry.clear_cache()  # _received_ids
        return super().create(vals_list)

    def write(self, vals):
        if not self.env.context.get("esign_delegation_internal"):
            locked = set(self._esign_signed_fields) | {"state", "revoked_by_id", "revoke_reason"}
            if locked.intersection(vals) and self.filtered(lambda r: r.state != "draft"):
                raise UserError(
                    self.env._(
                        "A delegation that is signed or ended cannot be changed: revoke it and "
                        "make a new one."
                    )
                )
        self.env.registry.clear_cache()  # _received_ids
        return super().write(vals)

    def unlink(self):
        if self.filtered(lambda r: r.state != "draft" or r.esign_request_ids.signature_ids):
            raise UserError(
                self.env._("Only an unsigned draft delegation may be deleted; revoke it instead.")
            )
        self.env.registry.clear_cache()  # _received_ids
        return super().unlink()

    def _set_state(self, vals, reason=None):
        ctx = {"esign_delegation_internal": True}
        if reason:
            ctx["esign_change_reason"] = reason
        return self.sudo().with_context(**ctx).write(vals)

    def _esign_on_request_completed(self, request):
        """The grantor's signature completes: the delegation is in force on its days."""
        for rec in self:
            if rec.state != "draft":
                continue
            rec._check_no_chain()
            rec._check_delegate_qualified()
            rec._set_state({"state": "active"})
            rec._esign_post(
                self.env._(
                    "Delegation signed: %(delegate)s may sign for %(delegator)s from %(start)s "
                    "to %(end)s.",
                    delegate=rec.delegate_id.name,
                    delegator=rec.delegator_id.name,
                    start=rec.date_from,
                    end=rec.date_to,
                )
            )
        return True

    def _esign_on_request_rejected(self, request):
        self._set_state({"state": "cancelled"})
        return True

    def action_revoke(self, reason):
        """End the delegation now; ``reason`` goes to the audit trail and the chatter."""
        reason = (reason or "").strip() if isinstance(reason, str) else ""
        if not reason:
            raise UserError(self.env._("Revoking a delegation needs a reason."))
        user = self.env.user
        for rec in self:
            if rec.state not in HOLDING_STATES:
                raise UserError(
                    self.env._("%(name)s is not in force: nothing to revoke.", name=rec.name)
                )
            allowed = user in (rec.delegator_id | rec.delegate_id | rec.grantor_id) or (
                user.has_group("meddev_esign.group_esign_admin")
            )
            if not allowed:
                raise AccessError(
                    self.env._(
                        "Only the delegator, the delegate or an E-Signature Administrator may "
                        "revoke %(name)s.",
                        name=rec.name,
                    )
                )
            rec._set_state(
                {
                    "state": "revoked",
                    "revoked_by_id": user.id,
                    "revoked_at": fields.Datetime.now(),
                    "revoke_reason": reason,
                },
                reason=reason,
            )
            rec._esign_post(
                self.env._(
                    "Delegation revoked by %(user)s. Reason: %(reason)s",
                    user=user.name,
                    reason=reason,
                )
            )
        return True

    def action_open_revoke(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Revoke Delegation"),
            "res_model": "esign.delegation.revoke",
            "view_mode": "form",
            "target": "new",
            "context": {"default_delegation_id": self.id},
        }

    @api.model
    def _cron_expire(self):
        """Mark the delegations whose last day has passed as Expired (for the lists only:
        eligibility checks the dates itself)."""
        ended = self.sudo().search(
            [("state", "=", "active"), ("date_to", "<", fields.Date.today())]
        )
        ended = ended.filtered(lambda r: r.date_to < r._today())
        ended._set_state({"state": "expired"})
        return len(ended)

    # ------------------------------------------------------------------ lookup for signing
    @api.model
    @tools.ormcache("user_id")
    def _received_ids(self, user_id):
        """Ids of the active delegations received by ``user_id`` (any dates): cleared on
        every change of a delegation, so that a signature never pays a query to learn that
        its signer holds none."""
        return tuple(
            self.sudo().search([("delegate_id", "=", user_id), ("state", "=", "active")]).ids
        )

    @api.model
    def _in_force_for(self, user, record):
        """The delegations ``user`` may act under on ``record`` today (its company's)."""
        ids = self._received_ids(user.id)
        if not ids or record._name == self._name:
            return self.browse()
        company = record.sudo().company_id if "company_id" in record._fields else None
        return (
            self.sudo()
            .browse(ids)
            .filtered(lambda d: d._covers_today() and (not company or d.company_id == company))
        )


class EsignDelegationRevoke(models.TransientModel):
    """Ask why a delegation is revoked, then revoke it."""

    _name = "esign.delegation.revoke"
    _description = "Revoke a Signing Delegation"

    delegation_id = fields.Many2one("esign.delegation", required=True, ondelete="cascade")
    reason = fields.Text(
        required=True, help="Why the delegation ends early. It is kept in the audit trail."
    )

    def action_revoke(self):
        self.ensure_one()
        self.delegation_id.action_revoke(self.reason)
        return {"type": "ir.actions.act_window_close"}
