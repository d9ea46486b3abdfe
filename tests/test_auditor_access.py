"""The auditor's day: open and print everything that was signed, verify the trail, export.

A lot released from a done MO whose component came on a signed purchase order. The auditor
(read-only) opens the lot, its MO and its PO, prints the Batch Release Certificate, verifies
the trail and exports it, in the browser and over JSON-RPC. A user without the Auditor group
cannot, the auditor changes nothing, and sees nothing of another company.
"""

import base64
import io
import json
import zipfile

from lxml import etree

from odoo import Command
from odoo.exceptions import AccessError
from odoo.tests import Form, HttpCase, TransactionCase, new_test_user, tagged

from ..services import audit as ledger
from .common import EsignCase, JsonRpcMixin

PASSWORD = "Auditor-Day-42"
SIGNER = "meddev_esign.group_esign_signer"

#: What the forms of a signed lot, MO and PO read besides the records themselves.
READ_ONLY_MODELS = (
    "stock.lot",
    "mrp.production",
    "purchase.order",
    "stock.move",
    "stock.picking",
    "mrp.workorder",
    "mrp.bom",
    "purchase.order.line",
)


def auditor_user(env):
    """The demo's ``auditor`` (password ``auditor``), or one like it without demo data."""
    user = env.ref("meddev_esign.demo_user_auditor", raise_if_not_found=False)
    if user:
        return user
    return new_test_user(
        env,
        login="auditor",
        password="auditor",
        name="Sun Hui (Auditor)",
        groups="meddev_esign.group_esign_auditor",
        tz="Asia/Shanghai",
    )


def signed_batch(env):
    """A PO signed and received, an MO signed and done consuming its lot, the lot released.

    :return: dict of lot, mo, po, component_lot, users.
    """

    def user(login, groups):
        return new_test_user(
            env,
            login=login,
            password=PASSWORD,
            name=login.replace("_", " ").title(),
            groups=groups,
            tz="Europe/Paris",
        )

    manager = user("aud_po_manager", f"{SIGNER},purchase.group_purchase_manager")
    reviewer = user("aud_mo_reviewer", f"{SIGNER},mrp.group_mrp_user,stock.group_stock_user")
    ra = user(
        "aud_release_authority",
        "meddev_esign.group_esign_release_authority,stock.group_stock_user",
    )
    policies = env["esign.policy"]
    policies.search([("model", "in", ("purchase.order", "mrp.production"))]).active = False
    release = env.ref("meddev_esign.policy_lot_release")
    release.active = True
    policies.search([("model", "=", "stock.lot"), ("id", "!=", release.id)]).active = False

    def policy(model, trigger, step, meaning, signers):
        return policies.create(
            {
                "name": f"Auditor day {trigger}",
                "model_id": env["ir.model"]._get_id(model),
                "trigger": trigger,
                "step_ids": [
                    Command.create(
                        {
                            "name": step,
                            "sequence": 10,
                            "meaning_id": env.ref(f"meddev_esign.meaning_{meaning}").id,
                            "signer_type": "users",
                            "mode": "all",
                            "user_ids": [Command.set(signers.ids)],
                        }
                    )
                ],
            }
        )

    policy("purchase.order", "po_confirm", "Auditor Day PO Approval", "approved", manager)
    policy("mrp.production", "mrp_done", "Auditor Day MO Review", "reviewed", reviewer)

    def sign(signer, records):
        wizards = env["esign.sign.wizard"].with_user(signer)
        wizard = wizards.browse(wizards._action_open(records.with_user(signer))["res_id"])
        wizard.write({"login": signer.login, "reason": "Checked for the auditor's day."})
        wizard.action_sign(password=PASSWORD)

    workcenter = env["mrp.workcenter"].create({"name": "Auditor Day Assembly"})
    component = env["product.product"].create(
        {"name": "Auditor Day Sensor", "is_storable": True, "tracking": "lot"}
    )
    device = env["product.product"].create(
        {
            "name": "Auditor Day Pump",
            "is_storable": True,
            "tracking": "lot",
            "esign_device_class": "II",
            "esign_gtin": "06951234500030",
        }
    )
    bom = env["mrp.bom"].create(
        {
            "product_tmpl_id": device.product_tmpl_id.id,
            "product_qty": 1,
            "bom_line_ids": [Command.create({"product_id": component.id, "product_qty": 1})],
            "operation_ids": [
                Command.create(
                    {"name": "Assemble", "workcenter_id": workcenter.id, "time_cycle_manual": 10}
                )
            ],
        }
    )
    vendor = env["res.partner"].create({"name": "Auditor Day Sensors Ltd.", "is_company": True})
    po = env["purchase.order"].create(
        {
            "partner_id": vendor.id,
            "order_line": [
                Command.create({"product_id": component.id, "product_qty": 5, "price_unit": 10})
            ],
        }
    )
    sign(manager, po)
    if po.state in ("draft", "sent"):
        po.button_confirm()
    receipt = po.picking_ids
    receipt.move_ids.move_line_ids.write({"lot_name": "AUD-SENSOR-1", "quantity": 5})
    receipt.move_ids.picked = True
    receipt.button_validate()
    component_lot = env["stock.lot"].search([("name", "=", "AUD-SENSOR-1")])

    mo = env["mrp.production"].create(
        {"product_id": device.id, "product_qty": 1, "bom_id": bom.id}
    )
    mo.action_confirm()
    lot = env["stock.lot"].create({"name": "AUD-PUMP-1", "product_id": device.id})
    mo.lot_producing_id = lot
    mo.qty_producing = 1
    mo.move_raw_ids.picked = True
    mo.move_raw_ids.move_line_ids.lot_id = component_lot
    sign(reviewer, mo)
    mo.button_mark_done()
    sign(ra, lot)
    return {
        "lot": lot,
        "mo": mo,
        "po": po,
        "component_lot": component_lot,
        "users": manager | reviewer | ra,
    }


