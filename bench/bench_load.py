#!/usr/bin/env python3
"""Load test over HTTP: real JSON-RPC sessions against Odoo in prefork mode (``--workers 4``).

Every simulated user logs in through ``/web/session/authenticate`` and then calls what the web
client calls (see README.md in this folder for the sequences). The default run mixes release
authorities releasing lots one by one, bulk releases, buyers whose purchase orders need a
signed approval, and an auditor verifying the chain and exporting the trail. Then the
invariants are checked; the last line is ``invariants: hold`` or ``invariants: BROKEN ...``
(exit status 1).

    python3 bench/bench_load.py            # the full mix (400 + 2 x 100 lots), about 10 min
    python3 bench/bench_load.py --quick    # a smaller mix, about 2 min (templates made)
    python3 bench/bench_load.py --no-oca   # without the OCA peer
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _server  # noqa: E402
from _server import Env, OdooServer, Rpc, Stats, log, percentile  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"

# Users, certificates and lots of the bench, made once in the cached template database (demo
# data + PKI on). Every password is its log-in, as in the demo.
SETUP_ESIGN = """
from odoo import Command
company = env.ref("base.main_company")
admin = env.ref("base.user_admin")
ref = lambda xmlid: env.ref(xmlid).id
Users = env["res.users"].with_context(no_reset_password=True)
def user(login, name, groups):
    found = Users.search([("login", "=", login)])
    return found or Users.create({{
        "name": name, "login": login, "password": login, "tz": "Asia/Shanghai",
        "email": login + "@example.com", "company_id": company.id,
        "company_ids": [Command.set([company.id])], "groups_id": [Command.set(groups)]}})
stock = [ref("base.group_user"), ref("stock.group_stock_user"), ref("mrp.group_mrp_user")]
signers = []
for i in range(1, {authorities} + 1):
    signers.append(user("bench.ra%02d" % i, "Bench Release Authority %02d" % i,
                        stock + [ref("meddev_esign.group_esign_release_authority")]))
for i in range(1, {buyers} + 1):
    user("bench.buyer%d" % i, "Bench Buyer %d" % i,
         [ref("base.group_user"), ref("purchase.group_purchase_user"),
          ref("stock.group_stock_user")])
    signers.append(user("bench.approver%d" % i, "Bench Purchase Manager %d" % i,
                        [ref("base.group_user"), ref("meddev_esign.group_esign_signer"),
                         ref("purchase.group_purchase_manager"), ref("stock.group_stock_user")]))
Cert = env["esign.certificate"].with_user(admin)
for signer in signers:
    if not Cert.sudo().search_count([("user_id", "=", signer.id), ("state", "=", "active")]):
        Cert._enrol(signer, "other", "Bench user: no identity document was checked.", company)
product = env.ref("meddev_esign.demo_product_infusion_pump")
Lot = env["stock.lot"].with_user(admin)
for prefix, count in {lots!r}:
    if not Lot.search_count([("name", "=like", "BENCH-%s-%%" % prefix)]):
        Lot.create([{{"name": "BENCH-%s-%05d" % (prefix, i), "product_id": product.id,
                      "company_id": company.id}} for i in range(count)])
hsm = user("bench.hsm", "Bench Release Authority (token)",
           stock + [ref("meddev_esign.group_esign_release_authority")])
if not Cert.sudo().search_count([("user_id", "=", hsm.id), ("state", "=", "active")]):
    # The set-up acts as the installer (applied directly, not held for a second administrator).
    company.with_user(admin).sudo().esign_keystore = "pkcs11"
    Cert._enrol(hsm, "other", "Bench user: no identity document was checked.", company)
    company.with_user(admin).sudo().esign_keystore = "software"
env.cr.commit()
print("MEDDEV-DONE")
"""

# The peer's purchase orders: one tier (group review, the password asked again by
# base_tier_validation_confirm_auth), validation already requested by a buyer.
SETUP_OCA = """
from odoo import Command
company = env.ref("base.main_company")
ref = lambda xmlid: env.ref(xmlid).id
Users = env["res.users"].with_context(no_reset_password=True)
reviewers = env["res.groups"].create({{"name": "Bench reviewers"}})
def user(login, name, groups):
    return Users.create({{"name": name, "login": login, "password": login, "tz": "Asia/Shanghai",
                          "email": login + "@example.com", "groups_id": [Command.set(groups)]}})
buyer_groups = [ref("base.group_user"), ref("purchase.group_purchase_user")]
for i in range(1, {authorities} + 1):
    user("bench.ra%02d" % i, "Bench Reviewer %02d" % i, buyer_groups + [reviewers.id])
buyers = [user("bench.buyer%d" % i, "Bench Buyer %d" % i, buyer_groups)
          for i in range(1, {buyers} + 1)]
for i in range(1, {buyers} + 1):
    user("bench.approver%d" % i, "Bench Purchase Manager %d" % i,
         [ref("base.group_user"), ref("purchase.group_purchase_manager"), reviewers.id])
env["tier.definition"].create({{
    "name": "Bench purchase approval", "model_id": ref("purchase.model_purchase_order"),
    "review_type": "group", "reviewer_group_id": reviewers.id, "definition_domain": "[]",
    "require_authentication": True, "notify_on_create": True, "notify_on_accepted": True}})
