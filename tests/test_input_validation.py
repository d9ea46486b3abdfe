"""What reaches the wizards and buttons from outside is checked: a clear, translated refusal
for every wrong shape, never a traceback, and every bad credential counts toward the lock-out.

Each refusal sits next to the call that succeeds with the right input. The methods are
called as an RPC caller would (``with_user`` on real records, any JSON value as argument);
``TestWizardInputsOverHttp`` does it through ``/web/dataset/call_kw`` itself.
"""

import json

from odoo import Command
from odoo.exceptions import AccessError, UserError
from odoo.tests import HttpCase, new_test_user, tagged

from .common import PASSWORD, EsignCase, JsonRpcMixin

ONE_MB = "x" * (1024 * 1024)
#: Credentials of every wrong type or size: each is refused and counted.
BAD_SECRETS = (12345678, 0, ["Correct-Horse-42"], {"password": 1}, 1.5, True, "", ONE_MB)


class _Calls:
    """Helpers shared by the ORM-level and HTTP-level tests."""

    def open_wizard(self, user, records):
        action = records.with_user(user).action_esign_sign()
        return self.env["esign.sign.wizard"].with_user(user).browse(action["res_id"])

    def assertNoErrorLog(self):
        return self.assertNoLogs("odoo", level="ERROR")


