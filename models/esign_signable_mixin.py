from lxml import etree
from markupsafe import Markup

from odoo import api, fields, models
from odoo.exceptions import UserError

from ..services import policy as engine
from ..services import snapshot as snap
from ..services.errors import PolicyConfigError
from .esign_request import _config_message

#: The context a content hash is computed in, replacing the caller's: the hash must not
#: depend on who looks (their language, ``bin_size`` from a form view, a partner in the
#: context that changes a product's display name).
SNAPSHOT_CONTEXT = {"lang": "en_US"}


class EsignSignableMixin(models.AbstractModel):
    """Make a business model signable. Glue is an ``_inherit`` plus class attributes::

        class MrpProduction(models.Model):
            _name = "mrp.production"
            _inherit = ["mrp.production", "esign.signable.mixin"]
            _esign_signed_fields = ["product_id", "product_qty", "lot_producing_id"]
            _esign_triggers = {"mrp_done": "Manufacturing Order: Mark as Done"}

            def button_mark_done(self):
                self._esign_check_gate("mrp_done")
                return super().button_mark_done()

    Hooks to override: ``_esign_snapshot_values`` (what is signed),
    ``_esign_author_ids`` (who may not sign under segregation of duties),
    ``_esign_on_request_completed`` and ``_esign_on_request_rejected`` (what the business
    record does then; by default a rejection returns the record to the state the policy names,
    or to the model's ``_esign_reject_states`` default). The signature panel is injected into
    the host's form view by ``_get_view``; no per-model view is needed.
    """

    _name = "esign.signable.mixin"
    _description = "Signable Record (e-signature mixin)"

    #: Fields covered by the content hash; references by id, money at currency precision.
    _esign_signed_fields: list[str] = []
    #: Per trigger, the fields its signatures cover when they are not ``_esign_signed_fields``
    #: (e.g. a CAPA's closure also covers the effectiveness result, which is written after the
    #: plan was approved: changing it voids the closure signature, not the plan approval).
    _esign_signed_fields_by_trigger: dict[str, list[str]] = {}
    #: Whether the record's attachments (by checksum) are part of what is signed.
    _esign_sign_attachments = True
    #: Gated business actions: trigger code -> label ("Model: Action").
    _esign_triggers: dict[str, str] = {}
    #: res.users fields naming the record's author / responsible person (SoD).
    _esign_author_fields: list[str] = ["create_uid"]
    #: The selection field holding the record's workflow state.
    _esign_state_field = "state"
    #: Per trigger, the state a rejection returns the record to, unless the policy names
    #: another (``esign.policy.reject_state``). A trigger left out keeps its state.
    _esign_reject_states: dict[str, str] = {}
    #: Every signable model is a regulated record: its changes go to the audit trail.
    _esign_audit = "record"

    esign_request_ids = fields.One2many(
        "esign.request",
        "res_id",
        string="Signing Requests",
        domain=lambda self: [("res_model", "=", self._name)],
        auto_join=True,
        readonly=True,
        copy=False,
    )
    esign_version = fields.Integer(
        string="Signed-Content Version",
        default=1,
        copy=False,
        readonly=True,
        help="Goes up each time a signed field changes; every signature records the version "
        "it covers.",
    )
    esign_state = fields.Selection(
        [
            ("none", "No Signature Required"),
            ("waiting", "Waiting for Signatures"),
            ("in_progress", "Signing in Progress"),
            ("completed", "Signed"),
            ("rejected", "Rejected"),
        ],
        string="Signature State",
        compute="_compute_esign_state",
    )
    esign_can_sign = fields.Boolean(compute="_compute_esign_user_rights")
    esign_can_reject = fields.Boolean(compute="_compute_esign_user_rights")
    esign_panel_html = fields.Html(compute="_compute_esign_panel", sanitize=False)
    esign_signature_count = fields.Integer(compute="_compute_esign_signature_count")
    esign_reason_required = fields.Boolean(
        string="Reason for Change Required",
        compute="_compute_esign_reason_required",
        help="The record is signed (or released): a change to what was signed needs a reason.",
    )
    esign_change_reason = fields.Char(
        string="Reason for Change",
        compute="_compute_esign_change_reason",
        inverse="_inverse_esign_change_reason",
        help="Why you change this signed record. It is recorded in the audit trail with the "
        "old and new values, and the signatures no longer cover the changed record.",
    )

    # ------------------------------------------------------------------ content hash
    @api.model
    def _esign_fields_for(self, trigger=None):
        """The fields that ``trigger``'s signatures cover (the model's default list if it has
        none of its own)."""
        return self._esign_signed_fields_by_trigger.get(trigger, self._esign_signed_fields)

    @api.model
    def _esign_all_signed_fields(self):
        """Every field some signature of this model covers: changing one may need a reason."""
        names = set(self._esign_signed_fields)
        for names_for_trigger in self._esign_signed_fields_by_trigger.values():
            names.update(names_for_trigger)
        return names

    def _esign_snapshot_values(self, trigger=None, version=snap.SNAPSHOT_VERSION):
        """Return the JSON-safe values of the fields ``trigger`` signs. Override to sign more.

        Values are canonical as in the audit trail (money at currency precision, dates in
        ISO text: see ``base._esign_field_values``), except references: under ``version``
        ``esign-snapshot/2`` (new signatures) a many2one is its id and an x2many its sorted
        ids; under ``esign-snapshot/1`` (older signatures, still verified by their rules) they
        are [id, display name]. An override adds its rows the same way for both versions, or
        branches on ``version`` where they differ; ``snap.sorted_rows`` orders rows.
        """
        self.ensure_one()
        return self._esign_field_values(
            self._esign_fields_for(trigger), by_id=version != snap.SNAPSHOT_V1
        )

    def _esign_snapshot(self, trigger=None, version=snap.SNAPSHOT_VERSION):
        """The canonical snapshot of this record that a signature for ``trigger`` covers.

        It is read in one fixed context (``SNAPSHOT_CONTEXT``), whoever asks: translated
        names in the source language (en_US, which Odoo always stores), display names without
        context options, files as content rather than sizes. A record signed by a user working
        in Chinese then has the same hash for an auditor working in English.
        """
        self.ensure_one()
        # The whole context is replaced on purpose: no key of the caller's may reach the hash.
        record = self.with_context(SNAPSHOT_CONTEXT)  # pylint: disable=context-overridden
        attachments = ()
        if record._esign_sign_attachments:
            atts = (
                record.env["ir.attachment"]
                .sudo()
                .search(
                    [
                        ("res_model", "=", record._name),
                        ("res_id", "=", record.id),
                        ("res_field", "=", False),
                    ],
                    order="id",
                )
            )
            attachments = tuple(
                snap.AttachmentRef(name=a.name, mimetype=a.mimetype or "", checksum=a.checksum)
                for a in atts
                if a.checksum
            )
        return snap.RecordSnapshot(
            model=record._name,
            res_id=record.id,
            fields=record._esign_snapshot_values(trigger, version),
            attachments=attachments,
            version=version,
        )

    def _esign_content_hash(self, trigger=None, version=snap.SNAPSHOT_VERSION):
        """SHA-256 of the canonical snapshot for ``trigger``, with its version prefix.

        New signatures use the current version; pass a stored hash's version (see
        ``_esign_live_hash``) to rebuild the content the way that signature saw it.
        """
        self.ensure_one()
        return snap.content_hash(self._esign_snapshot(trigger, version))

    def _esign_live_hash(self, stored, trigger=None, known=None):
        """This record's content hash now, under the version ``stored`` was made with.

        A signature made under version 1 is checked by version 1's rules, so it stays valid
        as long as what it signed is unchanged.

        :param stored: a signature's stored content hash.
        :param known: a dict {version: hash} of hashes already computed for this record and
            ``trigger``; it is filled in, so a caller checking many signatures hashes once
            per version.
        :return: the hash, or None when ``stored`` names no version this code can rebuild
            (such a hash vouches for nothing here).
        """
        self.ensure_one()
        version = snap.snapshot_version(stored)
        if version is None:
            return None
        known = {} if known is None else known
        if version not in known:
            known[version] = self._esign_content_hash(trigger, version)
        return known[version]

    def _esign_author_ids(self):
        """Users barred from signing this record when the policy forbids the author to sign."""
        self.ensure_one()
        users = self.env["res.users"]
        for name in self._esign_author_fields:
            if name in self._fields:
                users |= self.sudo()[name]
        return frozenset(users.ids)

    # ------------------------------------------------------------------ policies and gate
    def _esign_policies(self, trigger=None):
        """Active policies that gate this record (applicability domain matched)."""
        self.ensure_one()
        domain = [("model", "=", self._name), ("active", "=", True)]
        if trigger:
            domain.append(("trigger", "=", trigger))
        if "company_id" in self._fields:
            domain.append(("company_id", "in", [self.company_id.id, False]))
        policies = self.env["esign.policy"].sudo().search(domain)
        return policies.filtered(lambda p: p._applies_to(self))

    def _esign_check_gate(self, trigger):
        """Refuse the business action ``trigger`` unless its signatures are complete.

        Call it first thing in the gated action method. It evaluates against the live record,
        so a signature that no longer covers the content does not count.
        """
        for record in self:
            for policy in record._esign_policies(trigger):
                request = self.env["esign.request"]._for_record(record, policy)
                spec = policy._spec(record)
                facts = request._facts(record) if request else []
                try:
                    result = engine.evaluate(spec, facts, record._esign_author_ids())
                except PolicyConfigError as exc:
                    raise UserError(_config_message(self.env, policy, exc)) from exc
                if result.complete:
                    continue
                pending = [
                    step.name
                    for step, evaluation in zip(policy.step_ids, result.steps, strict=True)
                    if not evaluation.complete
                ]
                raise UserError(
                    self.env._(
                        "%(record)s needs the signatures of %(policy)s before this action. "
                        "Still to sign: %(pending)s.",
                        record=record.display_name,
                        policy=policy.name,
                        pending=", ".join(pending),
                    )
                )
        return True

    def _esign_on_request_completed(self, request):
        """Hook: the last signature of ``request`` was just made. Default: nothing."""
        return True

    def _esign_on_request_rejected(self, request):
        """``request`` was rejected: return the record to the state its policy names."""
        target = request.policy_id._reject_target(self)
        if target:
            field, value = target
            self.sudo().write({field: value})
        return True

    def _esign_report_signatures(self):
        """Every signature on this record, oldest first, for the printed copy (R10)."""
        self.ensure_one()
        return (
            self.env["esign.signature"]
            .sudo()
            .search(
                [("res_model", "=", self._name), ("res_id", "=", self.id)], order="signed_at, id"
            )
        )

    def _esign_open_request(self, trigger):
        """Open the request of ``trigger`` as the record reaches its signing state.

        Call it from the transition that makes the record signable, so the signers get their
        activity, and may reject, before anyone has signed.
        """
        for rec in self:
            for policy in rec._esign_policies(trigger):
                request = self.env["esign.request"]._for_record(rec, policy, create=True)
                request._refresh_state(notify=True)

    def _esign_require_state(self, states, action):
        """Refuse ``action`` (its translated label) unless every record is in ``states``."""
        labels = dict(self._fields["state"]._description_selection(self.env))
        for rec in self:
            if rec.state not in states:
                raise UserError(
                    self.env._(
                        "%(record)s is in %(state)s; %(action)s needs it in %(allowed)s.",
                        record=rec.display_name,
                        state=labels[rec.state],
                        action=action,
                        allowed=", ".join(labels[s] for s in states),
                    )
                )

    def _esign_post(self, body, partner_ids=None):
        """Log a note in the record's chatter when it has one; notify ``partner_ids`` if any.

        A plain log note skips the follower-notification machinery: the people who must act
        get an activity instead, so signing many records stays fast.
        """
        self._esign_prefetch_signer()
        for record in self:
            if not hasattr(record, "message_post"):
                continue
            if partner_ids:
                record.sudo().message_post(
                    body=body, partner_ids=partner_ids, subtype_xmlid="mail.mt_note"
                )
            else:
                record.sudo()._message_log(body=body)

    def _esign_post_with_tracking(self, body):
        """Log ``body`` like ``_esign_post``, in the tracking message when there is one.

        When this transaction has already changed a tracked field of the record (a signature
        that completes a release changes the lot's release state), Odoo logs that change in
        a message of its own when the transaction commits. ``body`` then goes into that
        message (``_track_set_log_message``): one chatter entry says who signed and what
        changed, and a signature costs one message instead of two.

        Only into a tracking *log*: a change with a subtype (a purchase order's "RFQ
        Confirmed") is posted to the followers, who may be outside the company, and the
        signature note stays an internal note.
        """
        self._esign_prefetch_signer()
        for record in self:
            changes = record._esign_tracked_changes()
            if not changes or record.sudo()._track_subtype(changes):
                record._esign_post(body)
                continue
            pending = record.env.cr.precommit.data.setdefault(
                f"mail.tracking.message.{record._name}", {}
            )
            earlier = pending.get(record.id)
            record._track_set_log_message(
                Markup("%s<br/>%s") % (earlier, body) if earlier else body
            )

    def _esign_prefetch_signer(self):
        """Read only the fields a signature and its chatter note take from the signer and the
        company, not their whole rows: the signer's name, e-mail, language and time zone
        (res.users has them from its partner), and the company's name and alias domain (the
        note's reply-to address).

        On a cold cache, the first read of a field fetches every column of the row: res.company
        has over a hundred with stock, purchase and manufacturing installed, res.partner about
        eighty, and decoding them cost more than the note itself.
        """
        self.env.company.sudo().fetch(["name", "alias_domain_id"])
        self.env.user.partner_id.sudo().fetch(["name", "email", "lang", "tz"])

    def _esign_tracked_changes(self):
        """The tracked fields of this record that this transaction changed, with their values
        before (what Odoo logs in a tracking message when the transaction commits)."""
        self.ensure_one()
        if not hasattr(self, "_track_set_log_message"):  # no chatter
            return {}
        initial = self.env.cr.precommit.data.get(f"mail.tracking.{self._name}", {}).get(self.id)
        if not initial:  # nothing tracked yet, or tracking discarded for the record
            return {}
        record = self.sudo()
        return {
            name: value
            for name, value in initial.items()
            if name in record._fields
            and record[name] != value
            and (record[name] or value)  # empty recordset vs False: no change (as _mail_track)
        }

    # ------------------------------------------------------------------ change tracking
    def _esign_reason_needed(self, field_names=None):
        """Whether a change to ``field_names`` needs a reason: a signature that still counts
        covers one of them (all signed fields when not given). Hosts add their own cases (a
        released lot)."""
        self.ensure_one()
        return any(
            req.state in ("in_progress", "completed")
            and req.signature_ids
            and (
                field_names is None or set(field_names) & set(self._esign_fields_for(req.trigger))
            )
            for req in self.sudo().esign_request_ids
        )

    def _compute_esign_reason_required(self):
        for rec in self:
            rec.esign_reason_required = bool(rec.id) and rec._esign_reason_needed()

    def _compute_esign_change_reason(self):
        self.esign_change_reason = False

    def _inverse_esign_change_reason(self):
        """The reason travels with the write that it explains (see ``write``)."""

    def write(self, vals):
        signed = self._esign_all_signed_fields().intersection(vals)
        if not signed or self.env.context.get("esign_skip_tracking"):
            return super().write(vals)
        reason = (vals.get("esign_change_reason") or "").strip() or self.env.context.get(
            "esign_change_reason"
        )
        if not reason:
            self.check_access("write")  # who may not write hears that first, not "give a reason"
            needing = self.filtered(lambda r: r.id and r._esign_reason_needed(signed))
            if needing:
                raise UserError(
                    self.env._(
                        "%(records)s is signed or released: a change to %(fields)s needs a "
                        "reason for change. Enter it in 'Reason for Change' and save again.",
                        records=", ".join(needing.mapped("display_name")),
                        fields=", ".join(sorted(self._fields[f].string for f in signed)),
                    )
                )
        # One hash per trigger the record has requests for, under each version its signatures
        # were made with: a change voids only the requests whose signed fields it touches
        # (each returns to its first step still to sign again).
        before = {
            rec.id: {key: rec._esign_content_hash(*key) for key in rec._esign_hash_keys()}
            for rec in self
            if rec.esign_request_ids
        }
        result = super().write(vals)
        for rec in self.filtered(lambda r: r.id in before):
            after = {key: rec._esign_content_hash(*key) for key in before[rec.id]}
            changed = {key[0] for key, value in after.items() if value != before[rec.id][key]}
            if not changed:
                continue
            rec.with_context(esign_skip_tracking=True).sudo().write(
                {"esign_version": rec.esign_version + 1}
            )
            rec._esign_post(
                self.env._(
                    "Signed content changed (%(fields)s) by %(user)s. Reason: %(reason)s",
                    fields=", ".join(sorted(self._fields[f].string for f in signed)),
                    user=self.env.user.name,
                    reason=reason or self.env._("none given"),
                )
            )
            for trigger in changed:
                rec.esign_request_ids.filtered(
                    lambda r, t=trigger: r.trigger == t and r.state in ("in_progress", "completed")
                )._refresh_state(notify=True, current_hash=after[(trigger, snap.SNAPSHOT_VERSION)])
        return result

    def _esign_hash_keys(self):
        """The (trigger, version) pairs whose content hash a change of this record is checked
        against: every trigger it has requests for, under the current version and under each
        older version its signatures were made with."""
        self.ensure_one()
        keys = set()
        for request in self.sudo().esign_request_ids:
            keys.add((request.trigger, snap.SNAPSHOT_VERSION))
            for stored in request.signature_ids.mapped("content_hash"):
                version = snap.snapshot_version(stored)
                if version:
                    keys.add((request.trigger, version))
        return keys

    @api.ondelete(at_uninstall=False)
    def _esign_unlink_signed(self):
        for rec in self:
            if rec.sudo().esign_request_ids.signature_ids:
                raise UserError(
                    self.env._(
                        "%(record)s carries electronic signatures and must be retained; it "
                        "cannot be deleted.",
                        record=rec.display_name,
                    )
                )

    # ------------------------------------------------------------------ computed UI state
    def _esign_relevant_requests(self):
        self.ensure_one()
        reqs = self.sudo().esign_request_ids
        active = reqs.filtered(lambda r: r.state in ("waiting", "in_progress", "completed"))
        return active or reqs[:1]

    @api.depends("esign_request_ids.state")
    def _compute_esign_state(self):
        for rec in self:
            reqs = rec._esign_relevant_requests() if rec.id else self.env["esign.request"]
            if not reqs:
                rec.esign_state = "waiting" if rec.id and rec._esign_policies() else "none"
            elif any(r.state == "waiting" for r in reqs):
                rec.esign_state = "waiting"
            elif any(r.state == "in_progress" for r in reqs):
                rec.esign_state = "in_progress"
            else:
                rec.esign_state = reqs[0].state if reqs[0].state != "cancelled" else "none"

    def _esign_signable_for_user(self, user=None):
        """[(policy, step)] the user may sign right now (drives the Sign button)."""
        self.ensure_one()
        user = user or self.env.user
        out = []
        if not self.id:
            return out
        for policy in self._esign_policies():
            request = self.env["esign.request"]._for_record(self, policy)
            spec = policy._spec(self)
            facts = request._facts(self) if request else []
            try:
                steps = engine.signable_steps(spec, facts, user.id, self._esign_author_ids())
            except Exception:  # noqa: BLE001 - a misconfigured policy shows no button
                steps = ()
            if steps and policy._prerequisites_met(self):
                out += [(policy, self.env["esign.policy.step"].browse(s)) for s in steps]
        return out

    @api.depends_context("uid")
    def _compute_esign_user_rights(self):
        for rec in self:
            rec.esign_can_sign = bool(rec._esign_signable_for_user())
            can_reject = False
            for req in rec._esign_relevant_requests() if rec.id else []:
                if (
                    req.state in ("waiting", "in_progress")
                    and self.env.user in req.next_signer_ids
                ):
                    can_reject = True
            rec.esign_can_reject = can_reject

    def _compute_esign_signature_count(self):
        counts = dict(
            self.env["esign.signature"]
            .sudo()
            ._read_group(
                [("res_model", "=", self._name), ("res_id", "in", self.ids)],
                ["res_id"],
                ["__count"],
            )
        )
        for rec in self:
            rec.esign_signature_count = counts.get(rec.id, 0)

    @api.depends_context("uid", "tz", "lang")
    def _compute_esign_panel(self):
        for rec in self:
            if not rec.id:
                rec.esign_panel_html = False
                continue
            blocks = []
            for policy in rec._esign_policies():
                request = self.env["esign.request"]._for_record(rec, policy)
                blocks.append(rec._esign_panel_block(policy, request))
            # What can be signed now first, then what is signed, then what is not open yet.
            blocks.sort(
                key=lambda b: (
                    0
                    if b.get("ready") and not b.get("complete")
                    else 1
                    if b.get("complete")
                    else 2
                )
            )
            history = rec.sudo().esign_request_ids.filtered(
                lambda r: r.state in ("rejected", "cancelled")
            )
            if not blocks and not history:
                rec.esign_panel_html = False
                continue
            rec.esign_panel_html = self.env["ir.qweb"]._render(
                "meddev_esign.esign_panel",
                {"blocks": blocks, "history": history, "record": rec},
            )

    def _esign_panel_block(self, policy, request):
        """Data for one policy's table in the panel: steps, signatures, who is pending."""
        spec = policy._spec(self)
        sigs = request.sudo().signature_ids if request else self.env["esign.signature"]
        facts = request._facts(self) if request else []
        try:
            result = engine.evaluate(spec, facts, self._esign_author_ids())
        except Exception as exc:  # noqa: BLE001 - shown to the user, never hides a signature
            return {"policy": policy, "error": str(exc), "rows": [], "state": "error"}
        # Until the prerequisites hold (e.g. the record is not in its signing state yet),
        # nobody is asked to sign: the panel says so instead of showing "To sign".
        ready = policy._prerequisites_met(self)
        rows = []
        tz = self.env.context.get("tz") or self.env.user.tz or "UTC"
        for step, evaluation in zip(policy.step_ids, result.steps, strict=True):
            step_sigs = sigs.filtered(lambda s, st=step: s.step_id == st)
            rows.append(
                {
                    "step": step,
                    "evaluation": evaluation,
                    "signatures": [
                        {"sig": s, "when": s._local_time_display(tz)} for s in step_sigs
                    ],
                    "pending": self.env["res.users"]
                    .sudo()
                    .browse(sorted(evaluation.pending_user_ids)),
                    "current": ready and evaluation.stage == result.current_stage,
                }
            )
        return {
            "policy": policy,
            "request": request,
            "rows": rows,
            "complete": result.complete,
            "ready": ready,
            "error": False,
        }

    # ------------------------------------------------------------------ actions
    def _esign_one(self):
        """Refuse, with a clear message, a form button called on no or several records (RPC)."""
        if len(self) != 1:
            raise UserError(
                self.env._(
                    "Open one record to sign or reject it. To sign several records of the same "
                    "step, select them in the list and use the Sign action."
                )
            )

    def action_esign_sign(self):
        """Open the sign wizard for the step the current user may sign."""
        self._esign_one()
        return self.env["esign.sign.wizard"]._action_open(self)

    def action_esign_reject(self):
        self._esign_one()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Reject"),
            "res_model": "esign.reject.wizard",
            "view_mode": "form",
            "target": "new",
            "context": {"default_res_model": self._name, "default_res_id": self.id},
        }

    def action_esign_signatures(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Signatures"),
            "res_model": "esign.signature",
            "view_mode": "list,form",
            "domain": [("res_model", "=", self._name), ("res_id", "=", self.id)],
            "context": {"create": False},
        }

    # ------------------------------------------------------------------ view injection
    @api.model
    def _get_view(self, view_id=None, view_type="form", **options):
        arch, view = super()._get_view(view_id, view_type, **options)
        if view_type == "form" and self._esign_triggers:
            self._esign_inject_form(arch)
        return arch, view

    @api.model
    def _esign_inject_form(self, arch):
        """Add the Sign/Reject buttons, the signature smart button and the panel."""
        form = arch if arch.tag == "form" else arch.find(".//form")
        if form is None:
            return
        header = form.find("header")
        if header is None:
            header = etree.Element("header")
            form.insert(0, header)
        sign_btn = etree.SubElement(
            header,
            "button",
            {
                "name": "action_esign_sign",
                "type": "object",
                "string": self.env._("Sign"),
                "class": "btn-primary o_esign_sign_button",
                "invisible": "not esign_can_sign",
                "data-hotkey": "shift+s",
            },
        )
        header.remove(sign_btn)
        header.insert(0, sign_btn)
        reject_btn = etree.Element(
            "button",
            {
                "name": "action_esign_reject",
                "type": "object",
                "string": self.env._("Reject"),
                "class": "o_esign_reject_button",
                "invisible": "not esign_can_reject",
            },
        )
        header.insert(1, reject_btn)
        for name in ("esign_can_sign", "esign_can_reject", "esign_state", "esign_reason_required"):
            etree.SubElement(form, "field", {"name": name, "invisible": "1"})
        sheet = form.find("sheet")
        container = sheet if sheet is not None else form
        button_box = container.find("div[@name='button_box']")
        if button_box is None:
            button_box = etree.Element("div", {"name": "button_box", "class": "oe_button_box"})
            container.insert(0, button_box)
        stat = etree.SubElement(
            button_box,
            "button",
            {
                "name": "action_esign_signatures",
                "type": "object",
                "class": "oe_stat_button",
                "icon": "fa-pencil-square-o",
                "invisible": "esign_signature_count == 0",
            },
        )
        etree.SubElement(
            stat,
            "field",
            {
                "name": "esign_signature_count",
                "widget": "statinfo",
                "string": self.env._("Signatures"),
            },
        )
        panel = etree.Element(
            "div", {"class": "o_esign_panel mb-3", "invisible": "esign_state == 'none'"}
        )
        etree.SubElement(
            panel,
            "field",
            {"name": "esign_panel_html", "nolabel": "1", "readonly": "1", "class": "w-100"},
        )
        index = list(container).index(button_box) + 1
        container.insert(index, panel)
        reason = etree.Element(
            "div",
            {
                "class": "o_esign_change_reason alert alert-warning",
                "invisible": "not esign_reason_required",
            },
        )
        label = etree.SubElement(
            reason, "label", {"for": "esign_change_reason", "class": "fw-bold me-2"}
        )
        label.text = self.env._("Reason for Change")
        etree.SubElement(
            reason,
            "field",
            {
                "name": "esign_change_reason",
                "placeholder": self.env._("Required to change what was signed"),
                "class": "w-75",
            },
        )
        container.insert(index + 1, reason)