vendor = env["res.partner"].create({{"name": "Bench Sensors", "email": "sensors@example.com"}})
product = env["product.product"].create({{"name": "Bench pressure sensor", "purchase_ok": True,
                                          "standard_price": 2000.0}})
env["ir.config_parameter"].sudo().set_param("bench.vendor_id", vendor.id)
env["ir.config_parameter"].sudo().set_param("bench.product_id", product.id)
# Building the template is not measured: its notifications stay queued, then are dropped,
# rather than sent one by one to no mail server.
Order = env["purchase.order"].with_user(buyers[0]).with_context(mail_notify_force_send=False)
for prefix, count in {lots!r}:
    orders = Order.create([{{"partner_id": vendor.id, "partner_ref": "BENCH-%s-%05d" % (prefix, i),
        "order_line": [Command.create({{"product_id": product.id, "product_qty": 6,
                                        "price_unit": 2000.0}})]}} for i in range(count)])
    for order in orders:
        order.request_validation()
env["mail.mail"].sudo().search([]).unlink()
env.cr.commit()
print("MEDDEV-DONE")
"""

AUTHORITIES = 10  # 8 signing one by one, 2 bulk
BUYERS = 4
TEMPLATE_LOTS = (("S", 400), ("B", 200), ("F", 120))

WIZARD_SPEC = {
    "needs_totp": {},
    "needs_login": {},
    "res_model": {},
    "res_ids": {},
    "meaning_id": {"fields": {"display_name": {}}},
    "meaning_description": {},
    "policy_id": {"fields": {"display_name": {}}},
    "step_id": {"fields": {"display_name": {}}},
    "record_count": {},
    "summary_html": {},
    "login": {},
    "delegator_ids": {},  # the delegation view's: whether to offer "on behalf of"
    "on_behalf_of_id": {"fields": {"display_name": {}}},
    "reason": {},
}
LOT_SPEC = {"name": {}, "esign_release_state": {}, "display_name": {}}
PO_SPEC = {
    "name": {},
    "state": {},
    "amount_total": {},
    "order_line": {
        "fields": {
            "product_id": {"fields": {"display_name": {}}},
            "product_qty": {},
            "price_unit": {},
        }
    },
}


def setup_esign_script() -> str:
    return SETUP_ESIGN.format(authorities=AUTHORITIES, buyers=BUYERS, lots=TEMPLATE_LOTS)


def setup_oca_script() -> str:
    return SETUP_OCA.format(authorities=AUTHORITIES, buyers=BUYERS, lots=TEMPLATE_LOTS)


# =========================================================================== the browser's calls
def sign_flow(rpc: Rpc, model: str, open_call, reason: str, prefix: str = "") -> list[int]:
    """Open the sign wizard (``open_call``), then ``action_sign``.

    What the web client does: the button's ``call_button`` returns the wizard's action, with
    what its form would read (``esign_preload``); the form takes it when it asks for the same
    fields and wizard, and reads the wizard with ``web_read`` otherwise. The wizard's Sign
    button calls ``action_sign`` with the password and what the user typed in the form (the
    log-in when the 11.200 rule asks for it, and the reason). The form of the signed record
    is read again afterwards.
    """
    action = open_call()
    wizard_id = action["res_id"]
    preload = (action.get("context") or {}).get("esign_preload") or {}
    if preload.get("id") == wizard_id and preload.get("spec") == WIZARD_SPEC:
        wizard = preload["record"]
    else:
        rpc.stats.count(f"{prefix}wizard read again")
        wizard = rpc.call_kw(
            f"{prefix}wizard web_read",
            "esign.sign.wizard",
            "web_read",
            [[wizard_id]],
            {"specification": WIZARD_SPEC},
        )[0]
    values = {"reason": reason}
    if wizard["needs_login"]:
        values["login"] = rpc.login
    done = rpc.call_kw(
        f"{prefix}action_sign",
        "esign.sign.wizard",
        "action_sign",
        [[wizard_id]],
        {"password": rpc.password, "values": values},
    )
    return done["infos"]["signature_ids"]


def release_one(rpc: Rpc, lot_id: int) -> list[int]:
    ids = sign_flow(
        rpc,
        "stock.lot",
        lambda: rpc.call_button("Sign button (lot)", "stock.lot", "action_esign_sign", [lot_id]),
        reason="Batch record reviewed; release.",
    )
    rpc.call_kw("lot web_read", "stock.lot", "web_read", [[lot_id]], {"specification": LOT_SPEC})
    return ids


def bulk_action_id(rpc: Rpc, action_id: int) -> int:
    """The list view's "Release (sign)" action (``action_id``, its database id), found in the
    lot list's toolbar as the web client finds it (its name there is translated)."""
    views = rpc.call_kw(
        "get_views",
        "stock.lot",
        "get_views",
        [],
        {"views": [[False, "list"]], "options": {"toolbar": True}},
    )
    toolbar = views["views"]["list"]["toolbar"]
    if any(action.get("id") == action_id for action in toolbar.get("action", [])):
        return action_id
    raise RuntimeError("the bulk release action is not in the lot list's toolbar")


def release_bulk(rpc: Rpc, action_id: int, lot_ids: list[int]) -> list[int]:
    context = {"active_model": "stock.lot", "active_ids": lot_ids, "active_id": lot_ids[0]}
    return sign_flow(
        rpc,
        "stock.lot",
        lambda: rpc.run_action("bulk: /web/action/run", action_id, context),
        reason="Shift-end bulk release.",
        prefix="bulk: ",
    )


