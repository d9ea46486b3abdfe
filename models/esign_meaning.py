from odoo import api, fields, models
from odoo.exceptions import ValidationError


class EsignMeaning(models.Model):
    """The meaning of a signature (21 CFR 11.50(a)(3)): Authored, Reviewed, Approved...

    Meanings are configured, not hard-coded, so a site can add its own. A meaning that has
    been used by a signature is archived, never deleted, so every printed copy stays readable.
    """

    _name = "esign.meaning"
    _esign_audit = "config"
    _description = "Signature Meaning"
    _order = "sequence, id"

    name = fields.Char(
        required=True,
        translate=True,
        help="The manifestation printed with every signature, e.g. 'Approved'.",
    )
    code = fields.Char(
        required=True,
        help="A stable technical code, e.g. 'approved'. Policies and reports refer to it; "
        "it does not change with the language.",
    )
    description = fields.Text(
        translate=True,
        help="What the signer attests by signing with this meaning. Shown in the sign wizard.",
    )
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)

    _sql_constraints = [
        ("code_unique", "unique(code)", "The code of a signature meaning must be unique."),
    ]

    @api.constrains("code")
    def _check_code(self):
        for meaning in self:
            code = meaning.code or ""
            if not code.isascii() or not code.replace("_", "").isalnum() or code != code.lower():
                raise ValidationError(
                    self.env._(
                        "The code %(code)s is not valid: use lower-case letters, digits and "
                        "underscores only.",
                        code=code,
                    )
                )
