"""One audit trail entry: a change to a regulated record, linked into its company's chain.

Entries are appended by :meth:`EsignAuditEntry._append` (inside the caller's transaction: a
rolled back change leaves no entry), stored by :class:`.esign_ledger_store.LedgerStore`, and
never changed (:mod:`.append_only`).
"""

import contextlib
import hashlib
import json
import re
from collections import defaultdict

from dateutil.relativedelta import relativedelta
from markupsafe import Markup

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.http import request
from odoo.tools import SQL, sql

from ..services import audit as ledger
from .esign_ledger_store import (
    COMPUTED_HASH_EXPRESSION,
    LINK_FUNCTION_SQL,
    LINKS_INDEX_SQL,
    ChainBusyError,
    LedgerStore,
)

OPERATIONS = [
    ("create", "Create"),
    ("write", "Change"),
    ("unlink", "Delete"),
    ("sign", "Signature"),
    ("reject", "Rejection"),
    ("config", "Configuration Change"),
    ("review", "Trail Review"),
    ("purge", "Retention Purge"),
    ("timestamp", "Late Timestamp"),
    ("clock_drift", "Clock Drift"),
    ("lock", "Signing Lock-out"),
    ("unlock", "Signing Unlock"),
    ("sign_failed", "Failed Signing Attempt"),
    ("escalation", "Escalation"),
    ("print", "Sealed Print"),
    ("print_refused", "Refused Print"),
]

#: The searchable columns of an entry are computed by PostgreSQL from the hashed payload
#: (STORED generated columns): nobody, a superuser included, can make one disagree with the
#: evidence without changing the schema, which the verifier checks. {column: (type, expr)}.
GENERATED_COLUMNS = {
    "seq": ("int4 NOT NULL", "(payload::jsonb ->> 'seq')::int4"),
    "at": ("timestamp NOT NULL", "esign_audit_utc(payload::jsonb ->> 'at')"),
    "user_id": ("int4 NOT NULL", "(payload::jsonb -> 'user' ->> 0)::int4"),
    "res_model": ("varchar NOT NULL", "(payload::jsonb ->> 'model')::varchar"),
    "res_id": ("int4", "(payload::jsonb ->> 'res_id')::int4"),
    "record_name": ("varchar", "(payload::jsonb ->> 'record')::varchar"),
    "operation": ("varchar NOT NULL", "(payload::jsonb ->> 'op')::varchar"),
    "reason": ("text", "NULLIF(payload::jsonb ->> 'reason', '')"),
    "ip_address": ("varchar", "(payload::jsonb ->> 'ip')::varchar"),
    "session_hash": ("varchar", "(payload::jsonb ->> 'session')::varchar"),
    # Not searchable: the entry hash as PostgreSQL computes it from the row's own link and
    # payload when the row is written; the verification compares it with entry_hash.
    "computed_hash": ("varchar", COMPUTED_HASH_EXPRESSION),
}

#: The reporting views that read the generated columns, in the order they are made.
KPI_VIEWS_ON_ENTRIES = ("esign.kpi.request", "esign.kpi.cycle")

#: ISO 8601 UTC text ("2026-11-26T22:52:55Z") to a timestamp. Declared IMMUTABLE so a
#: generated column may use it: the payload's format is fixed, so the result never varies.
UTC_FUNCTION_SQL = """
CREATE OR REPLACE FUNCTION esign_audit_utc(text) RETURNS timestamp
    LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT $1::timestamp $$;
"""

#: Keys of ``cr.precommit.data`` (cleared with the transaction): how many ``_batched`` blocks
#: are open, and the entries they collected.
BATCH_DEPTH_KEY = "meddev_esign.audit_batch_depth"
PENDING_KEY = "meddev_esign.audit_pending"


def _leave_batch(data):
    """Close one ``_batched`` block; return how many stay open."""
    depth = data.get(BATCH_DEPTH_KEY, 0) - 1
    if depth > 0:
        data[BATCH_DEPTH_KEY] = depth
    else:
        data.pop(BATCH_DEPTH_KEY, None)
    return max(depth, 0)


def _request_context():
    """(IP address, SHA-256 of the session id) of the HTTP request, if any."""
    if not request or not getattr(request, "httprequest", None):
        return None, None
    sid = getattr(request.session, "sid", None)
    digest = hashlib.sha256(sid.encode()).hexdigest() if sid else None
    return request.httprequest.remote_addr, digest


