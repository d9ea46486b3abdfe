"""18.0.1.2.0: the continuous-session state moves from the user to the log-in session.

Before, ``res_users.esign_session_key`` and ``esign_session_auth_at`` held which session of
the user last gave every signing component. Every signature wrote them, so two sessions of
one person collided on that row. The state is now one row per session
(``esign.signing.session``), and the two columns are dropped here.

Safe: nothing else reads them, and losing them errs on the strict side. The first signature
of every session open during the upgrade asks for all the components again, as a new log-in
would; no signature, audit entry, failure count or lock-out is touched.
"""


def migrate(cr, version):
    if not version:
        return
    cr.execute(
        "ALTER TABLE res_users DROP COLUMN IF EXISTS esign_session_key,"
        " DROP COLUMN IF EXISTS esign_session_auth_at"
    )
