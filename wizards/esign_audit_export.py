import base64
import csv
import io
import json
import time
import zipfile
from pathlib import Path

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools.safe_eval import safe_eval

from ..services import audit as ledger

#: The pure-Python files an auditor needs to verify an export with no server and no Odoo.
VERIFIER_FILES = (
    "__init__.py",
    "errors.py",
    "canonical.py",
    "chain.py",
    "audit.py",
    "audit_cli.py",
    "signature_chain.py",
)

README = """Audit trail export of {chain} (meddev_esign)

{proof}   the chain proof: every entry from no. {start} to no. {end}, the
                      selected ones in full and the others as proof lines.
{data}
services/             the verifier (pure Python 3.10+, no other package needed).

Verify offline, with no server:

    python3 -m services.audit_cli {proof}

It checks every hash and link, that no entry is missing, and that the range ends at
entry {end} with hash {end_hash}. Compare that hash, or the checkpoint hashes listed
in the header, with a copy kept elsewhere (a printed Audit Trail Integrity Report or
a timestamped checkpoint) to be sure the end was not rewritten too.
"""


class EsignAuditExport(models.TransientModel):
    """Export a filtered set of audit entries as CSV or JSON Lines, with the chain proof."""

    _name = "esign.audit.export"
    _description = "Export Audit Trail"

    chain_id = fields.Many2one(
        "esign.audit.chain",
        string="Audit Trail",
        required=True,
        default=lambda self: self.env["esign.audit.chain"]._for_company(self.env.company),
    )
    file_format = fields.Selection(
        [("csv", "CSV (spreadsheet) + chain proof"), ("jsonl", "JSON Lines (chain proof)")],
        string="Format",
        required=True,
        default="csv",
    )
    domain = fields.Char(
        default="[]",
        help="Which entries to export, as the list's filter. The chain proof always covers "
        "the whole range between two checkpoints.",
    )
    entry_count = fields.Integer(string="Selected Entries", compute="_compute_entry_count")
    file_data = fields.Binary(string="File", readonly=True, attachment=False)
    file_name = fields.Char(readonly=True)

    @api.model
    def default_get(self, fields_list):
        values = super().default_get(fields_list)
        ctx = self.env.context
        if ctx.get("active_model") == "esign.audit.entry" and ctx.get("active_ids"):
            values["domain"] = repr([("id", "in", ctx["active_ids"])])
        elif ctx.get("active_domain"):
            values["domain"] = repr(ctx["active_domain"])
        return values

    def _entry_domain(self):
        self.ensure_one()
        try:
            domain = safe_eval(self.domain or "[]")
        except Exception as exc:
            raise UserError(self.env._("The filter of the export cannot be read.")) from exc
        if not isinstance(domain, list):
            raise UserError(self.env._("The filter of the export cannot be read."))
        return [("chain_id", "=", self.chain_id.id), *domain]

    @api.depends("domain", "chain_id")
    def _compute_entry_count(self):
        for wizard in self:
            try:
                wizard.entry_count = self.env["esign.audit.entry"].search_count(
                    wizard._entry_domain()
                )
            except UserError:
                wizard.entry_count = 0

    # ------------------------------------------------------------------ building the files
    def _anchors(self, first, last):
        """Checkpoints that bound [first, last]: the one before ``first`` and one at or after
        ``last`` (or the head). Returns (start_seq, start_hash, end_seq, anchors)."""
        chain = self.chain_id
        points = chain.checkpoint_ids.sorted("seq")
        before = points.filtered(lambda c: c.seq < first)[-1:]
        after = points.filtered(lambda c: c.seq >= last)[:1]
        start_seq = before.seq + 1 if before else chain.purged_seq + 1
        start_hash = before.entry_hash if before else chain.purged_hash or ledger.GENESIS
        end_seq = after.seq if after else chain.head_seq
        anchors = [
            {"seq": c.seq, "hash": c.entry_hash, "at": fields.Datetime.to_string(c.at)}
            for c in points
            if start_seq - 1 <= c.seq <= end_seq
        ]
        return start_seq, start_hash, end_seq, anchors

    def _proof_lines(self, selected_ids):
        """The export: header, then full entries and proof lines for the whole range."""
        self.ensure_one()
        first, last = min(selected_ids), max(selected_ids)
        start_seq, start_hash, end_seq, anchors = self._anchors(first, last)
        self.env.cr.execute(
            "SELECT seq, previous_hash, entry_hash, payload FROM esign_audit_entry"
            " WHERE chain_id = %s AND seq BETWEEN %s AND %s ORDER BY seq",
            (self.chain_id.id, start_seq, end_seq),
        )
        rows = self.env.cr.fetchall()
        end_hash = rows[-1][2] if rows else start_hash
        header = {
            "format": ledger.EXPORT_FORMAT,
            "version": ledger.AUDIT_VERSION,
            "chain": {
                "id": self.chain_id.id,
                "name": self.chain_id.name,
                "company": self.chain_id.company_id.name or "",
            },
            "start_seq": start_seq,
            "start_hash": start_hash,
            "end_seq": end_seq,
            "end_hash": end_hash,
            "anchors": anchors,
            "selected": len(selected_ids),
            "exported_at": fields.Datetime.to_string(fields.Datetime.now()),
            "exported_by": self.env.user.login,
            "filter": self.domain or "[]",
        }
        lines = [json.dumps(header, ensure_ascii=False, sort_keys=True)]
        wanted = set(selected_ids)
        for seq, previous, entry_hash, text in rows:
            item = {"seq": seq, "previous_hash": previous, "entry_hash": entry_hash}
            if seq in wanted:
                item["payload"] = text
            else:
                item["payload_sha256"] = ledger.payload_digest(text)
            lines.append(json.dumps(item, ensure_ascii=False, sort_keys=True))
        return lines, header

    def _csv(self, entries):
        """One row per changed field, readable in a spreadsheet; seq and hash tie it to the
        proof."""
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(
            [
                "seq",
                "date_utc",
                "user_login",
                "user_name",
                "model",
                "record_id",
                "record",
                "operation",
                "field",
                "old_value",
                "new_value",
                "reason",
                "ip_address",
                "entry_hash",
            ]
        )
        for entry in entries:
            payload = json.loads(entry.payload)
            user = payload.get("user") or [None, "", ""]
            base = [
                entry.seq,
                payload.get("at"),
                user[1],
                user[2],
                payload.get("model"),
                payload.get("res_id"),
                payload.get("record"),
                payload.get("op"),
            ]
            tail = [payload.get("reason") or "", payload.get("ip") or "", entry.entry_hash]
            changes = payload.get("changes") or [["", None, None]]
            for name, old, new in changes:
                writer.writerow(
                    [
                        *base,
                        name,
                        "" if old is None else json.dumps(old, ensure_ascii=False),
                        "" if new is None else json.dumps(new, ensure_ascii=False),
                        *tail,
                    ]
                )
        return out.getvalue()

    def action_export(self):
        """Build the ZIP (data, chain proof, verifier, README) and offer it for download."""
        self.ensure_one()
        started = time.perf_counter()
        entries = self.env["esign.audit.entry"].search(self._entry_domain(), order="seq")
        if not entries:
            raise UserError(self.env._("No audit entry matches this filter."))
        self.chain_id._checkpoint("export")
        lines, header = self._proof_lines(entries.mapped("seq"))
        stem = f"audit-trail-{self.chain_id.id}-{entries[0].seq}-{entries[-1].seq}"
        proof_name = f"{stem}.jsonl"
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(proof_name, "\n".join(lines) + "\n")
            data_line = ""
            if self.file_format == "csv":
                archive.writestr(f"{stem}.csv", self._csv(entries))
                data_line = f"{stem}.csv".ljust(22) + "the selected entries, one row per field."
            services = Path(__file__).resolve().parent.parent / "services"
            for name in VERIFIER_FILES:
                archive.write(services / name, f"services/{name}")
            archive.writestr(
                "README.txt",
                README.format(
                    chain=self.chain_id.name,
                    proof=proof_name.ljust(20),
                    data=data_line,
                    start=header["start_seq"],
                    end=header["end_seq"],
                    end_hash=header["end_hash"],
                ),
            )
        self.write(
            {
                "file_data": base64.b64encode(buffer.getvalue()),
                "file_name": f"{stem}.zip",
            }
        )
        self.env["esign.kpi.audit.query"]._record(
            self.env.user,
            self.chain_id.company_id or self.env.company,
            len(entries),
            self.file_format,
            time.perf_counter() - started,
        )
        self.chain_id.sudo().message_post(
            body=self.env._(
                "%(user)s exported %(count)s audit entries (%(first)s to %(last)s) with their "
                "chain proof.",
                user=self.env.user.name,
                count=len(entries),
                first=entries[0].seq,
                last=entries[-1].seq,
            )
        )
        return {
            "type": "ir.actions.act_url",
            "url": f"/web/content/{self._name}/{self.id}/file_data/{self.file_name}?download=true",
            "target": "self",
        }
