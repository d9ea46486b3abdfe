import uuid

from odoo import SUPERUSER_ID, Command, api
from odoo.exceptions import UserError
from odoo.modules.registry import Registry
from odoo.service.model import retrying
from odoo.tests import BaseCase, tagged
from odoo.tests.common import get_db_name

PASSWORD = "Race-Pass-42"


@tagged("post_install", "-at_install")
class TestSigningRace(BaseCase):
    """R13 under real concurrency: two signers, in two transactions on two connections, race
    for the single slot of a 1-of-2 review step. Exactly one signature results.

    Odoo runs REPEATABLE READ, so the loser's snapshot predates the winner's commit. The
    record's row lock makes PostgreSQL refuse the loser with a serialisation failure; Odoo's
    ``retrying`` (what its RPC layer runs every call in) replays it against the committed
    state, where the slot is taken. The race is replayed deterministically in one thread:
    the post-install runner holds the registry lock, so ORM calls from other threads would
    wait for the test to end. A manufacturing order is used on purpose: completing its review
    writes nothing to the record, so only the lock stands between the racers.

    The data is committed (signatures are never deleted; the test database is thrown away).

    Verifies: R13
    """

    def test_two_signers_race_for_last_slot(self):
        registry = Registry(get_db_name())
        with registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            groups = [
                Command.set(
                    [
                        env.ref("meddev_esign.group_esign_signer").id,
                        env.ref("mrp.group_mrp_user").id,
                    ]
                )
            ]
            racers = env["res.users"].create(
                [
                    {
                        "name": f"Racer {i}",
                        # Committed, so unique per run: the suite may run again on this
                        # database (a developer's), and a second run must not collide.
                        "login": f"race_{i}_{uuid.uuid4().hex[:8]}",
                        "password": PASSWORD,
                        "groups_id": groups,
                    }
                    for i in (1, 2)
                ]
            )
            others = env["esign.policy"].search([("trigger", "=", "mrp_done")])
            others.active = False
            policy = env["esign.policy"].create(
                {
                    "name": "Race review",
                    "model_id": env.ref("mrp.model_mrp_production").id,
                    "trigger": "mrp_done",
                    "step_ids": [
                        Command.create(
                            {
                                "name": "Review",
                                "meaning_id": env.ref("meddev_esign.meaning_reviewed").id,
                                "mode": "k_of_n",
                                "k": 1,
                                "signer_type": "users",
                                "user_ids": [Command.set(racers.ids)],
                            }
                        )
                    ],
                }
            )
            product = env["product.product"].create({"name": "Race Monitor", "is_storable": True})
            mo = env["mrp.production"].create({"product_id": product.id, "product_qty": 1})
            mo.action_confirm()
            mo.qty_producing = 1
            ids = {
                "racers": racers.ids,
                "mo": mo.id,
                "policy": policy.id,
                "step": policy.step_ids.id,
                "others": others.ids,
            }

        def sign(env):
            mo = env["mrp.production"].browse(ids["mo"])
            request = env["esign.request"]._for_record(
                mo, env["esign.policy"].browse(ids["policy"]), create=True
            )
            request._sign(
                mo,
                env["esign.policy.step"].browse(ids["step"]),
                reason="race",
                auth_method="login_password",
            )

        cr1, cr2 = registry.cursor(), registry.cursor()
        try:
            env1 = api.Environment(cr1, ids["racers"][0], {})
            env2 = api.Environment(cr2, ids["racers"][1], {})
            for env in (env1, env2):  # both snapshots are taken before either signs
                env["mrp.production"].browse(ids["mo"]).read(["name"])
            sign(env1)
            cr1.commit()
            with self.assertRaises(UserError) as ctx:
                retrying(lambda: sign(env2), env2)
            self.assertIn("already fully signed", str(ctx.exception))
        finally:
            cr2.rollback()
            cr2.close()
            cr1.close()

        with registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            domain = [("res_model", "=", "mrp.production"), ("res_id", "=", ids["mo"])]
            self.assertEqual(env["esign.signature"].search_count(domain), 1)
            self.assertEqual(env["esign.request"].search_count(domain), 1)
            self.assertEqual(env["esign.request"].search(domain).state, "completed")
            self.assertTrue(env["esign.signature"]._verify_chain("mrp.production", ids["mo"]).ok)
            env["esign.policy"].browse(ids["policy"]).active = False
            env["esign.policy"].browse(ids["others"]).active = True
