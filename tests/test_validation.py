"""The validation pack in the database: IQ checks and their tamper twins, the executed run,
its two signatures and its report, and the configuration diff between runs."""

from odoo import Command
from odoo.exceptions import UserError
from odoo.tests import new_test_user, tagged

from .common import PASSWORD, EsignCase

MATRIX = [
    {
        "id": "R15",
        "title": "Append-only, hash-chained audit trail",
        "risk": "high",
        "status": "passed",
        "tests": [
            {
                "test": "tests/test_audit.py::TestAuditTrail.test_x",
                "suite": "odoo",
                "result": "passed",
            }
        ],
    },
    {
        "id": "R29",
        "title": "Training gate (optional)",
        "risk": "low",
        "status": "untested",
        "tests": [],
    },
]
OQ = {"status": "pass", "database": "demo_oq_20261206", "summary": "1 passed, 0 failed"}


@tagged("post_install", "-at_install")
class TestValidationIq(EsignCase):
    """Installation qualification: the checks pass here, and tampering makes them fail."""

    def iq(self):
        return {c.code: c for c in self.env["esign.validation.run"]._iq_checks()}

    def test_iq_passes_on_this_installation(self):
        """Verifies: R15"""
        checks = self.iq()
        failed = {code: c.evidence for code, c in checks.items() if not c.passed}
        # The audit trail's tamper tests break, as a database superuser and committed, chains
        # of companies of their own ("Tamper: ...") in the same database; the IQ names each
        # of them, and only them.
        for broken in failed.pop("audit_chain", "").split("; "):
            self.assertTrue(not broken or broken.startswith("Tamper: "), broken)
        self.assertFalse(failed)
        self.assertIn("esign_signature", checks["append_only"].evidence)
        self.assertIn("as shipped", checks["access"].evidence)

    def test_tampered_trigger_function_fails_the_iq(self):
        """Verifies: R15"""
        self.env.cr.execute(
            "CREATE OR REPLACE FUNCTION esign_append_only() RETURNS trigger AS $$"
            " BEGIN RETURN COALESCE(NEW, OLD); END; $$ LANGUAGE plpgsql"
        )
        check = self.iq()["append_only"]
        self.assertFalse(check.passed)
        self.assertIn("function esign_append_only() was modified", check.evidence)

    def test_dropped_or_disabled_trigger_fails_the_iq(self):
        """Verifies: R15"""
        self.env.cr.execute("DROP TRIGGER esign_signature_append_only_row ON esign_signature")
        self.env.cr.execute(
            "ALTER TABLE esign_audit_entry DISABLE TRIGGER esign_audit_entry_append_only_truncate"
        )
        check = self.iq()["append_only"]
        self.assertFalse(check.passed)
        self.assertIn(
            "esign_signature: trigger esign_signature_append_only_row is missing", check.evidence
        )
        self.assertIn(
            "esign_audit_entry: trigger esign_audit_entry_append_only_truncate is disabled",
            check.evidence,
        )

    def test_trigger_with_other_rules_fails_the_iq(self):
        """Twin: the trigger is there, on the right function, but lets deletions through.

        Verifies: R15, R19
        """
        self.env.cr.execute(
            "DROP TRIGGER esign_signature_append_only_row ON esign_signature;"
            " CREATE TRIGGER esign_signature_append_only_row BEFORE UPDATE ON esign_signature"
            " FOR EACH ROW EXECUTE FUNCTION esign_append_only()"
        )
        check = self.iq()["append_only"]
        self.assertFalse(check.passed)
        self.assertIn("trigger esign_signature_append_only_row was changed", check.evidence)

    def test_altered_audit_entry_fails_the_iq(self):
        """The table's owner switches the triggers off and edits an entry: both show.

        Verifies: R15
        """
        self.env["esign.audit.entry"]._append(
            [
                {
                    "company_id": self.env.company.id,
                    "model": "res.partner",
                    "res_id": 1,
                    "record": "IQ test",
                    "op": "write",
                    "changes": [["name", "before", "after"]],
                    "reason": "",
                }
            ]
        )
        entry = self.env["esign.audit.entry"].search([], order="id desc", limit=1)
        self.env.flush_all()
        self.env.cr.execute("ALTER TABLE esign_audit_entry DISABLE TRIGGER USER")
        self.env.cr.execute(
            "UPDATE esign_audit_entry SET payload = replace(payload, '\"after\"', '\"forged\"')"
            " WHERE id = %s",
            [entry.id],
        )
        checks = self.iq()
        self.assertFalse(checks["audit_chain"].passed)
        self.assertIn(
            f"Entry {entry.seq} does not match its recorded hash", checks["audit_chain"].evidence
        )
        self.assertIn("is disabled", checks["append_only"].evidence)

    def test_extra_write_acl_on_signatures_fails_the_iq(self):
        """Verifies: R12, R16"""
        self.env["ir.model.access"].create(
            {
                "name": "let administrators edit signatures",
                "model_id": self.env["ir.model"]._get_id("esign.signature"),
                "group_id": self.env.ref("meddev_esign.group_esign_admin").id,
                "perm_read": True,
                "perm_write": True,
            }
        )
        check = self.iq()["access"]
        self.assertFalse(check.passed)
        self.assertIn(
            "extra access right gives perm_write on meddev_esign.model_esign_signature to "
            "meddev_esign.group_esign_admin",
            check.evidence,
        )

    def test_extra_read_acl_on_signatures_passes(self):
        """Twin: reading signatures is not writing them."""
        self.env["ir.model.access"].create(
            {
                "name": "portal reads signatures",
                "model_id": self.env["ir.model"]._get_id("esign.signature"),
                "group_id": self.env.ref("base.group_portal").id,
                "perm_read": True,
            }
        )
        self.assertTrue(self.iq()["access"].passed)

    def test_changed_shipped_acl_rule_or_group_fails_the_iq(self):
        """Verifies: R12, R15"""
        self.env.ref("meddev_esign.access_esign_audit_entry_admin").perm_unlink = True
        self.env.ref("meddev_esign.rule_esign_signature_company").domain_force = "[(1, '=', 1)]"
        self.env.ref("meddev_esign.group_esign_auditor").implied_ids = [
            Command.link(self.env.ref("meddev_esign.group_esign_signer").id)
        ]
        evidence = self.iq()["access"].evidence
        self.assertIn("access_esign_audit_entry_admin: differs from the shipped one", evidence)
        self.assertIn("rule_esign_signature_company: differs from the shipped one", evidence)
        self.assertIn("group_esign_auditor: implies", evidence)

    def test_inactive_cron_fails_the_iq(self):
        self.env.ref("meddev_esign.ir_cron_esign_audit_daily").active = False
        check = self.iq()["crons"]
        self.assertFalse(check.passed)
        self.assertIn("inactive:", check.evidence)


