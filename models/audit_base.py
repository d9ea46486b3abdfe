"""The audit hook on every model: create, write and unlink of regulated records (R15, R28).

A model is regulated when its class says so (``_esign_audit = "record"`` for business records,
which ``esign.signable.mixin`` sets; ``"config"`` for the add-on's configuration models) or
when an administrator names it in an audit rule (``esign.audit.rule``). The hook lives on
``base`` so that a rule can add any model without code; for every other model it costs one
attribute and one cached dictionary look-up per call.

There is deliberately no context key that switches auditing off.
"""

import hashlib

from lxml import etree

from odoo import api, models, tools
from odoo.exceptions import UserError

from ..services import audit as ledger
from ..services import snapshot as snap

# Never audited: bookkeeping columns, chatter/activity plumbing and secrets.
_SKIPPED_FIELDS = frozenset(
    models.MAGIC_COLUMNS
    + [
        "display_name",
        "esign_version",
        "esign_change_reason",
        "message_main_attachment_id",
        "access_token",
    ]
)
_SKIPPED_PREFIXES = ("message_", "activity_", "website_message", "rating_")
_SECRET_MARKERS = ("password", "secret", "token", "api_key", "totp")


class Base(models.AbstractModel):
    _inherit = "base"

    #: False (not regulated), "record" (a regulated business record) or "config"
    #: (configuration of the add-on itself; audited as operation "config", R28).
    _esign_audit = False

    # ------------------------------------------------------------------ what is audited
    def _esign_audit_enabled(self):
        """Whether create/write/unlink of this model are audited."""
        if self._esign_audit:
            return True
        if self._transient or self._abstract or self._name.startswith("esign.audit."):
            return False
        return self._name in self.env["esign.audit.rule"]._esign_rule_map()

    def _esign_audit_records(self):
        """The records of ``self`` that are regulated. Override to audit a subset."""
        return self

    @api.model
    @tools.ormcache("self._name")
    def _esign_audit_names(self):
        """Names of the fields whose changes are recorded, old -> new."""
        limited = self.env["esign.audit.rule"]._esign_rule_map().get(self._name)
        names = set()
        for name, field in self._fields.items():
            if (
                not field.store
                or name in _SKIPPED_FIELDS
                or name.startswith(_SKIPPED_PREFIXES)
                or any(marker in name for marker in _SECRET_MARKERS)
                or (limited and name not in limited)
            ):
                continue
            names.add(name)
        return frozenset(names)

    # ------------------------------------------------------------------ canonical values
    def _esign_field_values(self, names, by_id=False):
        """Canonical JSON-safe values of ``names`` for one record.

        many2one as [id, display name], x2many as sorted [[id, name], ...], money at its
        currency's precision, floats at their digits, dates in ISO text (R11, R15).

        :param by_id: references as ids only (many2one an id, x2many sorted ids), as content
            hashes of version 2 sign them; the audit trail keeps the names a reader needs.
        """
        self.ensure_one()
        values = {}
        for name in names:
            field = self._fields[name]
            value = self[name]
            kind = field.type
            if kind == "many2one" and by_id:
                values[name] = value.id or None
            elif kind in ("one2many", "many2many") and by_id:
                values[name] = sorted(value.ids)
            elif kind == "many2one":
                values[name] = [value.id, value.display_name] if value else None
            elif kind in ("one2many", "many2many"):
                values[name] = sorted([rec.id, rec.display_name or ""] for rec in value)
            elif kind == "monetary":
                currency = self[field.get_currency_field(self)] or self.env.company.currency_id
                values[name] = snap.money(value or 0.0, currency.decimal_places)
            elif kind == "float":
                digits = field.get_digits(self.env)
                values[name] = snap.money(value or 0.0, digits[1] if digits else 6)
            elif kind == "datetime":
                values[name] = snap.utc_iso(value) if value else None
            elif kind == "date":
                values[name] = snap.iso_date(value) if value else None
            elif kind == "html":
                values[name] = str(value or "")
            elif kind == "binary":
                # A file is recorded by its digest: the trail proves which file, not its bytes.
                raw = value if isinstance(value, bytes) else (value or "").encode()
                values[name] = {"sha256": hashlib.sha256(raw).hexdigest()} if value else None
            elif kind == "boolean":
                values[name] = bool(value)
            elif kind == "reference":
                values[name] = f"{value._name},{value.id}" if value else None
            else:
                values[name] = value if value is not False else None
        return values

    def _esign_audit_company(self):
        """The company whose chain records this record's changes."""
        self.ensure_one()
        field = self._fields.get("company_id")
        if field is not None and field.type == "many2one" and field.comodel_name == "res.company":
            return self.company_id or self.env.company
        return self.env.company

    def _esign_audit_item(self, operation, changes, reason=None, record_name=None):
        """One ledger item for ``_append``; config models record their action too."""
        self.ensure_one()
        op = operation
        if self._esign_audit == "config" and operation in ("create", "write", "unlink"):
            op = "config"
            changes = [["__action__", None, operation], *changes]
        return {
            "company_id": self._esign_audit_company().id,
            "model": self._name,
            "res_id": self.id,
            "record": record_name if record_name is not None else (self.display_name or ""),
            "op": op,
            "changes": changes,
            "reason": reason,
        }

    # ------------------------------------------------------------------ the hook
    @api.model_create_multi
    def create(self, vals_list):
        records = super().create(vals_list)
        if records and records._esign_audit_enabled():
            audited = records._esign_audit_records()
            if audited:
                names = sorted(records._esign_audit_names())
                items = []
                for rec in audited.sudo():
                    new = rec._esign_field_values(names)
                    changes = ledger.diff_values(
                        {}, {k: v for k, v in new.items() if v not in (None, "", [], False)}
                    )
                    items.append(rec._esign_audit_item("create", changes))
                self.env["esign.audit.entry"]._append(items)
        return records

    def write(self, vals):
        if not self or not self._esign_audit_enabled():
            return super().write(vals)
        vals = dict(vals)
        reason = vals.pop("esign_change_reason", None) or self.env.context.get(
            "esign_change_reason"
        )
        names = sorted(self._esign_audit_names().intersection(vals))
        audited = self._esign_audit_records() if names else self.browse()
        if not audited:
            return super().write(vals)
        before = {rec.id: rec._esign_field_values(names) for rec in audited.sudo()}
        result = super().write(vals)
        items = []
        for rec in audited.sudo():
            changes = ledger.diff_values(before[rec.id], rec._esign_field_values(names))
            if changes:
                items.append(rec._esign_audit_item("write", changes, reason))
        self.env["esign.audit.entry"]._append(items)
        return result

    def unlink(self):
        if not self or not self._esign_audit_enabled():
            return super().unlink()
        audited = self._esign_audit_records()
        names = sorted(self._esign_audit_names())
        reason = self.env.context.get("esign_change_reason")
        items = []
        for rec in audited.sudo():
            old = rec._esign_field_values(names)
            changes = ledger.diff_values(
                {k: v for k, v in old.items() if v not in (None, "", [], False)}, {}
            )
            items.append(rec._esign_audit_item("unlink", changes, reason))
        result = super().unlink()
        self.env["esign.audit.entry"]._append(items)
        return result

    # ------------------------------------------------------------------ UI
    def action_esign_audit_trail(self):
        """Open the audit trail of this record (the "Audit Trail" smart button)."""
        self.ensure_one()
        if not self._esign_audit_enabled():
            raise UserError(self.env._("Changes to %(model)s are not audited.", model=self._name))
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "meddev_esign.esign_audit_entry_action"
        )
        action["domain"] = [("res_model", "=", self._name), ("res_id", "=", self.id)]
        action["name"] = self.env._("Audit Trail: %(record)s", record=self.display_name)
        action["context"] = {"create": False}
        return action

    @api.model
    def _get_view(self, view_id=None, view_type="form", **options):
        arch, view = super()._get_view(view_id, view_type, **options)
        if view_type == "form" and self._esign_audit_enabled():
            self._esign_inject_audit_button(arch)
        return arch, view

    @api.model
    def _esign_inject_audit_button(self, arch):
        """Add the "Audit Trail" smart button, for those who may read the trail."""
        form = arch if arch.tag == "form" else arch.find(".//form")
        if form is None:
            return
        sheet = form.find("sheet")
        container = sheet if sheet is not None else form
        box = container.find("div[@name='button_box']")
        if box is None:
            box = etree.Element("div", {"name": "button_box", "class": "oe_button_box"})
            container.insert(0, box)
        etree.SubElement(
            box,
            "button",
            {
                "name": "action_esign_audit_trail",
                "type": "object",
                "class": "oe_stat_button o_esign_audit_button",
                "icon": "fa-history",
                "string": self.env._("Audit Trail"),
                "groups": "meddev_esign.group_esign_auditor,meddev_esign.group_esign_admin,"
                "meddev_esign.group_esign_signer",
                "invisible": "not id",
            },
        )
