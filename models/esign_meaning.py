from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError


class EsignMeaning(models.Model):
    """The meaning of a signature (21 CFR 11.50(a)(3)): Authored, Reviewed, Approved...

    Meanings are configured, not hard-coded, so a site can add its own. A meaning that has
    been used by a signature is archived, never deleted, so every printed copy stays readable.

    A signature stores the meaning's code (hashed into its chain) and the exact text its signer
    saw. Readers see the meaning translated from the code into their own language, so the code
    of a meaning that a signature carries never changes.
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

    # What a signature reads of its meaning is cached with the policy's steps
    # (esign.policy._esign_step_rows): every change clears that cache, for every worker.
    # A new translation comes through write() too (Odoo 18's _update_field_translations).
    @api.model_create_multi
    def create(self, vals_list):
        meanings = super().create(vals_list)
        self.env.registry.clear_cache()
        return meanings

    def unlink(self):
        self.env.registry.clear_cache()
        return super().unlink()

    def write(self, vals):
        if "code" in vals:
            changed = self.filtered(lambda meaning: meaning.code != vals["code"])
            signatures = self.env["esign.signature"].sudo()
            used = changed and signatures.search_count(
                [("meaning_code", "in", changed.mapped("code"))], limit=1
            )
            if used:
                raise UserError(
                    self.env._(
                        "Signatures carry this meaning's code: it cannot be changed. Create a "
                        "new meaning and archive this one instead."
                    )
                )
        result = super().write(vals)
        self.env.registry.clear_cache()
        return result

    @api.model
    def _labels(self, codes):
        """{code: the meaning's name in this environment's language}, archived meanings too.

        :param codes: The meaning codes to look up (e.g. those of some signatures).
        """
        meanings = (
            self.sudo()
            .with_context(active_test=False)
            .search_fetch([("code", "in", list(codes))], ["code", "name"])
        )
        return {meaning.code: meaning.name for meaning in meanings}
