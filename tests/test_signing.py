import json
import select
import socket
import time

import psycopg2
from lxml import etree
from markupsafe import Markup

from odoo import Command, fields
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.sql_db import connection_info_for
from odoo.tests import tagged
from odoo.tools import mute_logger

from odoo.addons.bus.models.bus import channel_with_db, json_dump

from ..models import esign_bus_notify as bus_notify
from .common import PASSWORD, EsignCase


@tagged("post_install", "-at_install")
class TestLotRelease(EsignCase):
    """R20: a lot is released by the Release Authority's signature, and only then ships.

    Verifies: R20
    """

    def test_release_signature_content(self):
        """Verifies: R9"""
        # As in production, the lot was made in an earlier transaction: its release is then
        # a tracked change (Odoo does not track records created in the same transaction).
        self.env.cr.flush()
        self.assertEqual(self.lot.esign_release_state, "quarantine")
        self.sign(self.ra, self.lot, reason="Batch record reviewed, all tests passed")
        self.assertEqual(self.lot.esign_release_state, "released")
        sig = self.signatures(self.lot)
        self.assertEqual(len(sig), 1)
        self.assertEqual(sig.user_id, self.ra)
        self.assertEqual(sig.printed_name, self.ra.name)
        self.assertEqual(sig.login, "t_ra")
        self.assertEqual(sig.meaning_code, "released")
        self.assertEqual(sig.signer_tz, "Asia/Shanghai")
        self.assertEqual(sig.reason, "Batch record reviewed, all tests passed")
        self.assertEqual(sig.auth_method, "login_password")
        self.assertEqual(sig.record_version, 1)
        self.assertTrue(sig.content_hash.startswith("esign-snapshot/2:sha256:"))
        self.assertEqual(sig.content_hash, self.lot._esign_content_hash())
        self.assertEqual(sig.previous_hash, "0" * 64)
        self.assertEqual(sig.status, "valid")
        self.assertTrue(self.env["esign.signature"]._verify_chain("stock.lot", self.lot.id).ok)
        self.env.cr.flush()  # Odoo logs tracked changes when the transaction commits
        posted = self.lot.message_ids.filtered(lambda m: "Signed Released" in m.body)
        self.assertEqual(len(posted), 1)
        self.assertIn(self.ra.name, posted.body)
        # One chatter entry: the signature note carries the release it caused.
        self.assertEqual(
            posted.sudo().tracking_value_ids.mapped("field_id.name"), ["esign_release_state"]
        )
        self.assertEqual(len(self.lot.message_ids.sudo().tracking_value_ids), 1)
        self.assertEqual(posted.author_id, self.ra.partner_id)

    def test_note_never_joins_a_message_posted_to_followers(self):
        """A tracked change with a subtype is posted to the record's followers, who may be a
        vendor: the signature note stays an internal note of its own."""
        vendor = self.env["res.partner"].create({"name": "Vendor", "email": "v@example.com"})
        order = self.env["purchase.order"].create(
            {
                "partner_id": vendor.id,
                "order_line": [Command.create({"product_id": self.component.id})],
            }
        )
        order.message_subscribe(partner_ids=vendor.ids)
        self.env.cr.flush()  # an existing order, whose tracked changes Odoo logs
        order.write({"state": "purchase"})  # tracked, with purchase's "RFQ Confirmed" subtype
        self.assertTrue(order._esign_tracked_changes())
        order._esign_post_with_tracking(Markup("Signed Approved by T QA"))
        self.env.cr.flush()
        note = order.message_ids.filtered(lambda m: "Signed Approved" in m.body)
        self.assertEqual(len(note), 1)
        self.assertTrue(note.is_internal)
        self.assertEqual(note.subtype_id, self.env.ref("mail.mt_note"))
        self.assertFalse(note.sudo().tracking_value_ids)
        confirmed = order.message_ids.filtered(
            lambda m: m.subtype_id == self.env.ref("purchase.mt_rfq_confirmed")
        )
        self.assertEqual(len(confirmed), 1)
        self.assertNotIn("Signed Approved", confirmed.body)

    def test_content_hash_same_in_every_language(self):
        """A signer working in Chinese and an auditor in English see the same hash.

        Verifies: R11
        """
        self.env["res.lang"]._activate_lang("zh_CN")
        self.device.product_tmpl_id.with_context(lang="zh_CN").name = "输液泵"
        lot_zh = self.lot.with_context(lang="zh_CN")
        self.assertEqual(lot_zh.product_id.display_name, "输液泵")  # what the signer sees
        english = self.lot.with_context(lang="en_US")._esign_content_hash()
        self.assertEqual(lot_zh._esign_content_hash(), english)
        # Nor do a form view's bin_size or a partner in the context change it.
        partner = self.env["res.partner"].create({"name": "Any Customer"})
        self.assertEqual(
            self.lot.with_context(bin_size=True, partner_id=partner.id)._esign_content_hash(),
            english,
        )
        # The release authority signs with the whole flow in Chinese.
        env_zh = self.env(context=dict(self.env.context, lang="zh_CN"))
        wizards = env_zh["esign.sign.wizard"].with_user(self.ra)
        wizard = wizards.browse(wizards._action_open(self.lot.with_env(wizards.env))["res_id"])
        wizard.write({"login": self.ra.login, "reason": "放行"})
        wizard.action_sign(password=PASSWORD)
        sig = self.signatures(self.lot)
        self.assertEqual(self.lot.esign_release_state, "released")
        self.assertEqual(sig.content_hash, english)
        self.assertEqual(sig.with_context(lang="en_US").status, "valid")
        # Tamper twin: a real change of a signed field still voids it, in either language.
        self.lot.with_context(esign_change_reason="Relabelled").ref = "OTHER-REF"
        self.assertNotEqual(lot_zh._esign_content_hash(), english)
        sig.invalidate_recordset(["status"])
        self.assertEqual(sig.with_context(lang="zh_CN").status, "changed")

    def test_policy_domain_through_an_archived_product_still_gates(self):
        """The release policy's domain reads the lot's product (``product_id.
        esign_device_class``), which is fetched column by column for speed: an archived
        device's lot is still a device lot, and a non-device lot still is not."""
        lot = self._make_lot("ARCHIVED-DEVICE")
        self.device.active = False
        self.env.invalidate_all()
        policy = self.env.ref("meddev_esign.policy_lot_release")
        self.assertTrue(policy._applies_to(lot.with_user(self.ra)))
        self.assertIn(policy, lot.with_user(self.ra)._esign_policies())
        self.assertFalse(policy._applies_to(self._make_lot("COMP-2", self.component)))
        self.sign(self.ra, lot)
        self.assertEqual(lot.esign_release_state, "released")

    def test_release_needs_release_authority(self):
        """Verifies: R12"""
        with self.assertRaises(UserError):  # the wizard offers nothing to a plain signer
            self.sign(self.qa, self.lot)
        request = self.env["esign.request"]._for_record(
            self.lot, self.env.ref("meddev_esign.policy_lot_release"), create=True
        )
        step = request.policy_id.step_ids
        with self.assertRaises(AccessError):  # and the model refuses, over RPC too
            request.with_user(self.qa)._sign(
                self.lot, step, reason="", auth_method="login_password"
            )
        with self.assertRaises(AccessError):
            self.lot.with_user(self.qa).action_esign_release()
        self.assertFalse(self.signatures(self.lot))
        self.assertEqual(self.lot.esign_release_state, "quarantine")

    def test_lot_maker_may_not_release(self):
        """Verifies: R14"""
        lot = (
            self.env["stock.lot"]
            .with_user(self.ra)
            .create({"name": "MADE-BY-RA", "product_id": self.device.id})
        )
        with self.assertRaises(UserError):
            self.sign(self.ra, lot)
        self.assertFalse(self.signatures(lot))

    def test_non_device_lot_released_from_start(self):
        """Verifies: R21"""
        lot = self._make_lot("COMP-1", self.component)
        self.assertEqual(lot.esign_release_state, "released")

    def test_release_twice_refused(self):
        """Verifies: R13"""
        self.sign(self.ra, self.lot)
        with self.assertRaises(UserError):
            self.sign(self.ra2, self.lot)
        self.assertEqual(len(self.signatures(self.lot)), 1)

    def test_bulk_release_one_authentication(self):
        """Verifies: R3"""
        lots = self.env["stock.lot"]
        for i in range(5):
            lots |= self._make_lot(f"BULK-{i}")
        self.sign(self.ra, lots)
        self.assertEqual(set(lots.mapped("esign_release_state")), {"released"})
        sigs = self.env["esign.signature"].search(
            [("res_model", "=", "stock.lot"), ("res_id", "in", lots.ids)]
        )
        self.assertEqual(len(sigs), 5)
        for lot in lots:
            self.assertTrue(self.env["esign.signature"]._verify_chain("stock.lot", lot.id).ok)

    def test_bulk_release_of_a_shift_of_lots(self):
        """150 lots in one wizard: its JSON of expected hashes is over 10,000 characters (a
        text limit once refused the bench's bulk release of 500 lots)."""
        lots = (
            self.env["stock.lot"]
            .with_user(self.supervisor)
            .create([{"name": f"SHIFT-{i:03d}", "product_id": self.device.id} for i in range(150)])
        )
        self.sign(self.ra, lots)
        self.assertEqual(set(lots.mapped("esign_release_state")), {"released"})

    def test_bulk_release_all_or_nothing(self):
        good = self._make_lot("BULK-OK")
        bad = (
            self.env["stock.lot"]
            .with_user(self.ra)
            .create({"name": "BULK-OWN", "product_id": self.device.id})
        )
        with self.assertRaises(UserError):
            self.sign(self.ra, good | bad)
        self.assertEqual(good.esign_release_state, "quarantine")
        self.assertFalse(self.signatures(good) | self.signatures(bad))

    def test_record_changed_while_signing(self):
        """Verifies: R11"""
        wizard_model = self.env["esign.sign.wizard"].with_user(self.ra)
        action = wizard_model._action_open(self.lot.with_user(self.ra))
        wizard = wizard_model.browse(action["res_id"])
        wizard.login = self.ra.login
        self.lot.ref = "changed in between"
        with self.assertRaises(UserError) as ctx:
            wizard.action_sign(password=PASSWORD)
        self.assertIn("changed while you were signing", str(ctx.exception))
        self.assertFalse(self.signatures(self.lot))

    def test_preload_matches_the_form(self):
        """The action that opens the sign wizard carries what its form reads (the preload):
        every field the form has, read as ``web_read`` reads them, so that the form does not
        read the wizard again. A field added to the form, or taken from it, without
        ``_esign_form_spec`` fails here (the form would then read the wizard as usual)."""
        wizard_model = self.env["esign.sign.wizard"].with_user(self.ra)
        action = wizard_model._action_open(self.lot.with_user(self.ra))
        preload = action["context"]["esign_preload"]
        self.assertEqual(preload["id"], action["res_id"])
        wizard = wizard_model.browse(action["res_id"])
        self.env.invalidate_all()
        self.assertEqual(preload["record"], wizard.web_read(preload["spec"])[0])
        self.assertEqual(preload["record"]["step_id"]["id"], wizard.step_id.id)
        views = wizard_model.get_views([(False, "form")])
        form = etree.fromstring(views["views"]["form"]["arch"])
        self.assertEqual(form.get("js_class"), "esign_sign_wizard_form")
        fields_ = views["models"]["esign.sign.wizard"]["fields"]
        expected = {
            node.get("name"): (
                {"fields": {"display_name": {}}}
                if fields_[node.get("name")]["type"] == "many2one"
                else {}
            )
            for node in form.iter("field")
        }
        self.assertEqual(preload["spec"], expected)
        json.dumps(action)  # what the client receives

    def test_reject_keeps_history_and_restart_creates_new_request(self):
        """Verifies: R16"""
        with self.assertRaises(UserError):
            self.env["esign.reject.wizard"].with_user(self.ra).create(
                {"res_model": "stock.lot", "res_id": self.lot.id, "reason": " "}
            ).action_reject()
        self.env["esign.request"]._for_record(
            self.lot, self.env.ref("meddev_esign.policy_lot_release"), create=True
        )
        self.env.cr.flush()  # the lot and its request exist before the rejection, as in use
        self.env["esign.reject.wizard"].with_user(self.ra).create(
            {"res_model": "stock.lot", "res_id": self.lot.id, "reason": "Sterility test failed"}
        ).action_reject()
        self.assertEqual(self.lot.esign_release_state, "rejected")
        self.env.cr.flush()
        note = self.lot.message_ids.filtered(lambda m: "Sterility test failed" in m.body)
        self.assertEqual(len(note), 1)  # the rejection and the state it set, in one entry
        self.assertEqual(note.sudo().tracking_value_ids.mapped("new_value_char"), ["Rejected"])
        self.assertEqual(note.author_id, self.ra.partner_id)
        old = self.lot.esign_request_ids
        self.assertEqual(old.state, "rejected")
        self.assertEqual(old.reject_reason, "Sterility test failed")
        with self.assertRaises(UserError):  # a rejected lot cannot be released
            self.sign(self.ra, self.lot)
        self.lot.with_user(self.ra).action_esign_return_to_quarantine()
        self.sign(self.ra, self.lot)
        self.assertEqual(len(self.lot.esign_request_ids), 2)
        self.assertEqual(old.state, "rejected")
        self.assertEqual(self.lot.esign_release_state, "released")