@tagged("post_install", "-at_install")
class TestSignWizardInputs(EsignCase, _Calls):
    """``esign.sign.wizard``: which wizard, whose, for what, and with which credentials."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.lot2 = cls._make_lot("TEST-LOT-2")
        cls.policy = cls.env.ref("meddev_esign.policy_lot_release")
        cls.other_company = cls.env["res.company"].create({"name": "T Other Company"})
        cls.foreign_lot = cls.env["stock.lot"].create(
            {
                "name": "FOREIGN-LOT",
                "product_id": cls.device.id,
                "company_id": cls.other_company.id,
            }
        )

    def _reset(self, user):
        user.sudo().write({"esign_failed_attempts": 0, "esign_locked": False})
        self.env.flush_all()  # the counter is then raised in SQL, by another cursor

    def _failures(self, user):
        return user.sudo().esign_failed_attempts

    def test_called_on_no_or_several_wizards(self):
        """Verifies: R12"""
        wizard = self.open_wizard(self.ra, self.lot)
        other = self.open_wizard(self.ra, self.lot2)
        Wizard = self.env["esign.sign.wizard"].with_user(self.ra)
        with self.assertNoErrorLog():
            for wizards in (Wizard, wizard | other):
                exc = self.refused(wizards.action_sign, password=PASSWORD)
                self.assertIn("one wizard at a time", str(exc))
            exc = self.refused(Wizard.browse(2_000_000_000).action_sign, password=PASSWORD)
            self.assertIn("expired", str(exc))
        self.assertEqual(self._failures(self.ra), 0)  # no credential was checked
        self.assertFalse(self.signatures(self.lot))
        wizard.write({"login": "t_ra"})
        wizard.action_sign(password=PASSWORD)
        self.assertEqual(self.lot.esign_release_state, "released")

    def test_another_users_wizard_is_refused(self):
        """Odoo 18 does not keep transient records private: the record rules and the action's
        own check do. Another Release Authority can neither read nor run it.

        Verifies: R1, R12
        """
        wizard = self.open_wizard(self.ra, self.lot)
        theirs = wizard.with_user(self.ra2)
        with self.assertNoErrorLog():
            with self.assertRaises(AccessError):
                theirs.read(["res_ids"])
            with self.assertRaises(AccessError):
                theirs.write({"reason": "mine now"})
            with self.assertRaises(AccessError):
                theirs.action_sign(password=PASSWORD)
            with self.assertRaises(AccessError):  # even past the record rules
                theirs.sudo().action_sign(password=PASSWORD)
            # Nor write in it what it sends along (no savepoint: a write would stay).
            exc = self.refused(
                theirs.sudo().action_sign, password=PASSWORD, values={"reason": "mine now"}
            )
            self.assertIsInstance(exc, AccessError)
        self.assertFalse(self.signatures(self.lot))
        self.assertFalse(wizard.sudo().reason)
        self.assertEqual(self._failures(self.ra2), 0)
        wizard.write({"login": "t_ra", "reason": "mine"})
        wizard.action_sign(password=PASSWORD)
        self.assertEqual(self.signatures(self.lot).user_id, self.ra)

    def test_bad_password_of_any_type_is_refused_and_counted(self):
        """Verifies: R3, R5"""
        for bad in BAD_SECRETS:
            self._reset(self.ra)
            with self.assertNoErrorLog():
                exc = self.refused(self.sign, self.ra, self.lot, password=bad)
            self.assertIn("Signing refused", str(exc), repr(bad)[:40])
            self.assertIn("attempt(s) left", str(exc))
            self.assertEqual(self._failures(self.ra), 1, repr(bad)[:40])
        self.assertFalse(self.signatures(self.lot))
        self.assertIn(
            "must be given as text", str(self.refused(self.sign, self.ra, self.lot, password=7))
        )
        self.assertIn("too long", str(self.refused(self.sign, self.ra, self.lot, password=ONE_MB)))
        self._reset(self.ra)
        self.sign(self.ra, self.lot, password=PASSWORD)
        self.assertEqual(self.lot.esign_release_state, "released")
        self.assertEqual(self._failures(self.ra), 0)

    def test_integer_passwords_lock_the_account(self):
        """Verifies: R5"""
        for _i in range(3):
            self.refused(self.sign, self.ra, self.lot, password=12345678)
        self.assertTrue(self.ra.sudo().esign_locked)
        self.assertIn("locked", str(self.refused(self.sign, self.ra, self.lot)))
        self.assertFalse(self.signatures(self.lot))

    def test_bad_totp_code_of_any_type_is_refused_and_counted(self):
        """Verifies: R3, R5"""
        code, _totp = self.enable_totp(self.ra)
        for bad in (123456, ["123456"], ONE_MB, "12345x", "１２３４５６", {"c": 1}):
            self._reset(self.ra)
            with self.assertNoErrorLog():
                exc = self.refused(self.sign, self.ra, self.lot, totp=bad, login="")
            self.assertIn("Signing refused", str(exc))
            self.assertEqual(self._failures(self.ra), 1, repr(bad)[:40])
        self.assertFalse(self.signatures(self.lot))
        self._reset(self.ra)
        self.sign(self.ra, self.lot, totp=code(), login="")
        self.assertEqual(self.signatures(self.lot).auth_method, "password_totp")

    def test_record_of_another_company(self):
        """Verifies: R12"""
        with self.assertNoErrorLog():
            with self.assertRaises(AccessError):
                self.foreign_lot.with_user(self.ra).action_esign_sign()
            with self.assertRaises(AccessError):
                self.env["esign.sign.wizard"].with_user(self.ra).create(
                    self._vals(res_ids=json.dumps([self.foreign_lot.id]))
                )
        self.assertFalse(self.signatures(self.foreign_lot))
        wizard = self.env["esign.sign.wizard"].with_user(self.ra).create(self._vals())
        wizard.write({"login": "t_ra"})
        wizard.action_sign(password=PASSWORD)
        self.assertEqual(self.lot.esign_release_state, "released")

    def _vals(self, **changes):
        vals = {
            "res_model": "stock.lot",
            "res_ids": json.dumps([self.lot.id]),
            "policy_id": self.policy.id,
            "step_id": self.policy.step_ids[0].id,
        }
        vals.update(changes)
        return vals

    def test_crafted_create_is_refused_clearly(self):
        """Verifies: R12"""
        Wizard = self.env["esign.sign.wizard"].with_user(self.ra)
        other_step = self.mo_policy.step_ids[0]
        cases = {
            "not signed electronically": self._vals(res_model="res.partner"),
            "There is no model": self._vals(res_model="no.such.model"),
            "must be given as text": self._vals(res_model=5),
            "technical name of a model": self._vals(res_model="stock.lot; drop"),
            "list of distinct record ids": [
                self._vals(res_ids=value)
                for value in ("[]", "{}", "not json", '["1"]', "[1.5]", f"[{self.lot.id}] * 2")
            ]
            + [self._vals(res_ids=json.dumps([self.lot.id, self.lot.id]))],
            "no longer exist": self._vals(res_ids="[2000000000]"),
            "must be the id of a record": [
                self._vals(policy_id="abc"),
                self._vals(step_id=[1]),
                self._vals(policy_id=True),
            ],
            "does not exist": self._vals(policy_id=2_000_000_000),
            "cannot be signed on": [
                self._vals(policy_id=self.mo_policy.id),
                self._vals(step_id=other_step.id),
            ],
            "has no field": self._vals(no_such_field=1),
            "expected hashes": self._vals(expected_hashes="[1]"),
            "dictionary": [[1, 2]],
        }
        with self.assertNoErrorLog():
            for expected, vals_list in cases.items():
                for vals in vals_list if isinstance(vals_list, list) else [vals_list]:
                    with self.assertRaises(UserError, msg=str(vals)[:80]) as ctx:
                        Wizard.create(vals)
                    self.assertIn(expected.lower(), str(ctx.exception).lower(), vals)
        self.assertFalse(self.signatures(self.lot))
        # The same call with right values: the content hash is taken when it is created.
        wizard = Wizard.create(self._vals())
        self.assertEqual(
            json.loads(wizard.expected_hashes),
            {str(self.lot.id): self.lot._esign_content_hash(self.policy.trigger)},
        )
        wizard.write({"login": "t_ra"})
        wizard.action_sign(password=PASSWORD)
        self.assertEqual(self.lot.esign_release_state, "released")

    def test_fixed_fields_and_text_fields(self):
        """Verifies: R8"""
        wizard = self.open_wizard(self.ra, self.lot)
        with self.assertNoErrorLog():
            for vals in (
                {"res_ids": json.dumps([self.lot.id, self.lot2.id])},
                {"policy_id": self.mo_policy.id},
                {"expected_hashes": "{}"},
            ):
                self.assertIn("cannot be changed", str(self.refused(wizard.write, vals)))
            for vals in ({"reason": 5}, {"login": ["t_ra"]}, {"reason": ONE_MB}):
                self.refused(wizard.write, vals)
            self.refused(wizard.write, [("reason", "x")])
        wizard.write({"login": "t_ra", "reason": "Batch record reviewed"})
        wizard.action_sign(password=PASSWORD)
        self.assertEqual(self.signatures(self.lot).reason, "Batch record reviewed")
        self.assertEqual(self.lot2.esign_release_state, "quarantine")

    def test_values_sent_with_the_signature(self):
        """The form sends what the signer typed (``values``) with the credentials, in one
        call. Every shape a write refuses is refused there too, before any credential is
        checked: nothing is counted, signed or written.

        Verifies: R8, R12
        """
        wizard = self.open_wizard(self.ra, self.lot)
        with self.assertNoErrorLog():
            for values, expected in (
                ("Batch record reviewed", "dictionary of values"),
                ([["reason", "x"]], "dictionary of values"),
                ({"step_id": self.policy.step_ids[-1].id}, "cannot be changed"),
                ({"res_ids": json.dumps([self.lot2.id])}, "cannot be changed"),
                ({"no_such_field": 1}, "has no field"),
                ({"reason": 5}, ""),
                ({"login": ["t_ra"]}, ""),
                ({"reason": ONE_MB}, ""),
                ({"on_behalf_of_id": "t_ra"}, ""),
                ({"on_behalf_of_id": 2_000_000_000}, ""),
            ):
                exc = self.refused(wizard.action_sign, password=PASSWORD, values=values)
                self.assertIn(expected, str(exc), repr(values)[:60])
        self.assertEqual(self._failures(self.ra), 0)
        self.assertFalse(self.signatures(self.lot))
        self.assertFalse(wizard.reason)
        # A wrong password is refused and counted whatever came with it.
        exc = self.refused(
            wizard.action_sign, password="wrong", values={"login": "t_ra", "reason": "x"}
        )
        self.assertIn("Signing refused", str(exc))
        self.assertEqual(self._failures(self.ra), 1)
        self._reset(self.ra)
        wizard.action_sign(
            password=PASSWORD, values={"login": "t_ra", "reason": "Batch record reviewed"}
        )
        signature = self.signatures(self.lot)
        self.assertEqual(signature.reason, "Batch record reviewed")
        self.assertEqual(self.lot.esign_release_state, "released")
        self.assertFalse(wizard.login)  # the log-in is not kept once signed
        self.assertEqual(self.lot2.esign_release_state, "quarantine")

    def test_default_get_from_a_crafted_context(self):
        """Verifies: R12"""
        Wizard = self.env["esign.sign.wizard"].with_user(self.ra)
        with self.assertNoErrorLog():
            for context in (
                {"default_policy_id": "abc"},
                {"default_res_ids": 7},
                {"default_reason": {"a": 1}},
            ):
                self.refused(
                    Wizard.with_context(**context).default_get, ["policy_id", "res_ids", "reason"]
                )
            self.refused(Wizard.default_get, 5)
            self.refused(Wizard.default_get, [1, 2])
        defaults = Wizard.with_context(default_reason="ok").default_get(["reason"])
        self.assertEqual(defaults, {"reason": "ok"})


@tagged("post_install", "-at_install")
class TestRejectWizardInputs(EsignCase, _Calls):
    """``esign.reject.wizard``: ``res_model`` is free text and ``res_id`` any number.

    Verifies: R12
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.policy = cls.env.ref("meddev_esign.policy_lot_release")
        cls.other_company = cls.env["res.company"].create({"name": "T Other Company"})
        cls.foreign_lot = cls.env["stock.lot"].create(
            {
                "name": "FOREIGN-LOT",
                "product_id": cls.device.id,
                "company_id": cls.other_company.id,
            }
        )

    def _vals(self, **changes):
        vals = {"res_model": "stock.lot", "res_id": self.lot.id, "reason": "Sterility failed"}
        vals.update(changes)
        return vals

    def _open_request(self):
        self.env["esign.request"]._for_record(self.lot, self.policy, create=True)
        self.env.cr.flush()

    def test_crafted_values_are_refused_clearly(self):
        Wizard = self.env["esign.reject.wizard"].with_user(self.ra)
        partner = self.env["res.partner"].create({"name": "T Partner"})
        cases = [
            ("There is no model", self._vals(res_model="no.such.model")),
            ("not signed electronically", self._vals(res_model="res.partner", res_id=partner.id)),
            ("must be given as text", self._vals(res_model=["stock.lot"])),
            ("must be the id of a record", self._vals(res_id="abc")),
            ("must be the id of a record", self._vals(res_id=0)),
            ("must be the id of a record", self._vals(res_id=-5)),
            ("no longer exists", self._vals(res_id=2_000_000_000)),
            ("must be given as text", self._vals(reason=42)),
            ("must be given as text", self._vals(reason={"why": "x"})),
            ("too long", self._vals(reason="x" * 20_000)),
        ]
        with self.assertNoErrorLog():
            for expected, vals in cases:
                with self.assertRaises(UserError, msg=str(vals)) as ctx:
                    Wizard.create(vals)
                self.assertIn(expected, str(ctx.exception), vals)
            with self.assertRaises(AccessError):
                Wizard.create(self._vals(res_id=self.foreign_lot.id))
        self._open_request()
        Wizard.create(self._vals()).action_reject()
        self.assertEqual(self.lot.esign_release_state, "rejected")

    def test_default_get_checks_the_record_in_the_context(self):
        Wizard = self.env["esign.reject.wizard"].with_user(self.ra)
        fields_list = ["res_model", "res_id", "reason"]
        with self.assertNoErrorLog():
            for context in (
                {"default_res_model": "res.partner", "default_res_id": 1},
                {"default_res_model": "stock.lot", "default_res_id": "abc"},
                {"default_res_model": "no.such.model", "default_res_id": 1},
            ):
                self.refused(Wizard.with_context(**context).default_get, fields_list)
            with self.assertRaises(AccessError):
                Wizard.with_context(
                    default_res_model="stock.lot", default_res_id=self.foreign_lot.id
                ).default_get(fields_list)
        action = self.lot.with_user(self.ra).action_esign_reject()
        defaults = Wizard.with_context(**action["context"]).default_get(fields_list)
        self.assertEqual(defaults["res_id"], self.lot.id)

    def test_action_on_no_several_or_foreign_wizards(self):
        self._open_request()
        Wizard = self.env["esign.reject.wizard"].with_user(self.ra)
        mine = Wizard.create(self._vals())
        other = Wizard.create(self._vals(reason="Other"))
        with self.assertNoErrorLog():
            for wizards in (Wizard, mine | other):
                self.assertIn("one wizard", str(self.refused(wizards.action_reject)))
            with self.assertRaises(AccessError):
                mine.with_user(self.ra2).action_reject()
            with self.assertRaises(AccessError):
                mine.with_user(self.ra2).sudo().action_reject()
            self.assertIn(
                "cannot be changed", str(self.refused(mine.write, {"res_model": "stock.lot"}))
            )
        self.assertEqual(self.lot.esign_release_state, "quarantine")
        mine.action_reject()
        self.assertEqual(self.lot.esign_release_state, "rejected")
        self.assertEqual(self.lot.esign_request_ids.rejected_by_id, self.ra)

    def test_blank_reason_refused(self):
        """Verifies: R8"""
        self._open_request()
        wizard = self.env["esign.reject.wizard"].with_user(self.ra).create(self._vals(reason=" "))
        self.assertIn("needs a reason", str(self.refused(wizard.action_reject)))
        self.assertEqual(self.lot.esign_release_state, "quarantine")
        wizard.write({"reason": "Bioburden out of limits"})
        wizard.action_reject()
        self.assertEqual(self.lot.esign_request_ids.reject_reason, "Bioburden out of limits")

    def test_quarantined_lot_rejectable_before_any_signature(self):
        """With the mixin opening requests as soon as a record needs signatures, a lot in
        quarantine can be rejected by the Release Authority before anyone signed; without
        it, the wizard says there is nothing to reject (and never a traceback).

        Verifies: R16, R20
        """
        wizard = self.env["esign.reject.wizard"].with_user(self.ra).create(self._vals())
        if not hasattr(self.lot, "_esign_ensure_requests"):
            self.assertIn("no signing request", str(self.refused(wizard.action_reject)))
            return
        wizard.action_reject()
        self.assertEqual(self.lot.esign_release_state, "rejected")
        with self.assertRaises(AccessError):  # a Signer who is not the Release Authority
            self.env["esign.reject.wizard"].with_user(self.qe).create(
                self._vals(res_id=self._make_lot("TEST-LOT-3").id)
            ).action_reject()


