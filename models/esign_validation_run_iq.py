"""The installation qualification (IQ) of a validation run: each check of the installation,
with its evidence, and the reading of the installed groups, access rights and record rules
that the IQ compares with the shipped ones (and the configuration snapshot records).
"""

import base64
import hashlib
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

from ..services import pki
from ..services import validation as iq
from . import append_only, esign_keystore
from .esign_validation_run import MODULE

_logger = logging.getLogger(__name__)

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


class EsignValidationRunIq(models.Model):
    _inherit = "esign.validation.run"

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
            verdict = chain._verify(recompute=True)
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
