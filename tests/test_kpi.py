"""The QA reporting figures: cycle time, first pass, overdue, changes after signing."""

from odoo.exceptions import AccessError
from odoo.tests import tagged
from odoo.tools.safe_eval import safe_eval

from .common import EsignCase


@tagged("post_install", "-at_install")
class TestSigningKpis(EsignCase):
    """Each figure of E-Signatures > Reporting, from records signed the way users sign them.

    Verifies: S11
    """

    def _kpi(self, record, user=None):
        Kpi = self.env["esign.kpi.request"]
        if user:
            Kpi = Kpi.with_user(user)
        self.env.flush_all()
        self.env.invalidate_all()  # the views are read afresh, as a new request would
        return Kpi.search(
            [("res_model", "=", record._name), ("request_id.res_id", "=", record.id)]
        )

    def _cycle(self, policy):
        self.env.flush_all()
        self.env.invalidate_all()
        return self.env["esign.kpi.cycle"].search([("policy_id", "=", policy.id)])

    def test_first_pass_cycle_time_and_steps(self):
        """A request signed straight through passes first time, with a cycle time per step."""
        mo = self._make_mo()
        row = self._kpi(mo)
        self.assertEqual(row.state, "waiting")
        self.assertFalse(row.cycle_hours)
        self.assertFalse(row.first_pass)
        self.sign(self.qe, mo)
        self.sign(self.qa, mo)
        row = self._kpi(mo)
        self.assertEqual(row.state, "completed")
        self.assertGreaterEqual(row.cycle_hours, 0.0)
        self.assertTrue(row.first_pass)
        self.assertFalse(row.changed_after_signing)
        self.assertFalse(row.overdue)
        cycle = self._cycle(self.mo_policy)
        self.assertEqual((cycle.request_count, cycle.completed_count), (1, 1))
        self.assertEqual(cycle.first_pass_rate, 100.0)
        self.assertGreaterEqual(cycle.p90_hours, cycle.median_hours)
        steps = self.env["esign.kpi.step"].search([("policy_id", "=", self.mo_policy.id)])
        self.assertEqual(sorted(steps.step_id.mapped("name")), ["Approval", "Review"])
        self.assertEqual(steps.mapped("done_count"), [1, 1])

    def test_change_after_signing_is_no_first_pass(self):
        """The twin: a signed MO changed with a reason and signed again did not pass first time."""
        mo = self._make_mo()
        self.sign(self.qe, mo)
        self.sign(self.qa, mo)
        mo.with_context(esign_change_reason="Recount after spill").qty_producing = 4
        row = self._kpi(mo)
        self.assertEqual(row.state, "waiting")
        self.assertTrue(row.changed_after_signing)
        self.sign(self.qe, mo)
        self.sign(self.qa, mo)
        row = self._kpi(mo)
        self.assertEqual(row.state, "completed")
        self.assertTrue(row.changed_after_signing)
        self.assertFalse(row.first_pass)
        self.assertEqual(self._cycle(self.mo_policy).first_pass_rate, 0.0)
        action = self.env.ref("meddev_esign.esign_audit_entry_action_changed_after_signing")
        entries = self.env["esign.audit.entry"].search(safe_eval(action.domain))
        self.assertIn("Recount after spill", entries.filtered(lambda e: e.res_id == mo.id).reason)

    def test_rejection_then_release_is_no_first_pass(self):
        """A rejected lot's request counts as rejected; its later release did not pass first."""
        self.env["esign.reject.wizard"].with_user(self.ra).create(
            {"res_model": "stock.lot", "res_id": self.lot.id, "reason": "Sterility test failed"}
        ).action_reject()
        rejected = self._kpi(self.lot)
        self.assertEqual(rejected.mapped("state"), ["rejected"])
        self.assertTrue(rejected.rejected)
        self.lot.with_user(self.ra).action_esign_return_to_quarantine()
        self.sign(self.ra, self.lot)
        rows = self._kpi(self.lot)
        released = rows.filtered(lambda r: r.state == "completed")
        self.assertEqual(len(rows), 2)
        self.assertFalse(released.first_pass)
        self.assertFalse(released.rejected)

    def test_overdue_after_the_policy_reminder_time(self):
        """An open request older than its policy's reminder time is overdue; with reminders
        off (0 days), nothing is."""
        mo = self._make_mo()
        self.env.flush_all()
        self.env.cr.execute(
            "UPDATE esign_request SET create_date = create_date - interval '10 days'"
            " WHERE res_model = 'mrp.production' AND res_id = %s",
            [mo.id],
        )
        self.mo_policy.reminder_days = 2
        row = self._kpi(mo)
        self.assertTrue(row.overdue)
        self.assertGreater(row.open_age_days, 9.9)
        self.assertEqual(self._cycle(self.mo_policy).overdue_count, 1)
        self.assertIn(row, self.env["esign.kpi.request"].search([("overdue", "=", True)]))
        self.mo_policy.reminder_days = 0
        self.assertFalse(self._kpi(mo).overdue)

    def test_readers_and_companies(self):
        """QA and auditors read the figures; a plain signer does not; another company's
        requests stay out of an auditor's figures."""
        mo = self._make_mo()
        self.assertTrue(self._kpi(mo, user=self.auditor))
        with self.assertRaises(AccessError):
            self._kpi(mo, user=self.qe)
        other = self.env["res.company"].create({"name": "T Other Site"})
        self.env.flush_all()
        self.env.cr.execute(
            "UPDATE esign_request SET company_id = %s"
            " WHERE res_model = 'mrp.production' AND res_id = %s",
            [other.id, mo.id],
        )
        self.assertFalse(self._kpi(mo, user=self.auditor))
        self.assertFalse(
            self.env["esign.kpi.cycle"]
            .with_user(self.auditor)
            .search([("company_id", "=", other.id)])
        )

    def test_audit_query_response_time(self):
        """An auditor's export is logged with its response time; the auditor cannot alter the
        figure, and a plain signer cannot read it."""
        export = self.env["esign.audit.export"].with_user(self.auditor).create({})
        export.action_export()
        query = self.env["esign.kpi.audit.query"].with_user(self.auditor).search([])
        self.assertEqual(query.user_id, self.auditor)
        self.assertGreater(query.entry_count, 0)
        self.assertGreater(query.seconds, 0.0)
        with self.assertRaises(AccessError):
            query.write({"seconds": 0.001})
        with self.assertRaises(AccessError):
            self.env["esign.kpi.audit.query"].with_user(self.auditor).create(
                {"user_id": self.auditor.id, "seconds": 0.001}
            )
        with self.assertRaises(AccessError):
            self.env["esign.kpi.audit.query"].with_user(self.qe).search([])