class EsignAuditEntry(models.Model):
    """One change to a regulated record, linked into its company's hash chain (R15)."""

    _name = "esign.audit.entry"
    _description = "Audit Trail Entry"
    _inherit = ["esign.append.only"]
    _append_only_rules = ("retention",)
    _order = "chain_id, seq desc"
    _rec_name = "display_label"

    chain_id = fields.Many2one("esign.audit.chain", required=True, index=True, readonly=True)
    company_id = fields.Many2one("res.company", related="chain_id.company_id", store=True)
    seq = fields.Integer(string="No.", required=True, readonly=True, help="Gap-free, per chain.")
    at = fields.Datetime(string="Date", required=True, readonly=True, index=True)
    user_id = fields.Many2one("res.users", string="User", required=True, readonly=True, index=True)
    res_model = fields.Char(string="Model", required=True, readonly=True, index=True)
    model_name = fields.Char(string="Document Type", compute="_compute_model_name")
    res_id = fields.Many2oneReference(
        string="Record ID", model_field="res_model", readonly=True, index=True
    )
    record_name = fields.Char(string="Record", readonly=True, index="trigram")
    operation = fields.Selection(OPERATIONS, required=True, readonly=True, index=True)
    reason = fields.Text(string="Reason for Change", readonly=True)
    ip_address = fields.Char(string="IP Address", readonly=True)
    session_hash = fields.Char(
        readonly=True, help="SHA-256 of the session id: ties entries of one session together."
    )
    payload = fields.Text(
        readonly=True, help="The canonical JSON that is hashed: the entry's evidence."
    )
    previous_hash = fields.Char(readonly=True)
    entry_hash = fields.Char(readonly=True, index=True)
    computed_hash = fields.Char(
        string="Hash Computed by the Database",
        readonly=True,
        help="The entry hash as PostgreSQL computed it from this entry's link and payload when "
        "the entry was written. The verification compares it with the stored hash and checks "
        "the links; the daily verification also recomputes every hash.",
    )
    retention_until = fields.Date(
        readonly=True,
        help="The entry cannot be removed before this date, by anyone but a database superuser.",
    )
    changes_html = fields.Html(string="Changes", compute="_compute_changes_html", sanitize=False)
    display_label = fields.Char(compute="_compute_display_label")

    _sql_constraints = [
        ("chain_seq_unique", "unique(chain_id, seq)", "An audit chain cannot fork."),
    ]

    def init(self):
        result = super().init()
        cr = self.env.cr
        cr.execute(UTC_FUNCTION_SQL)
        # Odoo created plain columns; make the searchable ones generated from the payload.
        # Dropping a column drops its index and the unique (chain, seq) constraint: Odoo
        # re-creates the indexes right after init(); the constraint is re-added here.
        # computed_hash is among them when its expression or function is not the shipped one:
        # the function is replaced below, and every stored hash computed again by it.
        plain = self._plain_generated_columns()
        cr.execute(LINK_FUNCTION_SQL)
        # Views that exist now and that dropping a column takes with it (not at install: they
        # are made after this table, by their own init()).
        views = [
            name
            for name in KPI_VIEWS_ON_ENTRIES
            if plain and name in self.env and sql.table_kind(cr, self.env[name]._table)
        ]
        for column in plain:
            kind, expression = GENERATED_COLUMNS[column]
            # CASCADE: the reporting views read these columns (esign_kpi.py); they are made
            # again below, once the columns are back.
            cr.execute(
                SQL("ALTER TABLE esign_audit_entry DROP COLUMN %s CASCADE", SQL.identifier(column))
            )
            cr.execute(
                SQL(
                    "ALTER TABLE esign_audit_entry ADD COLUMN %s %s"
                    " GENERATED ALWAYS AS (%s) STORED",
                    SQL.identifier(column),
                    SQL(kind),
                    SQL(expression),
                )
            )
        for view_model in views:  # in dependency order
            self.env[view_model].init()
        cr.execute(LINKS_INDEX_SQL)
        if not sql.constraint_definition(cr, self._table, "esign_audit_entry_chain_seq_unique"):
            cr.execute(
                "ALTER TABLE esign_audit_entry ADD CONSTRAINT esign_audit_entry_chain_seq_unique"
                " UNIQUE (chain_id, seq)"
            )
        return result

    @api.model
    def _plain_generated_columns(self):
        """Columns that are not (or no longer) generated from the evidence as shipped."""
        self.env.cr.execute(
            "SELECT attname FROM pg_attribute WHERE attrelid = 'esign_audit_entry'::regclass"
            " AND attnum > 0 AND NOT attisdropped AND attgenerated = 's'"
        )
        generated = {name for (name,) in self.env.cr.fetchall()}
        plain = [column for column in GENERATED_COLUMNS if column not in generated]
        if "computed_hash" in generated and LedgerStore(self.env.cr).detached_computed_hash():
            plain.append("computed_hash")
        return plain

    @api.depends("res_model")
    def _compute_model_name(self):
        names = {}
        for entry in self:
            if entry.res_model not in names:
                names[entry.res_model] = self.env["ir.model"]._get(entry.res_model).name or ""
            entry.model_name = names[entry.res_model] or entry.res_model

    @api.depends("seq", "operation", "record_name")
    def _compute_display_label(self):
        labels = dict(self._fields["operation"]._description_selection(self.env))
        for entry in self:
            entry.display_label = f"#{entry.seq} {labels.get(entry.operation, '')}: " + (
                entry.record_name or ""
            )

    # ------------------------------------------------------------------ display
    @api.model
    def _format_value(self, value):
        """A stored canonical value as a person reads it."""
        if value is None or value == []:
            return "—"
        if isinstance(value, list) and len(value) == 2 and isinstance(value[0], int):
            return f"{value[1]} (#{value[0]})"
        if isinstance(value, list):
            return ", ".join(self._format_value(v) for v in value)
        if isinstance(value, dict):
            return ", ".join(f"{k}: {self._format_value(v)}" for k, v in sorted(value.items()))
        if isinstance(value, bool):
            return self.env._("Yes") if value else self.env._("No")
        return str(value)

    def _changes(self):
        """The [[field, old, new], ...] list of the entry's payload."""
        self.ensure_one()
        try:
            return json.loads(self.payload or "{}").get("changes") or []
        except ValueError:
            return []

    @api.depends("payload")
    def _compute_changes_html(self):
        for entry in self:
            model = self.env.get(entry.res_model)
            rows = []
            for name, old, new in entry._changes():
                field = model._fields.get(name) if model is not None else None
                label = field._description_string(self.env) if field else name
                if field is None and model is not None:
                    label = _row_label(self.env, model, name) or label
                rows.append(
                    Markup(
                        "<tr><td>%s</td><td class='text-danger'>%s</td>"
                        "<td class='text-success'>%s</td></tr>"
                    )
                    % (label, self._format_value(old), self._format_value(new))
                )
            if not rows:
                entry.changes_html = False
                continue
            head = Markup("<tr><th>%s</th><th>%s</th><th>%s</th></tr>") % (
                self.env._("Field"),
                self.env._("Old Value"),
                self.env._("New Value"),
            )
            entry.changes_html = Markup(
                "<table class='table table-sm o_esign_audit_changes'><thead>%s</thead>"
                "<tbody>%s</tbody></table>"
            ) % (head, Markup("").join(rows))

    # ------------------------------------------------------------------ append-only
    @api.model_create_multi
    def create(self, vals_list):
        if vals_list:
            raise UserError(
                self.env._("Audit trail entries are written by the system only, never by hand.")
            )
        return super().create(vals_list)

    # ------------------------------------------------------------------ appending
    @api.model
    def _retention_years(self):
        return self.env["ir.config_parameter"]._esign_int(
            "meddev_esign.audit_retention_years", 15, minimum=1
        )

    @api.model
    def _checkpoint_interval(self):
        return self.env["ir.config_parameter"]._esign_int(
            "meddev_esign.audit_checkpoint_interval", 1000
        )

    @api.model
    def _append(self, items):
        """Append ledger items to their companies' chains, in this transaction.

        Each item is a dict with ``company_id`` (or ``chain_id``), ``model``, ``res_id``,
        ``record``, ``op``, ``changes`` ([[field, old, new], ...]) and ``reason``.

        Inside ``_batched()`` the items are stamped now (time and user) and appended when the
        block ends, together with the block's other items, in the order they came.
        """
        if not items:
            return
        now = fields.Datetime.now()
        entries = [(item, self.env.uid, now) for item in items]
        cr = self.env.cr
        data = cr.precommit.data
        pending = data.get(PENDING_KEY)
        if data.get(BATCH_DEPTH_KEY):
            if pending is None:
                pending = data[PENDING_KEY] = []
                # Whatever ends the block early still writes them first: a commit, or a
                # savepoint (entered: written before it; rolled back: dropped with it).
                cr.precommit.add(self._append_pending)
            pending.extend(entries)
            return
        if pending:  # left by a block that ended on an exception: they come first
            entries = pending + entries
            pending.clear()
        self._append_entries(entries)

    @contextlib.contextmanager
    def _batched(self):
        """Collect the appends made inside the block; append them all when it ends.

        One lock, one head read and one INSERT for all of them instead of one each: signing
        500 lots appends 1,000 entries. Every entry keeps its own time and user, and the chain
        gets them in the order they came. Nothing is skipped: the block ends with the append,
        still inside the caller's transaction. When the block ends on an exception, the
        collected entries stay registered on the transaction: written if it is committed
        anyway, dropped if it is rolled back, as are the changes they record.
        """
        data = self.env.cr.precommit.data
        data[BATCH_DEPTH_KEY] = data.get(BATCH_DEPTH_KEY, 0) + 1
        try:
            yield
        except BaseException:
            _leave_batch(self.env.cr.precommit.data)
            raise
        if not _leave_batch(self.env.cr.precommit.data):
            self._append_pending()

    def _append_pending(self):
        """Append what ``_batched`` collected (also run as a pre-commit hook)."""
        pending = self.env.cr.precommit.data.get(PENDING_KEY)
        if pending:
            entries = list(pending)
            pending.clear()
            self._append_entries(entries)

    @api.model
    def _append_entries(self, entries):
        """Append ``(item, user id, time)`` entries, in order, to their chains."""
        cr = self.env.cr
        chains = self.env["esign.audit.chain"].sudo()
        grouped = defaultdict(list)
        companies = {}  # chain id -> its company id, when the chain was found by company
        for entry in entries:
            item = entry[0]
            chain_id = item.get("chain_id")
            if not chain_id:
                chain_id = chains._chain_id_for(item["company_id"])
                companies[chain_id] = item["company_id"] or None
            grouped[chain_id].append(entry)
        chains.flush_model()
        ip, session = _request_context()
        users = {}
        for uid in {entry[1] for entry in entries}:
            user = self.env["res.users"].sudo().browse(uid)
            users[uid] = [user.id, user.login or "", user.name or ""]
        years = self._retention_years()
        retentions = {}
        interval = self._checkpoint_interval()
        for chain_id in sorted(grouped):  # always the same order: no deadlock between chains
            chain = chains.browse(chain_id)
            try:
                head_seq, head_hash = chain._read_head(committed_too=True, lock=True)
            except ChainBusyError:
                # The database's lock or statement timeout ended the wait for the chain: a
                # clear refusal, not a traceback; the transaction is rolled back whole.
                raise UserError(
                    self.env._(
                        "The audit trail is busy recording other changes right now. Nothing "
                        "was saved: please try again in a moment."
                    )
                ) from None
            company_id = (
                companies[chain_id] if chain_id in companies else chain.company_id.id or None
            )
            payloads = [
                {
                    "v": 1,
                    "chain": chain_id,
                    "at": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "user": users[uid],
                    "model": item["model"],
                    "res_id": item["res_id"] or 0,
                    "record": item["record"] or "",
                    "op": item["op"],
                    "changes": item["changes"],
                    "reason": item.get("reason") or "",
                    "ip": ip,
                    "session": session,
                }
                for item, uid, when in grouped[chain_id]
            ]
            rows = ledger.next_links(head_seq, head_hash or ledger.GENESIS, payloads)
            values = []
            for (_seq, previous, entry_hash, text), (_item, uid, when) in zip(
                rows, grouped[chain_id], strict=True
            ):
                day = when.date()
                if day not in retentions:
                    retentions[day] = day + relativedelta(years=years)
                values.append(
                    (
                        chain_id,
                        company_id,
                        text,
                        previous,
                        entry_hash,
                        retentions[day],
                        uid,
                        when,
                        uid,
                        when,
                    )
                )
            LedgerStore(cr).append(values)
            if interval:
                for seq, _previous, entry_hash, _text in rows:
                    if seq % interval == 0:
                        self.env["esign.audit.checkpoint"].sudo()._store(
                            chain_id, seq, entry_hash, "interval"
                        )
        chains.browse(list(grouped)).invalidate_recordset(["head_seq", "head_hash"])


#: A change of a signed row, as the signed-lines guard records it: ``lines[42].price_unit``.
_ROW_CHANGE = re.compile(r"^(\w+)\[(\d+)\]\.(\w+)$")


def _row_label(env, model, name):
    """'Order Lines #42: Unit Price' for ``lines[42].price_unit`` on a signable record whose
    signed rows are declared under the key ``lines`` (``_esign_signed_lines``); None when the
    name is not such a change."""
    match = _ROW_CHANGE.match(name)
    spec = match and getattr(model, "_esign_signed_lines", {}).get(match.group(1))
    if not spec:
        return None
    rows = model
    for hop in spec.path.split("."):
        rows = env[rows._fields[hop].comodel_name]
    first = model._fields[spec.path.split(".")[0]]
    column = rows._fields.get(match.group(3))
    column_label = column._description_string(env) if column else match.group(3)
    return f"{first._description_string(env)} #{match.group(2)}: {column_label}"
