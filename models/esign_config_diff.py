"""The old -> new difference of a configuration change, in the reader's language.

Field labels, step names, group and user names and selection labels are read at display
time, so an approver working in Chinese reads them in Chinese. The sign wizard shows the
difference above the credentials (``wizards/esign_sign_wizard_config.py``).
"""

from odoo import models

from ..services import config_change as cc

_X2MANY = ("one2many", "many2many")


class EsignConfigDiff(models.AbstractModel):
    _name = "esign.config.diff"
    _description = "Configuration Change: Readable Difference"

    # ------------------------------------------------------------------ values as text
    def _none(self):
        return "—"

    def _bool_text(self, value):
        return self.env._("Yes") if value else self.env._("No")

    def _names(self, comodel, ids, fallback=None):
        records = self.env[comodel].sudo().with_context(active_test=False).browse(ids).exists()
        names = dict(zip(records.ids, records.mapped("display_name"), strict=True))
        fallback = fallback or {}
        return ", ".join(names.get(i) or fallback.get(i) or f"#{i}" for i in ids) or self._none()

    def _old_text(self, field, value):
        """A canonical old value (as the audit trail keeps it) as text."""
        if value in (None, "", []):
            return self._bool_text(False) if field.type == "boolean" else self._none()
        if field.type == "many2one" and isinstance(value, list):
            return self._names(field.comodel_name, [value[0]], {value[0]: value[1]})
        if field.type in _X2MANY and isinstance(value, list):
            pairs = {pair[0]: pair[1] for pair in value if isinstance(pair, list)}
            return self._names(field.comodel_name, list(pairs), pairs)
        return self._new_text(field, value)

    def _new_text(self, field, value):
        """A value as the ORM takes it in a write, as text."""
        if field.type == "boolean":
            return self._bool_text(value)
        if value in (None, False, "", []):
            return self._none()
        if field.type == "many2one":
            return self._names(field.comodel_name, [value])
        if field.type in _X2MANY:
            return self._names(field.comodel_name, self._ids_of(value))
        if field.type == "selection":
            labels = dict(field._description_selection(self.env))
            return labels.get(value, str(value))
        return str(value)

    def _ids_of(self, commands):
        """The ids an x2many value ends with, from SET/LINK commands or a plain id list."""
        ids = []
        for command in commands or []:
            if isinstance(command, int):
                ids.append(command)
            elif command and command[0] == 6:
                ids = list(command[2])
            elif command and command[0] == 4:
                ids.append(command[1])
            elif command and command[0] in (3, 2):
                ids = [i for i in ids if i != command[1]]
            elif command and command[0] == 5:
                ids = []
        return ids

    def _label(self, field):
        return field._description_string(self.env)

    # ------------------------------------------------------------------ rows
    def _rows(self, change):
        """[(setting, old, new)] of ``change``, each as text."""
        Model = self.env[change.target_model]
        values = cc.load_values(change.values_json)
        old = change._esign_old_values()
        old_lines = old.pop("__lines__", {})
        rows = []
        if change.operation == "unlink":
            rows.append((self.env._("Deleted"), change.target_name or "", self._none()))
            for name, value in sorted(old.items()):
                field = Model._fields.get(name)
                if field is not None and value not in (None, "", [], False):
                    rows.append((self._label(field), self._old_text(field, value), self._none()))
            return rows
        for name, value in values.items():
            field = Model._fields.get(name)
            if field is None:
                rows.append((name, self._none(), str(value)))
                continue
            if field.type in _X2MANY and field.comodel_name in (
                "esign.policy.step",
                "esign.meaning",
            ):
                rows.extend(self._line_rows(field, value, old.get(name), old_lines.get(name, {})))
                continue
            before = self._old_text(field, old.get(name)) if change.operation == "write" else ""
            rows.append((self._label(field), before or self._none(), self._new_text(field, value)))
        return rows

    def _line_rows(self, field, commands, old_value, old_lines):
        """Rows of the steps a policy's write adds, changes or removes."""
        Line = self.env[field.comodel_name].sudo().with_context(active_test=False)
        old_names = {pair[0]: pair[1] for pair in old_value or [] if isinstance(pair, list)}
        label = self._label(field)
        rows = []

        def line_name(line_id):
            line = Line.browse(line_id).exists()
            return line.display_name if line else old_names.get(line_id, f"#{line_id}")

        def detail(vals):
            return "; ".join(
                f"{self._label(Line._fields[k])}: {self._new_text(Line._fields[k], v)}"
                for k, v in vals.items()
                if k in Line._fields and k != "policy_id"
            )

        for command in commands or []:
            if not isinstance(command, list | tuple) or not command:
                continue
            kind = command[0]
            if kind == 0:
                vals = command[2] or {}
                rows.append(
                    (
                        f"{label}: {self.env._('Added')} «{vals.get('name') or ''}»",
                        self._none(),
                        detail(vals),
                    )
                )
            elif kind == 1:
                name = line_name(command[1])
                before = old_lines.get(str(command[1]), {})
                for key, new in (command[2] or {}).items():
                    sub = Line._fields.get(key)
                    if sub is None:
                        continue
                    rows.append(
                        (
                            f"{label} «{name}»: {self._label(sub)}",
                            self._old_text(sub, before.get(key)),
                            self._new_text(sub, new),
                        )
                    )
            elif kind in (2, 3):
                name = line_name(command[1])
                rows.append((f"{label}: {self.env._('Removed')}", name, self._none()))
            elif kind == 6:
                rows.append(
                    (
                        label,
                        self._names(field.comodel_name, list(old_names), old_names),
                        self._names(field.comodel_name, list(command[2])),
                    )
                )
        return rows