@tagged("post_install", "-at_install")
class TestShipment(EsignCase):
    """放货: an outgoing delivery of an unreleased lot is refused.

    Verifies: R20, S3
    """

    def _delivery(self, lot):
        self.env["stock.quant"]._update_available_quantity(
            self.device, self.env.ref("stock.stock_location_stock"), 5, lot_id=lot
        )
        picking = self.env["stock.picking"].create(
            {
                "picking_type_id": self.env.ref("stock.picking_type_out").id,
                "location_id": self.env.ref("stock.stock_location_stock").id,
                "location_dest_id": self.env.ref("stock.stock_location_customers").id,
                "move_ids": [
                    Command.create(
                        {
                            "name": "ship",
                            "product_id": self.device.id,
                            "product_uom_qty": 5,
                            "location_id": self.env.ref("stock.stock_location_stock").id,
                            "location_dest_id": self.env.ref("stock.stock_location_customers").id,
                        }
                    )
                ],
            }
        )
        picking.action_confirm()
        picking.action_assign()
        picking.move_line_ids.write({"lot_id": lot.id, "quantity": 5})
        picking.move_ids.picked = True
        return picking

    def test_quarantined_lot_cannot_ship(self):
        picking = self._delivery(self.lot)
        with self.assertRaises(UserError) as ctx:
            picking.button_validate()
        self.assertIn("not released", str(ctx.exception))
        self.assertNotEqual(picking.state, "done")

    def test_released_lot_ships(self):
        self.sign(self.ra, self.lot)
        picking = self._delivery(self.lot)
        picking.button_validate()
        self.assertEqual(picking.state, "done")


