import datetime
import json

from freezegun import freeze_time

from odoo import Command, fields
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import tagged

from ..services import signature_chain as sigchain
from .common import EsignCase


@tagged("post_install", "-at_install")
class TestDelegation(EsignCase):
    """A signer on leave hands their authority to a colleague; the colleague's signatures
    show "on behalf of" everywhere, and no rule of the matrix is loosened by it.

    In the MO policy of ``EsignCase``, QA (``qa``) alone may approve; ``qa2`` holds the same
    signer groups but is named on no step.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.today = fields.Date.context_today(cls.env["esign.delegation"].with_user(cls.qa))

    def delegate(self, delegator, delegate, days=(0, 7), sign=True, by=None, **extra):
        by = by or delegator
        delegation = (
            self.env["esign.delegation"]
            .with_user(by)
            .create(
                {
                    "delegator_id": delegator.id,
                    "delegate_id": delegate.id,
                    "grantor_id": by.id,
                    "date_from": self.today + datetime.timedelta(days=days[0]),
                    "date_to": self.today + datetime.timedelta(days=days[1]),
                    "note": "Annual leave",
                    **extra,
                }
            )
        )
        if sign:
            self.sign(by, delegation, reason="Going on leave")
        return delegation.with_env(self.env)

    def reviewed_mo(self):
        mo = self._make_mo()
        self.sign(self.qe, mo)  # the Review step
        return mo

    def test_delegation_is_signed_then_in_force(self):
        """Verifies: R12, R8, R15
        The delegation is a draft until its grantor signs it (meaning Delegated): until then
        the delegate may not sign; after, they may."""
        delegation = self.delegate(self.qa, self.qa2, sign=False)
        self.assertEqual(delegation.state, "draft")
        mo = self.reviewed_mo()
        self.refused(self.sign, self.qa2, mo)  # not yet signed: no authority
        self.refused(self.sign, self.qa2, delegation)  # only the grantor signs it
        self.sign(self.qa, delegation)
        self.assertEqual(delegation.state, "active")
        self.assertTrue(delegation.in_force)
        sig = self.signatures(delegation)
        self.assertEqual(sig.meaning_code, "delegated")
        self.assertEqual(sig.user_id, self.qa)
        self.sign(self.qa2, mo)
        self.assertEqual(self.signatures(mo)[-1].on_behalf_of_id, self.qa)
        entries = self.env["esign.audit.entry"].search(
            [("res_model", "=", delegation._name), ("res_id", "=", delegation.id)]
        )
        self.assertIn("sign", entries.mapped("operation"))

    def test_admin_delegates_for_a_signer_and_signer_cannot_for_others(self):
        """Verifies: R12, R14
        An E-Signature Administrator records and signs a delegation for a signer; a signer
        cannot make one in someone else's name."""
        delegation = self.delegate(self.qa, self.qa2, by=self.esign_admin)
        self.assertEqual(delegation.state, "active")
        self.assertEqual(self.signatures(delegation).user_id, self.esign_admin)
        with self.assertRaises(AccessError):
            self.env["esign.delegation"].with_user(self.qe).create(
                {
                    "delegator_id": self.qa.id,
                    "delegate_id": self.qe.id,
                    "grantor_id": self.qe.id,
                    "date_from": self.today + datetime.timedelta(days=30),
                    "date_to": self.today + datetime.timedelta(days=31),
                }
            )

    def test_delegate_signature_shows_on_behalf_everywhere(self):
        """Verifies: R9, R10, R11
        The delegate's signature records the delegator, counts as theirs, and shows "on
        behalf of" on the panel, the printed report, the manifestation and the chain."""
        self.delegate(self.qa, self.qa2)
        mo = self.reviewed_mo()
        self.sign(self.qa2, mo, reason="Approved during QA leave")
        sig = self.signatures(mo)[-1]
        self.assertEqual(sig.user_id, self.qa2)
        self.assertEqual(sig.printed_name, self.qa2.name)
        self.assertEqual(sig.on_behalf_of_id, self.qa)
        self.assertEqual(sig.on_behalf_of_name, self.qa.name)
        request = sig.request_id
        self.assertEqual(request.state, "completed")
        self.assertIn(f"on behalf of {self.qa.name}", sig.manifestation)
        self.assertTrue(
            any(
                f"by {self.qa2.name} on behalf of {self.qa.name}" in message.body
                for message in mo.message_ids
            ),
            "the chatter names the delegator too",
        )
        panel = str(mo.with_user(self.qa2).esign_panel_html)
        self.assertIn("on behalf of", panel)
        self.assertIn(self.qa.name, panel)
        html = (
            self.env["ir.actions.report"]
            ._render_qweb_html("mrp.action_report_production_order", mo.ids)[0]
            .decode()
        )
        self.assertIn("on behalf of", html)
        self.assertIn(self.qa.name, html)
        # The evidence: the chain covers the delegator and still verifies.
        links = self.env["esign.signature"]._chain_links(mo._name, mo.id)
        self.assertEqual(links[-1][2]["on_behalf_of"]["user_id"], self.qa.id)
        self.assertNotIn("on_behalf_of", links[0][2])  # qe signed in her own name
        self.assertTrue(self.env["esign.signature"]._verify_chain(mo._name, mo.id).ok)
        document = json.loads(json.dumps(sigchain.export_document(mo._name, mo.id, links)))
        self.assertTrue(sigchain.verify_export(document).ok)
        # Tamper twin: naming another delegator in the exported chain breaks it.
        document["entries"][-1]["payload"]["on_behalf_of"]["user_id"] = self.qe.id
        self.assertFalse(sigchain.verify_export(document).ok)
        # Removing the delegator (passing the delegate's act as their own) breaks it too.
        del document["entries"][-1]["payload"]["on_behalf_of"]
        self.assertFalse(sigchain.verify_export(document).ok)

    def test_waiting_for_me_includes_what_a_delegation_covers(self):
        """Verifies: R9
        "Waiting for Me" shows the delegate the requests waiting for the delegator while the
        delegation is in force; the twin: not before it is signed, nor after it is revoked."""
        mo = self.reviewed_mo()
        request = self.env["esign.request"].search(
            [("res_model", "=", mo._name), ("res_id", "=", mo.id), ("state", "!=", "completed")]
        )
        self.assertIn(self.qa, request.next_signer_ids)

        def waiting(user):
            self.env.invalidate_all()  # a new request of the web client: a fresh cache
            requests = self.env["esign.request"].with_user(user)
            found = requests.search([("waiting_for_me", "=", True), ("id", "=", request.id)])
            self.assertEqual(bool(found), request.with_user(user).waiting_for_me)
            return bool(found)

        self.assertTrue(waiting(self.qa))
        self.assertFalse(waiting(self.qa2))
        delegation = self.delegate(self.qa, self.qa2, sign=False)
        self.assertFalse(waiting(self.qa2), "a draft delegation is not in force")
        self.sign(self.qa, delegation, reason="Going on leave")
        self.assertTrue(waiting(self.qa2))
        self.assertTrue(waiting(self.qa), "the delegator still sees it")
        self.assertNotIn(
            request,
            self.env["esign.request"]
            .with_user(self.qa2)
            .search([("waiting_for_me", "=", False), ("id", "=", request.id)]),
        )
        delegation.with_user(self.qa).action_revoke("Back from leave")
        self.assertFalse(waiting(self.qa2))

    def test_without_delegation_the_colleague_is_refused(self):
        """Verifies: R12
        Twin of the delegate's signature: with no delegation the same colleague may not
        sign, and a signature in one's own name has no "on behalf of"."""
        mo = self.reviewed_mo()
        self.refused(self.sign, self.qa2, mo)
        self.sign(self.qa, mo)
        self.assertFalse(self.signatures(mo)[-1].on_behalf_of_id)
        self.assertNotIn("on behalf of", self.signatures(mo)[-1].manifestation)

    def test_on_behalf_of_cannot_be_written(self):
        """Verifies: R9, R15
        The recorded delegator cannot be changed afterwards, over RPC or as superuser."""
        self.delegate(self.qa, self.qa2)
        mo = self.reviewed_mo()
        self.sign(self.qa2, mo)
        sig = self.signatures(mo)[-1]
        with self.assertRaises(UserError):
            sig.with_user(self.qa2).write({"on_behalf_of_id": self.qe.id})
        with self.assertRaises(UserError):
            sig.sudo().write({"on_behalf_of_id": False})
        self.assertEqual(sig.on_behalf_of_id, self.qa)

    def test_wizard_refuses_a_delegator_without_delegation(self):
        """Verifies: R12
        Choosing "on behalf of" someone who delegated nothing is refused."""
        mo = self.reviewed_mo()
        wizard_model = self.env["esign.sign.wizard"].with_user(self.qa2)
        self.delegate(self.qa, self.qa2)
        action = wizard_model._action_open(mo.with_user(self.qa2))
        wizard = wizard_model.browse(action["res_id"])
        self.assertEqual(wizard.delegator_ids, self.qa)
        wizard.write({"login": self.qa2.login, "on_behalf_of_id": self.qe.id})
        self.refused(wizard.action_sign, password="Correct-Horse-42")
        self.assertFalse(self.signatures(mo).filtered("on_behalf_of_id"))

    def test_chains_and_overlaps_are_refused(self):
        """Verifies: R12, R14
        A -> B -> C, receiving while delegating away, self-delegation and two overlapping
        delegations of one delegator are refused; the same people on other days are not."""
        self.delegate(self.qa, self.qa2)
        cases = [
            (self.qa2, self.outsider, "may not pass that authority on"),  # B -> C
            (self.outsider, self.qa, "has delegated their own authority away"),  # X -> A
            (self.qa, self.outsider, "already delegates"),  # A twice
            (self.qe, self.qe, "themselves"),
        ]
        for delegator, delegate, message in cases:
            with self.assertRaises(ValidationError) as caught:
                self.delegate(delegator, delegate, days=(3, 10), sign=False)
            self.assertIn(message, str(caught.exception))
        # Twin: after A's delegation ends, B may delegate their own authority to C.
        later = self.delegate(self.qa2, self.outsider, days=(8, 12), sign=False)
        self.assertEqual(later.state, "draft")

    def test_delegate_may_not_sign_what_they_authored(self):
        """Verifies: R14
        Segregation of duties holds for the delegate: the MO's author cannot approve it on
        behalf of QA."""
        self.delegate(self.qa, self.supervisor)  # the supervisor makes the MOs
        mo = self.reviewed_mo()
        self.refused(self.sign, self.supervisor, mo)  # no Sign button, no wizard
        request = self.env["esign.request"]._for_record(mo, self.mo_policy)
        approval = self.mo_policy.step_ids.filtered(lambda s: s.sequence == 20)
        with self.assertRaises(UserError) as caught:  # nor a direct call
            request._check_signable(mo, approval, self.supervisor)
        self.assertIn("author", str(caught.exception))
        self.assertFalse(self.signatures(mo).filtered("on_behalf_of_id"))

    def test_one_step_per_person_counts_delegate_and_delegator(self):
        """Verifies: R14
        A delegate who signed one step (for QA) signs no other, and neither does QA."""
        self.delegate(self.qa, self.qa2)
        mo = self._make_mo()
        self.sign(self.qa2, mo)  # Review, on behalf of QA (qa2 is not a reviewer)
        review = self.signatures(mo)
        self.assertEqual(review.on_behalf_of_id, self.qa)
        self.refused(self.sign, self.qa, mo)  # QA "signed" Review through her delegate
        self.refused(self.sign, self.qa2, mo)  # the delegate signed Review
        self.assertEqual(len(self.signatures(mo)), 1)

    def test_delegate_never_signs_where_delegator_could_not(self):
        """Verifies: R12, R13
        QA may not approve before the review: neither may her delegate."""
        self.delegate(self.qa, self.qa2)
        mo = self._make_mo()
        self.assertFalse(
            [s for _p, s in mo.with_user(self.qa2)._esign_signable_for_user() if s.sequence == 20]
        )
        wizard = self.env["esign.sign.wizard"].with_user(self.qa2)
        step = self.mo_policy.step_ids.filtered(lambda s: s.sequence == 20)
        self.refused(wizard._action_open, mo.with_user(self.qa2), step=step)

    def test_expired_delegation_is_refused(self):
        """Verifies: R12
        After its last day the delegation ends by itself; the cron marks it Expired."""
        delegation = self.delegate(self.qa, self.qa2, days=(0, 2))
        mo = self.reviewed_mo()
        with freeze_time(fields.Date.to_string(self.today + datetime.timedelta(days=4))):
            self.env.invalidate_all()
            self.assertFalse(delegation.in_force)
            self.refused(self.sign, self.qa2, mo)
            self.env["esign.delegation"]._cron_expire()
            self.assertEqual(delegation.state, "expired")
        self.assertFalse(self.signatures(mo).filtered("on_behalf_of_id"))

    def test_revoked_delegation_is_refused(self):
        """Verifies: R7, R15
        Revoking needs a reason, is audited, and ends the authority at once."""
        delegation = self.delegate(self.qa, self.qa2)
        with self.assertRaises(UserError):
            delegation.with_user(self.qa).action_revoke("  ")
        with self.assertRaises(AccessError):
            delegation.with_user(self.outsider).action_revoke("Not mine")
        wizard = (
            self.env["esign.delegation.revoke"]
            .with_user(self.qa)
            .create({"delegation_id": delegation.id, "reason": "Back from leave early"})
        )
        wizard.action_revoke()
        self.assertEqual(delegation.state, "revoked")
        self.assertEqual(delegation.revoked_by_id, self.qa)
        entries = self.env["esign.audit.entry"].search(
            [
                ("res_model", "=", delegation._name),
                ("res_id", "=", delegation.id),
                ("reason", "=", "Back from leave early"),
            ]
        )
        self.assertTrue(entries)
        mo = self.reviewed_mo()
        self.refused(self.sign, self.qa2, mo)
        with self.assertRaises(UserError):
            delegation.with_user(self.qa).write({"date_to": self.today})

    def test_wrong_groups_refused(self):
        """Verifies: R12
        The delegate must hold the delegator's signer groups, when the delegation is made
        and again when they sign."""
        with self.assertRaises(ValidationError):
            self.delegate(self.ra, self.qe, sign=False)  # qe is no release authority
        ok = self.delegate(self.ra, self.ra2, sign=False)  # twin: same groups
        self.assertEqual(ok.state, "draft")
        self.delegate(self.qa, self.qa2)
        self.qa2.groups_id = [Command.unlink(self.env.ref("meddev_esign.group_esign_signer").id)]
        mo = self.reviewed_mo()
        self.refused(self.sign, self.qa2, mo)
        request = self.env["esign.request"]._for_record(mo, self.mo_policy)
        approval = self.mo_policy.step_ids.filtered(lambda s: s.sequence == 20)
        with self.assertRaises(UserError) as caught:
            request._check_signable(mo, approval, self.qa2)
        self.assertIn("signer group", str(caught.exception))
        self.assertFalse(self.signatures(mo).filtered("on_behalf_of_id"))

    def test_foreign_company_refused(self):
        """Verifies: R12
        A delegation is made for a company both people work for, and covers only its
        records."""
        other = self.env["res.company"].create({"name": "Other Devices Ltd"})
        self.esign_admin.company_ids = [Command.link(other.id)]
        with self.assertRaises(ValidationError):
            self.delegate(self.qa, self.qa2, sign=False, by=self.esign_admin, company_id=other.id)
        self.qa.company_ids = [Command.link(other.id)]
        self.qa2.company_ids = [Command.link(other.id)]
        self.delegate(self.qa, self.qa2, by=self.esign_admin, company_id=other.id)
        mo = self.reviewed_mo()  # in the main company: not covered
        self.refused(self.sign, self.qa2, mo)

    def test_signers_see_only_their_delegations(self):
        """Verifies: R12
        A signer reads the delegations they give or receive; others see none of them."""
        delegation = self.delegate(self.qa, self.qa2)
        Delegation = self.env["esign.delegation"]
        self.assertIn(delegation, Delegation.with_user(self.qa2).search([]))
        self.assertIn(delegation, Delegation.with_user(self.esign_admin).search([]))
        self.assertNotIn(delegation, Delegation.with_user(self.outsider).search([]))
        with self.assertRaises(AccessError):
            delegation.with_user(self.outsider).read(["delegate_id"])

    def test_demo_release_authority_on_leave(self):
        """Verifies: R10, R20
        The demo: the release authority is on leave, her deputy released a lot on her
        behalf, and the lot's panel says so."""
        delegation = self.env.ref(
            "meddev_esign.demo_delegation_release_leave", raise_if_not_found=False
        )
        if not delegation:  # a database without demo data has nothing to show
            return
        self.assertEqual(delegation.state, "active")
        self.assertTrue(delegation.in_force)
        lot = self.env.ref("meddev_esign.demo_lot_pump_delegated")
        self.assertEqual(lot.esign_release_state, "released")
        sig = self.signatures(lot)
        self.assertEqual(sig.user_id, delegation.delegate_id)
        self.assertEqual(sig.on_behalf_of_id, delegation.delegator_id)
        self.assertIn("on behalf of", str(lot.esign_panel_html))
        deputy = self.env.ref("meddev_esign.demo_user_deputy_release_authority")
        self.assertEqual(deputy.company_ids, self.env.ref("base.main_company"))