@tagged("post_install", "-at_install")
class TestValidationRun(EsignCase):
    """The executed run: kept, linked to the previous one, signed by two people, printed."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.qa_manager = new_test_user(
            cls.env,
            login="t_qa_manager",
            groups="meddev_esign.group_esign_qa",
            password=PASSWORD,
            name="Qa Manager",
        )
        cls.owner = new_test_user(
            cls.env,
            login="t_system_owner",
            groups="meddev_esign.group_esign_signer",
            password=PASSWORD,
            name="System Owner",
        )

    def execute(self):
        return self.env["esign.validation.run"]._execute(MATRIX, OQ, database="demo")

    def test_run_records_iq_and_oq_and_is_kept(self):
        """Verifies: R19"""
        run = self.execute()
        self.assertEqual(run.state, "executed")
        self.assertTrue(run.name.startswith("VAL/"))
        self.assertEqual(len(run.check_ids), 13)
        failed = run.check_ids.filtered(lambda c: not c.passed)
        self.assertEqual(run.iq_status, "fail" if failed else "pass")
        for check in failed:  # each failed check is a deviation, with its evidence
            self.assertIn(f"IQ {check.code}: {check.evidence}", run.deviations)
        self.assertEqual(run.oq_status, "pass")
        self.assertEqual(run.requirement_ids.mapped("req_id"), ["R15", "R29"])
        self.assertEqual(run.requirement_ids[0].passed_count, 1)
        self.assertIn("Odoo: 18.0", run.environment)
        with self.assertRaises(UserError):
            run.unlink()
        audited = self.env["esign.audit.entry"].search(
            [("res_model", "=", "esign.validation.run"), ("res_id", "=", run.id)]
        )
        self.assertTrue(audited, "the run's creation is in the audit trail")

    def test_failed_iq_is_a_deviation(self):
        """Twin: a tampered trigger makes the run's IQ fail and names it as a deviation."""
        self.env.cr.execute("DROP TRIGGER esign_signature_append_only_row ON esign_signature")
        run = self.execute()
        self.assertEqual(run.iq_status, "fail")
        self.assertIn("IQ append_only: ", run.deviations)

    def test_qa_manager_then_system_owner_sign_and_the_report_shows_them(self):
        """Verifies: R10, R12, R13, R14"""
        run = self.execute()
        with self.assertRaises(UserError):  # the system owner's step comes second
            self.sign(self.owner, run)
        self.sign(self.qa_manager, run)
        self.assertEqual(run.state, "executed")
        with self.assertRaises(UserError):  # one person signs one step only
            self.sign(self.qa_manager, run)
        self.sign(self.owner, run)
        self.assertEqual(run.state, "approved")
        html = (
            self.env["ir.actions.report"]
            ._render_qweb_html("meddev_esign.action_report_validation_run", run.ids)[0]
            .decode()
        )
        for text in ("Qa Manager", "System Owner", "R15", "Append-only triggers", run.name):
            self.assertIn(text, html)
        pdf = run.with_context(force_report_rendering=True)._render_pdf()
        self.assertTrue(pdf.startswith(b"%PDF"))

    def test_report_renders_in_chinese(self):
        run = self.execute()
        self.env["res.lang"]._activate_lang("zh_CN")
        html = (
            self.env["ir.actions.report"]
            .with_context(lang="zh_CN")
            ._render_qweb_html("meddev_esign.action_report_validation_run", run.ids)[0]
            .decode()
        )
        self.assertIn(run.name, html)

    def test_rerun_links_the_previous_and_diffs_the_configuration(self):
        """Verifies: R28"""
        first = self.execute()
        self.sign(self.qa_manager, first)
        self.sign(self.owner, first)
        self.assertFalse(first.config_changed)
        self.assertFalse(
            self.env["esign.validation.run"]._configuration_changed_since_validation()
        )

        self.mo_policy.author_may_not_sign = not self.mo_policy.author_may_not_sign
        first.invalidate_recordset(["config_changed"])
        self.assertTrue(first.config_changed)
        self.assertTrue(self.env["esign.validation.run"]._configuration_changed_since_validation())

        second = self.execute()
        self.assertEqual(second.previous_run_id, first)
        changes = second._config_diff()
        self.assertEqual([c[0] for c in changes], ["policies"])
        self.assertIn(self.mo_policy.name, changes[0][1])
        self.assertIn("[policies]", second.diff_text)
        self.assertIn("First run", self.env["esign.validation.run"].new({}).diff_text)

    def test_reporting_shows_the_validation_status(self):
        """Reporting > Validation Status opens the last approved run, whose banner says when
        the configuration changed since; before any approval it lists the runs.

        Verifies: R28
        """
        Run = self.env["esign.validation.run"].with_user(self.qa_manager)
        action = Run._action_validation_status()
        self.assertEqual(action["res_model"], "esign.validation.run")
        self.assertFalse(action.get("res_id"))
        run = self.execute()
        self.sign(self.qa_manager, run)
        self.sign(self.owner, run)
        action = Run._action_validation_status()
        self.assertEqual((action["res_id"], action["view_mode"]), (run.id, "form"))
        self.assertFalse(Run.browse(action["res_id"]).config_changed)
        self.mo_policy.author_may_not_sign = not self.mo_policy.author_may_not_sign
        self.env.invalidate_all()
        self.assertTrue(Run.browse(Run._action_validation_status()["res_id"]).config_changed)
        menu = self.env.ref("meddev_esign.menu_esign_kpi_validation_status")
        self.assertEqual(menu.parent_id, self.env.ref("meddev_esign.menu_esign_reporting"))

    def test_setting_change_is_listed_but_does_not_flag_the_approved_run(self):
        """Twin: a setting outside the signing matrix and the access rules is in the diff,
        without calling for a new validation."""
        first = self.execute()
        self.sign(self.qa_manager, first)
        self.sign(self.owner, first)
        self.env["ir.config_parameter"].set_param("meddev_esign.validation_probe", "1")
        first.invalidate_recordset(["config_changed"])
        self.assertFalse(first.config_changed)
        second = self.execute()
        self.assertEqual(
            second._config_diff(),
            [("settings", "meddev_esign.validation_probe", None, "1")],
        )

    def test_unapproved_run_never_flags(self):
        run = self.execute()
        self.mo_policy.one_step_per_person = not self.mo_policy.one_step_per_person
        self.assertFalse(run.config_changed)