@tagged("post_install", "-at_install")
class TestAuditorAccess(TransactionCase):
    """The Auditor group reads what the signed records' forms need, and changes none of it.

    Verifies: S6
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.registry.enter_test_mode(cls.cr)
        cls.addClassCleanup(cls.registry.leave_test_mode)
        cls.batch = signed_batch(cls.env)
        cls.auditor = auditor_user(cls.env)
        cls.clerk = new_test_user(cls.env, login="aud_clerk", groups="base.group_user")

    def test_batch_is_signed_done_and_released(self):
        batch = self.batch
        self.assertEqual(batch["po"].state, "purchase")
        self.assertEqual(batch["mo"].state, "done")
        self.assertEqual(batch["lot"].esign_release_state, "released")
        self.assertTrue(batch["mo"].workorder_ids)

    def test_auditor_opens_the_forms_of_lot_mo_and_po(self):
        """The forms load as the web client loads them: the views and every field they show."""
        for record in (self.batch["lot"], self.batch["mo"], self.batch["po"]):
            with self.subTest(record=record):
                form = Form(record.with_user(self.auditor))
                self.assertEqual(form.id, record.id)
        mo = self.batch["mo"].with_user(self.auditor)
        self.assertEqual(mo.move_raw_ids.lot_ids, self.batch["component_lot"])
        self.assertTrue(mo.workorder_ids.name)
        self.assertEqual(mo.move_finished_ids.move_line_ids.lot_id, self.batch["lot"])
        po = self.batch["po"].with_user(self.auditor)
        self.assertEqual(po.order_line.qty_received, 5)
        self.assertEqual(po.picking_ids.state, "done")

    def test_user_without_auditor_group_cannot_open_them(self):
        """The twin: the access is the Auditor group's, not every employee's."""
        for record in (self.batch["mo"], self.batch["po"]):
            with self.subTest(record=record), self.assertRaises(AccessError):
                Form(record.with_user(self.clerk))
        with self.assertRaises(AccessError):
            self.batch["mo"].move_raw_ids.with_user(self.clerk).read(["product_id"])

    def test_auditor_changes_nothing(self):
        records = {
            "stock.lot": self.batch["lot"],
            "mrp.production": self.batch["mo"],
            "purchase.order": self.batch["po"],
            "stock.move": self.batch["mo"].move_raw_ids,
            "stock.picking": self.batch["po"].picking_ids,
            "mrp.workorder": self.batch["mo"].workorder_ids,
            "mrp.bom": self.batch["mo"].bom_id,
            "purchase.order.line": self.batch["po"].order_line,
        }
        self.assertEqual(set(records), set(READ_ONLY_MODELS))
        for model, record in records.items():
            as_auditor = record.with_user(self.auditor)
            with self.subTest(model=model):
                as_auditor.check_access("read")
                for operation in ("write", "create", "unlink"):
                    with self.assertRaises(AccessError, msg=f"{model} {operation}"):
                        as_auditor.check_access(operation)
        with self.assertRaises(AccessError):
            self.batch["mo"].move_raw_ids.with_user(self.auditor).write({"product_uom_qty": 9})
        with self.assertRaises(AccessError):
            self.batch["lot"].with_user(self.auditor).write({"ref": "changed"})

    def test_auditor_sees_no_other_company(self):
        """Record rules keep the access company-bound: another company's move stays hidden."""
        other = self.env["res.company"].create({"name": "Auditor Day Other Co."})
        warehouse = self.env["stock.warehouse"].search([("company_id", "=", other.id)], limit=1)
        move = self.env["stock.move"].create(
            {
                "name": "Other company's move",
                "product_id": self.batch["component_lot"].product_id.id,
                "product_uom_qty": 1,
                "location_id": warehouse.lot_stock_id.id,
                "location_dest_id": self.env.ref("stock.stock_location_customers").id,
                "company_id": other.id,
            }
        )
        with self.assertRaises(AccessError):
            move.with_user(self.auditor).read(["name"])
        # The twin: the same auditor, working in that company too, reads it.
        self.auditor.write({"company_ids": [Command.link(other.id)]})
        move.with_user(self.auditor).with_context(
            allowed_company_ids=[self.env.company.id, other.id]
        ).read(["name"])


