from markupsafe import Markup, escape

from odoo import models
from odoo.tools import SQL, clean_context
from odoo.tools.mail import generate_tracking_message_id

from .esign_mail_queue import queued


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
                queued(record.sudo()).message_post(
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

    def _esign_log_tracking(self):
        """Log now, in one batch, the tracking messages Odoo would log for ``self`` when the
        transaction commits: one ``mail.message`` INSERT and one ``mail.tracking.value``
        INSERT for all the records instead of two per record.

        A bulk release changes the release state of hundreds of lots; Odoo's pre-commit
        logs each lot's change with a message created on its own. The messages made here
        are the ones Odoo would make (the tracked values, the note joined by
        ``_esign_post_with_tracking``, the author, an internal note), one per record, and
        the records leave Odoo's pending tracking so that nothing is logged twice. A change
        with a subtype (posted to the followers) is left to Odoo.
        """
        if not self or not hasattr(self, "_track_set_log_message"):
            return
        data = self.env.cr.precommit.data
        initial = data.get(f"mail.tracking.{self._name}", {})
        records = self.browse([rec_id for rec_id in self.ids if initial.get(rec_id)])
        if not records:
            return
        records = records.sudo().with_context(clean_context(self.env.context))
        fnames = records._track_get_fields()
        if not fnames:
            return
        tracked = records.fields_get(
            fnames, attributes=("string", "type", "selection", "currency_field")
        )
        bodies = data.get(f"mail.tracking.message.{self._name}", {})
        authors = data.get(f"mail.tracking.author.{self._name}", {})
        subtype_id = self.env["ir.model.data"]._xmlid_to_res_id("mail.mt_note")
        senders = {}  # author id or None -> (author id, email from, reply-to)
        values_list, logged = [], []
        for record in records:
            changes, tracking_value_ids = record._mail_track(tracked, initial[record.id])
            if changes and record._track_subtype(
                {name: initial[record.id][name] for name in changes}
            ):
                continue  # posted to the followers by Odoo's own tracking at commit
            logged.append((record, changes))
            if not changes or not tracking_value_ids:
                continue
            author = authors[record.id].id if record.id in authors else None
            if author not in senders:
                author_id, email_from = record._message_compute_author(
                    author, None, raise_on_email=False
                )
                reply_to = self.env["mail.thread"]._notify_get_reply_to(default=email_from)[False]
                senders[author] = (author_id, email_from, reply_to)
            author_id, email_from, reply_to = senders[author]
            body = (
                bodies[record.id]
                if record.id in bodies
                else record._track_get_default_log_message(changes)
            )
            values_list.append(
                {
                    "author_id": author_id,
                    "email_from": email_from,
                    "model": record._name,
                    "res_id": record.id,
                    "record_alias_domain_id": False,
                    "record_company_id": False,
                    "record_name": False,
                    "attachment_ids": False,
                    "message_type": "notification",
                    "is_internal": True,
                    "subject": False,
                    "subtype_id": subtype_id,
                    "tracking_value_ids": tracking_value_ids,
                    "email_add_signature": False,
                    "message_id": generate_tracking_message_id("message-notify"),
                    "partner_ids": False,
                    "reply_to": reply_to,
                    "body": escape(body or ""),
                }
            )
        for record, _changes in logged:
            initial.pop(record.id, None)
            bodies.pop(record.id, None)
            authors.pop(record.id, None)
        if values_list:
            # mail.message's create makes each message's tracking values with an INSERT of
            # their own: they are made here for all the messages at once, as it makes them
            # (as the system, linked to their message).
            trackings = [values.pop("tracking_value_ids") for values in values_list]
            messages = records._message_create(values_list)
            self.env["mail.tracking.value"].sudo().create(
                [
                    dict(command[2], mail_message_id=message.id)
                    for message, commands in zip(messages, trackings, strict=True)
                    for command in commands
                ]
            )
        for record, changes in logged:
            record._message_track_post_template(changes)

    def _esign_prefetch_signer(self):
        """Read only the fields a signature and its chatter note take from the signer and the
        company, not their whole rows, in one statement: the signer's log-in, name, e-mail,
        language and time zone (res.users has the last four from its partner), and the
        company's name and alias domain (the note's reply-to address).

        On a cold cache, the first read of a field fetches every column of the row: res.company
        has over a hundred with stock, purchase and manufacturing installed, res.partner about
        eighty, and decoding them cost more than the note itself. The values go into the cache
        as Odoo's own fetch puts them, without overwriting what this transaction holds.
        """
        user, company = self.env.user.sudo(), self.env.company.sudo()
        if self.env.cache.contains(user, user._fields["partner_id"]):  # the user's row is read
            company.fetch(["name", "alias_domain_id"])
            user.partner_id.fetch(["name", "email", "lang", "tz"])
            return
        partners = self.env["res.partner"].sudo()
        columns = (
            (user, ["partner_id", "login"]),
            (partners, ["name", "email", "lang", "tz"]),
            (company, ["name", "alias_domain_id"]),
        )
        for model, names in columns:
            model.flush_model(names)
        self.env.cr.execute(
            SQL(
                "SELECT u.partner_id, u.login, p.name, p.email, p.lang, p.tz,"
                " c.name, c.alias_domain_id"
                " FROM res_users u JOIN res_partner p ON p.id = u.partner_id, res_company c"
                " WHERE u.id = %s AND c.id = %s",
                user.id,
                company.id,
            )
        )
        row = self.env.cr.fetchone()
        if not row:
            return
        values = iter(row)
        targets = (user, partners.browse(row[0]), company)
        for records, (_model, names) in zip(targets, columns, strict=True):
            for name in names:
                self.env.cache.insert_missing(records, records._fields[name], [next(values)])

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
