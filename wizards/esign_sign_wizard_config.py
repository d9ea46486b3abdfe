from markupsafe import Markup

from odoo import models


class EsignSignWizardConfigDiff(models.TransientModel):
    """The approver reads what he approves, old -> new, right above his credentials."""

    _inherit = "esign.sign.wizard"

    def _compute_summary(self):
        res = super()._compute_summary()
        for wiz in self.filtered(lambda w: w.res_model == "esign.config.change"):
            changes = wiz._records()._filtered_access("read")
            diff = Markup("").join(
                Markup("<h5>%s</h5>%s") % (change.display_name, change.diff_html or "")
                for change in changes
            )
            wiz.summary_html = diff + (wiz.summary_html or "")
        return res
