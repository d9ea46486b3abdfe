"""Signed child rows stay signed on every write path.

A signable model declares the rows its signatures cover (``_esign_signed_lines``: a purchase
order's lines, a manufacturing order's consumed component lots). A change to those rows may
come through the parent's form (a write of ``order_line`` commands) or straight to the line
model over RPC. Either way it:

* needs a reason for change when a signature that still counts covers what it changes;
* voids exactly the signatures whose content it changes, and re-evaluates their requests (no
  stale "Signed" panel);
* leaves an audit entry on the signed record with each changed row's old and new values,
  the recomputed totals, and the reason.

The guard compares the signed record's content hash before and after the operation, so
Odoo's own reshuffling that leaves the content as it was (an MO's components reserved
again: new move line ids, the same lots and quantities) needs no reason and voids nothing.

It lives on ``base``, like the audit hook, so that a host only declares its rows: for a
model that holds no signed rows it costs one cached dictionary look-up per call.
"""

from collections import namedtuple

from odoo import api, models, tools
from odoo.exceptions import UserError

#: One way a model's rows reach a signed record.
#: ``reverse``: dotted path from a row to the signed record; ``watched``: the fields whose
#: write can change the signed rows; ``link``/``link_model``: the first field of ``reverse``
#: and its model, to find the signed record of a row not created yet.
Watch = namedtuple("Watch", "parent_model key label reverse watched link link_model")


class Base(models.AbstractModel):
    _inherit = "base"

    @api.model
    @tools.ormcache()
    def _esign_line_watches(self):
        """The ways rows of this model reach a signed record (empty for most models)."""
        watches = []
        for parent_name in self.env.registry:
            parent = self.env[parent_name]
            if parent._abstract or not getattr(parent, "_esign_signed_lines", None):
                continue
            for key, spec in parent._esign_signed_lines.items():
                hops = spec.path.split(".")
                model, inverses = parent, []
                for index, hop in enumerate(hops):
                    field = model._fields[hop]
                    inverses.append(field.inverse_name)
                    comodel = self.env[field.comodel_name]
                    if comodel._name == self._name:
                        last = index == len(hops) - 1
                        watched = set(spec.fields) if last else {hops[index + 1]}
                        watched.add(field.inverse_name)
                        watches.append(
                            Watch(
                                parent_model=parent_name,
                                key=key,
                                label=parent._fields[hops[0]].string,
                                reverse=".".join(reversed(inverses)),
                                watched=frozenset(watched),
                                link=field.inverse_name,
                                link_model=model._name,
                            )
                        )
                    model = comodel
        return tuple(watches)

    # ------------------------------------------------------------------ the hooks
    @api.model_create_multi
    def create(self, vals_list):
        watches = self._esign_line_watches()
        if not watches:
            return super().create(vals_list)
        parents = self._esign_line_parents_of_vals(watches, vals_list)
        with _LineGuard(self, parents):
            return super().create(vals_list)

    def write(self, vals):
        watches = self._esign_line_watches()
        if not watches or not self:
            return super().write(vals)
        watches = [w for w in watches if w.watched.intersection(vals)]
        if not watches:
            return super().write(vals)
        parents = self._esign_line_parents(watches)
        for watch in watches:  # moved to another signed record: that one changes too
            if watch.link in vals:
                parents += self._esign_line_parents_of_vals([watch], [vals])
        with _LineGuard(self, parents):
            return super().write(vals)

    def unlink(self):
        watches = self._esign_line_watches()
        if not watches or not self:
            return super().unlink()
        with _LineGuard(self, self._esign_line_parents(watches)):
            return super().unlink()

    # ------------------------------------------------------------------ helpers
    def _esign_line_parents(self, watches):
        """[(watch, signed records)] that rows of ``self`` belong to."""
        rows = self.sudo()
        return [(w, rows.mapped(w.reverse)) for w in watches]

    @api.model
    def _esign_line_parents_of_vals(self, watches, vals_list):
        """[(watch, signed records)] that rows made or moved with ``vals_list`` belong to."""
        out = []
        for watch in watches:
            ids = [vals[watch.link] for vals in vals_list if vals.get(watch.link)]
            if not ids:
                continue
            linked = self.env[watch.link_model].sudo().browse(ids)
            rest = watch.reverse.split(".", 1)[1] if "." in watch.reverse else ""
            out.append((watch, linked.mapped(rest) if rest else linked))
        return out


class _LineGuard:
    """Around one create, write or unlink of rows: what it did to the signed records."""

    def __init__(self, rows, parents):
        self.env = rows.env
        via_parent = set(self.env.context.get("esign_parent_write") or ())
        self.states = []
        seen = set()
        for watch, records in parents:
            for record in records:
                ref = (record._name, record.id)
                if not record.id or ref in seen:
                    continue
                seen.add(ref)
                self.states.append(
                    _RecordState(record, watch, via_parent=f"{ref[0]},{ref[1]}" in via_parent)
                )

    def __enter__(self):
        for state in self.states:
            state.before()
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            return False
        reason = self.env.context.get("esign_change_reason")
        for state in self.states:
            state.after(reason)
        for state in self.states:
            state.record.with_env(self.env)._esign_ensure_requests()
        return False


class _RecordState:
    """A signed record's hashes and row values before a change of its rows."""

    def __init__(self, record, watch, via_parent):
        self.record = record.sudo()
        self.watch = watch
        self.via_parent = via_parent
        self.hashes = None
        self.values = None

    def before(self):
        record = self.record
        if not record.esign_request_ids:
            return  # not in signing: nothing signed to guard, no trail of its rows yet
        self.values = record._esign_line_audit_values()
        self.hashes = None if self.via_parent else record._esign_hashes()

    def after(self, reason):
        if self.values is None:
            return
        record = self.record
        env = record.env
        if self.hashes is not None:
            after, changed = record._esign_changed_triggers(self.hashes)
            counting = changed & record._esign_counting_triggers()
            if counting and not reason:
                raise UserError(
                    env._(
                        "%(record)s is signed: a change to its %(rows)s needs a reason for "
                        "change. Give it in 'Reason for Change' on %(record)s, or pass "
                        "esign_change_reason in the context of the call.",
                        record=record.display_name,
                        rows=self.watch.label,
                    )
                )
            record._esign_apply_content_change(after, changed, [self.watch.label], reason)
        changes = _diff(self.values, record._esign_line_audit_values())
        if changes:
            env["esign.audit.entry"]._append(
                [record._esign_audit_item("write", changes, reason or None)]
            )


def _diff(old, new):
    """Audit changes ``[[name, old, new], ...]`` between two flat value maps."""
    return [
        [name, old.get(name), new.get(name)]
        for name in sorted(set(old) | set(new))
        if old.get(name) != new.get(name)
    ]
