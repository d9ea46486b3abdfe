from collections.abc import Mapping

from odoo import api, models
from odoo.exceptions import AccessError, UserError

from ..services import inputs


class EsignWizardInput(models.AbstractModel):
    """What every e-signature wizard checks of what it is given, by a form or over RPC.

    A wizard's public methods can be called with any ids and any JSON values. This mixin
    refuses, with a translated message and never a traceback: values of the wrong type for
    their field (a number for a text, text for an id, a reference to a record that does not
    exist or that the user may not read), changes to the fields fixed when the wizard was
    opened, and an action called on no wizard, several, or another user's
    (``_esign_own_one``). Transient records are not private to their creator in Odoo 18;
    the record rules in ``security/esign_rules.xml`` make them so, and ``_esign_own_one``
    holds even for a caller that bypasses rules.
    """

    _name = "esign.wizard.input"
    _description = "E-Signature Wizard Input Checks"

    #: Fields set when the wizard is made, which a later write may not change.
    _esign_fixed_fields: tuple[str, ...] = ()
    #: Per text field, the longest value accepted when it is not ``inputs.MAX_TEXT_CHARS``.
    _esign_text_limits: dict[str, int] = {}

    # ------------------------------------------------------------------ ORM entry points
    @api.model
    def default_get(self, fields_list):
        if not isinstance(fields_list, list | tuple) or not all(
            isinstance(name, str) for name in fields_list
        ):
            problem = inputs.InputError("fields_list", "not_text")
            raise UserError(self._esign_input_message(problem))
        # Defaults come from the context, which an RPC caller writes; the ORM would convert
        # them (a number to text, text to a number with a ValueError) before we could look.
        context = self.env.context
        self._esign_check_vals(
            {
                name: context[f"default_{name}"]
                for name in fields_list
                if f"default_{name}" in context and name in self._fields
            }
        )
        return super().default_get(fields_list)

    @api.model_create_multi
    def create(self, vals_list):
        if isinstance(vals_list, Mapping):
            vals_list = [vals_list]
        if not isinstance(vals_list, list) or not all(
            isinstance(vals, Mapping) for vals in vals_list
        ):
            raise UserError(self.env._("A wizard is created from a dictionary of values."))
        for vals in vals_list:
            self._esign_check_vals(vals)
            self._esign_check_required(vals)
        return super().create(vals_list)

    def write(self, vals):
        if not isinstance(vals, Mapping):
            raise UserError(self.env._("A wizard is changed with a dictionary of values."))
        fixed = set(self._esign_fixed_fields).intersection(vals)
        if fixed and not self.env.su:
            raise UserError(
                self.env._(
                    "%(fields)s cannot be changed once the wizard is open. Close it and open "
                    "it again from the record.",
                    fields=", ".join(sorted(self._fields[name].string for name in fixed)),
                )
            )
        self._esign_check_vals(vals)
        return super().write(vals)

    # ------------------------------------------------------------------ checks
    @api.model
    def _esign_check_vals(self, vals):
        """Refuse a value whose type does not fit its field, or a reference the user may not
        read. Fields of other types are left to the ORM."""
        for name, value in vals.items():
            field = self._fields.get(name) if isinstance(name, str) else None
            if field is None:
                raise UserError(
                    self.env._(
                        "%(wizard)s has no field %(field)s.",
                        wizard=self._description,
                        field=str(name)[:64],
                    )
                )
            computed = field.compute and not field.store
            if name in models.MAGIC_COLUMNS or computed or field.related:
                continue  # set by the ORM itself, or ignored by its create and write
            try:
                self._esign_check_value(field, value)
            except inputs.InputError as exc:
                raise UserError(self._esign_input_message(exc)) from None

    @api.model
    def _esign_check_required(self, vals):
        """Refuse a create that leaves a required field empty, before the database would
        (its NOT NULL error is logged as a failed query)."""
        missing = [
            field.string
            for name, field in self._fields.items()
            if field.required
            and field.store
            and not field.default
            and not vals.get(name)
            and not self.env.context.get(f"default_{name}")
            and field.type not in ("integer", "float", "monetary", "boolean")
        ]
        if missing:
            raise UserError(self.env._("%(input)s is required.", input=", ".join(sorted(missing))))

    @api.model
    def _esign_check_value(self, field, value):
        kind = field.type
        if kind in ("char", "text", "html"):
            limit = self._esign_text_limits.get(field.name, inputs.MAX_TEXT_CHARS)
            inputs.text(value, field.name, max_chars=limit)
        elif kind == "selection":
            allowed = [key for key, _label in field._description_selection(self.env)]
            if value is not False and value not in allowed:
                raise inputs.InputError(field.name, "not_text")
        elif kind == "boolean":
            if not isinstance(value, bool):
                raise inputs.InputError(field.name, "not_id")
        elif kind == "integer":
            if value is not False and (isinstance(value, bool) or not isinstance(value, int)):
                raise inputs.InputError(field.name, "not_id")
        elif kind == "binary":
            inputs.base64_data(value, field.name, max_chars=50 * 1024 * 1024)
        elif kind == "many2one":
            if value is not False and value is not None:
                self._esign_check_refs(field, [inputs.record_id(value, field.name)])
        elif kind in ("many2many", "one2many"):
            self._esign_check_refs(field, _command_ids(value, field.name))

    @api.model
    def _esign_check_refs(self, field, ids):
        """Every id names an existing record of the field's model that the user may read."""
        records = self.env[field.comodel_name].browse(ids)
        if len(records.exists()) != len(set(ids)):
            raise UserError(
                self.env._("%(field)s names a record that does not exist.", field=field.string)
            )
        records.check_access("read")

    @api.model
    def _esign_input_message(self, exc):
        """The translated sentence for an ``inputs.InputError``."""
        field = self._fields.get(exc.field)
        arguments = {  # inputs that are arguments of a method rather than fields
            "password": self.env._("Password"),
            "totp_code": self.env._("Authenticator code"),
            "fields_list": self.env._("List of fields"),
        }
        label = field.string if field else arguments.get(exc.field, exc.field)
        if exc.problem == "not_text":
            return self.env._("%(input)s must be given as text.", input=label)
        if exc.problem == "empty":
            return self.env._("%(input)s is required.", input=label)
        if exc.problem == "too_long":
            return self.env._(
                "%(input)s is too long: at most %(limit)s characters are accepted.",
                input=label,
                limit=exc.limit,
            )
        if exc.problem == "not_id":
            return self.env._("%(input)s must be the id of a record.", input=label)
        if exc.problem == "not_id_list":
            return self.env._(
                "%(input)s must be a list of distinct record ids, with at least one.",
                input=label,
            )
        if exc.problem == "not_base64":
            return self.env._("%(input)s must be a file encoded in base64.", input=label)
        if exc.problem == "not_model":
            return self.env._("%(input)s must be the technical name of a model.", input=label)
        return self.env._("%(input)s does not have the expected form.", input=label)

    def _esign_own_one(self):
        """This wizard, when it is exactly one, still exists and is the current user's.

        :raises UserError: no wizard, several, or one that has expired.
        :raises AccessError: another user's wizard.
        """
        if len(self) != 1 or not inputs.are_record_ids(self._ids):
            raise UserError(
                self.env._(
                    "This action works on one wizard at a time; it was called on %(count)s. "
                    "Open the wizard again from the record.",
                    count=len(self),
                )
            )
        mine = self.sudo().exists()
        if not mine:
            raise UserError(self.env._("This wizard has expired. Open it again from the record."))
        if mine.create_uid != self.env.user:
            raise AccessError(
                self.env._(
                    "This wizard was opened by another user. Open your own from the record."
                )
            )
        return self

    @api.model
    def _esign_signable_record(self, res_model, res_id):
        """The signable record ``res_model``/``res_id``, checked: it exists, the user may read
        it, and its model is one that is signed electronically."""
        model = self._esign_signable_model(res_model)
        try:
            res_id = inputs.record_id(res_id, "res_id")
        except inputs.InputError as exc:
            raise UserError(self._esign_input_message(exc)) from None
        record = self.env[model].browse(res_id).exists()
        if not record:
            raise UserError(self.env._("The record no longer exists."))
        record.check_access("read")
        return record

    @api.model
    def _esign_signable_model(self, res_model):
        """``res_model`` when it names a model that is signed electronically."""
        try:
            model = inputs.model_name(res_model, "res_model")
        except inputs.InputError as exc:
            raise UserError(self._esign_input_message(exc)) from None
        if model not in self.env:
            raise UserError(self.env._("There is no model %(model)s.", model=model))
        if model not in self.env["esign.policy"].sudo()._esign_signable_models():
            raise UserError(
                self.env._(
                    "%(model)s records are not signed electronically.",
                    model=self.env["ir.model"]._get(model).name or model,
                )
            )
        return model


def _command_ids(value, field):
    """The ids an x2many value names: a list of ids or of link/set/unlink/clear commands."""
    if value is False or value is None:
        return []
    if not isinstance(value, list | tuple):
        raise inputs.InputError(field, "not_id_list")
    ids = []
    for item in value:
        if isinstance(item, int) and not isinstance(item, bool):
            ids.append(inputs.record_id(item, field))
        elif isinstance(item, list | tuple) and item and item[0] == 6 and len(item) == 3:
            if not isinstance(item[2], list | tuple):
                raise inputs.InputError(field, "not_id_list")
            ids.extend(inputs.record_id(i, field) for i in item[2])
        elif isinstance(item, list | tuple) and len(item) in (2, 3) and item[0] in (3, 4):
            ids.append(inputs.record_id(item[1], field))
        elif isinstance(item, list | tuple) and item and item[0] == 5:
            continue
        else:
            raise inputs.InputError(field, "not_id_list")
    return ids
