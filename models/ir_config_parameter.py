from odoo import api, models


class IrConfigParameter(models.Model):
    """The add-on's settings (lock-out threshold, session window, retention...) are part of its
    configuration: their changes are audited (R28). Other parameters are not."""

    _inherit = "ir.config_parameter"
    _esign_audit = "config"

    def _esign_audit_records(self):
        return self.filtered(lambda p: (p.key or "").startswith("meddev_esign."))

    @api.model
    def _esign_int(self, key, default, minimum=0):
        """The integer setting ``key``; ``default`` when it is unset, not a whole number, or
        below ``minimum``."""
        value = (self.sudo().get_param(key) or "").strip()
        return int(value) if value.isdigit() and int(value) >= minimum else default