@tagged("post_install", "-at_install")
class TestAdminWizardInputs(EsignCase):
    """The administrator's wizards and buttons: one record, one's own, one's companies."""

    def test_user_buttons_on_no_or_several_users(self):
        """Verifies: R5"""
        Users = self.env["res.users"].with_user(self.esign_admin)
        for users in (Users, self.ra | self.ra2):
            self.assertIn(
                "one user at a time",
                str(self.refused(users.with_user(self.esign_admin).action_esign_enrol)),
            )
        self.refused(Users.action_esign_unlock)
        action = self.ra.with_user(self.esign_admin).action_esign_enrol()
        self.assertEqual(action["context"]["default_user_id"], self.ra.id)

    def test_enrol_wizard(self):
        """Verifies: R2"""
        Wizard = self.env["esign.certificate.enrol.wizard"].with_user(self.esign_admin)
        with self.assertNoLogs("odoo", level="ERROR"):
            for vals in (
                {"user_id": "abc"},
                {"user_id": self.ra.id, "identity_method": "not-a-method"},
                {"user_id": self.ra.id, "identity_evidence": 42},
                {"user_id": 2_000_000_000},
            ):
                self.refused(Wizard.create, {"identity_method": "in_person", **vals})
            self.refused(Wizard.action_enrol)
        wizard = Wizard.create(
            {"user_id": self.ra.id, "identity_method": "in_person", "identity_evidence": "ID"}
        )
        with self.assertRaises(AccessError):
            wizard.with_user(self.ra).action_enrol()
        other_admin = new_test_user(
            self.env, login="t_admin2", groups="meddev_esign.group_esign_admin,base.group_system"
        )
        with self.assertRaises(AccessError):
            wizard.with_user(other_admin).sudo().action_enrol()

    def test_revoke_and_ca_import_wizards(self):
        """Verifies: R7, R22"""
        Revoke = self.env["esign.certificate.revoke.wizard"].with_user(self.esign_admin)
        with self.assertNoLogs("odoo", level="ERROR"):
            self.refused(Revoke.create, {"certificate_ids": "abc"})
            self.refused(Revoke.create, {"certificate_ids": [Command.set([2_000_000_000])]})
            self.refused(Revoke.create, {"reason": "no-such-reason"})
            self.assertIn("is required", str(self.refused(Revoke.create, {})))
            Import = self.env["esign.ca.import.wizard"].with_user(self.esign_admin)
            bad_file = {"company_id": self.env.company.id, "certificate_file": "@@not base64@@"}
            self.assertIn("base64", str(self.refused(Import.create, bad_file)))
            self.refused(Import.create, {"company_id": self.env.company.id, "password": 1234})


