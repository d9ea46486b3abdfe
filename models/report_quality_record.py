from odoo import api, models


class ReportQualityRecord(models.AbstractModel):
    """What a quality record's report prints: its signed fields, as labelled in the form, and
    every signature on it. One template for the change request, CAPA, deviation and supplier
    qualification: each model says which fields its signatures cover."""

    _name = "esign.quality.report"
    _description = "Quality Record Report"

    @api.model
    def _rows(self, record):
        """(label, text) of each field the record's signatures cover, in the form's order."""
        names = list(record._esign_signed_fields or [])
        for extra in (record._esign_signed_fields_by_trigger or {}).values():
            names += [name for name in extra if name not in names]
        rows = []
        for name in names:
            field = record._fields.get(name)
            if not field or field.type in ("one2many", "many2many", "binary"):
                continue
            value = record[name]
            if field.type == "many2one":
                text = value.display_name or ""
            elif field.type == "selection":
                text = dict(field._description_selection(self.env)).get(value, "") if value else ""
            elif field.type == "boolean":
                text = self.env._("Yes") if value else self.env._("No")
            else:
                text = "" if value in (False, None) else str(value)
            rows.append((field._description_string(self.env), text))
        return rows
