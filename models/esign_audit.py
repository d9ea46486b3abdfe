"""The tamper-evident audit trail: chains, entries, checkpoints, verifications and rules.

One hash chain per company. Appending takes a PostgreSQL advisory lock on the chain, held
until the transaction ends: writers on any number of workers and servers queue in the
database, never in process memory. The chain has no head row to update: the head is its entry
with the highest number. Odoo runs REPEATABLE READ, whose snapshot may predate the last
writer's commit, so the head is read twice once the lock is held: in this transaction (its
own entries not yet committed) and through a second connection (everything committed, which
under the lock is everything). Appending then only INSERTs, which never conflicts, so writers
do not fail with serialisation errors. The unique (chain, seq) index is the last guard
against a fork. Everything else happens inside the caller's transaction: a rolled back change
leaves no entry.
"""

import base64
import contextlib
import hashlib
import json
import logging
import queue
import threading
import time
from collections import defaultdict

import psycopg2
from dateutil.relativedelta import relativedelta
from markupsafe import Markup

from odoo import SUPERUSER_ID, api, fields, models, tools
from odoo.exceptions import UserError, ValidationError
from odoo.http import request
from odoo.sql_db import db_connect
from odoo.tools import SQL, sql

from ..services import audit as ledger
from ..services import pki
from ..services.chain import ChainVerdict

_logger = logging.getLogger(__name__)

#: First key of the advisory lock that serialises appends to one chain ("ESAU").
LOCK_NAMESPACE = 0x45534155

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
}

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


