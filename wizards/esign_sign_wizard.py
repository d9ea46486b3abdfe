import json

from markupsafe import Markup

from odoo import api, fields, models
from odoo.exceptions import AccessDenied, UserError

from ..services import inputs


class EsignSignWizard(models.TransientModel):
    """Re-authenticate and sign one step of one or many records (21 CFR 11.200, 11.300).

    The password and the authenticator code are never fields: the form's Sign button passes
    them as arguments of ``action_sign`` (see ``static/src/esign_credentials``), so they
    never reach a table, a log or the undo history. Over RPC, call
    ``action_sign(password=..., totp_code=...)`` the same way.

    What the signer typed in the form (the log-in, the reason, on whose behalf) travels with
    them, as ``values``: the wizard is changed and the records signed in one request and one
    transaction, so a refused signature leaves nothing of its attempt saved on the wizard.
    """

    _name = "esign.sign.wizard"
    _inherit = ["esign.wizard.input"]
    _description = "Sign Electronically"
    _esign_fixed_fields = ("res_model", "res_ids", "policy_id", "step_id", "expected_hashes")
    # The JSON of the selected records grows with a bulk release (about 100 characters of
    # expected hash per lot): room for some 20,000 lots; their shape is checked on its own.
    _esign_text_limits = {"login": 256, "res_ids": 200_000, "expected_hashes": 2_000_000}

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
        try:
            return inputs.id_list(self.res_ids)
        except inputs.InputError:
            return []

    def _records(self):
        """The selected records that still exist (none when the wizard's model is unknown)."""
        if self.res_model not in self.env:
            return self.env["esign.signable.mixin"]
        return self.env[self.res_model].browse(self._selected_ids()).exists()

    # ------------------------------------------------------------------ checks
    @api.model_create_multi
    def create(self, vals_list):
        """Check what will be signed; take the content hashes now when none are given."""
        wizards = super().create(vals_list)
        for wizard in wizards:
            records = wizard._esign_checked_records()
            wizard._esign_checked_policy(records)
            if wizard.expected_hashes:
                wizard._esign_checked_hashes(records)
            else:
                hashes = {
                    str(rec.id): rec.sudo()._esign_content_hash(wizard.policy_id.sudo().trigger)
                    for rec in records
                }
                wizard.sudo().expected_hashes = json.dumps(hashes)
        return wizards

    def _esign_checked_records(self):
        """The records to sign: a signable model, ids that exist, and that the user may read.

        :raises UserError: with the reason, in the user's language.
        :raises AccessError: a record of another company, or one the user may not read.
        """
        self.ensure_one()
        model = self._esign_signable_model(self.res_model)
        try:
            ids = inputs.id_list(self.res_ids)
        except inputs.InputError as exc:
            raise UserError(self._esign_input_message(exc)) from None
        records = self.env[model].browse(ids)
        if len(records.exists()) != len(records):
            raise UserError(self.env._("The records to sign no longer exist."))
        records.check_access("read")
        return records

    def _esign_checked_policy(self, records):
        """The wizard's policy and step, when they fit ``records``: the policy is active, of
        their model and company, and the step is one of its own."""
        self.ensure_one()
        policy = self.policy_id.sudo()
        step = self.step_id.sudo()
        if not policy or not step:
            raise UserError(self.env._("The wizard names no signing policy and step."))
        if not policy.active or policy.model != records._name or step.policy_id != policy:
            raise UserError(
                self.env._(
                    "The step %(step)s of %(policy)s cannot be signed on %(model)s records.",
                    step=step.name,
                    policy=policy.name,
                    model=self.env["ir.model"]._get(records._name).name,
                )
            )
        if policy.company_id:
            for record in records:
                company = record.sudo().company_id if "company_id" in record._fields else None
                if company and company != policy.company_id:
                    raise UserError(
                        self.env._(
                            "%(policy)s does not apply to %(record)s.",
                            policy=policy.name,
                            record=record.display_name,
                        )
                    )
        return self.policy_id, self.step_id

    def _esign_checked_hashes(self, records):
        """{record id: content hash seen when the wizard opened}, one for every record."""
        self.ensure_one()
        try:
            return inputs.hash_map(self.expected_hashes, records.ids)
        except inputs.InputError as exc:
            raise UserError(self._esign_input_message(exc)) from None

    @api.depends("res_model", "res_ids", "step_id")
    def _compute_summary(self):
        for wiz in self:
            records = wiz._records()._filtered_access("read") if wiz.res_model else []
            wiz.record_count = len(records)
            items = Markup("").join(
                Markup("<li>%s</li>") % rec.display_name for rec in records[:20]
            )
            more = (
                Markup("<li>%s</li>") % self.env._("…and %(count)s more", count=len(records) - 20)
                if len(records) > 20
                else ""
            )
            # The policy and the step are the form's own fields, shown once above this.
            wiz.summary_html = Markup("<ul>%s%s</ul><p class='text-muted'>%s</p>") % (
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
        records.check_access("read")  # a record of another company is not signed from here
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
            "context": {"esign_preload": wizard._esign_preload()},
        }

    def _esign_form_spec(self):
        """The fields the wizard's form reads, as the web client asks ``web_read`` for them
        (the form view and the views inheriting it; ``test_preload_matches_the_form``)."""
        name = {"fields": {"display_name": {}}}
        return {
            "needs_totp": {},
            "needs_login": {},
            "res_model": {},
            "res_ids": {},
            "meaning_id": name,
            "meaning_description": {},
            "policy_id": name,
            "step_id": name,
            "record_count": {},
            "summary_html": {},
            "login": {},
            "reason": {},
        }

    def _esign_preload(self):
        """What the form would read of this new wizard, sent with the action that opens it.

        The form's model (``static/src/esign_sign_wizard``) takes it instead of asking the
        server again, when it asks for exactly this specification and this wizard: one
        request less per signature, which counts when a shift signs at once (the signing
        rate is bound by the CPU). A form that asks for other fields (a view changed by
        another module) reads the wizard as usual. The values are the ones ``web_read``
        gives the same user, read in the transaction that made the wizard.
        """
        self.ensure_one()
        spec = self._esign_form_spec()
        return {"id": self.id, "spec": spec, "record": self.web_read(spec)[0]}

    # ------------------------------------------------------------------ signing
    def _esign_take_values(self, values):
        """Write what the signer typed in the form (``values``; None: nothing sent) on this
        wizard, checked as every write is: a field fixed when the wizard was opened, an
        unknown field or a value of the wrong type is refused with a clear message."""
        if values is None or values == {}:
            return
        self.write(values)  # which refuses anything but a dictionary, as every write

    def _authenticate(self, password, totp_code):
        """Check the signer's components; count failures; return the auth method used.

        Any bad credential counts toward the lock-out, whatever its type: a wrong or empty
        password, a number or a list where text is expected, or a megabyte of text (refused
        before any hashing).
        """
        self.ensure_one()
        user = self.env.user
        # The columns signing reads from the signer's row, not the whole row (the rest of
        # the signer, from the partner and the company, in ``_esign_prefetch_signer``).
        user.sudo().fetch(["esign_locked", "esign_failed_attempts", "login", "partner_id"])
        if user.sudo().esign_locked:
            user._esign_register_locked_attempt(self.res_model, self._selected_ids())
            raise UserError(
                self.env._(
                    "Your account is locked from signing after repeated failed attempts. "
                    "An E-Signature Administrator must unlock it."
                )
            )
        full = user._esign_full_auth_required()
        factor = "password"  # what is being checked: the audit trail names what failed
        try:
            if password is None or password is False:
                raise AccessDenied()  # not given at all: as an empty password
            try:
                password = inputs.secret(password, "password")
                factor = "totp"
                totp_code = inputs.optional_secret(totp_code, "totp_code")
            except inputs.InputError as exc:
                if exc.problem == "empty":
                    raise AccessDenied() from None
                raise
            if full and not user.totp_enabled:
                factor = "login"
                if (self.login or "").strip().lower() != (user.login or "").lower():
                    raise AccessDenied()
            factor = "password"
            with user._assert_can_auth(user=user.id):
                user._check_credentials(
                    {"type": "password", "login": user.login, "password": password},
                    {"interactive": True},
                )
            if full and user.totp_enabled:
                factor = "totp"
                if not totp_code or not totp_code.isascii() or not totp_code.isdigit():
                    raise AccessDenied()
                user._totp_check(int(totp_code))
        except (AccessDenied, inputs.InputError) as exc:
            malformed = isinstance(exc, inputs.InputError)
            failures = user._esign_register_failure(
                factor="input" if malformed else factor,
                res_model=self.res_model,
                res_ids=self._selected_ids(),
            )
            remaining = max(user._esign_max_failures() - failures, 0)
            if malformed:
                raise UserError(
                    self.env._(
                        "Signing refused: %(problem)s %(remaining)s attempt(s) left before "
                        "your account is locked from signing.",
                        problem=self._esign_input_message(exc),
                        remaining=remaining,
                    )
                ) from None
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

    def action_sign(self, password=None, totp_code=None, values=None):
        """Re-authenticate once, then sign the step on every selected record, all or none.

        The wizard is checked before the credentials: it must be one, the caller's own, and
        name records the caller may read under an active policy of theirs. ``values``, the
        fields the signer filled in, are written first, with the checks of any write.
        """
        self._esign_own_one()
        self._esign_take_values(values)
        records = self._esign_checked_records()
        policy, step = self._esign_checked_policy(records)
        expected = self._esign_checked_hashes(records)
        auth_method = self._authenticate(password, totp_code)
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
        todos = []  # the signing to-dos settled, removed once at the end
        # One pass over all the records per kind of work (see ``_sign_records``), and one
        # append to the audit trail for all the signatures and what they changed.
        signatures = requests._sign_records(
            request_of,
            records,
            step,
            reason=self.reason,
            auth_method=auth_method,
            expected={int(key): value for key, value in expected.items()},
            todos=todos,
        )
        signature_ids = signatures.ids
        requests._done_activities(todos)
        if len(records) > 1:
            # The records' tracking messages (the lots' release), with the signature notes
            # they carry, in one batch now rather than one message at a time when the
            # transaction commits. One record's is left to Odoo's commit, as it costs the
            # same and joins whatever else the transaction changes on the record.
            records._esign_log_tracking()
        self.write({"login": False})
        return {
            "type": "ir.actions.act_window_close",
            "infos": {"signature_ids": signature_ids},
        }