@tagged("post_install", "-at_install")
class TestSupplierQualificationSigner(EsignCase):
    """A supplier's qualification is Quality Assurance's signature, not any Signer's.

    Verifies: R12, S2
    """

    def _qualification(self, author):
        supplier = self.env["res.partner"].create(
            {"name": "T Tubing Supplier", "is_company": True}
        )
        category = self.env["product.category"].create({"name": "T Tubing"})
        return (
            self.env["esign.supplier.qualification"]
            .with_user(author)
            .create(
                {
                    "partner_id": supplier.id,
                    "product_category_ids": [Command.set(category.ids)],
                    "scope": "Silicone tubing",
                    "audit_date": "2024-01-10",
                    "valid_until": "2099-12-31",
                }
            )
        )

    def setUp(self):
        super().setUp()
        policy = self.env.ref("meddev_esign.policy_supplier_approve")
        policy.active = True
        self.env["esign.policy"].search(
            [("model", "=", "esign.supplier.qualification"), ("id", "!=", policy.id)]
        ).active = False
        self.assertEqual(policy.step_ids.group_id, self.env.ref("meddev_esign.group_esign_qa"))
        self.quality = new_test_user(
            self.env,
            login="t_quality",
            groups="meddev_esign.group_esign_qa",
            password=PASSWORD,
            name="T Quality",
        )
        self.purchaser = new_test_user(
            self.env,
            login="t_purchaser",
            groups="meddev_esign.group_esign_signer,purchase.group_purchase_user",
            password=PASSWORD,
            name="T Purchaser",
        )

    def test_plain_signer_refused_qa_signs(self):
        qual = self._qualification(self.qe)
        self.assertFalse(qual.with_user(self.purchaser).esign_can_sign)
        self.assertIn("no signature to give", str(self.refused(self.sign, self.purchaser, qual)))
        self.assertTrue(qual.with_user(self.quality).esign_can_sign)
        self.sign(self.quality, qual)
        self.assertEqual(self.signatures(qual).user_id, self.quality)

    def test_demo_purchaser_refused_qa_manager_signs(self):
        qual = self.env.ref("meddev_esign.demo_sq_medplast", raise_if_not_found=False)
        if not qual:
            self.skipTest("installed without demo data")
        purchaser = self.env.ref("meddev_esign.demo_user_purchaser")
        qa_manager = self.env.ref("meddev_esign.demo_user_qa_manager")
        self.assertFalse(qual.with_user(purchaser).esign_can_sign)
        with self.assertRaises(UserError):
            self.env["esign.sign.wizard"].with_user(purchaser)._action_open(
                qual.with_user(purchaser)
            )
        self.assertTrue(qual.with_user(qa_manager).esign_can_sign)
        wizard_model = self.env["esign.sign.wizard"].with_user(qa_manager)
        wizard = wizard_model.browse(
            wizard_model._action_open(qual.with_user(qa_manager))["res_id"]
        )
        wizard.write({"login": "qa.manager"})
        wizard.action_sign(password="qa.manager")
        self.assertEqual(self.signatures(qual).user_id, qa_manager)


