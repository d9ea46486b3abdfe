"""Import paper-signed history: a CSV or XLSX table of wet-ink signatures and a ZIP of scans.

All or nothing: every row is checked first (its cells and scan in ``services.migration``, its
record, meaning and earlier imports here); if any row is wrong, the import writes nothing and
lists every problem with its row number. Otherwise each row becomes an
``esign.migrated.signature`` with its scan, an audit-trail entry carrying the scan's SHA-256,
and a note in the record's chatter.
"""

import base64
import binascii
import io
import zipfile
from pathlib import Path

from markupsafe import Markup

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools.misc import file_path

from ..services import migration

#: The names searched per record type to find the record the row names.
REFERENCE_FIELD = {"stock.lot": "name"}


class EsignMigrationImport(models.TransientModel):
    """Bring in historical batch records, CAPAs, change requests and deviations signed on
    paper, with their scans."""

    _name = "esign.migration.import"
    _inherit = ["esign.wizard.input"]
    _description = "Import Paper-Signed History"
    _esign_text_limits = {"data_file_name": 255, "scans_file_name": 255}

    data_file = fields.Binary(
        string="Signatures Table",
        attachment=False,
        help="CSV (UTF-8, comma or semicolon) or XLSX with the columns record_type, record, "
        "signer, signed_on (YYYY-MM-DD), meaning (its code, e.g. approved) and scan (the PDF's "
        "file name in the ZIP). record_type is one of: lot, capa, change_request, deviation.",
    )
    data_file_name = fields.Char()
    scans_file = fields.Binary(
        string="Scans (ZIP)",
        attachment=False,
        help="A ZIP of the scanned pages, one PDF per signature row (folders are ignored).",
    )
    scans_file_name = fields.Char()
    result = fields.Html(readonly=True, sanitize=False)
    imported_count = fields.Integer(readonly=True)

    def action_import(self):
        """Check every row; write them all, or nothing and the list of problems."""
        self._esign_own_one()
        if not self.env.user.has_group("meddev_esign.group_esign_admin"):
            raise UserError(self.env._("Only an E-Signature Administrator may import history."))
        self._import_rows()
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
            "target": "new",
        }

    def _import_rows(self):
        """The import itself, once the caller's right to run it is established."""
        if not self.data_file:
            raise UserError(self.env._("Choose the table of signatures (CSV or XLSX)."))
        try:
            table = base64.b64decode(self.data_file)
            scans_zip = base64.b64decode(self.scans_file) if self.scans_file else None
        except (binascii.Error, ValueError):
            raise UserError(self.env._("The uploaded file is not valid base64 data.")) from None
        try:
            cells = migration.read_table(table, self.data_file_name or "")
            scans = migration.read_scans(scans_zip)
        except migration.MigrationFileError as exc:
            raise UserError(self._file_message(exc)) from None
        rows, problems = migration.check_rows(cells, scans, fields.Date.context_today(self))
        records, meanings, more = self._resolve(rows)
        problems = sorted(problems + more, key=lambda p: p.row)
        if problems:
            raise UserError(
                self.env._(
                    "Nothing was imported: %(count)s problem(s) in the file.\n%(lines)s",
                    count=len(problems),
                    lines="\n".join(self._problem_line(p) for p in problems[:200]),
                )
            )
        if not rows:
            raise UserError(self.env._("The table has no signature rows."))
        self._write(rows, records, meanings)

    @api.model
    def _esign_demo_load_history(self):
        """Demo data: import the paper history shipped in demo/paper_history/ (incoming
        inspections of silicone tubing lots, 2019-2024), as an administrator would."""
        folder = Path(file_path("meddev_esign/demo/paper_history"))
        if self.env["esign.migrated.signature"].search_count([], limit=1):
            return  # loaded once already
        table = (folder / "history.csv").read_bytes()
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            for scan in sorted(folder.glob("*.pdf")):
                archive.writestr(scan.name, scan.read_bytes())
        wizard = self.create(
            {
                "data_file": base64.b64encode(table),
                "data_file_name": "history.csv",
                "scans_file": base64.b64encode(buffer.getvalue()),
                "scans_file_name": "paper_history.zip",
            }
        )
        wizard._import_rows()

    # ------------------------------------------------------------------ database checks
    def _resolve(self, rows):
        """Find each row's record and meaning; report unknown ones and earlier imports."""
        problems, records, meanings = [], {}, {}
        companies = self.env.companies.ids
        Meaning = self.env["esign.meaning"].with_context(active_test=False)
        for row in rows:
            # An administrator migrating history need not hold every module's reading rights
            # (stock, quality); the records are still limited to the companies they work in.
            Model = self.env[row.model].sudo()
            name_field = REFERENCE_FIELD.get(row.model, "name")
            domain = [(name_field, "=", row.record)]
            if "company_id" in Model._fields:
                domain.append(("company_id", "in", [*companies, False]))
            found = Model.search(domain, limit=2)
            if len(found) != 1:
                code = "unknown_record" if not found else "ambiguous_record"
                problems.append(migration.Problem(row.row, code, "record", row.record[:80]))
                continue
            records[row.row] = found
            meaning = meanings.get(row.meaning) or Meaning.search(
                [("code", "=", row.meaning)], limit=1
            )
            if not meaning:
                problems.append(
                    migration.Problem(row.row, "unknown_meaning", "meaning", row.meaning[:80])
                )
                continue
            meanings[row.meaning] = meaning
            earlier = self.env["esign.migrated.signature"].search_count(
                [
                    ("res_model", "=", row.model),
                    ("res_id", "=", found.id),
                    ("signer_name", "=", row.signer),
                    ("signed_on", "=", row.signed_on),
                    ("meaning_id", "=", meaning.id),
                ]
            )
            if earlier:
                problems.append(migration.Problem(row.row, "imported_before", "", row.record[:80]))
        return records, meanings, problems

    def _write(self, rows, records, meanings):
        reference = (
            f"{self.data_file_name or 'import'} "
            f"{fields.Datetime.to_string(fields.Datetime.now())} {self.env.user.login}"
        )
        Migrated = self.env["esign.migrated.signature"].sudo()
        created = Migrated.create(
            [
                {
                    "res_model": row.model,
                    "res_id": records[row.row].id,
                    "record_name": records[row.row].display_name,
                    "company_id": (
                        records[row.row].company_id.id
                        if "company_id" in records[row.row]._fields and records[row.row].company_id
                        else self.env.company.id
                    ),
                    "signer_name": row.signer,
                    "signed_on": row.signed_on,
                    "meaning_id": meanings[row.meaning].id,
                    "scan": base64.b64encode(row.scan),
                    "scan_name": row.scan_name,
                    "scan_sha256": row.scan_sha256,
                    "import_reference": reference,
                }
                for row in rows
            ]
        )
        self.env["esign.audit.entry"]._append(
            [
                sig._esign_audit_item(
                    "create",
                    [
                        ["document", None, [sig.res_model, sig.res_id, sig.record_name]],
                        ["meaning", None, sig.meaning_id.code],
                        ["origin", None, "migrated_paper"],
                        ["scan", None, sig.scan_name],
                        ["scan_sha256", None, sig.scan_sha256],
                        ["signed_on", None, fields.Date.to_string(sig.signed_on)],
                        ["signer_name", None, sig.signer_name],
                    ],
                    self.env._("Migrated from a paper record (%(ref)s)", ref=reference),
                )
                for sig in created
            ]
        )
        for sig in created:
            record = self.env[sig.res_model].browse(sig.res_id)
            if hasattr(record, "message_post"):
                record.sudo().message_post(
                    body=self.env._(
                        "Paper signature migrated: %(signer)s, %(meaning)s, signed on paper on "
                        "%(day)s. Scan %(scan)s, SHA-256 %(sha)s. Migrated, paper original: "
                        "not an electronic signature.",
                        signer=sig.signer_name,
                        meaning=sig.meaning_id.name,
                        day=fields.Date.to_string(sig.signed_on),
                        scan=sig.scan_name,
                        sha=sig.scan_sha256,
                    )
                )
        self.write(
            {
                "imported_count": len(created),
                "result": Markup("<p>%s</p>")
                % self.env._(
                    "%(count)s paper signature(s) imported; each scan's SHA-256 is in the audit "
                    "trail.",
                    count=len(created),
                ),
                "data_file": False,
                "scans_file": False,
            }
        )

    # ------------------------------------------------------------------ messages
    def _file_message(self, exc):
        messages = {
            "table": self.env._(
                "The table cannot be read: it must be a CSV (UTF-8) or XLSX file (%(detail)s)."
            ),
            "columns": self.env._("The table lacks the column(s): %(detail)s."),
            "too_many_rows": self.env._(
                "The table has too many rows (%(detail)s); split it into several imports."
            ),
            "zip": self.env._("The scans must be one ZIP file of PDFs."),
            "zip_members": self.env._("The ZIP holds too many files (%(detail)s)."),
        }
        return messages.get(exc.code, messages["table"]) % {"detail": exc.detail}

    def _problem_line(self, problem):
        texts = {
            "empty": self.env._("%(column)s is empty"),
            "too_long": self.env._("%(column)s is too long"),
            "record_type": self.env._(
                "unknown record type %(value)s (use lot, capa, change_request or deviation)"
            ),
            "date": self.env._("%(value)s is not a date (YYYY-MM-DD)"),
            "future": self.env._("the date %(value)s is in the future"),
            "scan_missing": self.env._("the scan %(value)s is not in the ZIP"),
            "scan_not_pdf": self.env._("the scan %(value)s is not a PDF"),
            "scan_too_large": self.env._("the scan %(value)s is larger than 20 MB"),
            "duplicate": self.env._("the same signature as %(value)s"),
            "unknown_record": self.env._("no record %(value)s"),
            "ambiguous_record": self.env._("several records are named %(value)s"),
            "unknown_meaning": self.env._("no signature meaning with the code %(value)s"),
            "imported_before": self.env._("this paper signature of %(value)s was imported before"),
        }
        text = texts.get(problem.code, problem.code) % {
            "column": problem.column,
            "value": problem.value,
        }
        return self.env._("Row %(row)s: %(problem)s", row=problem.row, problem=text)
