from odoo import api, models


class ResCompany(models.Model):
    _inherit = "res.company"

    @api.model_create_multi
    def create(self, vals_list):
        """Every company gets its audit trail chain at once (one chain per company)."""
        companies = super().create(vals_list)
        chains = self.env["esign.audit.chain"].sudo()
        for company in companies:
            chains._for_company(company)
        return companies