class EsignAuditChain(models.Model):
    """The hash chain of one company's audit trail, with its head and verification history."""

    _name = "esign.audit.chain"
    _description = "Audit Trail Chain"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _order = "company_id, id"

    name = fields.Char(required=True)
    company_id = fields.Many2one("res.company", index=True, readonly=True)
    head_seq = fields.Integer(
        string="Entries",
        compute="_compute_head",
        help="Number of the last entry of the chain.",
    )
    head_hash = fields.Char(
        string="Head Hash",
        compute="_compute_head",
        help="Hash of the last entry. Keep a copy elsewhere (a printed integrity report, a "
        "checkpoint's timestamp): a rewrite of the whole chain is caught against it.",
    )
    purged_seq = fields.Integer(
        string="Purged Up To",
        readonly=True,
        default=0,
        help="Entries up to this number were removed after their retention date; "
        "verification starts from the checkpoint at this number.",
    )
    purged_hash = fields.Char(readonly=True, default=ledger.GENESIS)
    checkpoint_ids = fields.One2many("esign.audit.checkpoint", "chain_id", readonly=True)
    verification_ids = fields.One2many("esign.audit.verification", "chain_id", readonly=True)
    last_verification_id = fields.Many2one(
        "esign.audit.verification", compute="_compute_last_verification"
    )
    last_verdict = fields.Selection(
        [("intact", "Intact"), ("broken", "Broken")],
        string="Last Verdict",
        compute="_compute_last_verification",
    )

    _sql_constraints = [
        ("company_unique", "unique(company_id)", "A company has one audit trail chain."),
    ]

    def init(self):
        # Every company has its chain before anything is audited.
        self.env.cr.execute(
            """
            INSERT INTO esign_audit_chain (name, company_id, purged_seq, purged_hash,
                                           create_uid, create_date, write_uid, write_date)
            SELECT c.name, c.id, 0, %s, %s, now() at time zone 'UTC', %s,
                   now() at time zone 'UTC'
              FROM res_company c
             WHERE NOT EXISTS (SELECT 1 FROM esign_audit_chain a WHERE a.company_id = c.id)
            """,
            (ledger.GENESIS, SUPERUSER_ID, SUPERUSER_ID),
        )

    def _compute_head(self):
        for chain in self:
            chain.head_seq, chain.head_hash = chain._read_head() if chain.id else (0, "")

    def _read_head(self, committed_too=False, lock=False):
        """(seq, hash) of the chain's last entry, or (0, GENESIS) for an empty chain.

        :param committed_too: also ask a second connection, which sees every committed entry
            whatever this transaction's snapshot is. Only meaningful under the append lock.
        :param lock: take the chain's append lock (held until the transaction ends) in the
            same statement. Odoo's transactions are REPEATABLE READ, so what this
            transaction's snapshot shows does not depend on when, within the statement, the
            lock was granted; whatever was committed meanwhile is what ``committed_too`` reads,
            after the lock is held.
        """
        self.ensure_one()
        query = (
            "SELECT seq, entry_hash FROM esign_audit_entry WHERE chain_id = %s"
            " ORDER BY seq DESC LIMIT 1"
        )
        self.env["esign.audit.entry"].flush_model()
        if lock:
            # One round trip instead of two: one row, (NULL, NULL) for an empty chain.
            self.env.cr.execute(
                "SELECT head.seq, head.entry_hash"
                " FROM (SELECT pg_advisory_xact_lock(%s, %s)) AS append_lock"
                f" LEFT JOIN LATERAL ({query}) AS head ON TRUE",
                (LOCK_NAMESPACE, self.id, self.id),
            )
            row = self.env.cr.fetchone()
            heads = [row if row[0] is not None else None]
        else:
            self.env.cr.execute(query, (self.id,))
            heads = [self.env.cr.fetchone()]
        if committed_too:
            # Once this transaction holds the chain's lock, nobody else can commit to it: the
            # committed head is read once per transaction (a bulk signature appends hundreds).
            # postrollback.data lives exactly as long as the transaction.
            committed = self.env.cr.postrollback.data.setdefault("esign_audit_heads", {})
            if self.id not in committed:
                committed[self.id] = None
                # During a module update that altered the entry table in this transaction, the
                # second connection would wait for it forever, and no other transaction can
                # append meanwhile; unique(chain, seq) still refuses any fork.
                if not self._holds_entry_table():
                    with db_connect(self.env.cr.dbname).cursor() as side:
                        # While the add-on is being installed, nothing is committed yet.
                        with contextlib.suppress(psycopg2.errors.UndefinedTable):
                            side.execute(query, (self.id,), log_exceptions=False)
                            committed[self.id] = side.fetchone()
            heads.append(committed[self.id])

        head = max((h for h in heads if h), default=None)
        return head if head else (0, ledger.GENESIS)

    def _holds_entry_table(self):
        """Whether this transaction holds an exclusive lock on the entry table (DDL during a
        module install or update), which a second connection's read would wait on."""
        self.env.cr.execute(
            "SELECT 1 FROM pg_locks WHERE pid = pg_backend_pid() AND granted"
            " AND mode = 'AccessExclusiveLock' AND relation = 'esign_audit_entry'::regclass"
        )
        return bool(self.env.cr.fetchone())

    @api.depends("name", "company_id.name")
    def _compute_display_name(self):
        for chain in self:
            chain.display_name = chain.company_id.name or chain.name

    def _compute_last_verification(self):
        for chain in self:
            chain.last_verification_id = chain.verification_ids[:1]
            chain.last_verdict = chain.last_verification_id.verdict

    @api.model
    def _for_company(self, company):
        """The chain of ``company`` (created on first use if the company is new)."""
        chain = self.sudo().search([("company_id", "=", company.id)], limit=1)
        return chain or self.sudo().create({"name": company.name, "company_id": company.id})

    @api.model
    @tools.ormcache("company_id")
    def _chain_id_for(self, company_id):
        """Id of the chain of company ``company_id``: one look-up per worker, not per write."""
        return self._for_company(self.env["res.company"].browse(company_id)).id

    # ------------------------------------------------------------------ reading the chain
    def _stream_rows(self, start_seq=1, batch=20000):
        """Yield (seq, previous_hash, entry_hash, payload) in seq order, from PostgreSQL.

        A server-side cursor is read by a helper thread while the caller hashes, so the
        database and the hashing overlap; memory holds at most a few batches.
        """
        self.ensure_one()
        cnx = self.env.cr._cnx
        cursor = cnx.cursor(f"esign_audit_verify_{self.id}_{int(time.time() * 1000)}")
        cursor.execute(
            "SELECT seq, previous_hash, entry_hash, payload FROM esign_audit_entry"
            " WHERE chain_id = %s AND seq >= %s ORDER BY seq",
            (self.id, start_seq),
        )
        batches = queue.Queue(maxsize=4)
        failure = []

        def fetch():
            try:
                while True:
                    rows = cursor.fetchmany(batch)
                    batches.put(rows)
                    if not rows:
                        return
            except Exception as exc:  # noqa: BLE001 - re-raised in the caller's thread
                failure.append(exc)
                batches.put([])

        reader = threading.Thread(target=fetch, name="esign-audit-verify", daemon=True)
        reader.start()
        try:
            while True:
                rows = batches.get()
                if not rows:
                    break
                yield from rows
        finally:
            # Drain so the reader thread ends, then close the server-side cursor.
            while reader.is_alive():
                with contextlib.suppress(queue.Empty):
                    batches.get(timeout=0.1)
            reader.join()
            cursor.close()
        if failure:
            raise failure[0]

    def _verify(self):
        """Verify the chain in PostgreSQL: links, hashes and numbering of every entry.

        The searchable columns are generated by PostgreSQL from the hashed payload; the check
        that they still are is one catalog query.

        :return: the :class:`services.chain.ChainVerdict` of the links, or a failing verdict
            when a searchable column was detached from the payload.
        """
        self.ensure_one()
        self.env.flush_all()
        start_seq = self.purged_seq + 1
        start_hash = self.purged_hash or ledger.GENESIS
        verdict = ledger.verify_rows(
            self._stream_rows(start_seq), start_hash=start_hash, start_seq=start_seq
        )
        detached = self.env["esign.audit.entry"]._plain_generated_columns()
        if verdict.ok and detached:
            return ChainVerdict(
                False,
                verdict.checked,
                None,
                "altered",
                f"The columns {', '.join(detached)} are no longer computed from the hashed "
                "entries: the table was altered, and what is searched or shown may disagree "
                "with the evidence.",
            )
        return verdict

    def _run_verification(self, trigger="manual"):
        """Verify, store the verdict as an ``esign.audit.verification``, alert on a break."""
        verifications = self.env["esign.audit.verification"]
        for chain in self:
            started = time.perf_counter()
            verdict = chain._verify()
            seconds = time.perf_counter() - started
            chain.invalidate_recordset(["head_seq", "head_hash"])
            verification = verifications.sudo().create(
                {
                    "chain_id": chain.id,
                    "company_id": chain.company_id.id,
                    "trigger": trigger,
                    "verdict": "intact" if verdict.ok else "broken",
                    "checked": verdict.checked,
                    "head_seq": chain.head_seq,
                    "head_hash": chain.head_hash,
                    "break_seq": verdict.first_break_seq or 0,
                    "break_kind": verdict.kind or False,
                    "message": verdict.message,
                    "duration": seconds,
                }
            )
            verifications |= verification
            if not verdict.ok:
                chain._alert_break(verification)
        return verifications

    def _alert_break(self, verification):
        """Mail and schedule an activity for every E-Signature Administrator (R27)."""
        self.ensure_one()
        subject = self.env._("Audit trail integrity break: %(chain)s", chain=self.name)
        body = self.env._(
            "The verification of %(chain)s found a break at entry %(seq)s (%(kind)s): "
            "%(message)s Investigate before relying on this trail.",
            chain=self.name,
            seq=verification.break_seq,
            kind=dict(verification._fields["break_kind"]._description_selection(self.env)).get(
                verification.break_kind, ""
            ),
            message=verification.message,
        )
        self.env["res.users"]._esign_alert(self.sudo(), subject, body, post=True)
        _logger.error("Audit trail %s broken: %s", self.id, verification.message)

    def action_verify(self):
        """Button: verify now and show the verdict."""
        verification = self._run_verification("manual")
        if len(verification) == 1:
            return verification._action_open()
        return True

    def action_print_integrity_report(self):
        """Button: verify now and print the Audit Trail Integrity Report."""
        verification = self._run_verification("manual")
        return self.env.ref("meddev_esign.action_report_audit_integrity").report_action(
            verification
        )

    def action_checkpoint(self):
        """Button: store the current head as a checkpoint now."""
        for chain in self:
            chain._checkpoint("manual")
        return True

    # ------------------------------------------------------------------ checkpoints
    def _checkpoint(self, trigger):
        """Store the current head (if not stored yet) as a checkpoint; return it."""
        self.ensure_one()
        self.env.flush_all()
        seq, head = self._read_head()
        if not seq:
            return self.env["esign.audit.checkpoint"]
        existing = self.env["esign.audit.checkpoint"].search(
            [("chain_id", "=", self.id), ("seq", "=", seq)], limit=1
        )
        return existing or self.env["esign.audit.checkpoint"].sudo()._store(
            self.id, seq, head, trigger
        )

    @api.model
    def _cron_daily(self):
        """Daily: checkpoint every chain's head, then verify every chain (alert on a break)."""
        for chain in self.sudo().search([]):
            chain._checkpoint("daily")
            chain.checkpoint_ids._request_timestamp()  # also the interval ones, and retries
            chain._run_verification("cron")

    # ------------------------------------------------------------------ retention
    @api.model
    def _cron_purge_expired(self):
        """Remove entries past their retention date, only as a prefix ending at a checkpoint.

        The database refuses to delete an entry younger than its retention date, whoever asks
        (R19). What remains verifies from the checkpoint the purge ended at; the purge itself
        is recorded as an entry.
        """
        today = fields.Date.context_today(self)
        for chain in self.sudo().search([]):
            self.env.cr.execute(
                """
                SELECT max(c.seq) FROM esign_audit_checkpoint c
                 WHERE c.chain_id = %(chain)s AND c.seq > %(purged)s
                   AND NOT EXISTS (SELECT 1 FROM esign_audit_entry e
                                    WHERE e.chain_id = %(chain)s AND e.seq <= c.seq
                                      AND e.retention_until >= %(today)s)
                """,
                {"chain": chain.id, "purged": chain.purged_seq, "today": today},
            )
            upto = self.env.cr.fetchone()[0]
            if not upto:
                continue
            checkpoint = chain.checkpoint_ids.filtered(lambda c, s=upto: c.seq == s)
            self.env.cr.execute(
                "DELETE FROM esign_audit_entry WHERE chain_id = %s AND seq <= %s",
                (chain.id, upto),
            )
            removed = self.env.cr.rowcount
            chain.write({"purged_seq": upto, "purged_hash": checkpoint.entry_hash})
            self.env["esign.audit.entry"]._append(
                [
                    {
                        "company_id": chain.company_id.id,
                        "chain_id": chain.id,
                        "model": chain._name,
                        "res_id": chain.id,
                        "record": chain.name,
                        "op": "purge",
                        "changes": [
                            ["purged_seq", chain.purged_seq, upto],
                            ["removed", None, removed],
                            ["checkpoint_hash", None, checkpoint.entry_hash],
                        ],
                        "reason": "retention period over",
                    }
                ]
            )


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
        for column in self._plain_generated_columns():
            kind, expression = GENERATED_COLUMNS[column]
            cr.execute(SQL("ALTER TABLE esign_audit_entry DROP COLUMN %s", SQL.identifier(column)))
            cr.execute(
                SQL(
                    "ALTER TABLE esign_audit_entry ADD COLUMN %s %s"
                    " GENERATED ALWAYS AS (%s) STORED",
                    SQL.identifier(column),
                    SQL(kind),
                    SQL(expression),
                )
            )
        if not sql.constraint_definition(cr, self._table, "esign_audit_entry_chain_seq_unique"):
            cr.execute(
                "ALTER TABLE esign_audit_entry ADD CONSTRAINT esign_audit_entry_chain_seq_unique"
                " UNIQUE (chain_id, seq)"
            )
        return result

    @api.model
    def _plain_generated_columns(self):
        """Searchable columns that are not (or no longer) generated from the payload."""
        self.env.cr.execute(
            "SELECT attname FROM pg_attribute WHERE attrelid = 'esign_audit_entry'::regclass"
            " AND attnum > 0 AND NOT attisdropped AND attgenerated = 's'"
        )
        generated = {name for (name,) in self.env.cr.fetchall()}
        return [column for column in GENERATED_COLUMNS if column not in generated]

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
            head_seq, head_hash = chain._read_head(committed_too=True, lock=True)
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
            # Only the evidence is inserted: seq, time, user, model... are generated from it.
            cr.execute(
                SQL(
                    "INSERT INTO esign_audit_entry (chain_id, company_id, payload, previous_hash,"
                    " entry_hash, retention_until, create_uid, create_date, write_uid,"
                    " write_date) VALUES %s",
                    SQL(", ").join(SQL("%s", value) for value in values),
                )
            )
            if interval:
                for seq, _previous, entry_hash, _text in rows:
                    if seq % interval == 0:
                        self.env["esign.audit.checkpoint"].sudo()._store(
                            chain_id, seq, entry_hash, "interval"
                        )
        chains.browse(list(grouped)).invalidate_recordset(["head_seq", "head_hash"])