def purchase_cycle(buyer: Rpc, approver: Rpc, vendor_id: int, product_id: int) -> tuple[int, list]:
    """A buyer makes and edits an order; a purchase manager signs its approval (the order is
    above the policy's amount, with a critical component); the buyer confirms it."""
    onchange = buyer.call_kw(
        "PO onchange (new)", "purchase.order", "onchange", [[], {}, [], PO_SPEC]
    )
    del onchange
    line = {"product_id": product_id, "product_qty": 30}
    order = buyer.call_kw(
        "PO web_save (create)",
        "purchase.order",
        "web_save",
        [[], {"partner_id": vendor_id, "order_line": [[0, "virtual_1", line]]}],
        {"specification": PO_SPEC},
    )[0]
    line_id = order["order_line"][0]["id"]
    buyer.call_kw(
        "PO web_save (edit)",
        "purchase.order",
        "web_save",
        [[order["id"]], {"order_line": [[1, line_id, {"product_qty": 40}]]}],
        {"specification": PO_SPEC},
    )
    signatures = sign_flow(
        approver,
        "purchase.order",
        lambda: approver.call_button(
            "Sign button (PO)", "purchase.order", "action_esign_sign", [order["id"]]
        ),
        reason="Price and supplier checked.",
        prefix="PO: ",
    )
    buyer.call_button("PO button_confirm", "purchase.order", "button_confirm", [order["id"]])
    return order["id"], signatures


def audit_round(auditor: Rpc, chain_id: int, since: str) -> str:
    """Verify the chain now (the button), read the verdict; export today's signatures."""
    action = auditor.call_button("audit: verify", "esign.audit.chain", "action_verify", [chain_id])
    verdict = auditor.call_kw(
        "audit: verdict web_read",
        "esign.audit.verification",
        "web_read",
        [[action["res_id"]]],
        {"specification": {"verdict": {}, "checked": {}}},
    )[0]
    spec = {"chain_id": {}, "file_format": {}, "domain": {}, "entry_count": {}}
    auditor.call_kw("audit: export onchange", "esign.audit.export", "onchange", [[], {}, [], spec])
    domain = repr([("operation", "=", "sign"), ("at", ">=", since)])
    wizard = auditor.call_kw(
        "audit: export web_save",
        "esign.audit.export",
        "web_save",
        [[], {"chain_id": chain_id, "file_format": "csv", "domain": domain}],
        {"specification": spec},
    )[0]
    auditor.call_button("audit: export", "esign.audit.export", "action_export", [wizard["id"]])
    return verdict["verdict"]


# =========================================================================== the OCA peer's calls
def oca_approve(rpc: Rpc, order_id: int) -> bool:
    """OCA tier validation with confirm_auth: Validate opens the password check, whose form is
    read, saved with the password, and confirmed (run_check runs validate_tier)."""
    action = rpc.call_button("OCA validate_tier", "purchase.order", "validate_tier", [order_id])
    if action.get("res_model") != "res.users.identitycheck":
        raise RuntimeError(f"validate_tier did not ask for the password: {action}")
    wid = action["res_id"]
    rpc.call_kw(
        "OCA identitycheck web_read",
        "res.users.identitycheck",
        "web_read",
        [[wid]],
        {"specification": {"auth_method": {}, "password": {}}},
    )
    rpc.call_kw(
        "OCA identitycheck web_save",
        "res.users.identitycheck",
        "web_save",
        [[wid], {"password": rpc.password}],
        {"specification": {"password": {}}},
    )
    rpc.call_button("OCA run_check", "res.users.identitycheck", "run_check", [wid])
    rpc.call_kw(
        "PO web_read",
        "purchase.order",
        "web_read",
        [[order_id]],
        {"specification": {"validation_status": {}, "name": {}}},
    )
    return True


def oca_purchase_cycle(buyer: Rpc, approver: Rpc, vendor_id: int, product_id: int) -> int:
    buyer.call_kw("PO onchange (new)", "purchase.order", "onchange", [[], {}, [], PO_SPEC])
    line = {"product_id": product_id, "product_qty": 30}
    order = buyer.call_kw(
        "PO web_save (create)",
        "purchase.order",
        "web_save",
        [[], {"partner_id": vendor_id, "order_line": [[0, "virtual_1", line]]}],
        {"specification": PO_SPEC},
    )[0]
    line_id = order["order_line"][0]["id"]
    buyer.call_kw(
        "PO web_save (edit)",
        "purchase.order",
        "web_save",
        [[order["id"]], {"order_line": [[1, line_id, {"product_qty": 40}]]}],
        {"specification": PO_SPEC},
    )
    buyer.call_button(
        "OCA request_validation", "purchase.order", "request_validation", [order["id"]]
    )
    oca_approve(approver, order["id"])
    buyer.call_button("PO button_confirm", "purchase.order", "button_confirm", [order["id"]])
    return order["id"]


# =========================================================================== the mix
@dataclass
class Shape:
    singles_per_user: int
    single_users: int
    bulk_size: int
    bulk_users: int
    orders_per_buyer: int
    buyers: int
    audit_every: float = 3.0

    @classmethod
    def make(cls, quick: bool) -> Shape:
        if quick:
            return cls(6, 8, 15, 2, 1, 4)
        return cls(50, 8, 100, 2, 8, 4)


