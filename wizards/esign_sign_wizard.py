import json

from markupsafe import Markup, escape

from odoo import api, fields, models
from odoo.exceptions import AccessDenied, UserError


class EsignSignWizard(models.TransientModel):
    """Re-authenticate and sign one step of one or many records (21 CFR 11.200, 11.300).

    The password and the authenticator code are never fields: the form's Sign button passes
    them as arguments of ``action_sign`` (see ``static/src/esign_credentials``), so they
    never reach a table, a log or the undo history. Over RPC, call
    ``action_sign(password=..., totp_code=...)`` the same way.
    """

    _name = "esign.sign.wizard"
    _description = "Sign Electronically"

    res_model = fields.Char(required=True, readonly=True)
    res_ids = fields.Char(required=True, readonly=True, help="JSON list of record ids.")
    policy_id = fields.Many2one("esign.policy", required=True, readonly=True)
    step_id = fields.Many2one("esign.policy.step", required=True, readonly=True)
    meaning_id = fields.Many2one(related="step_id.meaning_id")
    meaning_description = fields.Text(related="step_id.meaning_id.description")
    expected_hashes = fields.Char(
        readonly=True, help="JSON {id: content hash} seen when the wizard opened."
    )
    login = fields.Char(string="Log-in", help="Your log-in: the first of two components.")
    reason = fields.Text(string="Reason / Comment")
    record_count = fields.Integer(compute="_compute_summary")
    summary_html = fields.Html(compute="_compute_summary", sanitize=False)
    needs_login = fields.Boolean(compute="_compute_auth_needs")
    needs_totp = fields.Boolean(compute="_compute_auth_needs")

    def _selected_ids(self):
        return [int(i) for i in json.loads(self.res_ids or "[]")]

    def _records(self):
        return self.env[self.res_model].browse(self._selected_ids()).exists()

    @api.depends("res_model", "res_ids", "step_id")
    def _compute_summary(self):
        for wiz in self:
            records = wiz._records() if wiz.res_model else []
            wiz.record_count = len(records)
            items = Markup("").join(
                Markup("<li>%s</li>") % rec.display_name for rec in records[:20]
            )
            more = (
                Markup("<li>%s</li>") % self.env._("…and %(count)s more", count=len(records) - 20)
                if len(records) > 20
                else ""
            )
            wiz.summary_html = Markup(
                "<p><b>%s</b> %s</p><ul>%s%s</ul><p class='text-muted'>%s</p>"
            ) % (
                escape(wiz.step_id.name or ""),
                escape(wiz.policy_id.name or ""),
                items,
                more,
                self.env._(
                    "You sign the content of these records as it stands now. A later change "
                    "to a signed field shows your signature as 'record changed after signing'."
                ),
            )

    @api.depends_context("uid")
    def _compute_auth_needs(self):
        user = self.env.user
        full = user._esign_full_auth_required()
        for wiz in self:
            wiz.needs_totp = bool(user.totp_enabled) and full
            wiz.needs_login = full and not user.totp_enabled

    # ------------------------------------------------------------------ opening
    @api.model
    def _action_open(self, records, step=None):
        """Open the wizard for the step the current user may sign on ``records`` now."""
        if not records:
            raise UserError(self.env._("Select at least one record to sign."))
        first = records[0]
        choices = first._esign_signable_for_user()
        if step:
            choices = [c for c in choices if c[1] == step]
        if not choices:
            raise UserError(
                self.env._(
                    "You have no signature to give on %(record)s right now.",
                    record=first.display_name,
                )
            )
        policy, step = choices[0]
        hashes = {str(rec.id): rec.sudo()._esign_content_hash(policy.trigger) for rec in records}
        wizard = self.create(
            {
                "res_model": records._name,
                "res_ids": json.dumps(records.ids),
                "policy_id": policy.id,
                "step_id": step.id,
                "expected_hashes": json.dumps(hashes),
                "login": False,
            }
        )
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Sign: %(meaning)s", meaning=step.meaning_id.name),
            "res_model": self._name,
            "res_id": wizard.id,
            "view_mode": "form",
            "target": "new",
        }

    # ------------------------------------------------------------------ signing
    def _authenticate(self, password, totp_code):
        """Check the signer's components; count failures; return the auth method used."""
        self.ensure_one()
        user = self.env.user
        if user.sudo().esign_locked:
            raise UserError(
                self.env._(
                    "Your account is locked from signing after repeated failed attempts. "
                    "An E-Signature Administrator must unlock it."
                )
            )
        full = user._esign_full_auth_required()
        try:
            if not password:
                raise AccessDenied()
            if full and not user.totp_enabled:
                if (self.login or "").strip().lower() != (user.login or "").lower():
                    raise AccessDenied()
            with user._assert_can_auth(user=user.id):
                user._check_credentials(
                    {"type": "password", "login": user.login, "password": password},
                    {"interactive": True},
                )
            if full and user.totp_enabled:
                if not totp_code:
                    raise AccessDenied()
                user._totp_check(int(totp_code) if str(totp_code).isdigit() else -1)
        except AccessDenied:
            failures = user._esign_register_failure()
            remaining = max(user._esign_max_failures() - failures, 0)
            raise UserError(
                self.env._(
                    "Signing refused: the credentials are wrong or incomplete. %(remaining)s "
                    "attempt(s) left before your account is locked from signing.",
                    remaining=remaining,
                )
            ) from None
        finally:
            password = totp_code = None  # noqa: F841 - drop the secrets as early as we can
        user._esign_register_success(full_auth=full)
        if full and user.totp_enabled:
            return "password_totp"
        return "login_password" if full else "password_session"

    def action_sign(self, password=None, totp_code=None):
        """Re-authenticate once, then sign the step on every selected record, all or none."""
        self.ensure_one()
        records = self._records()
        if not records:
            raise UserError(self.env._("The records to sign no longer exist."))
        auth_method = self._authenticate(password, totp_code)
        expected = json.loads(self.expected_hashes or "{}")
        policy = self.policy_id
        for record in records:
            if not policy._applies_to(record):
                raise UserError(
                    self.env._(
                        "%(policy)s does not apply to %(record)s.",
                        policy=policy.name,
                        record=record.display_name,
                    )
                )
        requests = self.env["esign.request"]
        requests._lock(records)  # every record at once; held until the transaction ends
        request_of = requests._for_records(records, policy)
        signature_ids = []
        # One append to the audit trail for all the signatures and what they changed.
        with self.env["esign.audit.entry"]._batched():
            for record in records:
                signature = request_of[record.id]._sign(
                    record,
                    self.step_id,
                    reason=self.reason,
                    auth_method=auth_method,
                    expected_hash=expected.get(str(record.id)),
                    lock=False,
                )
                signature_ids.append(signature.id)
        self.write({"login": False})
        return {
            "type": "ir.actions.act_window_close",
            "infos": {"signature_ids": signature_ids},
        }
