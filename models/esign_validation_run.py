"""The executed validation report of an installation: IQ checks, the OQ traceability matrix,
deviations, and the QA manager's and system owner's signatures (``validation_approve``).

``scripts/dev.py validate`` runs the add-on's test suite on a throw-away database (the OQ),
builds the requirement -> tests -> result matrix, and calls :meth:`_execute` in the database
being validated, which runs the IQ checks (:meth:`_iq_checks`) and keeps the run. Each run
is kept (a run that was executed cannot be deleted) and audited like any signed record; a new
run links to the previous one, and :meth:`_config_diff` says what changed in between.

The IQ checks live in ``esign_validation_run_iq``, the configuration snapshot and its diff in
``esign_validation_run_config``.
"""

import hashlib
import json
import logging

from odoo import api, fields, models, release
from odoo.exceptions import UserError

from ..services import canonical

_logger = logging.getLogger(__name__)

MODULE = "meddev_esign"


class EsignValidationRun(models.Model):
    _name = "esign.validation.run"
    _description = "Validation Run"
    _inherit = [
        "esign.signable.mixin",
        "mail.thread",
        "mail.activity.mixin",
        "esign.quality.record",
    ]
    _order = "id desc"

    _esign_signed_fields = [
        "title",
        "system_description",
        "environment",
        "iq_status",
        "oq_status",
        "matrix_hash",
        "config_hash",
        "deviations",
        "previous_run_id",
    ]
    _esign_triggers = {"validation_approve": "Validation Run: Approved"}
    _esign_reject_states = {"validation_approve": "rejected"}

    name = fields.Char(help="Given from the VAL/YYYY/NNNN sequence when the run is saved.")
    company_id = fields.Many2one(help="The company whose installation was validated.")
    title = fields.Char(required=True, readonly=True, help="What was validated, and where.")
    database = fields.Char(readonly=True, help="The database whose installation was checked.")
    system_description = fields.Text(readonly=True)
    environment = fields.Text(readonly=True, help="Versions of the installation, one per line.")
    check_ids = fields.One2many(
        "esign.validation.check", "run_id", string="IQ Checks", readonly=True
    )
    requirement_ids = fields.One2many(
        "esign.validation.requirement", "run_id", string="OQ Matrix", readonly=True
    )
    iq_status = fields.Selection([("pass", "PASS"), ("fail", "FAIL")], string="IQ", readonly=True)
    oq_status = fields.Selection(
        [("pass", "PASS"), ("fail", "FAIL"), ("not_run", "Not Run")],
        string="OQ",
        readonly=True,
        default="not_run",
    )
    oq_database = fields.Char(
        string="OQ Database", readonly=True, help="The throw-away database the OQ ran on."
    )
    oq_summary = fields.Text(string="OQ Summary", readonly=True)
    matrix_hash = fields.Char(readonly=True, help="SHA-256 of the OQ matrix as recorded.")
    config_snapshot = fields.Text(readonly=True, help="The configuration as validated (JSON).")
    config_hash = fields.Char(readonly=True, help="SHA-256 of the configuration snapshot.")
    deviations = fields.Text(
        help="Every failed check or test, with its assessment and the action taken."
    )
    previous_run_id = fields.Many2one(
        "esign.validation.run", string="Previous Run", readonly=True, index=True
    )
    next_run_ids = fields.One2many("esign.validation.run", "previous_run_id", readonly=True)
    diff_text = fields.Text(
        string="Changes Since Previous Run", compute="_compute_diff_text", readonly=True
    )
    config_changed = fields.Boolean(
        string="Configuration Changed Since Validation",
        compute="_compute_config_changed",
        help="A signing policy, an access right or a record rule changed since this approved run.",
    )
    state = fields.Selection(
        [
            ("executed", "Executed"),
            ("approved", "Approved"),
            ("rejected", "Rejected"),
        ],
        default="executed",
        required=True,
        readonly=True,
        copy=False,
        tracking=True,
        index=True,
    )

    # ------------------------------------------------------------------ the run
    @api.model
    def _execute(self, matrix=None, oq=None, database=None):
        """Run the IQ here, record the OQ given by ``dev.py validate``, and keep the run.

        :param matrix: the OQ matrix, ``traceability.Matrix.to_json()``; None: OQ not run.
        :param oq: {"status": "pass"|"fail", "database": name, "summary": text}.
        """
        checks = self._iq_checks()
        snapshot = self._config_snapshot()
        previous = self.search([], limit=1, order="id desc")
        module = self.env["ir.module.module"].sudo().search([("name", "=", MODULE)])
        environment = [
            f"Odoo: {release.version}",
            f"{MODULE}: {module.latest_version}",
            f"Database: {database or self.env.cr.dbname}",
        ] + [c.evidence for c in checks if c.code in ("postgresql", "wkhtmltopdf", "fonts")]
        lines = []
        for row in matrix or []:
            tests = row.get("tests", [])
            lines.append(
                {
                    "req_id": row["id"],
                    "title": row.get("title", ""),
                    "risk": row.get("risk", ""),
                    "status": row.get("status", "untested"),
                    "test_count": len(tests),
                    "passed_count": sum(1 for t in tests if t.get("result") == "passed"),
                    "tests": "\n".join(f"{t.get('result')}  {t.get('test')}" for t in tests),
                }
            )
        failed = [c for c in checks if not c.passed]
        deviations = [f"IQ {c.code}: {c.evidence}" for c in failed]
        deviations += [
            f"OQ {line['req_id']}: {line['status']}"
            for line in lines
            if line["status"] in ("failed", "untested") and line["risk"] == "high"
        ]
        run = self.create(
            {
                "title": self.env._(
                    "%(module)s %(version)s on %(database)s",
                    module=MODULE,
                    version=module.latest_version,
                    database=database or self.env.cr.dbname,
                ),
                "database": database or self.env.cr.dbname,
                "system_description": self._system_description(),
                "environment": "\n".join(environment),
                "check_ids": [
                    (
                        0,
                        0,
                        {
                            "sequence": i,
                            "code": c.code,
                            "passed": c.passed,
                            "evidence": c.evidence,
                        },
                    )
                    for i, c in enumerate(checks)
                ],
                "requirement_ids": [(0, 0, line) for line in lines],
                "iq_status": "fail" if failed else "pass",
                "oq_status": (oq or {}).get("status", "not_run"),
                "oq_database": (oq or {}).get("database") or False,
                "oq_summary": (oq or {}).get("summary") or False,
                "matrix_hash": hashlib.sha256(
                    canonical.canonical_json_bytes(matrix or [])
                ).hexdigest(),
                "config_snapshot": json.dumps(snapshot, sort_keys=True, ensure_ascii=False),
                "config_hash": self._snapshot_hash(snapshot),
                "deviations": "\n".join(deviations) or False,
                "previous_run_id": previous.id or False,
            }
        )
        run._esign_open_request("validation_approve")
        return run

    def _system_description(self):
        return self.env._(
            "meddev_esign adds electronic signatures and a hash-chained, append-only audit "
            "trail to Odoo 18.0 Community for medical-device quality records: lot release, "
            "manufacturing and purchase orders, change requests, CAPA, deviations and "
            "supplier qualification. Signatures are bound to the signed content by a hash and, "
            "with PKI on, by a CMS signature with an RFC 3161 timestamp."
        )

    def _esign_on_request_completed(self, request):
        if request.trigger == "validation_approve":
            self.sudo().write({"state": "approved"})
        return super()._esign_on_request_completed(request)

    @api.ondelete(at_uninstall=False)
    def _unlink_except_kept(self):
        raise UserError(
            self.env._("Validation runs are kept as evidence: they cannot be deleted.")
        )

    def _render_pdf(self):
        """The executed report as PDF bytes, in the current user's language."""
        self.ensure_one()
        pdf, _kind = (
            self.env["ir.actions.report"]
            .sudo()
            ._render_qweb_pdf("meddev_esign.action_report_validation_run", self.ids)
        )
        return pdf

    def action_print(self):
        return self.env.ref("meddev_esign.action_report_validation_run").report_action(self)


