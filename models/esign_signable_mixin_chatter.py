from markupsafe import Markup

from odoo import models


class EsignSignableChatter(models.AbstractModel):
    """The signable record's chatter: one note per signature, joined to the tracking message
    of what the signature changed.

    Signing must stay cheap (many lots released at once), and a signature that changes a
    tracked field (a lot's release state) would otherwise make two messages. This part leans
    on how ``mail.thread`` collects tracked changes until the transaction commits
    (``cr.precommit.data``); it is kept apart so that a change of that Odoo internal touches
    one small file.
    """

    _inherit = "esign.signable.mixin"

    def _esign_post(self, body, partner_ids=None):
        """Log a note in the record's chatter when it has one; notify ``partner_ids`` if any.

        A plain log note skips the follower-notification machinery: the people who must act
        get an activity instead, so signing many records stays fast.
        """
        self._esign_prefetch_signer()
        for record in self:
            if not hasattr(record, "message_post"):
                continue
            if partner_ids:
                record.sudo().message_post(
                    body=body, partner_ids=partner_ids, subtype_xmlid="mail.mt_note"
                )
            else:
                record.sudo()._message_log(body=body)

    def _esign_post_with_tracking(self, body):
        """Log ``body`` like ``_esign_post``, in the tracking message when there is one.

        When this transaction has already changed a tracked field of the record (a signature
        that completes a release changes the lot's release state), Odoo logs that change in
        a message of its own when the transaction commits. ``body`` then goes into that
        message (``_track_set_log_message``): one chatter entry says who signed and what
        changed, and a signature costs one message instead of two.

        Only into a tracking *log*: a change with a subtype (a purchase order's "RFQ
        Confirmed") is posted to the followers, who may be outside the company, and the
        signature note stays an internal note.
        """
        self._esign_prefetch_signer()
        for record in self:
            changes = record._esign_tracked_changes()
            if not changes or record.sudo()._track_subtype(changes):
                record._esign_post(body)
                continue
            pending = record.env.cr.precommit.data.setdefault(
                f"mail.tracking.message.{record._name}", {}
            )
            earlier = pending.get(record.id)
            record._track_set_log_message(
                Markup("%s<br/>%s") % (earlier, body) if earlier else body
            )

    def _esign_prefetch_signer(self):
        """Read only the fields a signature and its chatter note take from the signer and the
        company, not their whole rows: the signer's name, e-mail, language and time zone
        (res.users has them from its partner), and the company's name and alias domain (the
        note's reply-to address).

        On a cold cache, the first read of a field fetches every column of the row: res.company
        has over a hundred with stock, purchase and manufacturing installed, res.partner about
        eighty, and decoding them cost more than the note itself.
        """
        self.env.company.sudo().fetch(["name", "alias_domain_id"])
        self.env.user.partner_id.sudo().fetch(["name", "email", "lang", "tz"])

    def _esign_tracked_changes(self):
        """The tracked fields of this record that this transaction changed, with their values
        before (what Odoo logs in a tracking message when the transaction commits)."""
        self.ensure_one()
        if not hasattr(self, "_track_set_log_message"):  # no chatter
            return {}
        initial = self.env.cr.precommit.data.get(f"mail.tracking.{self._name}", {}).get(self.id)
        if not initial:  # nothing tracked yet, or tracking discarded for the record
            return {}
        record = self.sudo()
        return {
            name: value
            for name, value in initial.items()
            if name in record._fields
            and record[name] != value
            and (record[name] or value)  # empty recordset vs False: no change (as _mail_track)
        }