class EsignAuditCheckpoint(models.Model):
    """A chain head kept aside: every N entries, daily, and on demand (R27)."""

    _name = "esign.audit.checkpoint"
    _description = "Audit Trail Checkpoint"
    _inherit = ["esign.append.only"]
    _append_only_rules = ("fill_once:timestamp_token",)
    _append_only_fill_once = frozenset({"timestamp_token"})
    _order = "chain_id, seq desc"
    _rec_name = "seq"

    chain_id = fields.Many2one("esign.audit.chain", required=True, index=True, readonly=True)
    seq = fields.Integer(string="Entry No.", required=True, readonly=True)
    entry_hash = fields.Char(string="Head Hash", required=True, readonly=True)
    at = fields.Datetime(string="Taken At", required=True, readonly=True)
    trigger = fields.Selection(
        [
            ("interval", "Every N Entries"),
            ("daily", "Daily"),
            ("manual", "On Demand"),
            ("export", "Export"),
            ("review", "Trail Review"),
        ],
        required=True,
        readonly=True,
    )
    timestamp_token = fields.Binary(
        attachment=False,
        readonly=True,
        help="RFC 3161 timestamp token over the head hash, once a timestamp authority is "
        "configured. It can be filled once; nothing else of a checkpoint can change.",
    )
    timestamp_status = fields.Selection(
        [("none", "No Timestamp Authority"), ("stamped", "Timestamped")],
        compute="_compute_timestamp_status",
    )

    _sql_constraints = [
        ("chain_seq_unique", "unique(chain_id, seq)", "One checkpoint per chain entry."),
    ]

    @api.depends("timestamp_token")
    def _compute_timestamp_status(self):
        for checkpoint in self:
            checkpoint.timestamp_status = "stamped" if checkpoint.timestamp_token else "none"

    @api.model
    def _store(self, chain_id, seq, entry_hash, trigger):
        checkpoint = self.sudo().create(
            {
                "chain_id": chain_id,
                "seq": seq,
                "entry_hash": entry_hash,
                "at": fields.Datetime.now(),
                "trigger": trigger,
            }
        )
        if trigger != "interval":  # never a network call inside somebody's write
            checkpoint._request_timestamp()
        return checkpoint

    def _request_timestamp(self):
        """An RFC 3161 token over ``entry_hash``, stored once (R27), when the chain's company
        signs with PKI and has timestamp authorities. A TSA that does not answer leaves the
        checkpoint unstamped; the daily cron tries again. Returns the stamped checkpoints.
        """
        stamped = self.browse()
        for checkpoint in self.filtered(lambda c: not c.timestamp_token):
            company = checkpoint.chain_id.company_id
            urls = company._esign_tsa_url_list() if company.esign_pki_enabled else []
            if not urls:
                continue
            try:
                stamp = pki.timestamp_imprint(
                    bytes.fromhex(checkpoint.entry_hash),
                    urls,
                    timeout=company.esign_tsa_timeout or 5.0,
                )
            except pki.TimestampUnavailableError as exc:
                _logger.warning("Checkpoint %s left unstamped: %s", checkpoint.id, exc)
                continue
            checkpoint._set_timestamp_token(base64.b64encode(stamp.token))
            stamped |= checkpoint
        return stamped

    def _set_timestamp_token(self, token):
        """Store a timestamp token once; the database refuses any other change."""
        self.ensure_one()
        if self.timestamp_token:
            raise UserError(self.env._("This checkpoint already carries a timestamp."))
        self.sudo().write({"timestamp_token": token})