class Run:
    """One load run against one server (or several: requests spread over them)."""

    def __init__(self, urls: list[str], db: str, stats: Stats | None = None) -> None:
        self.urls, self.db = urls, db
        self.stats = stats or Stats()
        self.signature_ids: set[int] = set()
        self.lots_signed: list[int] = []
        self.orders: list[int] = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.sign_seconds = 0.0
        self.sessions: dict[tuple[int, str], Rpc] = {}
        self.bulk_action = 0

    def _login(self, index: int, login: str) -> Rpc:
        rpc = Rpc(self.urls[index % len(self.urls)], self.db, login, stats=self.stats)
        rpc.authenticate()
        return rpc

    def prelogin(self, pairs: list[tuple[int, str]]) -> None:
        """Log every user in before the clock starts (at the start of the shift), four at a
        time: the log-in's password hash is timed on its own ("authenticate")."""
        with ThreadPoolExecutor(4) as pool:
            for pair, rpc in zip(pairs, pool.map(lambda p: self._login(*p), pairs), strict=True):
                self.sessions[pair] = rpc

    def session(self, index: int, login: str) -> Rpc:
        return self.sessions.pop((index, login), None) or self._login(index, login)

    def _guard(self, kind: str, fn, *args):
        try:
            return fn(*args)
        except Exception as exc:  # noqa: BLE001 - every failure is counted and shown
            self.stats.error(kind, exc)
            return None

    def single_worker(self, index: int, lots: Iterable[int], retry: bool = False) -> None:
        rpc = self.session(index, f"bench.ra{index + 1:02d}")
        for lot_id in lots:
            for attempt in range(3 if retry else 1):
                ids = self._guard("release one lot", release_one, rpc, lot_id)
                if ids is not None:
                    with self.lock:
                        self.signature_ids.update(ids)
                        self.lots_signed.append(lot_id)
                    self.stats.count("single signatures", len(ids))
                    break
                if retry:
                    time.sleep(0.5 * (attempt + 1))
                    with_new = self._guard("re-login", self.session, index, rpc.login)
                    rpc = with_new or rpc

    def bulk_worker(self, index: int, lots: list[int]) -> None:
        rpc = self.session(index, f"bench.ra{index + 1:02d}")
        action_id = self._guard("bulk release", bulk_action_id, rpc, self.bulk_action)
        if action_id is None:
            return
        started = time.perf_counter()
        ids = self._guard("bulk release", release_bulk, rpc, action_id, lots)
        if ids is not None:
            self.stats.record(
                f"bulk release of {len(lots)} (whole flow)", time.perf_counter() - started
            )
            with self.lock:
                self.signature_ids.update(ids)
                self.lots_signed.extend(lots)
            self.stats.count("bulk signatures", len(ids))

    def buyer_worker(
        self, index: int, count: int, vendor_id: int, product_id: int, oca: bool = False
    ) -> None:
        buyer = self.session(index, f"bench.buyer{index + 1}")
        approver = self.session(index + 1, f"bench.approver{index + 1}")
        for _ in range(count):
            cycle = oca_purchase_cycle if oca else purchase_cycle
            result = self._guard("purchase cycle", cycle, buyer, approver, vendor_id, product_id)
            if result is None:
                continue
            order_id, ids = (result, []) if oca else result
            with self.lock:
                self.orders.append(order_id)
                self.signature_ids.update(ids)
            self.stats.count("PO approvals", 1)

    def auditor_worker(self, chain_id: int, every: float, since: str) -> None:
        auditor = self.session(0, "auditor")
        while not self.stop.is_set():
            verdict = self._guard("audit round", audit_round, auditor, chain_id, since)
            if verdict not in (None, "intact"):
                self.stats.error("audit round", RuntimeError(f"chain verdict {verdict}"))
            self.stats.count("audit rounds", 1)
            self.stop.wait(every)

    def oca_single_worker(self, index: int, orders: Iterable[int]) -> None:
        rpc = self.session(index, f"bench.ra{index + 1:02d}")
        for order_id in orders:
            if self._guard("OCA approve one order", oca_approve, rpc, order_id) is not None:
                self.stats.count("single signatures", 1)
                with self.lock:
                    self.orders.append(order_id)

    def go(self, threads: list[threading.Thread], background: list[threading.Thread]) -> float:
        for thread in background:
            thread.start()
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        self.stop.set()
        for thread in background:
            thread.join()
        return elapsed


class Pile:
    """The lots (or orders) waiting at shift end: each user takes the next one when done with
    the last, so all finish together, as a team working down one list would. A fixed share
    each would leave the last users signing alone while the others are done, the cores idle
    and the rate measured low for a reason that is the bench's, not the server's."""

    def __init__(self, items: list[int]) -> None:
        self._items = deque(items)

    def __iter__(self) -> Iterator[int]:
        while True:
            try:
                yield self._items.popleft()  # atomic: several threads take from one pile
            except IndexError:
                return


def thread(target, *args) -> threading.Thread:
    return threading.Thread(target=target, args=args, daemon=True)


