import hashlib
from datetime import timedelta

from odoo import api, fields, models
from odoo.http import request


class EsignSigningSession(models.Model):
    """The continuous-session state of 21 CFR 11.200(a)(1), one row per log-in session.

    The first signature of a log-in session needs every component; later ones within the
    window need the password only. What the rule asks is therefore a fact about one HTTP
    session, not about the account: two browsers of one person are two sessions, and each
    signs without writing anything the other one writes (no shared row, so no serialization
    failure between them). The rows live in PostgreSQL, so every worker and every server on
    the database sees the same state.

    The session is named by the SHA-256 of its id, never by the id itself: the table grants
    no session to whoever reads it. Rows older than the window are useless and are deleted
    by the daily autovacuum.
    """

    _name = "esign.signing.session"
    _description = "E-Signature Session Authentication"
    _log_access = False
    _rec_name = "user_id"
    _order = "auth_at desc"

    session_hash = fields.Char(
        required=True, readonly=True, help="SHA-256 of the HTTP session id (never the id)."
    )
    user_id = fields.Many2one(
        "res.users", required=True, readonly=True, index=True, ondelete="cascade"
    )
    auth_at = fields.Datetime(
        string="Authenticated At",
        required=True,
        readonly=True,
        help="When this session last gave every signing component.",
    )

    _sql_constraints = [
        (
            "session_hash_unique",
            "UNIQUE(session_hash)",
            "A log-in session has one signing authentication.",
        )
    ]

    @api.model
    def _current_hash(self):
        """SHA-256 (hex) of the current HTTP session's id, or ``None`` outside a request."""
        sid = getattr(getattr(request, "session", None), "sid", None) if request else None
        if not sid or not isinstance(sid, str):
            return None
        return hashlib.sha256(sid.encode()).hexdigest()

    @api.model
    def _auth_at(self, user, session_hash):
        """When ``session_hash`` last fully authenticated as ``user``, or ``None``."""
        if not session_hash:
            return None
        self.env.cr.execute(
            "SELECT auth_at FROM esign_signing_session WHERE session_hash = %s AND user_id = %s",
            [session_hash, user.id],
        )
        row = self.env.cr.fetchone()
        return row[0] if row else None

    @api.model
    def _record_full_auth(self, user, session_hash):
        """Keep that ``session_hash`` gave every component as ``user`` now.

        One row per session, written only by that session: an upsert that never touches
        another session's row or the user's.
        """
        if not session_hash:
            return
        self.env.cr.execute(
            "INSERT INTO esign_signing_session (session_hash, user_id, auth_at)"
            " VALUES (%s, %s, %s) ON CONFLICT (session_hash) DO UPDATE"
            " SET user_id = EXCLUDED.user_id, auth_at = EXCLUDED.auth_at",
            [session_hash, user.id, fields.Datetime.now()],
        )

    @api.autovacuum
    def _gc_expired(self):
        """Delete the sessions whose authentication no longer covers anything."""
        window = self.env["res.users"]._esign_session_window()
        cutoff = fields.Datetime.now() - timedelta(minutes=window)
        self.env.cr.execute("DELETE FROM esign_signing_session WHERE auth_at < %s", [cutoff])
