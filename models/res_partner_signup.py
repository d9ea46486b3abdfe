from odoo import models


class ResPartnerSignup(models.Model):
    """No write of a partner's sign-up token type when it already has that type.

    Every message on a portal document (a purchase order) that is e-mailed to anyone makes the
    portal add a sign-up link for the document's partner (``portal`` ``mail.thread``,
    ``_notify_get_recipients_groups`` -> ``signup_get_auth_param`` -> ``signup_prepare``),
    which writes ``signup_type`` on that partner each time, even with the value it has. A
    signature that opens the next step e-mails the next signer their to-do on the order, so
    buyers of one supplier, signing at once, all updated that supplier's row, and
    PostgreSQL refused all but one of them (serialization failures, which Odoo logs as ERROR
    and retries). The type, and the token made from it, are the same without the write.
    """

    _inherit = "res.partner"

    def signup_prepare(self, signup_type="signup"):
        to_set = self.filtered(lambda partner: partner.sudo().signup_type != signup_type)
        if to_set:
            return super(ResPartnerSignup, to_set).signup_prepare(signup_type=signup_type)
        return True
