from odoo import api, fields, models
from odoo.exceptions import UserError

from ..services import policy as engine
from ..services import snapshot as snap
from ..services.errors import PolicyConfigError, SnapshotError
from .esign_messages import config_message
from .esign_request import ACTIVE_STATES

#: The context a content hash is computed in, replacing the caller's: the hash must not
#: depend on who looks (their language, ``bin_size`` from a form view, a partner in the
#: context that changes a product's display name).
SNAPSHOT_CONTEXT = {"lang": "en_US"}

#: Key of ``cr.precommit.data`` (cleared with the transaction): ids of the requests that a
#: record's write opened and evaluated in this transaction, not yet seen by
#: ``_esign_open_request``.
OPENED_KEY = "meddev_esign.opened_requests"


def _v1_row(line, cells):
    """The raw cells of version 1's row of ``line``: each dotted path read on it."""
    row = []
    for path in cells:
        value = line
        for name in path.split("."):
            value = value[name]
        row.append(value)
    return row


class EsignSignableMixin(models.AbstractModel):
    """Make a business model signable. Glue is an ``_inherit`` plus class attributes::

        class MrpProduction(models.Model):
            _name = "mrp.production"
            _inherit = ["esign.signable.mixin", "mrp.production"]
            _esign_signed_fields = ["product_id", "product_qty", "lot_producing_id"]
            _esign_triggers = {"mrp_done": "Manufacturing Order: Produce (Done)"}

            def button_mark_done(self):
                self._esign_check_gate("mrp_done")
                return super().button_mark_done()

    Hooks to override: ``_esign_snapshot_values`` (what is signed),
    ``_esign_author_ids`` (who may not sign under segregation of duties),
    ``_esign_on_request_completed`` and ``_esign_on_request_rejected`` (what the business
    record does then; by default a rejection returns the record to the state the policy names,
    or to the model's ``_esign_reject_states`` default). The signature panel is injected into
    the host's form view by ``_get_view``; no per-model view is needed.

    List the mixin first in ``_inherit``, before the host or ``mail.thread``: its ``create``
    then runs around mail.thread's, so a new record's requests (and the signers' to-dos, which
    subscribe the signer) open after mail.thread has subscribed the creator without checking
    for followers already there. The registry refuses another order (``_register_hook``).
    """

    _name = "esign.signable.mixin"
    _description = "Signable Record (e-signature mixin)"

    #: Fields covered by the content hash; references by id, money at currency precision.
    _esign_signed_fields: list[str] = []
    #: Per trigger, the fields its signatures cover when they are not ``_esign_signed_fields``
    #: (e.g. a CAPA's closure also covers the effectiveness result, which is written after the
    #: plan was approved: changing it voids the closure signature, not the plan approval).
    _esign_signed_fields_by_trigger: dict[str, list[str]] = {}
    #: Child rows every signature of the model covers: snapshot key -> ``snap.SignedLines``
    #: (where the rows hang, which of their fields are signed). Their changes, through the
    #: parent form or directly on the line model, need a reason, void what they change and go
    #: to the audit trail like the record's own fields (``models/esign_signed_lines.py``).
    _esign_signed_lines: dict[str, snap.SignedLines] = {}
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
        values = self._esign_field_values(
            self._esign_fields_for(trigger), by_id=version != snap.SNAPSHOT_V1
        )
        for key, spec in self._esign_signed_lines.items():
            lines = self.mapped(spec.path)
            if version == snap.SNAPSHOT_V1:
                values[key] = snap.line_rows(
                    spec, version, v1_rows=[_v1_row(line, spec.v1_cells) for line in lines]
                )
            else:
                values[key] = snap.line_rows(
                    spec,
                    version,
                    rows=[
                        (line.id, line._esign_field_values(spec.fields, by_id=True))
                        for line in lines
                    ],
                )
        return values

    def _esign_snapshot(self, trigger=None, version=snap.SNAPSHOT_VERSION, attachments=None):
        """The canonical snapshot of this record that a signature for ``trigger`` covers.

        It is read in one fixed context (``SNAPSHOT_CONTEXT``), whoever asks: translated
        names in the source language (en_US, which Odoo always stores), display names without
        context options, files as content rather than sizes. A record signed by a user working
        in Chinese then has the same hash for an auditor working in English.

        :param attachments: the record's ``AttachmentRefs`` when already read (see
            ``_esign_content_hashes``).
        """
        self.ensure_one()
        # The whole context is replaced on purpose: no key of the caller's may reach the hash.
        record = self.with_context(SNAPSHOT_CONTEXT)  # pylint: disable=context-overridden
        if attachments is None:
            attachments = record._esign_attachment_refs().get(record.id, ())
        return snap.RecordSnapshot(
            model=record._name,
            res_id=record.id,
            fields=record._esign_snapshot_values(trigger, version),
            attachments=attachments,
            version=version,
        )

    def _esign_attachment_refs(self):
        """{record id: the signed ``AttachmentRef`` tuple} of ``self``, in one search (empty
        tuples when the model does not sign its attachments)."""
        refs = {record.id: () for record in self}
        if not self._esign_sign_attachments or not self.ids:
            return refs
        atts = (
            self.env["ir.attachment"]
            .sudo()
            .with_context(**SNAPSHOT_CONTEXT)  # names and checksums: the same in any context
            .search(
                [
                    ("res_model", "=", self._name),
                    ("res_id", "in", self.ids),
                    ("res_field", "=", False),
                ],
                order="id",
            )
        )
        for att in atts:
            if att.checksum:
                refs[att.res_id] += (
                    snap.AttachmentRef(
                        name=att.name, mimetype=att.mimetype or "", checksum=att.checksum
                    ),
                )
        return refs

    def _esign_content_hash(self, trigger=None, version=snap.SNAPSHOT_VERSION):
        """SHA-256 of the canonical snapshot for ``trigger``, with its version prefix.

        New signatures use the current version; pass a stored hash's version (see
        ``_esign_live_hash``) to rebuild the content the way that signature saw it.
        """
        self.ensure_one()
        return snap.content_hash(self._esign_snapshot(trigger, version))

    def _esign_content_hashes(self, trigger=None):
        """{record id: ``_esign_content_hash(trigger)``} of every record of ``self``, the
        attachments of all read in one search."""
        refs = self._esign_attachment_refs()
        return {
            record.id: snap.content_hash(
                record._esign_snapshot(trigger, snap.SNAPSHOT_VERSION, refs[record.id])
            )
            for record in self
        }

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
            try:
                known[version] = self._esign_content_hash(trigger, version)
            except SnapshotError:
                if version == snap.SNAPSHOT_VERSION:
                    raise  # the current rules must always hash: a failure here is a bug
                known[version] = None  # e.g. rows declared after version 1: no such content
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
        policies = (
            self.env["esign.policy"]
            .sudo()
            .browse(self.env["esign.policy"]._esign_active_ids(self._name))
        )
        if not policies:
            return policies
        companies = {self.company_id.id, False} if "company_id" in self._fields else None
        return policies.filtered(
            lambda p: (
                (not trigger or p.trigger == trigger)
                and (companies is None or p.company_id.id in companies)
                and p._applies_to(self)
            )
        )

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
                    raise UserError(config_message(self.env, policy, exc)) from exc
                if result.complete:
                    continue
                # Steps a condition leaves out for this record are not in the result.
                names = {step.id: step.name for step in policy.step_ids}
                pending = [
                    names.get(evaluation.step_id, "?")
                    for evaluation in result.steps
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
        opened = self.env.cr.precommit.data.get(OPENED_KEY, set())
        for rec in self:
            for policy in rec._esign_policies(trigger):
                request = self.env["esign.request"]._for_record(rec, policy, create=True)
                if request.id in opened:
                    # The transition's own write opened and evaluated it a moment ago
                    # (``_esign_ensure_requests``): a second evaluation would find the same.
                    opened.discard(request.id)
                    continue
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

    # ------------------------------------------------------------------ change tracking
    def _esign_reason_needed(self, field_names=None):
        """Whether a change to ``field_names`` needs a reason: a signature that still counts
        covers one of them (all signed fields when not given). Hosts add their own cases (a
        released lot)."""
        self.ensure_one()
        return any(
            field_names is None or set(field_names) & set(self._esign_fields_for(trigger))
            for trigger in self._esign_counting_triggers()
        )

    def _compute_esign_change_reason(self):
        self.esign_change_reason = False

    def _inverse_esign_change_reason(self):
        """The reason travels with the write that it explains (see ``write``)."""

    @api.model_create_multi
    def create(self, vals_list):
        records = super().create(vals_list)
        records._esign_ensure_requests()
        return records

    def _register_hook(self):
        """Refuse a host that lists ``mail.thread`` (or a model built on it) before the mixin:
        see the class docstring. A clear error at start-up beats a duplicate-follower error
        the first time a signer creates a record they must sign."""
        super()._register_hook()
        if self._abstract:
            return
        mro = [getattr(cls, "_name", None) for cls in type(self).__mro__]
        if "mail.thread" in mro and mro.index("mail.thread") < mro.index("esign.signable.mixin"):
            raise TypeError(
                f"{self._name}: list 'esign.signable.mixin' first in _inherit, before the "
                "host model and mail.thread (see esign.signable.mixin's docstring)"
            )

    def write(self, vals):
        if self.env.context.get("esign_skip_tracking"):
            return super().write(vals)
        signed = self._esign_all_signed_fields().intersection(vals)
        reason = (vals.get("esign_change_reason") or "").strip() or self.env.context.get(
            "esign_change_reason"
        )
        # The reason travels in the context to what this write changes in turn: the lines it
        # writes (``esign_signed_lines``) and the audit entry (``audit_base``).
        ctx = {"esign_change_reason": reason} if reason else {}
        if not signed:
            result = super(EsignSignableMixin, self.with_context(**ctx)).write(vals)
            self._esign_ensure_requests()
            return result
        if not reason:
            self.check_access("write")  # who may not write hears that first, not "give a reason"
            needing = self.filtered(lambda r: r.id and r._esign_reason_needed(signed))
            if needing:
                raise UserError(
                    self.env._(
                        "%(records)s is signed or released: a change to %(fields)s needs a "
                        "reason for change. Enter it in 'Reason for Change' and save again.",
                        records=", ".join(needing.mapped("display_name")),
                        fields=", ".join(
                            sorted(self._fields[f]._description_string(self.env) for f in signed)
                        ),
                    )
                )
        # One hash per trigger the record has requests for, under each version its signatures
        # were made with: a change voids only the requests whose signed fields it touches
        # (each returns to its first step still to sign again).
        before = {rec.id: rec._esign_hashes() for rec in self if rec.esign_request_ids}
        # The lines this write changes are this write's business: their guard only records
        # their old and new values (see ``esign_signed_lines``).
        ctx["esign_parent_write"] = tuple(f"{self._name},{rec_id}" for rec_id in before)
        result = super(EsignSignableMixin, self.with_context(**ctx)).write(vals)
        labels = [self._fields[f].string for f in signed]
        for rec in self.filtered(lambda r: r.id in before):
            after, changed = rec._esign_changed_triggers(before[rec.id])
            rec._esign_apply_content_change(after, changed, labels, reason)
        self._esign_ensure_requests()
        return result

    def _esign_hashes(self):
        """{(trigger, version): content hash} now, for every key of ``_esign_hash_keys``."""
        self.ensure_one()
        return {key: self._esign_content_hash(*key) for key in self._esign_hash_keys()}

    def _esign_changed_triggers(self, before):
        """(hashes now, the triggers whose content changed) against ``before`` hashes."""
        self.ensure_one()
        after = {key: self._esign_content_hash(*key) for key in before}
        return after, {key[0] for key, value in after.items() if value != before[key]}

    def _esign_apply_content_change(self, after, changed, labels, reason):
        """The signed content of ``changed`` triggers changed: bump the version, say so in the
        chatter, and re-evaluate exactly the requests of those triggers (their signatures no
        longer cover the record; each request returns to its first step still to sign)."""
        self.ensure_one()
        if not changed:
            return
        self.with_context(esign_skip_tracking=True).sudo().write(
            {"esign_version": self.esign_version + 1}
        )
        self._esign_post(
            self.env._(
                "Signed content changed (%(fields)s) by %(user)s. Reason: %(reason)s",
                fields=", ".join(sorted(labels)),
                user=self.env.user.name,
                reason=reason or self.env._("none given"),
            )
        )
        for trigger in changed:
            self.esign_request_ids.filtered(
                lambda r, t=trigger: r.trigger == t and r.state in ("in_progress", "completed")
            )._refresh_state(notify=True, current_hash=after[(trigger, snap.SNAPSHOT_VERSION)])

    def _esign_counting_triggers(self):
        """Triggers of this record that a signature still counting covers (a change to what
        they sign needs a reason)."""
        self.ensure_one()
        return {
            req.trigger
            for req in self.sudo().esign_request_ids
            if req.state in ("in_progress", "completed") and req.signature_ids
        }

    def _esign_ensure_requests(self):
        """Open the request of every policy that gates the record and is ready to be signed.

        A record needs its signatures from the moment its policy applies and the policy's
        prerequisites hold: that is how the signing matrix says "this record is now in its
        signing state" (a lot in quarantine, an MO whose quantity produced is recorded, a
        CAPA plan submitted). Opening the request then, not at the first signature, gives
        the first signers their to-do and their "Waiting for Me" entry, and lets a
        single-signature step be rejected before anyone signed. It runs after every create
        and write of the record, so no transition path (form, RPC, import, stock moves) is
        missed.

        A request that nobody signed yet, under a policy that no longer gates the record (a
        purchase order whose amount fell below the threshold), is cancelled with its to-dos.
        One with signatures stays: they show "changed after signing".

        :return: the record's active requests.
        """
        Request = self.env["esign.request"].sudo()
        if self.env.context.get("esign_no_sync"):
            return Request
        active_all = Request
        for rec in self.sudo():
            if not rec.id:
                continue
            policies = rec._esign_policies()
            active = rec.esign_request_ids.filtered(lambda r: r.state in ACTIVE_STATES)
            for policy in policies - active.policy_id:
                if policy._prerequisites_met(rec):
                    request = Request._for_record(rec, policy, create=True)
                    # A misconfigured policy asks nobody: the panel and the gate say why.
                    if policy._config_problem(rec) is None:
                        request._refresh_state(notify=True)
                        # For ``_esign_open_request`` right after this write: evaluated.
                        opened = self.env.cr.precommit.data.setdefault(OPENED_KEY, set())
                        opened.add(request.id)
                    active |= request
            stale = active.filtered(
                lambda r, gating=policies: (
                    r.state == "waiting" and not r.signature_ids and r.policy_id not in gating
                )
            )
            if stale:
                stale._cancel_stale(rec)
                active -= stale
            active_all |= active
        return active_all

    def _esign_line_audit_values(self):
        """What the audit trail compares when signed rows change: each row's signed fields
        (``lines[42].price_unit``, with names for a reader), and the record's own signed
        fields that follow from its rows (a total, recomputed without passing through
        ``write``)."""
        self.ensure_one()
        record = self.sudo()
        values = {}
        for key, spec in record._esign_signed_lines.items():
            for line in record.mapped(spec.path):
                for name, value in line._esign_field_values(spec.fields).items():
                    values[f"{key}[{line.id}].{name}"] = value
        own = [
            name
            for name in sorted(record._esign_all_signed_fields())
            if record._fields[name].type not in ("one2many", "many2many")
        ]
        values.update(record._esign_field_values(own))
        return values

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
