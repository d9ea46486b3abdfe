from odoo import models
from odoo.exceptions import UserError


class IrModuleModule(models.Model):
    """Retention (R19, ISO 13485 §4.2.5): uninstalling the add-on would drop its tables, and
    with them every signature. Refuse it, directly or through a dependency, once any
    signature exists."""

    _inherit = "ir.module.module"

    def button_uninstall(self):
        removed = self | self.downstream_dependencies()
        if "meddev_esign" in removed.mapped("name"):
            count = self.env["esign.signature"].sudo().search_count([])
            if count:
                raise UserError(
                    self.env._(
                        "Uninstalling %(modules)s would remove Medical Device E-Signatures and "
                        "destroy %(count)s electronic signature(s) that must be retained. "
                        "Archive the records instead; signed records are kept for their "
                        "retention period.",
                        modules=", ".join(self.mapped("shortdesc")),
                        count=count,
                    )
                )
        return super().button_uninstall()