def lot_ids(env: Env, db: str, prefix: str, count: int, offset: int = 0) -> list[int]:
    rows = env.cluster.sql(
        "SELECT id FROM stock_lot WHERE name LIKE %s AND esign_release_state = 'quarantine'"
        " ORDER BY name OFFSET %s LIMIT %s",
        dbname=db,
        params=(f"BENCH-{prefix}-%", offset, count),
    )
    return [r[0] for r in rows]


def xmlid(env: Env, db: str, name: str) -> int:
    """The database id of the add-on's record ``name``."""
    return env.cluster.sql(
        "SELECT res_id FROM ir_model_data WHERE module = 'meddev_esign' AND name = %s",
        dbname=db,
        params=(name,),
    )[0][0]


def demo_ids(env: Env, db: str) -> tuple[int, int, int]:
    """(qualified sensor supplier, critical pressure sensor, the company's audit chain)."""
    chain = env.cluster.sql("SELECT id FROM esign_audit_chain ORDER BY id LIMIT 1", dbname=db)
    return (
        xmlid(env, db, "demo_supplier_sensors"),
        xmlid(env, db, "demo_product_pressure_sensor"),
        chain[0][0],
    )


def esign_load(
    urls: list[str],
    env: Env,
    db: str,
    shape: Shape,
    stats: Stats | None = None,
    offset: int = 0,
    retry: bool = False,
) -> Run:
    """The mix of the issue against ``urls`` (one or more servers on ``db``)."""
    run = Run(urls, db, stats)
    vendor, product, chain = demo_ids(env, db)
    run.bulk_action = xmlid(env, db, "stock_lot_server_action_bulk_release")
    singles = lot_ids(env, db, "S", shape.singles_per_user * shape.single_users, offset)
    bulk = lot_ids(env, db, "B", shape.bulk_size * shape.bulk_users, offset)
    since = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(time.time() - 5))
    threads = [
        thread(run.single_worker, i, singles[i :: shape.single_users], retry)
        for i in range(shape.single_users)
    ]
    threads += [
        thread(
            run.bulk_worker,
            shape.single_users + i,
            bulk[i * shape.bulk_size : (i + 1) * shape.bulk_size],
        )
        for i in range(shape.bulk_users)
    ]
    threads += [
        thread(run.buyer_worker, i, shape.orders_per_buyer, vendor, product)
        for i in range(shape.buyers)
    ]
    background = [thread(run.auditor_worker, chain, shape.audit_every, since)]
    run.prelogin(
        [(i, f"bench.ra{i + 1:02d}") for i in range(shape.single_users + shape.bulk_users)]
        + [(i, f"bench.buyer{i + 1}") for i in range(shape.buyers)]
        + [(i + 1, f"bench.approver{i + 1}") for i in range(shape.buyers)]
        + [(0, "auditor")]
    )
    run.sign_seconds = run.go(threads, background)
    run.expected_lots = singles + bulk
    return run


def oca_load(url: str, env: Env, db: str, shape: Shape) -> Run:
    """The same shape on the OCA peer: orders approved one by one with the password asked
    again; the "bulk" users approve their orders one by one too (OCA has no bulk approval)."""
    run = Run([url], db)
    vendor = int(
        env.cluster.sql(
            "SELECT value FROM ir_config_parameter WHERE key = 'bench.vendor_id'", dbname=db
        )[0][0]
    )
    product = int(
        env.cluster.sql(
            "SELECT value FROM ir_config_parameter WHERE key = 'bench.product_id'", dbname=db
        )[0][0]
    )

    def orders(prefix: str, count: int) -> list[int]:
        rows = env.cluster.sql(
            "SELECT id FROM purchase_order WHERE partner_ref LIKE %s"
            " ORDER BY partner_ref LIMIT %s",
            dbname=db,
            params=(f"BENCH-{prefix}-%", count),
        )
        return [r[0] for r in rows]

    singles = orders("S", shape.singles_per_user * shape.single_users)
    bulk = orders("B", shape.bulk_size * shape.bulk_users)
    threads = [
        thread(run.oca_single_worker, i, singles[i :: shape.single_users])
        for i in range(shape.single_users)
    ]
    threads += [
        thread(
            run.oca_single_worker,
            shape.single_users + i,
            bulk[i * shape.bulk_size : (i + 1) * shape.bulk_size],
        )
        for i in range(shape.bulk_users)
    ]
    threads += [
        thread(run.buyer_worker, i, shape.orders_per_buyer, vendor, product, True)
        for i in range(shape.buyers)
    ]
    run.prelogin(
        [(i, f"bench.ra{i + 1:02d}") for i in range(shape.single_users + shape.bulk_users)]
        + [(i, f"bench.buyer{i + 1}") for i in range(shape.buyers)]
        + [(i + 1, f"bench.approver{i + 1}") for i in range(shape.buyers)]
    )
    run.sign_seconds = run.go(threads, [])
    return run


def floor_load(urls: list[str], env: Env, db: str, users: int, per_user: int, oca: bool) -> Run:
    """One-by-one signing only (no bulk, buyers or auditor), 8 users at once: the load that
    the password hash bounds, measured against that floor. Lots (or, for the peer, orders)
    of the "F" set, taken from one pile."""
    run = Run(urls, db)
    if oca:
        rows = env.cluster.sql(
            "SELECT id FROM purchase_order WHERE partner_ref LIKE 'BENCH-F-%%'"
            " ORDER BY partner_ref LIMIT %s",
            dbname=db,
            params=(users * per_user,),
        )
        items = [r[0] for r in rows]
    else:
        items = lot_ids(env, db, "F", users * per_user)
    worker = run.oca_single_worker if oca else run.single_worker
    pile = Pile(items)
    threads = [thread(worker, i, pile) for i in range(users)]
    run.prelogin([(i, f"bench.ra{i + 1:02d}") for i in range(users)])
    run.sign_seconds = run.go(threads, [])
    run.expected_lots = [] if oca else items
    return run


