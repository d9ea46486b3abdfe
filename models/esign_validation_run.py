"""The executed validation report of an installation: IQ checks, the OQ traceability matrix,
deviations, and the QA manager's and system owner's signatures (``validation_approve``).

``scripts/dev.py validate`` runs the add-on's test suite on a throw-away database (the OQ),
builds the requirement -> tests -> result matrix, and calls :meth:`_execute` in the database
being validated, which runs the IQ checks (:meth:`_iq_checks`) and keeps the run. Each run
is kept (a run that was executed cannot be deleted) and audited like any signed record; a new
run links to the previous one, and :meth:`_config_diff` says what changed in between.
"""

import base64
import hashlib
import json
import logging
import os
import shutil
import subprocess
from datetime import timedelta
from importlib import metadata

from odoo import api, fields, models, release
from odoo.exceptions import UserError
from odoo.modules.module import get_manifest, get_module_path
from odoo.tools.misc import find_in_path

from ..services import canonical, pki
from ..services import validation as iq
from . import append_only, esign_keystore

_logger = logging.getLogger(__name__)

MODULE = "meddev_esign"
#: Evidence models on which no access right may write beyond the shipped ones.
PROTECTED_MODELS = (
    "esign.signature",
    "esign.audit.entry",
    "esign.audit.checkpoint",
    "esign.audit.verification",
    "esign.audit.chain",
    "esign.signature.timestamp",
    "esign.signature.verification",
)
#: The configuration whose change since the last approved run calls for a new validation.
WATCHED_SECTIONS = ("policies", "access", "rules")


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

    # ------------------------------------------------------------------ IQ
    @api.model
    def _module_file(self, *parts):
        return os.path.join(get_module_path(MODULE), *parts)

    @api.model
    def _iq_checks(self):
        """Every IQ check of this installation, as :class:`services.validation.Check`."""
        checks = []
        for code, method in (
            ("odoo_version", self._iq_odoo_version),
            ("addon_version", self._iq_addon_version),
            ("python_packages", self._iq_python_packages),
            ("wkhtmltopdf", self._iq_wkhtmltopdf),
            ("fonts", self._iq_fonts),
            ("postgresql", self._iq_postgresql),
            ("append_only", self._iq_append_only),
            ("audit_chain", self._iq_audit_chain),
            ("keystore", self._iq_keystore),
            ("tsa", self._iq_tsa),
            ("ca_crl", self._iq_ca_crl),
            ("crons", self._iq_crons),
            ("access", self._iq_access),
        ):
            try:
                passed, evidence = method()
            except Exception as exc:  # noqa: BLE001 - a check that cannot run fails, with why
                _logger.warning("IQ check %s could not run", code, exc_info=True)
                passed, evidence = False, f"could not run: {exc}"
            checks.append(iq.Check(code, passed, evidence))
        return checks

    def _iq_odoo_version(self):
        ok = release.serie == "18.0" and release.version_info[5] == ""
        return ok, f"Odoo {release.version} ({release.serie}, {release.version_info[4]})"

    def _iq_addon_version(self):
        module = self.env["ir.module.module"].sudo().search([("name", "=", MODULE)])
        shipped = get_manifest(MODULE).get("version", "")
        ok = module.state == "installed" and module.latest_version == shipped
        return ok, (
            f"{MODULE}: state {module.state}, installed {module.latest_version}, files {shipped}"
        )

    def _iq_python_packages(self):
        with open(self._module_file("requirements.txt"), encoding="utf-8") as f:
            pins = iq.parse_pins(f.read())
        installed = {}
        for name in pins:
            try:
                installed[name] = metadata.version(name)
            except metadata.PackageNotFoundError:
                installed[name] = None
        problems = iq.pin_problems(pins, installed)
        return not problems, "; ".join(problems) or f"{len(pins)} packages as pinned"

    def _iq_wkhtmltopdf(self):
        try:
            path = find_in_path("wkhtmltopdf")
        except OSError:
            path = None
        if not path:
            return False, "wkhtmltopdf not found"
        out = subprocess.run(
            [path, "--version"], capture_output=True, text=True, timeout=30, check=False
        ).stdout.strip()
        return iq.wkhtmltopdf_patched(out), f"{path}: {out}"

    def _iq_fonts(self):
        fc_list = shutil.which("fc-list")
        if not fc_list:
            return False, "fc-list not found: cannot list the fonts"
        out = subprocess.run(
            [fc_list, ":lang=zh", "family"], capture_output=True, text=True, timeout=30
        ).stdout
        families = sorted({f.strip() for line in out.splitlines() for f in line.split(",")})
        noto = [f for f in families if "Noto" in f and "CJK" in f]
        return bool(noto), ", ".join(noto) or "no Noto CJK font: Chinese prints as boxes"

    def _iq_postgresql(self):
        self.env.cr.execute("SHOW server_version_num")
        number = int(self.env.cr.fetchone()[0])
        self.env.cr.execute("SHOW server_version")
        return number >= 120000, f"PostgreSQL {self.env.cr.fetchone()[0]} (12 or later needed)"

    def _append_only_tables(self):
        tables = {}
        for name in self.env["esign.append.only"]._inherit_children:
            model = self.env[name]
            if not model._abstract and model._auto:
                tables[model._table] = tuple(model._append_only_rules)
        return tables

    def _iq_append_only(self):
        cr = self.env.cr
        tables = self._append_only_tables()
        cr.execute("SELECT prosrc FROM pg_proc WHERE proname = %s", [append_only.FUNCTION])
        row = cr.fetchone()
        installed = {}
        cr.execute(
            "SELECT c.relname, t.tgname, pg_get_triggerdef(t.oid), t.tgenabled <> 'D'"
            " FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
            " WHERE NOT t.tgisinternal AND c.relname IN %s",
            [tuple(tables) or ("",)],
        )
        for table, name, definition, enabled in cr.fetchall():
            definition = definition.replace(f" ON public.{table} ", f" ON {table} ")
            installed.setdefault(table, {})[name] = (definition, enabled)
        shipped = iq.function_body(append_only.FUNCTION_SQL)
        problems = iq.trigger_problems(
            shipped, row and row[0], tables, installed, append_only.FUNCTION
        )
        return not problems, "; ".join(problems) or (
            f"{append_only.FUNCTION}() body sha256 {iq.body_digest(shipped)[:16]}; "
            f"2 triggers on each of {len(tables)} tables: {', '.join(sorted(tables))}"
        )

    def _iq_audit_chain(self):
        chains = self.env["esign.audit.chain"].sudo().search([])
        broken, checked = [], 0
        for chain in chains:
            verdict = chain._verify()
            checked += verdict.checked
            if not verdict.ok:
                broken.append(f"{chain.name}: {verdict.message}")
        return not broken, "; ".join(broken) or (
            f"{len(chains)} chain(s) intact, {checked} entries checked"
        )

    def _iq_keystore(self):
        companies = self.env["res.company"].sudo().search([("esign_pki_enabled", "=", True)])
        stored = (
            self.env["ir.config_parameter"]
            .sudo()
            .search_count(["|", ("key", "ilike", "master_key"), ("key", "ilike", "pkcs11_pin")])
        )
        notes = []
        ok = not stored
        if stored:
            notes.append("a master key or PIN is stored in the database (ir.config_parameter)")
        if any(c.esign_keystore == "software" for c in companies):
            try:
                key = esign_keystore.master_key(self.env)
            except UserError as exc:
                return False, str(exc)
            self.env.cr.execute(
                "SELECT count(*) FROM ir_config_parameter WHERE value = %s OR value = %s",
                [key.hex(), base64.b64encode(key).decode()],
            )
            if self.env.cr.fetchone()[0]:
                ok = False
                notes.append("the master key's value is stored in the database")
            notes.append("software keystore: master key read from the server configuration")
        if any(c.esign_keystore == "pkcs11" for c in companies):
            try:
                esign_keystore.hsm_settings(self.env)
                notes.append("PKCS#11 keystore configured")
            except UserError as exc:
                return False, str(exc)
        if not companies:
            notes.append("PKI signing is off in every company: no keystore in use")
        return ok, "; ".join(notes)

    def _iq_tsa(self):
        companies = self.env["res.company"].sudo().search([("esign_pki_enabled", "=", True)])
        notes, ok = [], True
        for company in companies:
            urls = company._esign_tsa_url_list()
            if not urls:
                notes.append(f"{company.name}: no TSA configured")
                continue
            try:
                stamp = pki.timestamp_imprint(
                    hashlib.sha256(b"meddev_esign IQ").digest(),
                    urls,
                    timeout=company.esign_tsa_timeout or 5.0,
                )
                notes.append(f"{company.name}: {urls[0]} answered, time {stamp.gen_time}")
            except pki.TimestampUnavailableError as exc:
                ok = False
                notes.append(f"{company.name}: no TSA answered: {exc}")
        return ok, "; ".join(notes) or "PKI signing is off: no TSA in use"

    def _iq_ca_crl(self):
        now = fields.Datetime.now()
        problems, seen = [], []
        for ca in self.env["esign.ca"].sudo().search([]):
            seen.append(ca.name)
            problems += filter(
                None,
                [
                    iq.freshness_problem(
                        f"CA {ca.name} certificate", ca.not_after, now, timedelta(days=30)
                    ),
                    iq.freshness_problem(f"CA {ca.name} CRL", ca.crl_next_update, now),
                ],
            )
        return not problems, "; ".join(problems) or (
            f"{len(seen)} CA(s) valid for 30 days or more, CRLs current"
            if seen
            else "no CA in use"
        )

    def _iq_crons(self):
        data = (
            self.env["ir.model.data"]
            .sudo()
            .search([("module", "=", MODULE), ("model", "=", "ir.cron")])
        )
        crons = (
            self.env["ir.cron"]
            .sudo()
            .with_context(active_test=False)
            .browse(data.mapped("res_id"))
            .exists()
        )
        inactive = crons.filtered(lambda c: not c.active)
        return not inactive and len(crons) == len(data), (
            "inactive: " + ", ".join(inactive.mapped("name"))
            if inactive
            else f"{len(crons)} scheduled actions active"
        )

    def _xmlids(self, model, ids):
        rows = (
            self.env["ir.model.data"]
            .sudo()
            .search_read(
                [("model", "=", model), ("res_id", "in", list(ids))], ["module", "name", "res_id"]
            )
        )
        return {r["res_id"]: f"{r['module']}.{r['name']}" for r in rows}

    def _installed_access(self):
        models_ = self.env["ir.model"].sudo().search([("model", "in", PROTECTED_MODELS)])
        # The add-on's own models (an extended model, e.g. stock.lot, keeps its own rights).
        own = self.env["ir.model"].sudo().search([("model", "=like", "esign.%")])
        model_ids = set(models_.ids) | set(own.ids)
        accesses = (
            self.env["ir.model.access"]
            .sudo()
            .with_context(active_test=False)
            .search([("model_id", "in", list(model_ids))])
        )
        shipped_ids = (
            self.env["ir.model.data"]
            .sudo()
            .search([("module", "=", MODULE), ("model", "=", "ir.model.access")])
        )
        accesses |= (
            self.env["ir.model.access"]
            .sudo()
            .with_context(active_test=False)
            .browse(shipped_ids.mapped("res_id"))
            .exists()
        )
        names = self._xmlids("ir.model.access", accesses.ids)
        model_names = self._xmlids("ir.model", accesses.model_id.ids)
        group_names = self._xmlids("res.groups", accesses.group_id.ids)
        return {
            names.get(a.id, f"id:{a.id}"): {
                "model": model_names.get(a.model_id.id, a.model_id.model),
                "group": group_names.get(a.group_id.id, "") if a.group_id else "",
                "active": a.active,
                **{p: a[p] for p in iq.PERMS},
            }
            for a in accesses
        }

    def _installed_rules(self, xmlids):
        found = {}
        data = self.env["ir.model.data"].sudo()
        for xmlid in xmlids:
            rule = data._xmlid_to_res_model_res_id(xmlid, raise_if_not_found=False)
            if not rule or rule[0] != "ir.rule":
                continue
            record = self.env["ir.rule"].sudo().with_context(active_test=False).browse(rule[1])
            if not record.exists():
                continue
            groups = self._xmlids("res.groups", record.groups.ids)
            found[xmlid] = {
                "domain": record.domain_force or "",
                "groups": tuple(sorted(groups.get(g, f"id:{g}") for g in record.groups.ids)),
                "active": record.active,
                **{p: record[p] for p in iq.PERMS},
            }
        return found

    def _installed_groups(self, xmlids):
        found = {}
        for xmlid in xmlids:
            group = self.env.ref(xmlid, raise_if_not_found=False)
            if group:
                implied = self._xmlids("res.groups", group.sudo().implied_ids.ids)
                found[xmlid] = tuple(
                    sorted(implied.get(g, f"id:{g}") for g in group.sudo().implied_ids.ids)
                )
        return found

    def _shipped_security(self):
        def read(name):
            with open(self._module_file("security", name), encoding="utf-8") as f:
                return f.read()

        return (
            iq.parse_access_csv(read("ir.model.access.csv"), MODULE),
            iq.parse_rules_xml(read("esign_rules.xml"), MODULE),
            iq.parse_groups_xml(read("esign_groups.xml"), MODULE),
        )

    def _iq_access(self):
        access, rules, groups = self._shipped_security()
        protected = self._xmlids(
            "ir.model",
            self.env["ir.model"].sudo().search([("model", "in", PROTECTED_MODELS)]).ids,
        )
        problems = (
            iq.group_problems(groups, self._installed_groups(groups))
            + iq.access_problems(access, self._installed_access(), protected.values())
            + iq.rule_problems(rules, self._installed_rules(rules))
        )
        return not problems, "; ".join(problems) or (
            f"{len(groups)} groups, {len(access)} access rights and {len(rules)} record rules "
            "as shipped; no extra write access on signatures or the audit trail"
        )

    # ------------------------------------------------------------------ configuration
    @api.model
    def _config_snapshot(self):
        """The configuration a validation vouches for: {section: {key: value}}."""
        modules = self.env["ir.module.module"].sudo().search([("state", "=", "installed")])
        policies = {}
        for policy in self.env["esign.policy"].sudo().with_context(active_test=False).search([]):
            steps = [
                {
                    "sequence": s.sequence,
                    "name": s.name,
                    "meaning": s.meaning_id.code,
                    "mode": s.mode,
                    "k": s.k,
                    "signer_type": s.signer_type,
                    "group": s.group_id.id,
                    "users": sorted(s.user_ids.ids),
                    "field": s.user_field_id.name or "",
                }
                for s in policy.step_ids.sorted(lambda s: (s.sequence, s.id))
            ]
            policies[f"{policy.id}:{policy.name}"] = canonical.canonical_json(
                {
                    "model": policy.model_id.model,
                    "trigger": policy.trigger or "",
                    "active": policy.active,
                    "company": policy.company_id.id,
                    "domain": policy.domain or "",
                    "prerequisite": policy.prerequisite_domain or "",
                    "author_may_not_sign": policy.author_may_not_sign,
                    "one_step_per_person": policy.one_step_per_person,
                    "steps": steps,
                }
            )
        access = {
            key: ",".join(
                [str(v["model"]), str(v["group"]), str(v["active"])]
                + [str(int(bool(v[p]))) for p in iq.PERMS]
            )
            for key, v in self._installed_access().items()
        }
        _access, rules, groups = self._shipped_security()
        rules_now = {
            key: canonical.canonical_json(
                {k: list(v) if isinstance(v, tuple) else v for k, v in val.items()}
            )
            for key, val in self._installed_rules(rules).items()
        }
        settings = {
            p.key: p.value
            for p in self.env["ir.config_parameter"].sudo().search([("key", "ilike", "esign")])
        }
        for company in self.env["res.company"].sudo().search([]):
            for name in company._esign_audit_names():
                settings[f"{company.name}.{name}"] = str(company[name])
        return {
            "modules": {m.name: m.latest_version or "" for m in modules},
            "policies": policies,
            "groups": {k: ", ".join(v) for k, v in self._installed_groups(groups).items()},
            "access": access,
            "rules": rules_now,
            "settings": settings,
        }

    @api.model
    def _snapshot_hash(self, snapshot):
        return hashlib.sha256(canonical.canonical_json_bytes(snapshot)).hexdigest()

    def _config_diff(self, other=None):
        """[(section, key, old, new)] between ``other`` (default the previous run) and this."""
        self.ensure_one()
        other = other if other is not None else self.previous_run_id
        old = json.loads(other.config_snapshot or "{}") if other else {}
        return iq.config_diff(old, json.loads(self.config_snapshot or "{}"))

    @api.depends("config_snapshot", "previous_run_id")
    def _compute_diff_text(self):
        for run in self:
            if not run.previous_run_id:
                run.diff_text = self.env._("First run: nothing to compare with.")
                continue
            changes = run._config_diff()
            run.diff_text = "\n".join(
                f"[{section}] {key}: {old if old is not None else '—'} → "
                f"{new if new is not None else '—'}"
                for section, key, old, new in changes
            ) or self.env._("No change since the previous run.")

    def _compute_config_changed(self):
        current = None
        for run in self:
            if run.state != "approved":
                run.config_changed = False
                continue
            if current is None:
                current = self._config_snapshot()
            old = json.loads(run.config_snapshot or "{}")
            run.config_changed = any(
                section in WATCHED_SECTIONS for section, *_ in iq.config_diff(old, current)
            )

    @api.model
    def _last_approved(self):
        return self.search([("state", "=", "approved")], limit=1, order="id desc")

    @api.model
    def _action_validation_status(self):
        """Reporting > Validation Status: the last approved run, with its "configuration changed
        since validation" banner; the list of runs when none is approved yet."""
        run = self._last_approved()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "meddev_esign.esign_validation_run_action"
        )
        if run:
            action.update({"res_id": run.id, "view_mode": "form", "views": [(False, "form")]})
        action["name"] = self.env._("Validation Status")
        return action

    @api.model
    def _configuration_changed_since_validation(self):
        """Whether a signing policy or access rule changed since the last approved run."""
        return bool(self._last_approved().config_changed)

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
