"""The signing to-dos of a request: who is asked to sign, and when the asking ends.

Each next signer gets a to-do on the record, in their own language; a signature, a completion
or a rejection settles them; a daily job reminds the signers of overdue requests.
"""

from datetime import date
from typing import NamedTuple

from odoo import api, fields, models
from odoo.tools import SQL

from . import esign_bus_notify as bus_notify
from .esign_mail_queue import queued


class Todo(NamedTuple):
    """One open signing to-do (a ``mail.activity`` row), as ``_activities`` reads it."""

    id: int
    res_model: str
    user_id: int | None
    partner_id: int | None
    due: date


class EsignRequestTodos(models.Model):
    _inherit = "esign.request"

    def _schedule_activities(self, record):
        if not hasattr(record, "activity_schedule"):
            return
        act_type = self.env.ref("mail.mail_activity_data_todo", raise_if_not_found=False)
        assigned = {todo.user_id for todo in self._activities(record)}
        target = queued(record.sudo())
        for user in self.next_signer_ids.filtered(lambda u: u.id not in assigned):
            # In the signer's language, whoever's action opened the step.
            req = self.with_context(lang=user.lang or self.env.lang)
            target.activity_schedule(
                activity_type_id=act_type.id if act_type else False,
                summary=req._activity_summary(),
                note=req.env._(
                    "Your signature is needed on %(record)s (%(policy)s).",
                    record=record.with_env(req.env).display_name,
                    policy=req.policy_id.name,
                ),
                user_id=user.id,
            )

    def _activity_summary(self):
        return self.env._("E-signature: %(policy)s", policy=self.policy_id.name)

    def _activities(self, record):
        """The open signing to-dos of this request's policy on ``record``, as ``Todo`` rows.

        The summary they were scheduled with is in the language of whoever scheduled them, so
        it is matched in every installed language: a signer working in Chinese closes the
        to-do that an English-speaking submitter's action created.
        """
        return self._activities_of(record).get(record.id, [])

    def _activities_of(self, records):
        """{record id: its open signing to-dos (``Todo`` rows)} for the policies of ``self``
        on ``records`` (records of one model), as ``_activities`` gives them for one.

        One plain statement for all the records, as it runs for every signature: the rows a
        search on res_model, res_id, summary and active would give, in the activity model's
        order, with what settling them needs (assignee, partner, due date) and no ORM read.
        """
        if not records or not self:
            return {}
        one_per_policy = {req.policy_id: req for req in self}.values()
        summaries = {
            req.with_context(lang=code)._activity_summary()
            for req in one_per_policy
            for code, _name in self.env["res.lang"].get_installed()
        }
        self.env["mail.activity"].flush_model(
            ["res_model", "res_id", "summary", "active", "user_id", "date_deadline"]
        )
        self.env.cr.execute(
            SQL(
                "SELECT a.id, a.res_model, a.user_id, u.partner_id, a.date_deadline, a.res_id"
                " FROM mail_activity a LEFT JOIN res_users u ON u.id = a.user_id"
                " WHERE a.res_model = %s AND a.res_id IN %s AND a.summary IN %s AND a.active"
                " ORDER BY a.date_deadline, a.id",
                records._name,
                tuple(records.ids),
                tuple(summaries),
            )
        )
        todos = {}
        for row in self.env.cr.fetchall():
            todos.setdefault(row[5], []).append(Todo(*row[:5]))
        return todos

    def _done_activities(self, todos):
        """Remove the signing to-dos (``Todo`` rows) that a signature, a completion or a
        rejection settled.

        No "activity done" message of their own: the signature's or rejection's chatter note
        is the trace of what was done, and that message cost about twenty statements.

        A plain DELETE, not ``unlink``: the ORM's unlink of an activity costs six statements
        (external ids, attachments, defaults, the assignee re-read) and empties the whole
        cache, so everything read before is read again. It does what ``mail.activity.unlink``
        adds, though: the assignee's web client is told that a due to-do is gone (through
        ``esign_bus_notify``: no new database connection per signature), and the cached
        activity fields of the records are dropped.
        """
        if not todos:
            return
        activities = self.env["mail.activity"]
        activities.flush_model()
        ids = tuple(todo.id for todo in todos)
        self.env.cr.execute(SQL("DELETE FROM mail_activity WHERE id IN %s", ids))
        activities.browse(ids).invalidate_recordset()
        for model in {todo.res_model for todo in todos}:
            host = self.env[model]
            host.invalidate_model(
                [name for name in host._fields if name.startswith(("activity_", "my_activity_"))]
            )
        today = fields.Date.today()
        due = sorted({t.partner_id for t in todos if t.partner_id and t.due <= today})
        bus_notify.send(
            self.env,
            self.env["res.partner"].browse(due),
            "mail.activity/updated",
            {"activity_deleted": True},
        )

    @api.model
    def _cron_remind_overdue(self):
        """Daily: remind pending signers of requests older than their reminder cadence, then
        escalate the steps past their due time (``esign_request_escalation.py``)."""
        now = fields.Datetime.now()
        for req in self.search([("state", "in", ("waiting", "in_progress"))]):
            days = req._esign_reminder_days()
            if not days or not req.next_signer_ids:
                continue
            since = req.last_reminder_at or req.create_date
            if (now - since).days < days:
                continue
            record = req._record()
            if not record.exists():
                continue
            record._esign_post(
                self.env._(
                    "Reminder: signatures of %(policy)s are overdue.", policy=req.policy_id.name
                ),
                partner_ids=req.next_signer_ids.partner_id.ids,
            )
            req.sudo().write({"last_reminder_at": now})
        self._escalate_overdue()
