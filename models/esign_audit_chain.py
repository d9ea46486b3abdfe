"""The tamper-evident audit trail's chain: one per company, with its head, verifications,
checkpoints and retention purge. The SQL of appending, reading and checking the entries is
in :mod:`.esign_ledger_store`.
"""

import logging
import time

from odoo import SUPERUSER_ID, api, fields, models, tools

from ..services import audit as ledger
from ..services.chain import ChainVerdict
from .esign_ledger_store import LedgerStore

# The audit trail logs under one name, whichever of its files speaks (log filters rely on it).
_logger = logging.getLogger("odoo.addons.meddev_esign.models.esign_audit")


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
        """(seq, hash) of the chain's last entry, or (0, GENESIS) for an empty chain; see
        :meth:`LedgerStore.head` for ``committed_too`` and ``lock``."""
        self.ensure_one()
        self.env["esign.audit.entry"].flush_model()
        return LedgerStore(self.env.cr).head(self.id, committed_too=committed_too, lock=lock)

    def _holds_entry_table(self):
        """Whether this transaction holds an exclusive lock on the entry table (DDL)."""
        return LedgerStore(self.env.cr).holds_table()

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
    def _stream_rows(self, start_seq=1):
        """Yield (seq, previous_hash, entry_hash, payload) in storage order, from PostgreSQL
        (a server-side cursor of this transaction)."""
        self.ensure_one()
        self.env["esign.audit.entry"].flush_model()
        return LedgerStore(self.env.cr).stream(self.id, start_seq)

    def _verify(self, recompute=False):
        """Verify the chain where it is stored: links, hashes and numbering of every entry
        (see :meth:`LedgerStore.verify`; the first break is named as a full stream would).

        :param recompute: recompute every entry hash from its link and payload (the daily
            check) rather than compare it with the hash PostgreSQL stored at writing.

        The searchable columns are generated by PostgreSQL from the hashed payload; the check
        that they still are is one catalog query.

        :return: the :class:`services.chain.ChainVerdict` of the links, or a failing verdict
            when a searchable column was detached from the payload.
        """
        self.ensure_one()
        self.env.flush_all()
        start_seq = self.purged_seq + 1
        start_hash = self.purged_hash or ledger.GENESIS
        verdict = LedgerStore(self.env.cr).verify(self.id, start_seq, start_hash, recompute)
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
        """Verify, store the verdict as an ``esign.audit.verification``, alert on a break.

        The daily cron recomputes every hash; on demand the stored ones are compared.
        """
        verifications = self.env["esign.audit.verification"]
        recompute = trigger == "cron"
        for chain in self:
            started = time.perf_counter()
            verdict = chain._verify(recompute=recompute)
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
                    "hashes_recomputed": recompute,
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
