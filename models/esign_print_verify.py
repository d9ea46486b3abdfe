"""The verification side of sealed printouts: the lookups the public page and the upload make,
the print lines (each record of a printout, with its print number) and the page's rate limit.

The verification token is random (256 bits) and bound to one print. Only its SHA-256 is
searched: looking a token up by its hash leaks nothing about the token through timing (an
index on a hash cannot be walked towards a secret).
"""

import hashlib
import json
from datetime import UTC, datetime

from odoo import api, fields, models
from odoo.tools import SQL

from .esign_print import local_display, token_hash


class EsignPrint(models.Model):
    _inherit = "esign.print"

    @api.model
    def _find_by_token(self, token):
        """The print ``token`` was issued for, or an empty recordset (any token, any shape)."""
        return self.sudo().search([("token_hash", "=", token_hash(token))], limit=1)

    @api.model
    def _find_by_sha256(self, digest):
        return self.sudo().search([("sha256", "=", digest)], limit=1)

    def _public_view(self):
        """What the public page shows of this print: only what the printout shows."""
        self.ensure_one()
        printed = self.sudo()
        records = []
        for line in printed.line_ids:
            newer = line._newer()
            records.append(
                {
                    "name": line.record_name,
                    "print_number": line.print_number,
                    "newer_print": bool(newer),
                    "newer_printed_at": (
                        local_display(newer.print_id.printed_at, printed.printer_tz)
                        if newer
                        else ""
                    ),
                    "signatures": [
                        {
                            "name": sig.printed_name,
                            "on_behalf_of": sig.on_behalf_of_name or "",
                            "meaning": sig.meaning_label,
                            "when": sig._local_time_display(),
                            "state": _signature_state(sig),
                        }
                        for sig in line._signatures()
                    ],
                }
            )
        return {
            "company": printed.company_id.name,
            "report": printed.report_name,
            "printed_at": local_display(printed.printed_at, printed.printer_tz),
            "printed_by": printed.user_id.name,
            "level": printed.level,
            "timestamped": printed.timestamped,
            "records": records,
        }


class EsignPrintLine(models.Model):
    """One record of a sealed printout, with the record's print number."""

    _name = "esign.print.line"
    _description = "Sealed Print Record"
    _inherit = ["esign.append.only"]
    _order = "print_id desc, id"
    _rec_name = "record_name"

    print_id = fields.Many2one(
        "esign.print",
        required=True,
        readonly=True,
        index=True,
        ondelete="restrict",
        help="The printout.",
    )
    company_id = fields.Many2one(related="print_id.company_id")
    res_model = fields.Char(
        string="Document Model", required=True, readonly=True, help="The record's model."
    )
    res_id = fields.Many2oneReference(
        string="Record ID",
        model_field="res_model",
        required=True,
        readonly=True,
        index=True,
        help="The record's id.",
    )
    record_name = fields.Char(
        string="Record", required=True, readonly=True, help="The record as printed."
    )
    print_number = fields.Integer(
        required=True,
        readonly=True,
        help="1 for the record's first sealed print, then 2, 3...: each controlled copy "
        "has its number.",
    )
    signature_refs = fields.Char(
        readonly=True, help="The ids of the e-signatures the printout showed (JSON list)."
    )
    printed_at = fields.Datetime(related="print_id.printed_at")
    user_id = fields.Many2one(related="print_id.user_id")

    _sql_constraints = [
        (
            "one_number_per_record",
            "unique(res_model, res_id, print_number)",
            "Two prints of a record cannot share a print number.",
        ),
    ]

    @api.model
    def _next_numbers(self, records):
        """{record id: its next print number} for ``records`` (one model), in one query.

        Two prints of one record at the same time cannot share a number: the unique
        constraint refuses the second, whose transaction is then retried or fails.
        """
        if not records:
            return {}
        groups = self.sudo()._read_group(
            [("res_model", "=", records._name), ("res_id", "in", records.ids)],
            ["res_id"],
            ["print_number:max"],
        )
        last = dict(groups)
        return {record.id: (last.get(record.id) or 0) + 1 for record in records}

    def _newer(self):
        """The newest later print of the same record, if any."""
        self.ensure_one()
        return self.sudo().search(
            [
                ("res_model", "=", self.res_model),
                ("res_id", "=", self.res_id),
                ("print_number", ">", self.print_number),
            ],
            order="print_number desc",
            limit=1,
        )

    def _signatures(self):
        self.ensure_one()
        ids = json.loads(self.signature_refs or "[]")
        return self.env["esign.signature"].sudo().browse(ids).exists()


class EsignVerifyThrottle(models.Model):
    """Hits on the public verification page per client address and minute (in the database,
    so that every worker of a prefork server counts the same hits)."""

    _name = "esign.verify.throttle"
    _description = "Verification Page Rate Limit"
    _log_access = False

    client = fields.Char(required=True, help="SHA-256 of the client address.")
    minute = fields.Datetime(required=True, index=True, help="The minute counted.")
    hits = fields.Integer(required=True, default=0, help="Requests in that minute.")

    _sql_constraints = [
        ("client_minute_unique", "unique(client, minute)", "One counter per client and minute."),
    ]

    @api.model
    def _hit(self, address, limit):
        """Count one request from ``address``; True while within ``limit`` per minute."""
        client = hashlib.sha256((address or "").encode()).hexdigest()
        minute = datetime.now(UTC).replace(tzinfo=None, second=0, microsecond=0)
        cr = self.env.cr
        cr.execute(
            SQL(
                "INSERT INTO esign_verify_throttle (client, minute, hits) VALUES (%s, %s, 1) "
                "ON CONFLICT (client, minute) DO UPDATE SET "
                "hits = esign_verify_throttle.hits + 1 RETURNING hits",
                client,
                minute,
            )
        )
        hits = cr.fetchone()[0]
        if hits == 1:  # a new minute: forget the counters older than ten minutes
            cr.execute(
                SQL(
                    "DELETE FROM esign_verify_throttle WHERE minute < %s - interval '10 minutes'",
                    minute,
                )
            )
        return hits <= limit


def _signature_state(sig):
    """valid / changed / revoked: the signature's state now, as the page says it."""
    cert = sig.certificate_id
    if cert and cert.state == "revoked":
        return "revoked"
    if sig.status == "changed":
        return "changed"
    return "valid"
