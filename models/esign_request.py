"""Signing requests: one run of a signing policy on one record, its lookup, its evaluation by
the policy engine and its state. Signing lives in ``esign_request_signing``, rejection and
cancellation in ``esign_request_rejection``, the to-dos in ``esign_request_todos`` and the due
dates in ``esign_request_escalation``.
"""

import logging

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL

from ..services import policy as engine
from ..services.errors import PolicyConfigError
from ..services.snapshot import snapshot_version
from .esign_messages import config_message

_logger = logging.getLogger(__name__)

ACTIVE_STATES = ("waiting", "in_progress", "completed")


class EsignRequest(models.Model):
    """One run of a signing policy on one record.

    A request is never deleted. Rejecting it, or a restart, leaves it and its signatures as
    history; a restart opens a new request. Its state follows from the policy engine's
    evaluation of its valid signatures (see ``_refresh_state``).
    """

    _name = "esign.request"
    _description = "Signing Request"
    _order = "id desc"

    name = fields.Char(compute="_compute_name")
    policy_id = fields.Many2one("esign.policy", required=True, ondelete="restrict", index=True)
    policy_version = fields.Integer(required=True, readonly=True)
    # Precomputed: it goes into the INSERT of a new request instead of a later UPDATE.
    trigger = fields.Selection(related="policy_id.trigger", store=True, precompute=True)
    company_id = fields.Many2one("res.company", index=True)
    res_model = fields.Char(string="Document Model", required=True, index=True, readonly=True)
    res_id = fields.Many2oneReference(
        string="Document ID", model_field="res_model", required=True, index=True, readonly=True
    )
    record_name = fields.Char(string="Document", readonly=True)
    state = fields.Selection(
        [
            ("waiting", "Waiting"),
            ("in_progress", "In Progress"),
            ("completed", "Completed"),
            ("rejected", "Rejected"),
            ("cancelled", "Cancelled"),
        ],
        default="waiting",
        required=True,
        index=True,
        readonly=True,
    )
    line_ids = fields.One2many("esign.request.line", "request_id", string="Steps", readonly=True)
    signature_ids = fields.One2many(
        "esign.signature", "request_id", string="Signatures", readonly=True
    )
    next_signer_ids = fields.Many2many("res.users", string="Waiting For", readonly=True)
    completed_at = fields.Datetime(readonly=True)
    rejected_by_id = fields.Many2one("res.users", readonly=True)
    rejected_at = fields.Datetime(readonly=True)
    reject_reason = fields.Text(readonly=True)
    last_reminder_at = fields.Datetime(readonly=True)

    @api.depends("policy_id", "record_name")
    def _compute_name(self):
        for req in self:
            req.name = f"{req.policy_id.name} — {req.record_name}"

    # ------------------------------------------------------------------ lookup
    @api.model
    def _for_record(self, record, policy, create=False, lock=True):
        """The record's active request under ``policy``; a new one when ``create``.

        Creating takes the record's lock first, so two signers racing on a record never open
        two requests (each would then accept a signature). Pass ``lock=False`` only when this
        transaction already holds it (``_lock``), as the sign wizard does for its records.
        """
        if create and lock:
            request = self._lock_and_find(record, policy)
        else:
            request = self.sudo().search(
                [
                    ("res_model", "=", record._name),
                    ("res_id", "=", record.id),
                    ("policy_id", "=", policy.id),
                    ("state", "in", ACTIVE_STATES),
                ],
                limit=1,
            )
        if not request and create:
            request = self.sudo().create(self._open_values(record, policy))
        return request

    @api.model
    def _lock_and_find(self, record, policy):
        """``_lock(record)``, then the search of ``_for_record``, in one statement.

        The UPDATE of a data-modifying WITH runs to completion whether or not the SELECT reads
        it, and both see the transaction's snapshot (REPEATABLE READ), as two statements would.
        """
        self.flush_model(["res_model", "res_id", "policy_id", "state"])
        self.env.cr.execute(
            SQL(
                "WITH record_lock AS (UPDATE %s SET id = id WHERE id = %s RETURNING id)"
                " SELECT id FROM esign_request"
                " WHERE res_model = %s AND res_id = %s AND policy_id = %s AND state IN %s"
                " ORDER BY id DESC LIMIT 1",
                SQL.identifier(record._table),
                record.id,
                record._name,
                record.id,
                policy.id,
                ACTIVE_STATES,
            ),
            log_exceptions=False,  # losing the race is expected, and retried by Odoo (_lock)
        )
        return self.sudo().browse([row[0] for row in self.env.cr.fetchall()])

    @api.model
    def _for_records(self, records, policy):
        """{record id: its active request under ``policy``}, opening the missing ones.

        The batch form of ``_for_record(record, policy, create=True)``: one search and one
        create for all ``records``. The caller holds their lock (``_lock``).
        """
        requests = {}
        found = self.sudo().search(
            [
                ("res_model", "=", records._name),
                ("res_id", "in", records.ids),
                ("policy_id", "=", policy.id),
                ("state", "in", ACTIVE_STATES),
            ]
        )
        for request in found:  # newest first, as _for_record's search
            requests.setdefault(request.res_id, request)
        missing = records.filtered(lambda rec: rec.id not in requests)
        if missing:
            created = self.sudo().create([self._open_values(rec, policy) for rec in missing])
            requests.update(zip(missing.ids, created, strict=True))
        return requests

    @api.model
    def _open_values(self, record, policy):
        """Values of a new request of ``policy`` on ``record``."""
        return {
            "policy_id": policy.id,
            "policy_version": policy.version,
            "company_id": record.company_id.id if "company_id" in record else False,
            "res_model": record._name,
            "res_id": record.id,
            "record_name": record.display_name,
        }

    def _record(self):
        self.ensure_one()
        return self.env[self.res_model].browse(self.res_id)

    # ------------------------------------------------------------------ evaluation
    def _facts(self, record, current_hash=None):
        """The engine's view of this request's signatures: valid = covers the live content.

        Each signature is compared with the live content hashed under its own version
        (``current_hash``, when given, is the hash under the current version).
        """
        live = {snapshot_version(current_hash): current_hash} if current_hash else {}
        signed = record.sudo()
        return [
            engine.SignatureFact(
                step_id=sig.step_id.id,
                user_id=sig.user_id.id,
                valid=sig.content_hash
                == signed._esign_live_hash(sig.content_hash, self.trigger, live),
            )
            for sig in self.sudo().signature_ids
        ]

    def _evaluate(self, record=None, current_hash=None, spec=None):
        """Evaluate the request against the live record: only valid signatures count.

        :return: (spec, facts, result); pass ``current_hash``/``spec`` when already known.
        """
        self.ensure_one()
        record = record or self._record()
        spec = spec or self.policy_id._spec(record)
        facts = self._facts(record, current_hash)
        try:
            result = engine.evaluate(spec, facts, record._esign_author_ids())
        except PolicyConfigError as exc:
            raise UserError(config_message(self.env, self.policy_id, exc)) from exc
        return spec, facts, result

    def _set_next_signers(self, signers_of):
        """Store whom the requests wait for: {request id: user ids}, in one statement that
        removes the users no longer listed and adds the new ones. Through the field, Odoo
        would first read the relation, then every listed user's row to filter inactive
        ones. The field is bookkeeping of this model, tracked by nothing."""
        self.flush_model(["next_signer_ids"])  # nothing of the field left to write
        pairs = [(rid, uid) for rid, uids in signers_of.items() for uid in uids]
        self.env.cr.execute(
            """
            WITH listed (request_id, user_id) AS (
                SELECT * FROM unnest(%(requests)s::int4[], %(users)s::int4[])
            ), gone AS (
                DELETE FROM esign_request_res_users_rel rel
                 WHERE rel.esign_request_id = ANY(%(ids)s)
                   AND NOT EXISTS (SELECT 1 FROM listed
                                    WHERE listed.request_id = rel.esign_request_id
                                      AND listed.user_id = rel.res_users_id)
            )
            INSERT INTO esign_request_res_users_rel (esign_request_id, res_users_id)
            SELECT request_id, user_id FROM listed ON CONFLICT DO NOTHING
            """,
            {
                "requests": [rid for rid, _uid in pairs],
                "users": [uid for _rid, uid in pairs],
                "ids": list(signers_of),
            },
        )
        # The cache holds what was written, as a write through the field would leave it.
        requests = self.browse(list(signers_of))
        self.env.cache.update(
            requests, self._fields["next_signer_ids"], [tuple(signers_of[r]) for r in requests.ids]
        )

    def _refresh_state(self, notify=False, current_hash=None, spec=None, known=None):
        """Store the step lines and the state that the evaluation gives.

        All the requests of ``self`` are refreshed together: their lines are read in one
        statement and written without a flush in between (one UPDATE), and requests that
        reach the same state are written at once.

        :param current_hash: the live content hash of the record, when known; all requests
            of ``self`` must then be on that one record.
        :param spec: the policy spec, when known; only for a single request.
        :param known: {request id: (live content hash, spec)} when the caller already has
            them for each request (a bulk signature).
        """
        if len(self) > 1:
            spec = None  # one spec per policy: never reuse one request's for another
        known = known or {}
        active = self.filtered(lambda r: r.state in ACTIVE_STATES)
        if not active:
            return
        # The lines are read and written on their own model, not through ``line_ids``: one
        # statement reads those of every request with the fields compared below, where the
        # one2many takes two per request, and a third when it is written.
        request_lines = self.env["esign.request.line"].sudo()
        lines_of = {req.id: {} for req in active}
        for line in request_lines.search_fetch(
            [("request_id", "in", active.ids)], ["request_id", "step_id", "signed_count", "state"]
        ):
            lines_of[line.request_id.id][line.step_id.id] = line
        new_lines = []
        stale_lines = []
        changes = []  # (request, record, previous state, vals)
        signers_of = {}  # {request id: the users it now waits for}
        steps = self.env["esign.policy.step"]
        for req in active:
            record = req._record()
            req_hash, req_spec = known.get(req.id, (current_hash, spec))
            # Bookkeeping, not a permission check: evaluated as the system, as when the
            # request was opened (sudo), whoever's change triggered it.
            req_spec, facts, result = req.sudo()._evaluate(record, req_hash, req_spec)
            previous = req.state
            if result.complete:
                state = "completed"
            else:
                state = "in_progress" if any(f.valid for f in facts) else "waiting"
            lines_by_step = lines_of[req.id]
            for step_spec, step_eval in zip(req_spec.steps, result.steps, strict=True):
                vals = {
                    "step_id": step_spec.step_id,
                    "sequence": step_spec.sequence,
                    "name": step_spec.name,
                    "meaning_id": steps.browse(step_spec.step_id).meaning_id.id,
                    "required": step_eval.required,
                    "signed_count": len(step_eval.signed_user_ids),
                    "state": _line_state(step_eval, result.current_stage),
                }
                line = lines_by_step.pop(step_spec.step_id, None)
                if not line:
                    new_lines.append({**vals, "request_id": req.id})
                elif (line.signed_count, line.state) != (vals["signed_count"], vals["state"]):
                    line.write(vals)
            stale_lines.extend(line.id for line in lines_by_step.values())  # steps now gone
            signers_of[req.id] = sorted(result.next_signer_ids)
            vals = {"state": state} if state != previous else {}
            if state == "completed" and previous != "completed":
                vals["completed_at"] = True
            elif state != "completed" and req.completed_at:
                vals["completed_at"] = False
            changes.append((req, record, previous, vals))
        if new_lines:
            request_lines.create(new_lines)
        if stale_lines:
            request_lines.browse(stale_lines).unlink()
        # Requests that change alike are written together (one statement per column).
        groups = {}
        for req, _record, _previous, vals in changes:
            if vals:
                key = tuple(
                    sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in vals.items())
                )
                groups.setdefault(key, self.browse())
                groups[key] |= req
        now = fields.Datetime.now()
        for key, reqs in groups.items():
            vals = dict(key)
            if "completed_at" in vals:
                vals["completed_at"] = now if vals["completed_at"] else False
            reqs.sudo().write(vals)
        if signers_of:
            self._set_next_signers(signers_of)
        for req, record, previous, _vals in changes:
            if previous == "completed" and req.state != "completed":
                record._esign_post(
                    self.env._(
                        "Signatures of %(policy)s no longer cover this record: it changed "
                        "after signing. Signing starts again at the first step not covered.",
                        policy=req.policy_id.name,
                    )
                )
            if notify and req.state != "completed" and req.next_signer_ids:
                req._schedule_activities(record)

    # ------------------------------------------------------------------ locking
    def _lock(self, record):
        """Serialise signing on records across workers (k-of-n races, chain order).

        Odoo's transactions are REPEATABLE READ: a signer who merely waited for a lock would
        still see the snapshot taken before the other signer committed. So the lock is a no-op
        UPDATE of the record's row: a concurrent signer blocks on it, then fails with a
        serialisation error, and Odoo's request retry replays it against the committed state,
        where it finds the slot taken and gets a clear refusal.

        ``record`` may hold many records of one model: one statement locks them all, and the
        lock lasts until the transaction ends.
        """
        if not record:
            return
        self.env.cr.execute(
            SQL(
                "UPDATE %s SET id = id WHERE id IN %s",
                SQL.identifier(record._table),
                tuple(record.ids),
            ),
            log_exceptions=False,  # losing the race is expected, and retried by Odoo
        )

    def action_open_record(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": self.res_model,
            "res_id": self.res_id,
            "view_mode": "form",
        }


class EsignRequestLine(models.Model):
    """The stored state of one step of a request, for lists, panels and reports."""

    _name = "esign.request.line"
    _description = "Signing Request Step"
    _order = "request_id, sequence, id"

    request_id = fields.Many2one("esign.request", required=True, ondelete="cascade", index=True)
    step_id = fields.Many2one("esign.policy.step", ondelete="set null")
    sequence = fields.Integer()
    name = fields.Char()
    meaning_id = fields.Many2one("esign.meaning", ondelete="restrict")
    required = fields.Integer()
    signed_count = fields.Integer()
    state = fields.Selection(
        [("pending", "Pending"), ("current", "To Sign"), ("done", "Done"), ("blocked", "Blocked")]
    )


def _line_state(step_eval, current_stage):
    if step_eval.complete:
        return "done"
    if step_eval.blocked:
        return "blocked"
    return "current" if step_eval.stage == current_stage else "pending"