@tagged("post_install", "-at_install")
class TestReauthentication(EsignCase):
    """R3–R5: two components, failures counted per account, lock-out, admin unlock."""

    def test_wrong_password(self):
        """Verifies: R3, R5"""
        exc = self.refused(self.sign, self.ra, self.lot, password="wrong")
        self.assertIn("Signing refused", str(exc))
        self.assertEqual(self.ra.sudo().esign_failed_attempts, 1)
        self.assertFalse(self.signatures(self.lot))

    def test_empty_password_and_wrong_login(self):
        """Verifies: R3"""
        self.refused(self.sign, self.ra, self.lot, password="")
        self.refused(self.sign, self.ra, self.lot, login="t_ra2")
        self.assertEqual(self.ra.sudo().esign_failed_attempts, 2)
        self.assertFalse(self.signatures(self.lot))

    def test_form_buttons_on_no_or_several_records_are_refused_clearly(self):
        """Over RPC the form's Sign / Reject buttons can be called with any ids.

        Verifies: R12
        """
        lots = self.env["stock.lot"].with_user(self.ra)
        for records in (lots, lots.browse([self.lot.id, self.lot.id + 1])):
            for action in ("action_esign_sign", "action_esign_reject"):
                self.assertIn("Open one record", str(self.refused(getattr(records, action))))

    def test_success_resets_counter(self):
        """Verifies: R5"""
        self.refused(self.sign, self.ra, self.lot, password="wrong")
        self.assertEqual(self.ra.sudo().esign_failed_attempts, 1)
        self.sign(self.ra, self.lot)
        self.assertEqual(self.ra.sudo().esign_failed_attempts, 0)

    def test_lockout_alerts_admins_and_unlock_is_logged(self):
        """Verifies: R5"""
        for _i in range(3):
            self.refused(self.sign, self.ra, self.lot, password="wrong")
        self.assertTrue(self.ra.sudo().esign_locked)
        activities = self.env["mail.activity"].search(
            [
                ("res_model", "=", "res.partner"),
                ("res_id", "=", self.ra.partner_id.id),
                ("user_id", "=", self.esign_admin.id),
            ]
        )
        self.assertTrue(activities)
        alerts = self.mails_of(self.ra.partner_id)
        self.assertIn(self.esign_admin.partner_id, alerts.recipient_ids)
        self.assertEqual(set(alerts.mapped("state")), {"outgoing"}, "queued, not sent")
        # the right password no longer helps
        self.assertIn("locked", str(self.refused(self.sign, self.ra, self.lot)))
        self.assertFalse(self.signatures(self.lot))
        with self.assertRaises(AccessError):
            self.ra.with_user(self.qa).action_esign_unlock()
        self.ra.with_user(self.esign_admin).action_esign_unlock()
        self.assertFalse(self.ra.sudo().esign_locked)
        self.assertEqual(self.ra.sudo().esign_unlocked_by_id, self.esign_admin)
        self.assertIn("unlocked", self.ra.partner_id.message_ids[0].body)
        # Both are in the tamper-evident trail, the unlock with the administrator's name.
        entries = self.env["esign.audit.entry"].search(
            [("res_model", "=", "res.users"), ("res_id", "=", self.ra.id)], order="seq"
        )
        self.assertEqual(entries.mapped("operation"), ["lock", "unlock"])
        self.assertEqual(entries[1].user_id, self.esign_admin)
        self.assertIn(self.esign_admin.name, entries[1].payload)
        self.sign(self.ra, self.lot)
        self.assertEqual(self.lot.esign_release_state, "released")

    def test_totp_required_when_enabled(self):
        """Verifies: R3"""
        code, _totp = self.enable_totp(self.ra)
        with self.assertRaises(UserError):
            self.sign(self.ra, self.lot, totp=None)
        with self.assertRaises(UserError):
            self.sign(self.ra, self.lot, totp="000000" if code() != "000000" else "111111")
        self.assertFalse(self.signatures(self.lot))
        self.sign(self.ra, self.lot, totp=code(), login="")
        self.assertEqual(self.signatures(self.lot).auth_method, "password_totp")