class EsignAuditVerification(models.Model):
    """One run of the verifier over a chain: the verdict an inspector can print."""

    _name = "esign.audit.verification"
    _description = "Audit Trail Verification"
    _inherit = ["esign.append.only"]
    _order = "id desc"
    _rec_name = "display_label"

    chain_id = fields.Many2one("esign.audit.chain", required=True, index=True, readonly=True)
    # The chain's company, written with the row: a stored related field would be filled by a
    # second UPDATE, which the append-only trigger refuses.
    company_id = fields.Many2one("res.company", readonly=True, index=True)
    trigger = fields.Selection(
        [("manual", "Button"), ("cron", "Daily Check"), ("review", "Trail Review")],
        required=True,
        readonly=True,
    )
    verdict = fields.Selection(
        [("intact", "Intact"), ("broken", "Broken")], required=True, readonly=True
    )
    checked = fields.Integer(string="Entries Checked", readonly=True)
    head_seq = fields.Integer(string="Head Entry", readonly=True)
    head_hash = fields.Char(readonly=True)
    break_seq = fields.Integer(string="Break At Entry", readonly=True)
    break_kind = fields.Selection(
        [
            ("altered", "Altered"),
            ("missing", "Missing"),
            ("inserted", "Inserted"),
            ("reordered", "Reordered"),
        ],
        readonly=True,
    )
    message = fields.Text(readonly=True)
    duration = fields.Float(string="Duration (s)", readonly=True, digits=(16, 3))
    display_label = fields.Char(compute="_compute_display_label")

    @api.depends("verdict", "create_date", "chain_id")
    def _compute_display_label(self):
        labels = dict(self._fields["verdict"]._description_selection(self.env))
        for rec in self:
            rec.display_label = f"{rec.chain_id.name}: {labels.get(rec.verdict, '')}"

    def _action_open(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
            "target": "new",
        }

    def action_print(self):
        return self.env.ref("meddev_esign.action_report_audit_integrity").report_action(self)

    def _checkpoints(self):
        """The chain's latest checkpoints, for the printed report."""
        self.ensure_one()
        return self.chain_id.checkpoint_ids.sorted("seq", reverse=True)[:10]


