from odoo.tests import HttpCase, new_test_user, tagged

PASSWORD = "Window-Pass-42"


@tagged("post_install", "-at_install")
class TestSessionWindow(HttpCase):
    """R4 over real HTTP sessions: the first signature of a session needs log-in and password;
    later ones in the window need the password only; window 0 means always both.

    Verifies: R4
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.signer = new_test_user(
            cls.env,
            login="window_ra",
            password=PASSWORD,
            name="Window RA",
            groups="meddev_esign.group_esign_release_authority,stock.group_stock_user",
        )
        product = cls.env["product.product"].create(
            {
                "name": "Window Pump",
                "is_storable": True,
                "tracking": "lot",
                "esign_device_class": "II",
            }
        )
        cls.lots = cls.env["stock.lot"].create(
            [{"name": f"WIN-{i}", "product_id": product.id} for i in range(3)]
        )

    def _call(self, model, method, args, kwargs=None):
        return self.make_jsonrpc_request(
            "/web/dataset/call_kw",
            {"model": model, "method": method, "args": args, "kwargs": kwargs or {}},
        )

    def _sign(self, lot, login):
        action = self._call("stock.lot", "action_esign_sign", [[lot.id]])
        wizard_id = action["res_id"]
        self._call("esign.sign.wizard", "write", [[wizard_id], {"login": login}])
        return self._call(
            "esign.sign.wizard", "action_sign", [[wizard_id]], {"password": PASSWORD}
        )

    def _signature(self, lot):
        return self.env["esign.signature"].search(
            [("res_model", "=", "stock.lot"), ("res_id", "=", lot.id)]
        )

    def _refused(self, lot):
        """Password alone, where log-in and password are needed: refused, nothing signed.

        (The failure counter commits in its own cursor; in HttpCase that cursor shares the
        request's savepoint, so the counter is checked in test_signing instead.)
        """
        with self.assertRaises(Exception) as ctx:
            self._sign(lot, "")
        self.assertIn("UserError", str(ctx.exception))
        self.assertFalse(self._signature(lot))

    def test_password_only_within_the_window(self):
        self.authenticate("window_ra", PASSWORD)
        self._sign(self.lots[0], "window_ra")
        self.assertEqual(self._signature(self.lots[0]).auth_method, "login_password")
        self._sign(self.lots[1], "")  # same session: the password alone suffices
        self.assertEqual(self._signature(self.lots[1]).auth_method, "password_session")

    def test_new_session_needs_both_again(self):
        self.authenticate("window_ra", PASSWORD)
        self._sign(self.lots[0], "window_ra")
        self.authenticate("window_ra", PASSWORD)  # a new session
        self._refused(self.lots[1])

    def test_window_zero_means_always_both(self):
        self.env["ir.config_parameter"].sudo().set_param(
            "meddev_esign.session_window_minutes", "0"
        )
        self.authenticate("window_ra", PASSWORD)
        self._sign(self.lots[0], "window_ra")
        self._refused(self.lots[1])
        self._sign(self.lots[2], "window_ra")
        self.assertEqual(self._signature(self.lots[2]).auth_method, "login_password")