@tagged("post_install", "-at_install")
class TestProductionRecord(EsignCase):
    """Order, segregation of duties, k of n, change after signing, and the MO gate."""

    def test_full_flow_then_mark_done(self):
        """Verifies: R13, S3"""
        mo = self._make_mo()
        with self.assertRaises(UserError) as ctx:
            mo.with_user(self.supervisor).button_mark_done()
        self.assertIn("needs the signatures", str(ctx.exception))
        self.sign(self.qe, mo)
        self.assertEqual(mo.esign_request_ids.state, "in_progress")
        self.sign(self.qa, mo)
        self.assertEqual(mo.esign_request_ids.state, "completed")
        mo.with_user(self.supervisor).button_mark_done()
        self.assertEqual(mo.state, "done")
        sigs = self.signatures(mo)
        self.assertEqual(sigs.mapped("meaning_code"), ["reviewed", "approved"])
        self.assertEqual(sigs[1].previous_hash, sigs[0].signature_hash)

    def test_notification_mails_wait_in_the_queue_and_wake_its_job(self):
        """The next signer's to-do mail is queued, never sent from the signing request: the
        mail-queue job alone sends it (two servers never send one mail twice), woken once
        when the transaction commits, and a signature never waits for the mail server."""
        before = self.mail_queue_wakeups()
        mo = self._make_mo()
        self.sign(self.qe, mo)  # opens the approval step: a to-do, and its mail, for qa
        mails = self.mails_of(mo)
        self.assertIn(self.qa.partner_id, mails.recipient_ids)
        self.assertEqual(set(mails.mapped("state")), {"outgoing"})
        self.assertEqual(self.mail_queue_wakeups(), before, "woken at commit, not before")
        self.env.cr.precommit.run()  # what a commit runs
        self.assertEqual(self.mail_queue_wakeups(), before + 1, "once, for every mail")

    def test_notification_mails_are_sent_at_once_when_the_queue_job_is_off(self):
        """The twin: with the mail-queue job switched off nothing would ever send a queued
        mail, so the to-do's mail is sent as Odoo does by default, and nothing is woken."""
        self.env.ref("mail.ir_cron_mail_scheduler_action").active = False
        before = self.mail_queue_wakeups()
        mo = self._make_mo()
        self.sign(self.qe, mo)
        self.assertFalse(self.mails_of(mo).filtered(lambda mail: mail.state == "outgoing"))
        self.env.cr.precommit.run()
        self.assertEqual(self.mail_queue_wakeups(), before)

    def test_signer_activity_closed_whatever_the_language(self):
        """The to-do scheduled in one language is closed by a signer working in another."""
        self.env["res.lang"]._activate_lang("zh_CN")
        self.qa.lang = "zh_CN"
        mo = self._make_mo()
        self.sign(self.qe, mo)  # an English-speaking reviewer opens the approval step
        todo = mo.activity_ids.filtered(lambda act: act.user_id == self.qa)
        self.assertEqual(len(todo), 1)
        self.assertIn("电子签名", todo.summary)  # the approver's to-do is in their language
        # The approver signs with the whole flow in Chinese.
        env_zh = self.env(context=dict(self.env.context, lang="zh_CN"))
        wizards = env_zh["esign.sign.wizard"].with_user(self.qa)
        wizard = wizards.browse(wizards._action_open(mo.with_env(wizards.env))["res_id"])
        wizard.write({"login": self.qa.login, "reason": "批准"})
        wizard.action_sign(password=PASSWORD)
        self.assertEqual(mo.esign_request_ids.state, "completed")
        self.assertFalse(todo.exists(), "the signer's to-do is done once they signed")
        self.assertFalse(mo.activity_ids)

    def _activity_bus_messages(self, partner):
        """The activity notifications of ``partner`` in this transaction: stored already
        (the signing to-dos', ``esign_bus_notify``) or waiting for the commit (Odoo's)."""
        channel = json_dump(channel_with_db(self.env.cr.dbname, partner))
        stored = self.env["bus.bus"].sudo().search([("channel", "=", channel)]).mapped("message")
        pending = [
            v["message"]
            for v in self.env.cr.precommit.data.get("bus.bus.values", [])
            if json.loads(v["channel"])[1:] == ["res.partner", partner.id]
        ]
        return [message for message in stored + pending if "mail.activity/updated" in message]

    def _listen(self):
        """A connection listening to what wakes the web clients (``imbus``, on the
        ``postgres`` database, as Odoo's bus listener does)."""
        _dbname, info = connection_info_for("postgres")
        listener = psycopg2.connect(**info)
        listener.autocommit = True
        self.addCleanup(listener.close)
        with listener.cursor() as cr:
            cr.execute("LISTEN imbus")
        return listener

    def _wake_ups(self, listener, until=None, wait=5.0):
        """The wake-ups received since last asked, as (notifying backend, channels). With
        ``until`` (a backend, a channel), wait up to ``wait`` seconds for that one: others
        may come first, such as Odoo's own for what the test's set-up changed."""
        woken = []
        deadline = time.monotonic() + wait
        while True:
            listener.poll()
            while listener.notifies:
                notify = listener.notifies.pop(0)
                woken.append((notify.pid, json.loads(notify.payload)))
            left = deadline - time.monotonic()
            if (
                until is None
                or left <= 0
                or any(pid == until[0] and until[1] in channels for pid, channels in woken)
            ):
                return woken
            select.select([listener], [], [], left)

    def test_settled_to_do_wakes_the_web_clients_through_a_kept_connection(self):
        """When the signature commits, the web clients' listener is woken for the signer's
        channel, through the one connection to ``postgres`` the process keeps: not a new
        connection per signature, as Odoo's bus opens. When that connection is lost
        (PostgreSQL restarted), the next wake-up opens another and is delivered."""
        listener = self._listen()
        channel = [self.env.cr.dbname, "res.partner", self.qa.partner_id.id]
        pids = []
        for cut in (False, True):
            mo = self._make_mo()
            self.sign(self.qe, mo)
            todo = mo.activity_ids.filtered(lambda act: act.user_id == self.qa)
            todo.date_deadline = fields.Date.today()
            # Something else notifies through Odoo's bus in this transaction: Odoo wakes the
            # listener for it first, over a connection of its own.
            self.env["bus.bus"]._sendone("broadcast", "meddev_esign/test", {})
            self.sign(self.qa, mo)
            early = [chs for _pid, chs in self._wake_ups(listener) if channel in chs]
            self.assertFalse(early, "nobody is woken before the commit")
            self.env.cr.postcommit.run()  # what a commit runs once committed
            pids.append(bus_notify.WAKER.backend_pid())
            # Odoo's bus wakes the listener too, for what the test changed through it: the
            # wake-up checked here is the one sent through the kept connection's backend.
            woken = self._wake_ups(listener, until=(pids[-1], channel))
            ours = [chs for pid, chs in woken if pid == pids[-1]]
            self.assertTrue(any(channel in chs for chs in ours), f"woken: {woken}")
            if not cut:
                self.env.cr.execute("SELECT pg_terminate_backend(%s)", [pids[-1]])
        self.assertTrue(all(pids))
        self.assertNotEqual(pids[0], pids[1], "a new connection once the first was cut")
        # The next one goes through the kept connection again.
        bus_notify.send(self.env, self.qa.partner_id, "mail.activity/updated", {})
        self.env.cr.postcommit.run()
        self.assertEqual(bus_notify.WAKER.backend_pid(), pids[1])

    def test_wake_up_that_cannot_reach_the_database_fails_nothing(self):
        """The twin: when PostgreSQL cannot be reached at all, the wake-up is logged as a
        warning and dropped (the notification stays stored: the web client gets it with its
        next wake-up); nothing is raised into the request whose signature has committed."""
        closed = socket.socket()
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        closed.close()  # a port nobody listens on

        class Unreachable(bus_notify._Waker):
            def _connection(self):
                return psycopg2.connect(host="127.0.0.1", port=port, connect_timeout=2)

        with self.assertLogs("odoo.addons.meddev_esign.models.esign_bus_notify", "WARNING"):
            self.assertFalse(Unreachable().notify(['[["db","res.partner",1]]']))

    def test_settled_to_do_updates_the_signers_activity_counter(self):
        """A signature removes the signer's due to-do the way Odoo's unlink would: the
        signer's web client is told (its activity counter drops) and the record's cached
        activities are current at once."""
        mo = self._make_mo()
        self.sign(self.qe, mo)
        todo = mo.activity_ids.filtered(lambda act: act.user_id == self.qa)
        self.assertEqual(len(todo), 1)
        # Due today on the server's calendar, as Odoo counts it (the signer's zone may
        # already be tomorrow).
        todo.date_deadline = fields.Date.today()
        before = len(self._activity_bus_messages(self.qa.partner_id))
        self.sign(self.qa, mo)
        self.assertFalse(todo.exists())
        self.assertFalse(mo.activity_ids, "no stale to-do in the record's cache")
        self.assertEqual(len(self._activity_bus_messages(self.qa.partner_id)), before + 1)

    def test_to_do_not_yet_due_is_removed_without_a_counter_update(self):
        """The twin: a to-do due later is not in the counter, so its removal sends nothing
        (as Odoo's unlink), and the removal touches no other to-do of the record."""
        mo = self._make_mo()
        self.sign(self.qe, mo)
        todo = mo.activity_ids.filtered(lambda act: act.user_id == self.qa)
        todo.date_deadline = fields.Date.add(fields.Date.today(), days=3)
        other = mo.activity_schedule(
            "mail.mail_activity_data_todo", summary="Unrelated", user_id=self.qa.id
        )
        before = len(self._activity_bus_messages(self.qa.partner_id))
        self.sign(self.qa, mo)
        self.assertFalse(todo.exists())
        self.assertTrue(other.exists(), "only the signing to-do is settled")
        self.assertEqual(mo.activity_ids, other)
        self.assertEqual(len(self._activity_bus_messages(self.qa.partner_id)), before)

    def test_english_signer_closes_a_chinese_to_do(self):
        """The twin: a to-do written in Chinese is closed by a signer working in English."""
        self.env["res.lang"]._activate_lang("zh_CN")
        mo = self._make_mo()
        self.sign(self.qe, mo)
        todo = mo.activity_ids.filtered(lambda act: act.user_id == self.qa)
        todo.summary = (
            self.env["esign.request"]
            .with_context(lang="zh_CN")
            .browse(mo.esign_request_ids.id)
            ._activity_summary()
        )
        self.assertIn("电子签名", todo.summary)
        self.sign(self.qa, mo)
        self.assertFalse(todo.exists())

    def test_printed_copy_shows_signatures(self):
        """R10: name, date-time and meaning appear on the printed MO; nothing before signing.

        Verifies: R10
        """
        mo = self._make_mo()
        reports = self.env["ir.actions.report"]
        html = reports._render_qweb_html("mrp.action_report_production_order", mo.ids)[0]
        self.assertNotIn(b"o_esign_report_signatures", html)
        self.sign(self.qe, mo)
        sig = self.signatures(mo)
        html = reports._render_qweb_html("mrp.action_report_production_order", mo.ids)[0]
        self.assertIn(b"o_esign_report_signatures", html)
        self.assertIn(sig.printed_name.encode(), html)
        self.assertIn(b"Reviewed", html)
        self.assertIn(sig._local_time_display().encode(), html)

    def test_out_of_order_refused(self):
        """Verifies: R13"""
        mo = self._make_mo()
        approval = self.mo_policy.step_ids.filtered(lambda s: s.name == "Approval")
        request = self.env["esign.request"]._for_record(mo, self.mo_policy, create=True)
        with self.assertRaises(UserError) as ctx:
            request.with_user(self.qa)._sign(mo, approval, reason="", auth_method="login_password")
        self.assertIn("earlier steps", str(ctx.exception))
        self.assertFalse(self.signatures(mo))

    def test_author_may_not_sign(self):
        """Verifies: R14"""
        self.mo_policy.step_ids[0].user_ids = [Command.link(self.supervisor.id)]
        mo = self._make_mo()
        review = self.mo_policy.step_ids[0]
        request = self.env["esign.request"]._for_record(mo, self.mo_policy, create=True)
        with self.assertRaises(UserError) as ctx:
            request.with_user(self.supervisor)._sign(
                mo, review, reason="", auth_method="login_password"
            )
        self.assertIn("Segregation of duties", str(ctx.exception))
        self.assertFalse(self.signatures(mo))

    def test_one_step_per_person(self):
        """Verifies: R14"""
        mo = self._make_mo()
        self.sign(self.qa, mo)  # QA signs the review ...
        with self.assertRaises(UserError) as ctx:  # ... and may not approve too
            self.sign(self.qa, mo)
        self.assertEqual(len(self.signatures(mo)), 1)
        self.assertIn("no signature to give", str(ctx.exception))

    def test_outsider_refused_over_rpc(self):
        """Verifies: R12"""
        mo = self._make_mo()
        request = self.env["esign.request"]._for_record(mo, self.mo_policy, create=True)
        with self.assertRaises(AccessError):
            request.with_user(self.outsider)._sign(
                mo, self.mo_policy.step_ids[0], reason="", auth_method="login_password"
            )
        self.assertFalse(self.signatures(mo))

    def test_k_of_n_race_gives_exactly_k(self):
        """Verifies: R13"""
        mo = self._make_mo()
        review = self.mo_policy.step_ids[0]
        request = self.env["esign.request"]._for_record(mo, self.mo_policy, create=True)
        # Both opened the wizard while the slot was free; the second submit finds it taken.
        request.with_user(self.qe)._sign(mo, review, reason="", auth_method="login_password")
        with self.assertRaises(UserError) as ctx:
            request.with_user(self.qa)._sign(mo, review, reason="", auth_method="login_password")
        self.assertIn("already has the signatures", str(ctx.exception))
        self.assertEqual(len(self.signatures(mo)), 1)

    def test_prerequisites(self):
        """Verifies: S9"""
        mo = self._make_mo()
        mo.qty_producing = 0
        with self.assertRaises(UserError):
            self.sign(self.qe, mo)
        self.assertFalse(self.signatures(mo))

    def test_policy_domain_text_is_checked_and_parsed_once(self):
        """Bad input: a domain text that does not parse, or names no field, is refused.

        Verifies: R21
        """
        for text in ("[('qty_producing', '>'", "[('no_such_field', '=', 1)]", "42"):
            with self.subTest(text=text), self.assertRaises(ValidationError):
                self.mo_policy.prerequisite_domain = text
        self.assertEqual(self.mo_policy.prerequisite_domain, "[('qty_producing', '>', 0)]")
        # The parsed domain is kept per text; a caller changing its copy changes no other's.
        domain = self.mo_policy._eval_domain(self.mo_policy.prerequisite_domain)
        domain.append(("id", "=", 0))
        self.assertEqual(
            self.mo_policy._eval_domain(self.mo_policy.prerequisite_domain),
            [("qty_producing", ">", 0)],
        )

    def test_change_after_signing_invalidates(self):
        """Verifies: R11"""
        mo = self._make_mo()
        self.sign(self.qe, mo)
        self.sign(self.qa, mo)
        mo.with_context(esign_change_reason="Recount after spill").qty_producing = 4
        sigs = self.signatures(mo)
        self.assertEqual(set(sigs.mapped("status")), {"changed"})
        self.assertEqual(mo.esign_version, 2)
        self.assertEqual(mo.esign_request_ids.state, "waiting")
        self.assertTrue(any("Recount after spill" in m.body for m in mo.message_ids))
        with self.assertRaises(UserError):
            mo.with_user(self.supervisor).button_mark_done()
        # Re-signing the new content completes it again; old signatures stay as evidence.
        self.sign(self.qe, mo)
        self.sign(self.qa, mo)
        self.assertEqual(len(self.signatures(mo)), 4)
        mo.with_user(self.supervisor).with_context(skip_backorder=True).button_mark_done()
        self.assertEqual(mo.state, "done")

    def test_policy_without_signers_never_passes(self):
        """Odoo PLM lets a change through when nobody is configured; we refuse.

        Verifies: R12, S9
        """
        (self.qe | self.qa).active = False
        mo = self._make_mo()
        with self.assertRaises(UserError) as ctx:
            mo.with_user(self.supervisor).button_mark_done()
        self.assertIn("misconfigured", str(ctx.exception))
        self.assertNotEqual(mo.state, "done")