@tagged("post_install", "-at_install")
class TestAuditorDayTour(JsonRpcMixin, HttpCase):
    """The auditor's day in the browser, then the same calls over JSON-RPC.

    Verifies: S6
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.batch = signed_batch(cls.env)
        cls.auditor = auditor_user(cls.env)
        cls.chain = cls.env["esign.audit.chain"]._for_company(cls.env.company)

    def _untouched(self, lot_entries, write_dates):
        entries = self.env["esign.audit.entry"]
        self.assertFalse(
            entries.search([("user_id", "=", self.auditor.id), ("operation", "!=", "review")])
        )
        lot = self.batch["lot"]
        self.assertEqual(
            entries.search([("res_model", "=", "stock.lot"), ("res_id", "=", lot.id)]),
            lot_entries,
        )
        for record, write_date in write_dates.items():
            record.invalidate_recordset()
            self.assertEqual(record.write_date, write_date, record)

    def test_auditor_day_in_the_browser(self):
        lot, mo, po = self.batch["lot"], self.batch["mo"], self.batch["po"]
        lot_entries = self.env["esign.audit.entry"].search(
            [("res_model", "=", "stock.lot"), ("res_id", "=", lot.id)]
        )
        write_dates = {record: record.write_date for record in (lot, mo, po)}
        self.start_tour(
            f"/odoo/action-meddev_esign.stock_lot_action_esign_release/{lot.id}",
            "meddev_esign_auditor_day",
            login="auditor",
        )
        self._untouched(lot_entries, write_dates)
        verification = self.env["esign.audit.verification"].search(
            [("create_uid", "=", self.auditor.id)]
        )
        self.assertEqual(len(verification), 1)
        self.assertEqual((verification.chain_id, verification.verdict), (self.chain, "intact"))
        export = self.env["esign.audit.export"].search([("create_uid", "=", self.auditor.id)])
        self.assertEqual(len(export), 1)
        archive = zipfile.ZipFile(io.BytesIO(base64.b64decode(export.file_data)))
        proof = next(name for name in archive.namelist() if name.endswith(".jsonl"))
        verdict = ledger.verify_export(archive.read(proof).decode().splitlines())
        self.assertTrue(verdict.ok, (verdict.chain.message, verdict.problems))
        self.assertEqual(verdict.selected, len(lot_entries))

    def _result(self, *args, **kwargs):
        """The call's result; fails the test with the error when it raised."""
        answer = self._call(*args, **kwargs)
        self.assertEqual(answer[0], "result", answer)
        return answer[1]

    def _form_spec(self, model):
        """What the web client reads to show ``model``'s form as the auditor gets it: each
        field of the arch, with the columns of its list for a one2many or many2many."""
        views = self._result(model, "get_views", [], {"views": [[False, "form"]]})
        arch = etree.fromstring(views["views"]["form"]["arch"])
        spec = {}
        for node in arch.iter("field"):
            if next(node.iterancestors("field"), None) is not None:
                continue  # a column of a subview, read below with its field
            columns = {sub.get("name"): {} for sub in node.iterdescendants("field")}
            spec[node.get("name")] = {"fields": columns} if columns else {}
        return spec

    def test_auditor_day_over_json_rpc(self):
        """Verifies: R18"""
        lot, mo, po = self.batch["lot"], self.batch["mo"], self.batch["po"]
        self.authenticate("auditor", "auditor")
        for record in (lot, mo, po):
            answer = self._result(
                record._name,
                "web_read",
                [record.ids],
                {"specification": self._form_spec(record._name)},
            )
            self.assertEqual(answer[0]["id"], record.id)
        moves = self._result(
            "stock.move",
            "search_read",
            [[("raw_material_production_id", "=", mo.id)]],
            {"fields": ["product_id", "lot_ids"]},
        )
        self.assertEqual(moves[0]["lot_ids"], self.batch["component_lot"].ids)
        # No write, over RPC either.
        answer = self._call("stock.move", "write", [[moves[0]["id"]], {"product_uom_qty": 9}])
        self.assertEqual(answer[:2], ("error", "odoo.exceptions.AccessError"))

        # The certificate prints (HTML here; the PDF runs the same template and access).
        report = self.env.ref("meddev_esign.action_report_batch_release")
        response = self.url_open(f"/report/html/{report.report_name}/{lot.id}")
        self.assertEqual(response.status_code, 200)
        self.assertIn("AUD-PUMP-1", response.text)
        signature = self.env["esign.signature"].search(
            [("res_model", "=", "stock.lot"), ("res_id", "=", lot.id)]
        )
        # The certificate's UTC line is UTC, whatever the reader's time zone.
        self.assertIn(f"UTC {signature.signed_at:%Y-%m-%d %H:%M:%S}", response.text)

        # Verify the trail: the dialog says what it shows.
        action = self._result("esign.audit.chain", "action_verify", [self.chain.ids])
        self.assertEqual(action["res_model"], "esign.audit.verification")
        self.assertIn("Audit Trail Verification", action["name"])
        self.assertIn("Intact", action["name"])

        # Export the lot's trail with its chain proof.
        entries = self.env["esign.audit.entry"].search(
            [("res_model", "=", "stock.lot"), ("res_id", "=", lot.id)]
        )
        export_id = self._result(
            "esign.audit.export",
            "create",
            [{"domain": repr([("id", "in", entries.ids)])}],
        )
        self._result("esign.audit.export", "action_export", [[export_id]])
        export = self.env["esign.audit.export"].browse(export_id)
        self.assertTrue(export.file_data)

    def test_user_without_auditor_group_gets_access_errors_over_json_rpc(self):
        """The twin: an employee without the Auditor group gets none of it."""
        new_test_user(self.env, login="aud_rpc_clerk", password=PASSWORD, groups="base.group_user")
        self.authenticate("aud_rpc_clerk", PASSWORD)
        mo = self.batch["mo"]
        answer = self._call(
            "mrp.production", "web_read", [mo.ids], {"specification": {"name": {}}}
        )
        self.assertEqual(answer[:2], ("error", "odoo.exceptions.AccessError"))
        answer = self._call("esign.audit.chain", "action_verify", [self.chain.ids])
        self.assertEqual(answer[0], "error")


