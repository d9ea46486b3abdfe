from odoo import api, fields, models


class EsignQualityRecord(models.AbstractModel):
    """What the quality records share: a reference from the sequence whose code is the model's
    name (CR/…, CAPA/…, DEV/…, SQ/…), and a display name of reference plus title."""

    _name = "esign.quality.record"
    _description = "Quality Record"

    #: The field shown after the reference in the record's display name.
    _quality_title_field = "title"

    # Each record redefines ``help`` where it has something more precise to say.
    name = fields.Char(
        string="Reference",
        required=True,
        readonly=True,
        copy=False,
        default="New",
        help="Given from the record's sequence when it is saved.",
    )
    active = fields.Boolean(
        default=True, help="Archive instead of deleting: quality records are retained."
    )
    company_id = fields.Many2one(
        "res.company",
        required=True,
        default=lambda self: self.env.company,
        index=True,
        help="The company that owns the record.",
    )

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if vals.get("name", "New") == "New":
                company = self.env["res.company"].browse(vals.get("company_id"))
                sequence = self.env["ir.sequence"].with_company(company or self.env.company)
                vals["name"] = sequence.next_by_code(self._name) or "New"
        return super().create(vals_list)

    @api.depends(lambda self: ["name", self._quality_title_field])
    def _compute_display_name(self):
        for rec in self:
            title = rec[self._quality_title_field]
            if isinstance(title, models.BaseModel):
                title = title.display_name
            rec.display_name = f"{rec.name} {title}" if title else rec.name
