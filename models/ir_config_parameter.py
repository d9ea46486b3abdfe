from odoo import models


class IrConfigParameter(models.Model):
    """The add-on's settings (lock-out threshold, session window, retention...) are part of its
    configuration: their changes are audited (R28). Other parameters are not."""

    _inherit = "ir.config_parameter"
    _esign_audit = "config"

    def _esign_audit_records(self):
        return self.filtered(lambda p: (p.key or "").startswith("meddev_esign."))
