"""The e-mails that signing makes go out through Odoo's mail queue, not from the request.

Odoo sends a notification e-mail (an activity assigned, a message to partners) right after
the transaction commits, in the same request, and its mail-queue job sends whatever is still
queued. With two Odoo servers (or a cron worker beside the HTTP workers), both can take the
same queued mail at once: one of them fails with a serialization error on ``mail_mail``, and
the signer's request waits for the mail server meanwhile.

So the notifications of signing, requests, escalations and alerts are queued, and the queue
job is woken to send them at once: one sender per mail, and a signature never waits for SMTP.
If an administrator has switched the queue job off, nothing would ever send a queued mail;
the notifications are then sent as Odoo sends them by default.
"""

QUEUE_JOB = "mail.ir_cron_mail_scheduler_action"
_WOKEN = "meddev_esign.mail_queue_woken"


def queued(records):
    """``records`` in a context that queues the e-mails their notifications make; the mail
    queue job is woken, once per transaction, when this transaction commits.

    The wake-up is written at commit time (a pre-commit hook), so a savepoint rolled back in
    between cannot take it away from the mails that remain.
    """
    env = records.env
    job = env.ref(QUEUE_JOB, raise_if_not_found=False)
    if not job or not job.sudo().active:
        return records
    if not env.cr.precommit.data.get(_WOKEN):
        env.cr.precommit.data[_WOKEN] = True
        env.cr.precommit.add(job.sudo()._trigger)
    return records.with_context(mail_notify_force_send=False)