@tagged("post_install", "-at_install")
class TestWizardInputsOverHttp(JsonRpcMixin, HttpCase, _Calls):
    """The same refusals through ``/web/dataset/call_kw``: a UserError answer, no ERROR line.

    Verifies: R3, R12
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.signer = new_test_user(
            cls.env,
            login="http_ra",
            password=PASSWORD,
            name="Http RA",
            groups="meddev_esign.group_esign_release_authority,stock.group_stock_user",
        )
        product = cls.env["product.product"].create(
            {
                "name": "Http Pump",
                "is_storable": True,
                "tracking": "lot",
                "esign_device_class": "II",
            }
        )
        cls.lot = cls.env["stock.lot"].create({"name": "HTTP-1", "product_id": product.id})

    def test_bad_inputs_over_json_rpc(self):
        self.authenticate("http_ra", PASSWORD)
        wizard_id = self._call("stock.lot", "action_esign_sign", [[self.lot.id]])[1]["res_id"]
        self._call("esign.sign.wizard", "write", [[wizard_id], {"login": "http_ra"}])
        policy = self.env.ref("meddev_esign.policy_lot_release")
        crafted = {
            "res_model": "stock.lot",
            "res_ids": json.dumps([self.lot.id]),
            "policy_id": policy.id,
            "step_id": policy.step_ids[0].id,
        }
        refusals = [
            ("action_sign", [[]], {"password": PASSWORD}, "one wizard"),
            ("action_sign", [[wizard_id, wizard_id + 1]], {"password": PASSWORD}, "one wizard"),
            ("action_sign", [[wizard_id]], {"password": 12345678}, "Signing refused"),
            ("action_sign", [[wizard_id]], {"password": ONE_MB}, "too long"),
            ("action_sign", [[wizard_id]], {"password": PASSWORD, "totp_code": [1]}, "Signing"),
            ("action_sign", [[wizard_id]], {"password": PASSWORD, "values": "x"}, "dictionary"),
            (
                "action_sign",
                [[wizard_id]],
                {"password": PASSWORD, "values": {"step_id": crafted["step_id"]}},
                "cannot be changed",
            ),
            ("action_sign", [[wizard_id]], {"password": PASSWORD, "values": {"reason": 5}}, ""),
            ("create", [{**crafted, "res_model": "res.partner"}], {}, "not signed"),
            ("create", [{**crafted, "res_ids": '["a"]'}], {}, "record ids"),
            ("create", [{"res_model": "stock.lot", "res_ids": "[1]"}], {}, "is required"),
        ]
        with self.assertNoLogs("odoo", level="ERROR"):
            for method, args, kwargs, expected in refusals:
                answer = self._call("esign.sign.wizard", method, args, kwargs)
                self.assertEqual(answer[:2], ("error", "odoo.exceptions.UserError"), method)
                self.assertIn(expected, answer[2], (method, args))
            for args in (
                [{"res_model": "res.partner", "res_id": 1, "reason": "x"}],
                [{"res_model": "stock.lot", "res_id": self.lot.id, "reason": 5}],
            ):
                answer = self._call("esign.reject.wizard", "create", args)
                self.assertEqual(answer[:2], ("error", "odoo.exceptions.UserError"))
            # A refused signature leaves nothing of what came with it on the wizard.
            answer = self._call(
                "esign.sign.wizard",
                "action_sign",
                [[wizard_id]],
                {"password": "wrong", "values": {"reason": "first attempt"}},
            )
            self.assertEqual(answer[:2], ("error", "odoo.exceptions.UserError"))
            read = self._call("esign.sign.wizard", "read", [[wizard_id], ["reason"]])
            self.assertEqual(read[1][0]["reason"], False)
        # The refusals were counted; this test is about their answers, so start afresh.
        self.signer.sudo().write({"esign_failed_attempts": 0, "esign_locked": False})
        self.env.flush_all()
        answer = self._call(
            "esign.sign.wizard",
            "action_sign",
            [[wizard_id]],
            {"password": PASSWORD, "values": {"reason": "Reviewed over HTTP"}},
        )
        self.assertEqual(answer[0], "result", answer)
        signature = self.env["esign.signature"].search(
            [("res_model", "=", "stock.lot"), ("res_id", "=", self.lot.id)]
        )
        self.assertEqual(signature.user_id, self.signer)
        self.assertEqual(signature.reason, "Reviewed over HTTP")
