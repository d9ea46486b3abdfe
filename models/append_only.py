"""The one append-only mechanism of the add-on's evidence tables (R15, R19).

A row of evidence (a signature, an audit entry, a checkpoint, a verification result, a late
timestamp) is written once and never rewritten. Two guards hold it, both here and nowhere
else:

* **In the database**, one plpgsql function, :data:`FUNCTION`, runs BEFORE UPDATE, DELETE (per
  row) and TRUNCATE (per statement) on every such table. It lets a cluster superuser through
  (maintenance, and the tamper tests that play the attacker) and refuses everybody else, the
  database role Odoo connects with included. What a table allows beyond that comes through
  the trigger's arguments (``TG_ARGV``), one rule each:

  - ``retention``: a DELETE of a row whose ``retention_until`` has passed (the retention
    purge);
  - ``fill_once:<column>``: an UPDATE that only fills ``<column>`` while it is empty (besides
    Odoo's ``write_uid`` / ``write_date``), e.g. a checkpoint's late timestamp token.

* **In the ORM**, :class:`EsignAppendOnly` refuses ``write`` (but the fill-once fields while
  empty) and ``unlink`` with a translated message, before any SQL is sent.

``at_uninstall`` policy, one for every table: ``False``. The unlink guard is skipped while the
add-on itself is being uninstalled, so that Odoo can remove the module's own records and then
drop the tables (the triggers go with them) and an uninstall stays clean. It opens no hole:
``ir.module.module.button_uninstall`` refuses to uninstall the add-on, or a module it depends
on, while any signature or any audit entry made by a person exists, and in normal use every
unlink is refused by this guard and, below it, by the trigger.

The tables' ``init()`` install the trigger (idempotent: CREATE OR REPLACE, then DROP and
CREATE TRIGGER). The per-table functions of earlier versions are dropped there as well, with
their triggers, so an update needs no migration script.
"""

from odoo import api, models
from odoo.exceptions import UserError
from odoo.tools import SQL

#: Name of the one trigger function.
FUNCTION = "esign_append_only"

#: Functions of earlier versions, one per table: dropped (with their triggers) on update.
OBSOLETE_FUNCTIONS = (
    "esign_audit_entry_append_only",
    "esign_audit_checkpoint_append_only",
    "esign_signature_immutable",
    "esign_pki_append_only",
)

FUNCTION_SQL = """
CREATE OR REPLACE FUNCTION esign_append_only() RETURNS trigger AS $$
DECLARE
    rule text;
    filled text;
BEGIN
    IF (SELECT rolsuper FROM pg_roles WHERE rolname = session_user) THEN
        RETURN COALESCE(NEW, OLD);
    END IF;
    FOR i IN 0 .. TG_NARGS - 1 LOOP
        rule := TG_ARGV[i];
        IF TG_OP = 'DELETE' AND rule = 'retention' THEN
            IF OLD.retention_until < CURRENT_DATE THEN
                RETURN OLD;  -- the retention purge, once the retention date has passed
            END IF;
        ELSIF TG_OP = 'UPDATE' AND left(rule, 10) = 'fill_once:' THEN
            filled := substr(rule, 11);
            IF jsonb_typeof(to_jsonb(OLD) -> filled) = 'null'
                    AND to_jsonb(OLD) - ARRAY[filled, 'write_uid', 'write_date']
                        = to_jsonb(NEW) - ARRAY[filled, 'write_uid', 'write_date']
            THEN
                RETURN NEW;  -- the one fill of an empty column, nothing else changed
            END IF;
        END IF;
    END LOOP;
    RAISE EXCEPTION '% is append-only: % refused for role %', TG_TABLE_NAME, TG_OP, session_user
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""


def install_trigger(cr, table, rules=()):
    """Put ``table`` under the append-only function, with ``rules`` as its ``TG_ARGV``.

    :param cr: A cursor of the database.
    :param table: The table (a model's ``_table``).
    :param rules: The table's rules, see the module docstring.
    """
    cr.execute(FUNCTION_SQL)  # a constant: nothing to bind
    for name in OBSOLETE_FUNCTIONS:
        cr.execute(SQL("DROP FUNCTION IF EXISTS %s() CASCADE", SQL.identifier(name)))
    arguments = SQL(", ").join(SQL("%s", rule) for rule in rules)
    for suffix, when, level in (
        ("row", SQL("UPDATE OR DELETE"), SQL("ROW")),
        ("truncate", SQL("TRUNCATE"), SQL("STATEMENT")),
    ):
        trigger = SQL.identifier(f"{table}_append_only_{suffix}")
        cr.execute(SQL("DROP TRIGGER IF EXISTS %s ON %s", trigger, SQL.identifier(table)))
        cr.execute(
            SQL(
                "CREATE TRIGGER %s BEFORE %s ON %s FOR EACH %s EXECUTE FUNCTION %s(%s)",
                trigger,
                when,
                SQL.identifier(table),
                level,
                SQL.identifier(FUNCTION),
                arguments,
            )
        )


class EsignAppendOnly(models.AbstractModel):
    """Rows written once, never changed or deleted: see the module docstring.

    Inherit it and set, if needed, :attr:`_append_only_rules` (the trigger's arguments) and
    :attr:`_append_only_fill_once` (fields the ORM may fill once; give each a matching
    ``fill_once:<column>`` rule).
    """

    _name = "esign.append.only"
    _description = "Append-only Evidence"

    #: The trigger's ``TG_ARGV``: ``"retention"``, ``"fill_once:<column>"``.
    _append_only_rules = ()
    #: Fields that ``write`` may set once, while they are empty.
    _append_only_fill_once = frozenset()

    def init(self):
        result = super().init()
        if not self._abstract and self._auto:
            install_trigger(self.env.cr, self._table, self._append_only_rules)
        return result

    def write(self, vals):
        if self and (
            set(vals) - self._append_only_fill_once
            or any(record[name] for record in self for name in vals)
        ):
            raise UserError(
                self.env._(
                    "%(kind)s records are kept as evidence: they cannot be changed.",
                    kind=self._append_only_kind(),
                )
            )
        return super().write(vals)

    @api.ondelete(at_uninstall=False)
    def _unlink_except_append_only(self):
        raise UserError(
            self.env._(
                "%(kind)s records are kept as evidence: they cannot be deleted.",
                kind=self._append_only_kind(),
            )
        )

    def _append_only_kind(self):
        """The model's name as the user reads it, in the user's language."""
        return self.env["ir.model"].sudo()._get(self._name).name or self._description