# =========================================================================== invariants
def check_invariants(env: Env, db: str, expect_lots=(), committed_ids=(), url=None) -> list[str]:
    """The checks every run and fault ends with; print them; return what is broken."""
    sql = lambda q, *p: env.cluster.sql(q, dbname=db, params=p)  # noqa: E731
    broken = []

    def check(ok: bool, label: str, detail: str = "") -> None:
        print(f"  {'ok ' if ok else 'BROKEN'}  {label}{(': ' + detail) if detail else ''}")
        if not ok:
            broken.append(label)

    print("checks:")
    if expect_lots:
        rows = sql(
            "SELECT l.id, l.esign_release_state, count(s.id) FROM stock_lot l"
            " LEFT JOIN esign_signature s ON s.res_model = 'stock.lot' AND s.res_id = l.id"
            " WHERE l.id = ANY(%s) GROUP BY l.id, l.esign_release_state",
            list(expect_lots),
        )
        wrong = [r for r in rows if r[2] != 1 or r[1] != "released"]
        check(
            not wrong and len(rows) == len(set(expect_lots)),
            f"every lot of the run ({len(set(expect_lots))}) released with exactly one signature",
            f"{len(wrong)} wrong, e.g. {wrong[:3]}" if wrong else "",
        )
    twice = sql(
        "SELECT res_model, res_id, request_id, count(*) FROM esign_signature"
        " GROUP BY res_model, res_id, request_id, step_id HAVING count(*) > 1"
    )
    check(not twice, "no step signed twice on one request", str(twice[:3]) if twice else "")
    n_sig = sql("SELECT count(*) FROM esign_signature")[0][0]
    n_audit = sql("SELECT count(*) FROM esign_audit_entry WHERE operation = 'sign'")[0][0]
    check(n_sig == n_audit, "signature count = audit 'sign' entries", f"{n_sig} / {n_audit}")
    unmatched = sql(
        "SELECT s.id FROM esign_signature s WHERE NOT EXISTS (SELECT 1 FROM esign_audit_entry e"
        " WHERE e.operation = 'sign' AND e.res_model = s.res_model AND e.res_id = s.res_id)"
        " LIMIT 5"
    )
    check(not unmatched, "every signature has its audit entry on its record", str(unmatched))
    chains = sql(
        "SELECT chain_id, count(*), count(DISTINCT seq), min(seq), max(seq)"
        " FROM esign_audit_entry GROUP BY chain_id"
    )
    gaps = [c for c in chains if not (c[1] == c[2] == c[4] and c[3] == 1)]
    check(not gaps, "audit chain numbered 1..n with no gap and no duplicate", str(gaps))
    forks = sql(
        "SELECT e.chain_id, e.seq FROM esign_audit_entry e JOIN esign_audit_entry p"
        " ON p.chain_id = e.chain_id AND p.seq = e.seq - 1"
        " WHERE e.previous_hash IS DISTINCT FROM p.entry_hash LIMIT 5"
    )
    check(not forks, "every entry links to its predecessor (no fork)", str(forks))
    if url:
        auditor = Rpc(url, db, "auditor")
        auditor.authenticate()
        verdicts = []
        for chain_id, *_rest in chains:
            action = auditor.call_button(
                "verify", "esign.audit.chain", "action_verify", [chain_id]
            )
            verdicts += auditor.call_kw(
                "v",
                "esign.audit.verification",
                "web_read",
                [[action["res_id"]]],
                {"specification": {"verdict": {}, "checked": {}}},
            )
        check(
            all(v["verdict"] == "intact" for v in verdicts),
            "the add-on's chain verification says intact",
            ", ".join(f"{v['verdict']} ({v['checked']} entries)" for v in verdicts),
        )
    half = sql(
        "SELECT r.id, r.state, count(s.id) FROM esign_request r"
        " LEFT JOIN esign_signature s ON s.request_id = r.id"
        " JOIN stock_lot l ON l.id = r.res_id AND l.name LIKE 'BENCH-%%'"
        " WHERE r.res_model = 'stock.lot' GROUP BY r.id, r.state"
        " HAVING (r.state = 'completed') <> (count(s.id) > 0)"
    )
    check(not half, "no lot request half-done (signed <=> completed)", str(half[:3]))
    lots_half = sql(
        "SELECT l.id FROM stock_lot l WHERE (l.esign_release_state = 'released') <> EXISTS"
        " (SELECT 1 FROM esign_signature s WHERE s.res_model = 'stock.lot' AND s.res_id = l.id)"
        " AND l.name LIKE 'BENCH-%%' LIMIT 5"
    )
    check(
        not lots_half,
        "no bench lot released without its signature or signed and not released",
        str(lots_half),
    )
    po_half = sql(
        "SELECT o.id FROM purchase_order o WHERE o.state = 'purchase' AND o.amount_total > 10000"
        " AND NOT EXISTS (SELECT 1 FROM esign_request r WHERE r.res_model = 'purchase.order'"
        " AND r.res_id = o.id AND r.state = 'completed') LIMIT 5"
    )
    check(
        not po_half,
        "no confirmed order above the policy amount without its approval",
        str(po_half),
    )
    if committed_ids:
        found = {
            r[0]
            for r in sql("SELECT id FROM esign_signature WHERE id = ANY(%s)", list(committed_ids))
        }
        lost = set(committed_ids) - found
        check(
            not lost,
            f"every signature the clients saw committed ({len(committed_ids)}) exists",
            str(sorted(lost)[:5]),
        )
    return broken


