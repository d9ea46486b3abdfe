import base64
import json
import time

from odoo import Command
from odoo.exceptions import UserError
from odoo.tests import TransactionCase, new_test_user

from odoo.addons.auth_totp.models.totp import TOTP, hotp

PASSWORD = "Correct-Horse-42"


class EsignCase(TransactionCase):
    """Users, a device product, lots and a two-stage MO policy, on the real ORM and database.

    The registry is put in test mode so that the failed-attempt counter, which commits in its
    own cursor in production, stays inside the test's transaction.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.registry.enter_test_mode(cls.cr)
        cls.addClassCleanup(cls.registry.leave_test_mode)
        env = cls.env

        def user(login, groups):
            return new_test_user(
                env,
                login=login,
                groups=groups,
                password=PASSWORD,
                name=login.replace("_", " ").title(),
                tz="Asia/Shanghai",
            )

        signer = "meddev_esign.group_esign_signer,mrp.group_mrp_user,stock.group_stock_user"
        cls.qe = user("t_qe", signer)
        cls.qa = user("t_qa", signer)
        cls.qa2 = user("t_qa2", signer)
        cls.supervisor = user("t_supervisor", signer)
        cls.outsider = user("t_outsider", signer)
        cls.ra = user("t_ra", "meddev_esign.group_esign_release_authority,stock.group_stock_user")
        cls.ra2 = user(
            "t_ra2", "meddev_esign.group_esign_release_authority,stock.group_stock_user"
        )
        cls.esign_admin = user("t_admin", "meddev_esign.group_esign_admin,base.group_system")
        cls.auditor = user("t_auditor", "meddev_esign.group_esign_auditor")

        cls.device = env["product.product"].create(
            {
                "name": "Test Pump",
                "is_storable": True,
                "tracking": "lot",
                "esign_device_class": "II",
                "esign_gtin": "06951234500030",
            }
        )
        cls.simple_device = env["product.product"].create(
            {
                "name": "Test Monitor",
                "is_storable": True,
                "esign_device_class": "II",
            }
        )
        cls.component = env["product.product"].create(
            {
                "name": "Test Resistor",
                "is_storable": True,
                "tracking": "lot",
            }
        )
        cls.lot = cls._make_lot("TEST-LOT-1")
        # Replace any demo policy on MOs with a known one.
        env["esign.policy"].search([("model", "=", "mrp.production")]).active = False
        cls.mo_policy = env["esign.policy"].create(
            {
                "name": "Test MO review",
                "model_id": env.ref("mrp.model_mrp_production").id,
                "trigger": "mrp_done",
                "domain": "[('product_id.esign_device_class', '!=', False)]",
                "prerequisite_domain": "[('qty_producing', '>', 0)]",
                "author_may_not_sign": True,
                "one_step_per_person": True,
                "step_ids": [
                    Command.create(
                        {
                            "sequence": 10,
                            "name": "Review",
                            "meaning_id": env.ref("meddev_esign.meaning_reviewed").id,
                            "signer_type": "users",
                            "mode": "k_of_n",
                            "k": 1,
                            "user_ids": [Command.set([cls.qe.id, cls.qa.id])],
                        }
                    ),
                    Command.create(
                        {
                            "sequence": 20,
                            "name": "Approval",
                            "meaning_id": env.ref("meddev_esign.meaning_approved").id,
                            "signer_type": "users",
                            "mode": "all",
                            "user_ids": [Command.set([cls.qa.id])],
                        }
                    ),
                ],
            }
        )

    @classmethod
    def _make_lot(cls, name, product=None):
        return (
            cls.env["stock.lot"]
            .with_user(cls.supervisor)
            .create(
                {
                    "name": name,
                    "product_id": (product or cls.device).id,
                    "company_id": cls.env.company.id,
                }
            )
        )

    def _make_mo(self, qty=5.0):
        mo = (
            self.env["mrp.production"]
            .with_user(self.supervisor)
            .create(
                {
                    "product_id": self.simple_device.id,
                    "product_qty": qty,
                    "user_id": self.supervisor.id,
                }
            )
        )
        mo.action_confirm()
        mo.qty_producing = qty
        return mo

    def sign(
        self, user, records, password=PASSWORD, login=None, reason="ok", totp=None, step=None
    ):
        """Sign as ``user`` through the wizard, the way the form does."""
        wizard_model = self.env["esign.sign.wizard"].with_user(user)
        action = wizard_model._action_open(records.with_user(user), step=step)
        wizard = wizard_model.browse(action["res_id"])
        values = {"login": user.login if login is None else login, "reason": reason}
        return wizard.action_sign(password=password, totp_code=totp, values=values)

    def refused(self, func, *args, **kwargs):
        """Call ``func`` and return the UserError it raises.

        Unlike ``assertRaises``, this takes no savepoint: the failure counter, which production
        commits in its own cursor, shares the test's transaction and must survive the refusal.
        """
        try:
            func(*args, **kwargs)
        except UserError as exc:
            return exc
        self.fail("expected a UserError")

    def mails_of(self, record):
        """The e-mails (``mail.mail``) made about ``record``."""
        return (
            self.env["mail.mail"]
            .sudo()
            .search([("model", "=", record._name), ("res_id", "=", record.id)])
        )

    def mail_queue_wakeups(self):
        """How many times the mail-queue job was asked to run."""
        job = self.env.ref("mail.ir_cron_mail_scheduler_action")
        return self.env["ir.cron.trigger"].sudo().search_count([("cron_id", "=", job.id)])

    def signatures(self, record):
        return self.env["esign.signature"].search(
            [("res_model", "=", record._name), ("res_id", "=", record.id)], order="id"
        )

    @staticmethod
    def enable_totp(user):
        secret = base64.b32encode(b"0123456789abcdefghij").decode()
        user.sudo().totp_secret = secret
        return lambda: f"{hotp(base64.b32decode(secret), int(time.time() / 30)):06d}", TOTP


class JsonRpcMixin:
    """For an HttpCase: call a model method as the browser does, over ``/web/dataset/call_kw``.

    Returns ``("result", value)`` or ``("error", exception name, message)``.
    """

    def _call(self, model, method, args, kwargs=None):
        response = self.url_open(
            "/web/dataset/call_kw",
            data=json.dumps(
                {
                    "jsonrpc": "2.0",
                    "method": "call",
                    "id": 1,
                    "params": {
                        "model": model,
                        "method": method,
                        "args": args,
                        "kwargs": kwargs or {},
                    },
                }
            ),
            headers={"Content-Type": "application/json"},
        )
        self.assertEqual(response.status_code, 200)
        answer = response.json()
        if "error" in answer:
            return "error", answer["error"]["data"]["name"], answer["error"]["data"]["message"]
        return "result", answer["result"]
