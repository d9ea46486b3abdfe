from collections import defaultdict

from odoo import api, fields, models, tools
from odoo.exceptions import ValidationError
from odoo.tools import SQL, sql


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