@tagged("post_install", "-at_install")
class TestImmutability(EsignCase):
    """No one changes or deletes a signature: not the ORM, not raw SQL."""

    def setUp(self):
        super().setUp()
        self.sign(self.ra, self.lot)
        self.sig = self.signatures(self.lot)

    def test_orm_write_and_unlink_refused(self):
        """Verifies: R16"""
        with self.assertRaises(UserError):
            self.sig.sudo().write({"reason": "forged"})
        with self.assertRaises(UserError):
            self.sig.sudo().unlink()
        with self.assertRaises(AccessError):
            self.sig.with_user(self.esign_admin).check_access("write")
        self.assertEqual(self.sig.reason, "ok")

    def test_sql_update_delete_truncate_refused(self):
        """Verifies: R16"""
        for statement in (
            "UPDATE esign_signature SET reason = 'forged' WHERE id = %s",
            "DELETE FROM esign_signature WHERE id = %s",
        ):
            with (
                self.assertRaises(psycopg2.Error),
                mute_logger("odoo.sql_db"),
                self.cr.savepoint(),
            ):
                self.cr.execute(statement, [self.sig.id])
        with self.assertRaises(psycopg2.Error), mute_logger("odoo.sql_db"), self.cr.savepoint():
            self.cr.execute("TRUNCATE esign_signature CASCADE")
        self.cr.execute("SELECT reason FROM esign_signature WHERE id = %s", [self.sig.id])
        self.assertEqual(self.cr.fetchone()[0], "ok")

    def test_signed_record_cannot_be_deleted(self):
        """Verifies: R19"""
        with self.assertRaises(UserError):
            self.lot.sudo().unlink()
        self.assertTrue(self.lot.exists())

    def test_uninstall_refused_while_signatures_exist(self):
        """R19: neither the add-on nor a module it depends on can be uninstalled.

        Verifies: R19
        """
        for name in ("meddev_esign", "mrp"):
            module = self.env["ir.module.module"].search([("name", "=", name)])
            with self.assertRaises(UserError) as ctx:
                module.button_uninstall()
            self.assertIn("must be retained", str(ctx.exception))
            self.assertEqual(module.state, "installed")
        self.assertTrue(self.sig.exists())

    def test_auditor_reads_but_cannot_sign(self):
        """Verifies: R12"""
        sig = self.sig.with_user(self.auditor)
        self.assertEqual(sig.printed_name, self.ra.name)
        self.assertEqual(self.lot.with_user(self.auditor).esign_release_state, "released")
        with self.assertRaises(AccessError):
            self.lot.with_user(self.auditor).write({"ref": "x"})
        with self.assertRaises(UserError):
            self.sign(self.auditor, self._make_lot("AUD-1"))


