from odoo import SUPERUSER_ID, models
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
            # Entries made by people (not by the installation itself) are regulated records.
            entries = (
                self.env["esign.audit.entry"]
                .sudo()
                .search_count([("user_id", "!=", SUPERUSER_ID)])
            )
            if entries:
                raise UserError(
                    self.env._(
                        "Uninstalling %(modules)s would remove Medical Device E-Signatures and "
                        "destroy an audit trail of %(count)s entries that must be retained.",
                        modules=", ".join(self.mapped("shortdesc")),
                        count=entries,
                    )
                )
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