class EsignValidationCheck(models.Model):
    _name = "esign.validation.check"
    _description = "Validation IQ Check"
    _order = "run_id, sequence, id"

    run_id = fields.Many2one("esign.validation.run", required=True, ondelete="cascade", index=True)
    sequence = fields.Integer()
    code = fields.Char(required=True)
    name = fields.Char(compute="_compute_name")
    passed = fields.Boolean()
    evidence = fields.Text()

    def _compute_name(self):
        labels = {
            "odoo_version": self.env._("Odoo 18.0"),
            "addon_version": self.env._("Add-on version"),
            "python_packages": self.env._("Python packages as pinned"),
            "wkhtmltopdf": self.env._("wkhtmltopdf with patched Qt"),
            "fonts": self.env._("Chinese fonts (Noto CJK)"),
            "postgresql": self.env._("PostgreSQL version"),
            "append_only": self.env._("Append-only triggers"),
            "audit_chain": self.env._("Audit trail chain verifies"),
            "keystore": self.env._("Keystore reachable, master key outside the database"),
            "tsa": self.env._("Timestamp authority answers"),
            "ca_crl": self.env._("CA certificate and CRL fresh"),
            "crons": self.env._("Scheduled actions active"),
            "access": self.env._("Groups, access rights and record rules as shipped"),
        }
        for check in self:
            check.name = labels.get(check.code, check.code)


class EsignValidationRequirement(models.Model):
    _name = "esign.validation.requirement"
    _description = "Validation OQ Matrix Line"
    _order = "run_id, id"

    run_id = fields.Many2one("esign.validation.run", required=True, ondelete="cascade", index=True)
    req_id = fields.Char(string="Requirement", required=True)
    title = fields.Char()
    risk = fields.Char()
    status = fields.Char()
    test_count = fields.Integer(string="Tests")
    passed_count = fields.Integer(string="Passed")
    tests = fields.Text(string="Test Results", help="Each test with its last result.")
