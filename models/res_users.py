import logging

from markupsafe import Markup

from odoo import SUPERUSER_ID, api, fields, models
from odoo.exceptions import AccessError, UserError

from .esign_mail_queue import queued

_logger = logging.getLogger(__name__)

DEFAULT_MAX_FAILURES = 3
DEFAULT_SESSION_WINDOW_MINUTES = 30

#: What can fail in a signing attempt, as the audit trail's entries name it.
FAILED_FACTORS = ("login", "password", "totp", "input", "locked")


class ResUsers(models.Model):
    """Signing lock-out (21 CFR 11.300(d)) and the continuous-session window (11.200(a)(1))."""

    _inherit = "res.users"

    esign_failed_attempts = fields.Integer(
        string="Failed Signing Attempts",
        readonly=True,
        copy=False,
        groups="meddev_esign.group_esign_admin",
        help="Consecutive failed re-authentications in the sign wizard. Counted per account in "
        "the database, so every worker and server sees the same count.",
    )
    esign_locked = fields.Boolean(
        string="Locked from Signing",
        readonly=True,
        copy=False,
        groups="meddev_esign.group_esign_admin",
    )
    esign_locked_at = fields.Datetime(
        readonly=True, copy=False, groups="meddev_esign.group_esign_admin"
    )
    esign_unlocked_by_id = fields.Many2one(
        "res.users", readonly=True, copy=False, groups="meddev_esign.group_esign_admin"
    )
    esign_unlocked_at = fields.Datetime(
        readonly=True, copy=False, groups="meddev_esign.group_esign_admin"
    )

    @api.model
    def _esign_max_failures(self):
        return self.env["ir.config_parameter"]._esign_int(
            "meddev_esign.max_failed_attempts", DEFAULT_MAX_FAILURES, minimum=1
        )

    @api.model
    def _esign_session_window(self):
        """Minutes a full authentication covers later signatures; 0 means always all."""
        return self.env["ir.config_parameter"]._esign_int(
            "meddev_esign.session_window_minutes", DEFAULT_SESSION_WINDOW_MINUTES
        )

    def _esign_full_auth_required(self):
        """True unless this log-in session fully authenticated within the configured window.

        The state is the session's own row (``esign.signing.session``), in PostgreSQL: every
        worker and server reads the same, and no other session of the user writes it.
        """
        self.ensure_one()
        window = self._esign_session_window()
        sessions = self.env["esign.signing.session"]
        auth_at = sessions._auth_at(self, sessions._current_hash()) if window else None
        if not auth_at:
            return True
        age = fields.Datetime.now() - auth_at
        return age.total_seconds() > window * 60

    def _esign_register_success(self, full_auth):
        """A signing re-authentication passed: remember a full one for this session.

        Nothing is written on the user's own row unless a failure count is to be reset: that
        row is shared by every session of the user, and writing it on each signature makes
        concurrent sessions of one person collide (serialization failures and retries).
        """
        self.ensure_one()
        if self.sudo().esign_failed_attempts:
            self.sudo().write({"esign_failed_attempts": 0})
        if full_auth:
            sessions = self.env["esign.signing.session"].sudo()
            sessions._record_full_auth(self, sessions._current_hash())

    def _esign_register_failure(self, factor="password", res_model=None, res_ids=()):
        """Count a failed attempt in its own transaction, so the refusal cannot roll it back.

        Every bad credential counts, whatever its form (the sign wizard also counts a number,
        a list or an oversized text given where a password or code is expected).

        The attempt is also an entry in the tamper-evident trail of each record it tried to
        sign (who, when, which record, which factor failed), with the same commit.

        After the configured number of failures the account is locked from signing and the
        E-Signature Administrators get a mail and an activity at once.

        :param factor: what failed, one of ``FAILED_FACTORS``: the log-in, the password, the
            authenticator code, or credentials of the wrong form (``input``).
        :param res_model: the model of the records the user tried to sign.
        :param res_ids: their ids.
        """
        self.ensure_one()
        with self.env.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            user = env["res.users"].browse(self.id)
            cr.execute(
                "UPDATE res_users SET esign_failed_attempts = COALESCE(esign_failed_attempts, 0)"
                " + 1 WHERE id = %s RETURNING esign_failed_attempts, esign_locked",
                [self.id],
            )
            row = cr.fetchone()
            failures, locked = row if row else (0, False)
            _logger.warning(
                "E-signature: failed re-authentication %s for user %s (login %s), factor %s",
                failures,
                self.id,
                user.login,
                factor,
            )
            user._esign_audit_failed_attempt(factor, res_model, res_ids, failures)
            if failures >= self._esign_max_failures() and not locked:
                user.write({"esign_locked": True, "esign_locked_at": fields.Datetime.now()})
                # The lock-out is kept in the tamper-evident trail, with the same commit.
                env["esign.audit.entry"]._append(
                    [
                        user._esign_audit_item(
                            "lock",
                            [["esign_locked", False, True], ["failed_attempts", None, failures]],
                            env._("Locked from signing after repeated failed re-authentications."),
                            record_name=user.name,
                        )
                    ]
                )
                user._esign_alert_admins(failures)
        # The count was written through another cursor: drop what this one had cached.
        self.invalidate_recordset(["esign_failed_attempts", "esign_locked", "esign_locked_at"])
        return failures

    def _esign_register_locked_attempt(self, res_model=None, res_ids=()):
        """A locked account tried to sign: kept in the trail in its own transaction too."""
        self.ensure_one()
        with self.env.registry.cursor() as cr:
            user = api.Environment(cr, SUPERUSER_ID, {})["res.users"].browse(self.id)
            _logger.warning(
                "E-signature: locked user %s (login %s) tried to sign", self.id, user.login
            )
            user._esign_audit_failed_attempt("locked", res_model, res_ids, None)

    def _esign_audit_failed_attempt(self, factor, res_model, res_ids, failures):
        """One "Failed Signing Attempt" entry per record, in the user's name.

        Called inside the failure's own cursor (``self`` is bound to it), so the entries are
        committed with the counter whatever happens to the signing transaction.
        """
        self.ensure_one()
        reason = {
            "login": self.env._("Failed signing attempt: wrong log-in."),
            "password": self.env._("Failed signing attempt: wrong or missing password."),
            "totp": self.env._("Failed signing attempt: wrong or missing authenticator code."),
            "input": self.env._("Failed signing attempt: malformed credentials."),
            "locked": self.env._("Failed signing attempt: the account is locked from signing."),
        }[factor]
        changes = [["factor", None, factor]]
        if failures is not None:
            changes.append(["failed_attempts", None, failures])
        records = self.env["res.users"]
        if res_model and res_model in self.env and res_ids:
            records = self.env[res_model].browse(list(res_ids)).exists()
        entries = self.env["esign.audit.entry"].with_user(self).sudo()
        items = []
        for record in records or self:
            company = record.company_id if "company_id" in record._fields else False
            items.append(
                {
                    "company_id": (company or self.company_id).id,
                    "model": record._name,
                    "res_id": record.id,
                    "record": record.display_name or "",
                    "op": "sign_failed",
                    "changes": changes,
                    "reason": reason,
                }
            )
        entries._append(items)

    def _esign_alert_admins(self, failures):
        """Mail and schedule an activity for every E-Signature Administrator."""
        self.ensure_one()
        subject = self.env._("E-signature lock-out: %(name)s", name=self.name)
        body = Markup(
            "%s<br/><a href='/odoo/action-meddev_esign.res_users_action_esign_locked/%s'>%s</a>"
        ) % (
            self.env._(
                "%(name)s (%(login)s) was locked from signing after %(count)s failed "
                "re-authentications. Verify the person's identity before you unlock the account.",
                name=self.name,
                login=self.login,
                count=failures,
            ),
            self.id,
            self.env._("Open the locked signer to unlock"),
        )
        self._esign_alert(self.partner_id, subject, body)

    @api.model
    def _esign_alert(self, record, subject, body, post=False):
        """Tell every active E-Signature Administrator about ``record`` at once: a mail, and an
        activity on the record for each of them.

        :param post: keep the message in the record's chatter (``message_post``) rather than
            only notifying (``message_notify``).
        """
        admins = self.env.ref("meddev_esign.group_esign_admin").users.filtered(
            lambda u: u.active and not u.share and u.id != SUPERUSER_ID
        )
        record = queued(record)
        send = record.message_post if post else record.message_notify
        send(
            body=body,
            subject=subject,
            partner_ids=admins.partner_id.ids,
            subtype_xmlid="mail.mt_comment",
        )
        act_type = self.env.ref("mail.mail_activity_data_todo", raise_if_not_found=False)
        for admin in admins:
            record.activity_schedule(
                activity_type_id=act_type.id if act_type else False,
                summary=subject,
                note=body,
                user_id=admin.id,
            )

    def action_esign_unlock(self):
        """Administrator: unlock signing; who and when is recorded and posted."""
        if not self.env.user.has_group("meddev_esign.group_esign_admin"):
            raise AccessError(self.env._("Only an E-Signature Administrator may unlock signing."))
        if not self:
            raise UserError(self.env._("Choose the users to unlock."))
        now = fields.Datetime.now()
        for user in self:
            user.sudo().write(
                {
                    "esign_locked": False,
                    "esign_failed_attempts": 0,
                    "esign_unlocked_by_id": self.env.user.id,
                    "esign_unlocked_at": now,
                }
            )
            self.env["esign.audit.entry"]._append(
                [
                    user._esign_audit_item(
                        "unlock",
                        [["esign_locked", True, False], ["unlocked_by", None, self.env.user.name]],
                        self.env._("Unlocked by an E-Signature Administrator."),
                        record_name=user.name,
                    )
                ]
            )
            user.partner_id.sudo().message_post(
                body=self.env._(
                    "Signing unlocked for %(name)s by %(admin)s.",
                    name=user.name,
                    admin=self.env.user.name,
                ),
                subtype_xmlid="mail.mt_note",
            )
            _logger.info("E-signature: user %s unlocked by %s", user.id, self.env.uid)
        return True

    @api.model_create_multi
    def create(self, vals_list):
        # A new user may join a signing group: clear the cached members of the groups
        # (esign.policy.step._group_member_ids). Odoo clears the registry cache when an
        # existing user's groups or active flag change; for a new user only mail's
        # notification-type inverse happens to do it, which this does not rely on.
        users = super().create(vals_list)
        self.env.registry.clear_cache()
        return users

    # ------------------------------------------------------------------ PKI (R7)
    def write(self, vals):
        """Deactivating a user revokes their signer certificates at once (R7)."""
        leaving = self.filtered("active") if vals.get("active") is False else self.browse()
        result = super().write(vals)
        if leaving:
            certificates = (
                self.env["esign.certificate"]
                .sudo()
                .search([("user_id", "in", leaving.ids), ("state", "=", "active")])
            )
            certificates._revoke("cessation_of_operation")
        return result

    def action_esign_enrol(self):
        """Administrator: open the enrolment wizard (identity verification, then certificate)."""
        if len(self) != 1:
            raise UserError(self.env._("Enrol one user at a time."))
        return {
            "type": "ir.actions.act_window",
            "res_model": "esign.certificate.enrol.wizard",
            "view_mode": "form",
            "target": "new",
            "context": {"default_user_id": self.id},
        }