def finish(broken: list[str]) -> int:
    if broken:
        print(f"invariants: BROKEN {'; '.join(broken)}", flush=True)
        return 1
    print("invariants: hold", flush=True)
    return 0


# =========================================================================== figures
def hash_seconds(env: Env, db: str, login: str = "bench.ra01", rounds: int = 5) -> float:
    """Median time of one check of a stored Odoo password hash (PBKDF2), in this process."""
    from passlib.context import CryptContext  # noqa: PLC0415 - an Odoo dependency

    stored = env.cluster.sql(
        "SELECT password FROM res_users WHERE login = %s", dbname=db, params=(login,)
    )[0][0]
    ctx = CryptContext(["pbkdf2_sha512", "plaintext"], deprecated=["plaintext"])
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        assert ctx.verify(login, stored)
        times.append(time.perf_counter() - started)
    return sorted(times)[len(times) // 2]


def _hash_loop(stored: str, password: str, seconds: float) -> int:
    from passlib.context import CryptContext  # noqa: PLC0415 - an Odoo dependency

    ctx = CryptContext(["pbkdf2_sha512", "plaintext"], deprecated=["plaintext"])
    done, deadline = 0, time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        ctx.verify(password, stored)
        done += 1
    return done


def parallel_hash_rate(
    env: Env, db: str, processes: int, login: str = "bench.ra01", seconds: float = 6.0
) -> float:
    """Password checks per second that ``processes`` processes (as many as Odoo's workers)
    complete together now: the PBKDF2 floor as the cores are shared at this moment. On a
    machine where other jobs take CPU it is below cores / hash time."""
    from concurrent.futures import ProcessPoolExecutor  # noqa: PLC0415

    stored = env.cluster.sql(
        "SELECT password FROM res_users WHERE login = %s", dbname=db, params=(login,)
    )[0][0]
    with ProcessPoolExecutor(processes) as pool:
        started = time.perf_counter()
        counts = list(pool.map(_hash_loop, [stored] * processes, [login] * processes,
                               [seconds] * processes))  # fmt: skip
        elapsed = time.perf_counter() - started
    return sum(counts) / elapsed


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b else "n/a"


def latency_table(stats: Stats) -> list[str]:
    lines = [f"  {'call':42} {'n':>5} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}"]
    for kind in sorted(stats.latency):
        values = stats.latency[kind]
        lines.append(
            f"  {kind[:42]:42} {len(values):5d} {percentile(values, 50) * 1000:8.0f}"
            f" {percentile(values, 95) * 1000:8.0f} {percentile(values, 99) * 1000:8.0f}"
        )
    return lines


def summary(label: str, run: Run) -> dict:
    stats = run.stats
    signatures = stats.counters.get("single signatures", 0) + stats.counters.get(
        "bulk signatures", 0
    )
    po = stats.counters.get("PO approvals", 0)
    total = signatures + po
    checks = sum(
        len(v) for k, v in stats.latency.items() if k.endswith(("action_sign", "OCA run_check"))
    )
    print(
        f"\n== {label}: {run.sign_seconds:.1f} s, {total} signatures/approvals "
        f"({total / run.sign_seconds:.2f}/s), one by one "
        f"{stats.counters.get('single signatures', 0)}, bulk "
        f"{stats.counters.get('bulk signatures', 0)}, PO {po}; "
        f"errors {sum(stats.errors.values())}"
    )
    for line in latency_table(stats):
        print(line)
    read_again = {k: n for k, n in stats.counters.items() if k.endswith("wizard read again")}
    if read_again:  # the preload did not match the form: the wizard was read as before
        print(f"  wizards read again (no usable preload): {read_again}")
    for sample in stats.error_samples[:8]:
        print(f"  error: {sample}")
    return {
        "seconds": run.sign_seconds,
        "signatures": total,
        "rate": total / run.sign_seconds,
        "single_rate": stats.counters.get("single signatures", 0) / run.sign_seconds,
        "password_checks": checks,
        "password_check_rate": checks / run.sign_seconds,
        "errors": sum(stats.errors.values()),
        "latency_ms": {
            k: {
                "n": len(v),
                "p50": percentile(v, 50) * 1000,
                "p95": percentile(v, 95) * 1000,
                "p99": percentile(v, 99) * 1000,
            }
            for k, v in stats.latency.items()
        },
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smaller mix, about 2 minutes")
    parser.add_argument("--no-oca", action="store_true", help="skip the OCA peer")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--keep", action="store_true", help="keep the run's databases")
    args = parser.parse_args()
    shape = Shape.make(args.quick)
    # Long enough that the start and the end of the run, when fewer than all the users are
    # signing, weigh little in the rate: 96 signatures (the template holds 120 "F" lots).
    floor_per_user = 12 if args.quick else 15
    env = Env()
    broken: list[str] = []
    servers: list[OdooServer] = []
    results: dict = {"quick": args.quick, "workers": args.workers, "cores": os.cpu_count()}
    db = f"{_server.BENCH_DB_PREFIX}_load"
    oca_db = f"{_server.BENCH_DB_PREFIX}_load_oca"
    cores = os.cpu_count() or 1
    hashes = []
    try:
        template = env.esign_template(setup_esign_script())
        oca_template = addons = None
        if not args.no_oca:
            oca_template, addons = env.oca_template(setup_oca_script())
        env.clone(template, db)
        env.set_tsa(db, url=env.tsa.url)
        log(f"{env.defer_overdue_crons(db)} overdue scheduled jobs of the template deferred")
        hashes.append(hash_seconds(env, db))
        server = OdooServer(env, db, workers=args.workers)
        servers.append(server)
        gevent = server.gevent_up()
        log(f"gevent (long-polling) worker listening on {server.gevent_port}: {gevent}")
        results["gevent_worker"] = gevent
        log(f"load: {shape}")
        run = esign_load([server.url], env, db, shape)
        results["meddev_esign"] = ours = summary("meddev_esign, the mix", run)
        log(f"one by one only: {AUTHORITIES - 2} users x {floor_per_user} lots")
        flat = floor_load([server.url], env, db, AUTHORITIES - 2, floor_per_user, oca=False)
        results["meddev_esign_one_by_one"] = ours_flat = summary("meddev_esign, one by one", flat)
        hashes.append(hash_seconds(env, db))
        shared = [parallel_hash_rate(env, db, args.workers)]
        broken += check_invariants(
            env,
            db,
            run.expected_lots + flat.expected_lots,
            run.signature_ids | flat.signature_ids,
            server.url,
        )
        errors = server.log_lines("ERROR")
        results["server_error_lines"] = len(errors)
        print(f"  server log: {len(errors)} ERROR line(s)")
        for line in sorted({e.split(" ERROR ", 1)[1][:150] for e in errors})[:5]:
            print(f"    {line}")
        server.stop()
        servers.remove(server)
        failed = ours["errors"] + ours_flat["errors"]
        if failed:
            broken.append(f"{failed} request(s) failed")
        if oca_template:
            env.clone(oca_template, oca_db)
            env.defer_overdue_crons(oca_db)
            oca_server = OdooServer(env, oca_db, workers=args.workers, addons=addons)
            servers.append(oca_server)
            oca_run = oca_load(oca_server.url, env, oca_db, shape)
            results["oca"] = peer = summary("OCA confirm_auth, the mix", oca_run)
            oca_flat = floor_load(
                [oca_server.url], env, oca_db, AUTHORITIES - 2, floor_per_user, oca=True
            )
            results["oca_one_by_one"] = peer_flat = summary(
                "OCA confirm_auth, one by one", oca_flat
            )
            hashes.append(hash_seconds(env, db))
            shared.append(parallel_hash_rate(env, db, args.workers))
        hash_s = sorted(hashes)[len(hashes) // 2]
        floor = cores / hash_s
        results.update(hash_s=hash_s, hashes=hashes, floor=floor)
        print(
            f"\nPBKDF2 password check: {hash_s * 1000:.0f} ms (median of "
            f"{', '.join(f'{h * 1000:.0f}' for h in hashes)} ms, measured between the phases); "
            f"floor = {cores} cores / hash time = {floor:.2f} signatures/s"
        )
        shared_floor = sorted(shared)[len(shared) // 2]
        results.update(shared_floor=shared_floor, shared_floors=shared)
        print(
            f"  shared floor: {args.workers} processes checking passwords together completed "
            f"{shared_floor:.2f}/s (median of {', '.join(f'{r:.2f}' for r in shared)}): the "
            "hash rate the cores gave this run's processes, other users' jobs included"
        )
        of_floor = ours_flat["single_rate"] / floor
        print(
            f"  meddev_esign one by one: {ours_flat['single_rate']:.2f}/s = "
            f"{of_floor:.3f} of the floor (target >= 0.8: "
            f"{'met' if of_floor >= 0.8 else 'NOT met'}), "
            f"{ours_flat['single_rate'] / shared_floor:.3f} of the shared floor; "
            f"the mix: {ours['rate']:.2f} signatures/s"
        )
        if oca_template:
            print(
                f"  OCA peer one by one: {peer_flat['single_rate']:.2f}/s = "
                f"{peer_flat['single_rate'] / floor:.2f} of the floor, "
                f"{peer_flat['single_rate'] / shared_floor:.2f} of the shared floor; the mix: "
                f"{peer['rate']:.2f} approvals/s"
            )
            print(
                f"  ratio meddev_esign / OCA: one by one "
                f"{ratio(ours_flat['single_rate'], peer_flat['single_rate'])}; the mix "
                f"{ratio(ours['rate'], peer['rate'])} (ours has bulk release, OCA approves one by "
                "one)"
            )
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / f"load{'-quick' if args.quick else ''}.json").write_text(
            json.dumps(results, indent=2, default=str)
        )
    finally:
        for server in servers:
            server.stop()
        if not args.keep:
            for name in (db, oca_db):
                env.cluster.drop_db(name)
        env.close()
    return finish(broken)


if __name__ == "__main__":
    sys.exit(main())