@tagged("post_install", "-at_install")
class TestCachedSigningRules(EsignCase):
    """What every signature reads of its policy (the steps, their meanings, the members of a
    signing group) is cached in the registry. Any change of it reaches the next signature at
    once; a stale answer would let a former member sign, or refuse a new one.

    Verifies: R12
    """

    def setUp(self):
        super().setUp()
        # As over HTTP, the context's language is the signers' (the cache is per language).
        self.env = self.env(context=dict(self.env.context, lang="en_US"))
        self.policy = self.env.ref("meddev_esign.policy_lot_release")
        self.step = self.policy.step_ids
        self.group = self.env.ref("meddev_esign.group_esign_release_authority")

    def eligible(self, lot):
        """The release step's signers in the policy's spec, as a signature sees them."""
        self.env.invalidate_all()
        (step_spec,) = self.policy.sudo()._specs(lot)[lot.id].steps
        return step_spec.eligible_user_ids

    def test_a_new_member_of_the_group_may_sign_at_once(self):
        self.sign(self.ra, self.lot)  # the group's members are cached now
        newcomer = self.env["res.users"].create(
            {
                "name": "T New RA",
                "login": "t_new_ra",
                "password": PASSWORD,
                "groups_id": [
                    Command.set([self.group.id, self.env.ref("stock.group_stock_user").id])
                ],
            }
        )
        lot = self._make_lot("CACHE-NEW")
        self.assertIn(newcomer.id, self.eligible(lot))
        self.sign(newcomer, lot)
        self.assertEqual(self.signatures(lot).user_id, newcomer)
        self.assertEqual(lot.esign_release_state, "released")

    def test_a_member_who_leaves_the_group_is_refused_at_once(self):
        self.sign(self.ra, self.lot)
        lot = self._make_lot("CACHE-LEFT")
        self.assertIn(self.ra2.id, self.eligible(lot))
        self.ra2.write({"groups_id": [Command.unlink(self.group.id)]})
        self.assertNotIn(self.ra2.id, self.eligible(lot))
        with self.assertRaises(UserError):  # AccessError is one too
            self.sign(self.ra2, lot)
        self.assertFalse(self.signatures(lot))
        self.assertEqual(lot.esign_release_state, "quarantine")
        # Through the group's own form (its members), and back.
        self.group.write({"users": [Command.link(self.ra2.id)]})
        self.assertIn(self.ra2.id, self.eligible(lot))
        self.group.write({"users": [Command.unlink(self.ra2.id)]})
        self.assertNotIn(self.ra2.id, self.eligible(lot))
        # Archived users never sign either.
        self.group.write({"users": [Command.link(self.ra2.id)]})
        self.ra2.active = False
        self.assertNotIn(self.ra2.id, self.eligible(lot))

    def test_step_and_meaning_changes_reach_the_next_signature(self):
        self.sign(self.ra, self.lot)  # the steps and the meaning are cached now
        # A change that makes no new policy version (the due days) ...
        # The ORM cache of this transaction is emptied after each change, as a new HTTP
        # request starts with an empty one: only the registry cache could answer stale.
        self.step.write({"due_days": 2})
        self.env.invalidate_all()
        lot = self._make_lot("CACHE-DUE")
        self.env.invalidate_all()
        self.assertTrue(self.env["esign.request"]._for_record(lot, self.policy).line_ids.due_at)
        # ... one that does (the step's name) ...
        self.step.write({"name": "Final release"})
        self.env.invalidate_all()
        lot = self._make_lot("CACHE-STEP")
        self.sign(self.ra, lot)
        self.assertEqual(self.signatures(lot).step_name, "Final release")
        # ... and a new translation of the meaning (the translation dialog's call).
        self.step.meaning_id.update_field_translations("name", {"en_US": "Released for sale"})
        self.env.invalidate_all()
        self.assertEqual(
            self.policy.sudo()._esign_signing_steps().meaning_id.name, "Released for sale"
        )
        lot = self._make_lot("CACHE-MEANING")
        self.sign(self.ra, lot)
        self.assertEqual(self.signatures(lot).meaning_name, "Released for sale")
        # Tamper twin: the first lot's signature keeps what its signer saw.
        first = self.signatures(self.lot)
        self.assertEqual(first.meaning_name, "Released")
        self.assertNotEqual(first.step_name, "Final release")
