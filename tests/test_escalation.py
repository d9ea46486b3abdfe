"""Due dates, reminders and escalation of signing steps, on a frozen clock."""

from datetime import date

from freezegun import freeze_time

from odoo.exceptions import ValidationError
from odoo.tests import tagged

from .common import EsignCase

MONDAY_9 = "2026-12-07 09:00:00"


@tagged("post_install", "-at_install")
class TestStepEscalation(EsignCase):
    """Verifies: S10"""

    def setUp(self):
        super().setUp()
        self.review = self.mo_policy.step_ids.filtered(lambda s: s.name == "Review")
        self.approval = self.mo_policy.step_ids - self.review
        self.review.write({"due_days": 2, "escalate_user_id": self.qa2.id})
        calendar = self.env.company.resource_calendar_id
        calendar.tz = "UTC"  # the test's hours read as UTC
        self.mo = self._make_mo()
        self.request = self.mo.esign_request_ids
        self.env.flush_all()
        self.env.cr.execute(
            "UPDATE esign_request SET create_date = %s WHERE id = %s", [MONDAY_9, self.request.id]
        )
        self.env.invalidate_all()
        # The due time is stored when the step becomes current; the opening was moved back in
        # time after that, so compute it again as if the request had opened on that Monday.
        lines = self.request.line_ids
        self.env.add_to_compute(lines._fields["due_at"], lines)
        lines.flush_recordset(["due_at"])

    def _line(self, step):
        self.env.invalidate_all()
        return self.request.line_ids.filtered(lambda line: line.step_id == step)

    def _escalations(self):
        return self.env["mail.activity"].search(
            [
                ("res_model", "=", "mrp.production"),
                ("res_id", "=", self.mo.id),
                ("summary", "=", "Overdue signature: Review"),
            ]
        )

    def test_due_in_working_days_then_escalated_once(self):
        with freeze_time("2026-12-08 10:00:00"):  # Tuesday: due today, not yet past
            line = self._line(self.review)
            self.assertEqual(line.due_at.date(), date(2026, 12, 8))
            self.assertFalse(line.overdue)
            self.assertNotIn("Overdue since", str(self.mo.esign_panel_html))
            self.env["esign.request"]._cron_remind_overdue()
            self.assertFalse(self._escalations())
            self.assertFalse(self._line(self.review).escalated_at)
        with freeze_time("2026-12-10 08:00:00"):  # Thursday: past due
            self.assertTrue(self._line(self.review).overdue)
            self.assertIn("Overdue since", str(self.mo.esign_panel_html))
            self.assertTrue(self.request.overdue)
            overdue = self.env["esign.request"].search([("overdue", "=", True)])
            self.assertIn(self.request, overdue)
            self.assertNotIn(
                self.request, self.env["esign.request"].search([("overdue", "=", False)])
            )
            # The due time is a stored column: lists and the filter read it in SQL.
            lines = self.env["esign.request.line"].search(
                [("due_at", "<", "2026-12-10 08:00:00"), ("request_id", "=", self.request.id)]
            )
            self.assertEqual(lines, self._line(self.review))
            self.assertIn(lines, lines.search([("overdue", "!=", False)]))
            self.assertNotIn(lines, lines.search([("overdue", "=", False)]))
            self.env["esign.request"]._cron_remind_overdue()
            escalation = self._escalations()
            self.assertEqual(escalation.user_id, self.qa2)
            self.assertIn("was due on 2026-12-08", escalation.note)
            self.assertTrue(self._line(self.review).escalated_at)
            self.assertTrue(
                any("Escalated: the step Review" in m.body for m in self.mo.message_ids)
            )
            entry = self.env["esign.audit.entry"].search(
                [
                    ("res_model", "=", "mrp.production"),
                    ("res_id", "=", self.mo.id),
                    ("operation", "=", "escalation"),
                ]
            )
            self.assertEqual(len(entry), 1)
            self.assertIn("t_qa2", entry.payload)
            # Once only: the next day's run adds nothing.
            self.env["esign.request"]._cron_remind_overdue()
            self.assertEqual(len(self._escalations()), 1)

    def test_next_stage_clock_starts_at_the_last_signature(self):
        self.approval.due_days = 1
        with freeze_time("2026-12-10 08:00:00"):
            self.sign(self.qe, self.mo)
            review, approval = self._line(self.review), self._line(self.approval)
            self.assertFalse(review.overdue)  # done: no longer due
            self.assertFalse(review.due_at)
            self.assertEqual(approval.due_at.date(), date(2026, 12, 10))
            self.assertFalse(approval.overdue)
        with freeze_time("2026-12-14 08:00:00"):  # the next Monday
            self.assertTrue(self._line(self.approval).overdue)
            self.env["esign.request"]._cron_remind_overdue()  # no target: noted, not assigned
            self.assertTrue(self._line(self.approval).escalated_at)
            self.assertTrue(any("nobody (no target)" in m.body for m in self.mo.message_ids))

    def test_no_due_time_never_overdue_and_bad_settings_refused(self):
        self.review.write({"due_days": 0, "escalate_user_id": False})
        with freeze_time("2027-06-01 08:00:00"):
            self.assertFalse(self._line(self.review).overdue)
            self.assertFalse(self.request.overdue)
        with self.assertRaises(ValidationError):
            self.review.write({"escalate_user_id": self.qa2.id})  # escalation needs a due time
        with self.assertRaises(ValidationError):
            self.review.write({"due_days": -1})
        with self.assertRaises(ValidationError):
            self.env["esign.request"].search([("overdue", "in", [True])])

    def test_step_cadence_overrides_the_policy_reminder(self):
        self.mo_policy.reminder_days = 5
        self.assertEqual(self.request._esign_reminder_days(), 5)
        self.review.remind_every_days = 1
        self.env.invalidate_all()
        self.assertEqual(self.request._esign_reminder_days(), 1)
        with freeze_time("2026-12-08 10:00:00"):
            self.env["esign.request"]._cron_remind_overdue()
            self.assertTrue(any("Reminder: signatures of" in m.body for m in self.mo.message_ids))