@tagged("post_install", "-at_install")
class TestFailedAttemptsAudited(EsignCase):
    """Every refused signing attempt is in the trail of the record it tried to sign: who,
    when, which record and which factor failed. It is written with the failure counter, in
    that counter's own transaction, so the refusal's rollback keeps it.

    Verifies: R3, R15
    """

    def failed(self, record, **where):
        domain = [
            ("res_model", "=", record._name),
            ("res_id", "=", record.id),
            ("operation", "=", "sign_failed"),
        ]
        domain += [(name, "=", value) for name, value in where.items()]
        return self.env["esign.audit.entry"].search(domain, order="seq")

    def factor(self, entry):
        return dict((name, new) for name, _old, new in json.loads(entry.payload)["changes"])[
            "factor"
        ]

    def test_wrong_password_is_an_audit_entry(self):
        self.refused(self.sign, self.ra, self.lot, password="wrong")
        entry = self.failed(self.lot)
        self.assertEqual(len(entry), 1)
        self.assertEqual(entry.user_id, self.ra)
        self.assertEqual(entry.record_name, self.lot.display_name)
        self.assertEqual(self.factor(entry), "password")
        self.assertIn("wrong or missing password", entry.reason)
        self.assertTrue(entry.at)
        self.assertTrue(self.env["esign.audit.chain"]._for_company(self.env.company)._verify().ok)

    def test_right_password_leaves_no_failed_attempt(self):
        """The twin: a signature that succeeds is a signature entry, not a failed attempt."""
        self.sign(self.ra, self.lot)
        self.assertFalse(self.failed(self.lot))
        self.assertEqual(len(self.signatures(self.lot)), 1)

    def test_each_factor_is_named(self):
        self.refused(self.sign, self.ra, self.lot, login="t_ra2")
        self.refused(self.sign, self.ra, self.lot, password="")
        self.assertEqual([self.factor(e) for e in self.failed(self.lot)], ["login", "password"])
        code, _totp = self.enable_totp(self.qa)
        mo = self._make_mo()
        wrong = "000000" if code() != "000000" else "111111"
        self.refused(self.sign, self.qa, mo, totp=wrong, login="")
        entry = self.failed(mo)
        self.assertEqual((self.factor(entry), entry.user_id), ("totp", self.qa))

    def test_bulk_attempt_names_every_record_and_the_lock_out(self):
        """Verifies: R5"""
        second = self._make_lot("TEST-LOT-2")
        lots = self.lot | second
        for _i in range(3):
            self.refused(self.sign, self.ra, lots, password="wrong")
        self.assertTrue(self.ra.sudo().esign_locked)
        for lot in lots:
            self.assertEqual(len(self.failed(lot, user_id=self.ra.id)), 3)
        # Signing again while locked, even with the right password: a failed attempt too.
        self.refused(self.sign, self.ra, self.lot)
        self.assertEqual(self.factor(self.failed(self.lot)[-1]), "locked")
        self.assertFalse(self.signatures(self.lot))