class EsignAuditRule(models.Model):
    """An administrator's addition to the regulated models (audited itself, R28)."""

    _name = "esign.audit.rule"
    _description = "Audit Trail Rule"
    _esign_audit = "config"
    _order = "model_id"

    name = fields.Char(compute="_compute_name", store=True)
    model_id = fields.Many2one(
        "ir.model",
        string="Model",
        required=True,
        ondelete="cascade",
        domain=[("transient", "=", False)],
        help="Every create, change and deletion of this model's records is recorded in the "
        "audit trail.",
    )
    model = fields.Char(string="Model Name", related="model_id.model", store=True)
    field_ids = fields.Many2many(
        "ir.model.fields",
        string="Fields",
        domain="[('model_id', '=', model_id), ('store', '=', True)]",
        help="Leave empty to record every stored field.",
    )
    active = fields.Boolean(default=True)

    _sql_constraints = [
        ("model_unique", "unique(model_id)", "There is already an audit rule for this model."),
    ]

    @api.depends("model_id")
    def _compute_name(self):
        for rule in self:
            rule.name = rule.model_id.name or ""

    @api.constrains("model_id")
    def _check_model(self):
        for rule in self:
            name = rule.model_id.model or ""
            if name.startswith("esign.audit.") or self.env[name]._transient:
                raise ValidationError(
                    self.env._("%(model)s cannot be audited by a rule.", model=rule.model_id.name)
                )

    @api.model
    @tools.ormcache()
    def _esign_rule_map(self):
        """{model name: frozenset of field names (empty: all)} of the active rules.

        Plain SQL on purpose: every write of every model may ask, including while uninstall
        drops this model's columns one by one, when an ORM search would fail.
        """
        cr = self.env.cr
        relation = self._fields["field_ids"]
        if not all(sql.column_exists(cr, self._table, column) for column in ("model", "active")):
            return {}
        self.flush_model(["model", "active", "field_ids"])
        cr.execute(
            SQL(
                "SELECT id, model FROM %s WHERE active AND model IS NOT NULL",
                SQL.identifier(self._table),
            )
        )
        rules = dict(cr.fetchall())
        names = defaultdict(set)
        if rules and sql.table_exists(cr, relation.relation):
            cr.execute(
                SQL(
                    "SELECT rel.%s, f.name FROM %s rel JOIN ir_model_fields f ON f.id = rel.%s"
                    " WHERE rel.%s IN %s",
                    SQL.identifier(relation.column1),
                    SQL.identifier(relation.relation),
                    SQL.identifier(relation.column2),
                    SQL.identifier(relation.column1),
                    tuple(rules),
                )
            )
            for rule_id, name in cr.fetchall():
                names[rule_id].add(name)
        return {model: frozenset(names[rule_id]) for rule_id, model in rules.items()}

    @api.model_create_multi
    def create(self, vals_list):
        rules = super().create(vals_list)
        self.env.registry.clear_cache()
        self.env.registry.clear_cache("templates")
        return rules

    def write(self, vals):
        result = super().write(vals)
        self.env.registry.clear_cache()
        self.env.registry.clear_cache("templates")
        return result

    def unlink(self):
        result = super().unlink()
        self.env.registry.clear_cache()
        self.env.registry.clear_cache("templates")
        return result
