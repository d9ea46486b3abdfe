"""The configuration a validation run vouches for: its snapshot and hash, the difference
from the previous run, and whether the configuration changed since the last approved run
(Reporting > Validation Status).
"""

import hashlib
import json

from odoo import api, models

from ..services import canonical
from ..services import validation as iq

#: The configuration whose change since the last approved run calls for a new validation.
WATCHED_SECTIONS = ("policies", "access", "rules")


class EsignValidationRunConfig(models.Model):
    _inherit = "esign.validation.run"

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
