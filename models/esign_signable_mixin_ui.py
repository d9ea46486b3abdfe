from lxml import etree

from odoo import api, fields, models
from odoo.exceptions import UserError

from ..services import inputs
from ..services import policy as engine
from ..services.errors import PolicyConfigError
from .esign_messages import config_message


class EsignSignableUi(models.AbstractModel):
    """What a signable record shows: the Sign and Reject buttons, the signature panel, the
    reason-for-change block and the signatures smart button.

    The parts come from the QWeb template ``meddev_esign.esign_form_parts`` and are put into
    the host's form by ``_get_view`` (as OCA tier validation injects its buttons): no
    per-model view is needed, and the layout is XML that can be read and inherited.
    """

    _inherit = "esign.signable.mixin"

    esign_state = fields.Selection(
        [
            ("none", "No Signature Required"),
            ("waiting", "Waiting for Signatures"),
            ("in_progress", "Signing in Progress"),
            ("completed", "Signed"),
            ("rejected", "Rejected"),
        ],
        string="Signature State",
        compute="_compute_esign_state",
    )
    esign_can_sign = fields.Boolean(compute="_compute_esign_user_rights")
    esign_can_reject = fields.Boolean(compute="_compute_esign_user_rights")
    esign_panel_html = fields.Html(compute="_compute_esign_panel", sanitize=False)
    esign_signature_count = fields.Integer(compute="_compute_esign_signature_count")
    esign_reason_required = fields.Boolean(
        string="Reason for Change Required",
        compute="_compute_esign_reason_required",
        help="The record is signed (or released): a change to what was signed needs a reason.",
    )

    esign_signed_field_names = fields.Json(
        string="Signed Fields",
        compute="_compute_esign_signed_field_names",
        help="The form fields whose edit needs a reason for change once the record is signed: "
        "the form shows the Reason for Change box as soon as one of them is edited.",
    )

    # ------------------------------------------------------------------ computed UI state
    def _compute_esign_signed_field_names(self):
        names = set(self._esign_all_signed_fields())
        # A signed row (e.g. an order line) is edited in the form through its first field.
        names.update(spec.path.split(".")[0] for spec in self._esign_signed_lines.values())
        for rec in self:
            rec.esign_signed_field_names = sorted(names)

    def _compute_esign_reason_required(self):
        for rec in self:
            rec.esign_reason_required = bool(rec.id) and rec._esign_reason_needed()

    def _esign_relevant_requests(self):
        self.ensure_one()
        reqs = self.sudo().esign_request_ids
        active = reqs.filtered(lambda r: r.state in ("waiting", "in_progress", "completed"))
        return active or reqs[:1]

    @api.depends("esign_request_ids.state")
    def _compute_esign_state(self):
        for rec in self:
            reqs = rec._esign_relevant_requests() if rec.id else self.env["esign.request"]
            if not reqs:
                rec.esign_state = "waiting" if rec.id and rec._esign_policies() else "none"
            elif any(r.state == "waiting" for r in reqs):
                rec.esign_state = "waiting"
            elif any(r.state == "in_progress" for r in reqs):
                rec.esign_state = "in_progress"
            else:
                rec.esign_state = reqs[0].state if reqs[0].state != "cancelled" else "none"

    def _esign_signable_for_user(self, user=None):
        """[(policy, step)] the user may sign right now (drives the Sign button)."""
        self.ensure_one()
        user = user or self.env.user
        out = []
        if not self.id:
            return out
        for policy in self._esign_policies():
            request = self.env["esign.request"]._for_record(self, policy)
            spec = policy._spec(self)
            facts = request._facts(self) if request else []
            try:
                steps = engine.signable_steps(spec, facts, user.id, self._esign_author_ids())
            except PolicyConfigError:  # nobody can sign it: the panel says why
                steps = ()
            if steps and policy._prerequisites_met(self):
                out += [(policy, self.env["esign.policy.step"].browse(s)) for s in steps]
        return out

    @api.depends_context("uid")
    def _compute_esign_user_rights(self):
        for rec in self:
            rec.esign_can_sign = bool(rec._esign_signable_for_user())
            can_reject = False
            for req in rec._esign_relevant_requests() if rec.id else []:
                if (
                    req.state in ("waiting", "in_progress")
                    and self.env.user in req.next_signer_ids
                ):
                    can_reject = True
            rec.esign_can_reject = can_reject

    def _compute_esign_signature_count(self):
        counts = dict(
            self.env["esign.signature"]
            .sudo()
            ._read_group(
                [("res_model", "=", self._name), ("res_id", "in", self.ids)],
                ["res_id"],
                ["__count"],
            )
        )
        for rec in self:
            rec.esign_signature_count = counts.get(rec.id, 0)

    @api.depends_context("uid", "tz", "lang")
    def _compute_esign_panel(self):
        papers = self.filtered("id")._esign_paper_signatures()
        for rec in self:
            if not rec.id:
                rec.esign_panel_html = False
                continue
            blocks = []
            for policy in rec._esign_policies():
                request = self.env["esign.request"]._for_record(rec, policy)
                blocks.append(rec._esign_panel_block(policy, request))
            # What can be signed now first, then what is signed, then what is not open yet.
            blocks.sort(
                key=lambda b: (
                    0
                    if b.get("ready") and not b.get("complete")
                    else 1
                    if b.get("complete")
                    else 2
                )
            )
            history = rec.sudo().esign_request_ids.filtered(
                lambda r: r.state in ("rejected", "cancelled")
            )
            paper = papers.filtered(lambda p, rec=rec: p.res_id == rec.id)
            if not blocks and not history and not paper:
                rec.esign_panel_html = False
                continue
            rec.esign_panel_html = self.env["ir.qweb"]._render(
                "meddev_esign.esign_panel",
                {"blocks": blocks, "history": history, "record": rec, "paper": paper},
            )

    def _esign_paper_signatures(self):
        """The wet-ink signatures migrated from these records' paper originals (read for the
        panel and the printouts of whoever may read the record; they are never e-signatures)."""
        if not self.ids:
            return self.env["esign.migrated.signature"]
        return (
            self.env["esign.migrated.signature"]
            .sudo()
            .search(
                [("res_model", "=", self._name), ("res_id", "in", self.ids)],
                order="signed_on, id",
            )
        )

    def _esign_panel_block(self, policy, request):
        """Data for one policy's table in the panel: steps, signatures, who is pending."""
        spec = policy._spec(self)
        sigs = request.sudo().signature_ids if request else self.env["esign.signature"]
        facts = request._facts(self) if request else []
        try:
            result = engine.evaluate(spec, facts, self._esign_author_ids())
        except PolicyConfigError as exc:  # shown to the user, never hides a signature
            return {
                "policy": policy,
                "error": config_message(self.env, policy, exc),
                "rows": [],
                "state": "error",
            }
        # Until the prerequisites hold (e.g. the record is not in its signing state yet),
        # nobody is asked to sign: the panel says so instead of showing "To sign".
        ready = policy._prerequisites_met(self)
        rows = []
        tz = self.env.context.get("tz") or self.env.user.tz or "UTC"
        lines = request.sudo().line_ids if request else self.env["esign.request.line"]
        # Steps a condition leaves out for this record (e.g. "orders over 50,000") are not in
        # the result: the panel lists the steps this record needs.
        evaluations = {evaluation.step_id: evaluation for evaluation in result.steps}
        for step in policy.step_ids.filtered(lambda st: st.id in evaluations):
            evaluation = evaluations[step.id]
            line = lines.filtered(lambda li, st=step: li.step_id == st)[:1]
            step_sigs = sigs.filtered(lambda s, st=step: s.step_id == st)
            rows.append(
                {
                    "step": step,
                    "evaluation": evaluation,
                    "signatures": [
                        {"sig": s, "when": s._local_time_display(tz)} for s in step_sigs
                    ],
                    "pending": self.env["res.users"]
                    .sudo()
                    .browse(sorted(evaluation.pending_user_ids)),
                    "current": ready and evaluation.stage == result.current_stage,
                    "progress": self._esign_step_progress(step, evaluation),
                    "overdue": bool(line.overdue),
                    "due": line.due_at
                    and fields.Datetime.context_timestamp(
                        self.with_context(tz=tz), line.due_at
                    ).strftime("%Y-%m-%d %H:%M"),
                }
            )
        return {
            "policy": policy,
            "request": request,
            "rows": rows,
            "complete": result.complete,
            "ready": ready,
            "error": False,
        }

    def _esign_step_progress(self, step, evaluation):
        """'1 of 2 signatures' (signed of required), and for a k-of-n step how many may sign."""
        progress = self.env._(
            "%(signed)s of %(required)s signatures",
            signed=len(evaluation.signed_user_ids),
            required=evaluation.required,
        )
        eligible = len(step._eligible_users(self)) if step.mode == "k_of_n" else 0
        if eligible > evaluation.required:
            progress = self.env._(
                "%(progress)s, from %(eligible)s eligible signers",
                progress=progress,
                eligible=eligible,
            )
        return progress

    # ------------------------------------------------------------------ actions
    def _esign_one(self):
        """Refuse, with a clear message, a form button called on no or several records, or
        on an id that is not one (text, a number out of range: sent over RPC)."""
        if len(self) != 1 or not inputs.are_record_ids(self._ids):
            raise UserError(
                self.env._(
                    "Open one record to sign or reject it. To sign several records of the same "
                    "step, select them in the list and use the Sign action."
                )
            )
        # A record the user may not read (another company's, an id sent over RPC) is refused
        # here with Odoo's access error, before any wizard opens on it.
        self.check_access("read")

    def action_esign_sign(self):
        """Open the sign wizard for the step the current user may sign."""
        self._esign_one()
        return self.env["esign.sign.wizard"]._action_open(self)

    def action_esign_reject(self):
        self._esign_one()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Reject"),
            "res_model": "esign.reject.wizard",
            "view_mode": "form",
            "target": "new",
            "context": {"default_res_model": self._name, "default_res_id": self.id},
        }

    def action_esign_signatures(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Signatures"),
            "res_model": "esign.signature",
            "view_mode": "list,form",
            "domain": [("res_model", "=", self._name), ("res_id", "=", self.id)],
            "context": {"create": False},
        }

    # ------------------------------------------------------------------ view injection
    @api.model
    def _get_view(self, view_id=None, view_type="form", **options):
        arch, view = super()._get_view(view_id, view_type, **options)
        if view_type == "form" and self._esign_triggers:
            self._esign_inject_form(arch)
        return arch, view

    @api.model
    def _esign_inject_form(self, arch):
        """Put the parts of ``meddev_esign.esign_form_parts`` into the form ``arch``.

        The template renders one ``<esign_parts>`` element whose children are named by
        where they go: ``header`` (the Sign and Reject buttons, first in the form's header),
        ``fields`` (invisible fields the parts read), ``button_box`` (the signatures smart
        button) and ``sheet_top`` (the panel and the reason-for-change block, after the
        button box). It renders in the language of the request, so its words arrive
        translated.
        """
        form = arch if arch.tag == "form" else arch.find(".//form")
        if form is None:
            return
        parts = etree.fromstring(
            str(self.env["ir.qweb"]._render("meddev_esign.esign_form_parts", {}))
        )
        header = form.find("header")
        if header is None:
            header = etree.Element("header")
            form.insert(0, header)
        for index, node in enumerate(parts.find("header")):
            header.insert(index, node)
        form.extend(list(parts.find("fields")))
        sheet = form.find("sheet")
        container = sheet if sheet is not None else form
        button_box = container.find("div[@name='button_box']")
        if button_box is None:
            button_box = etree.Element("div", {"name": "button_box", "class": "oe_button_box"})
            container.insert(0, button_box)
        button_box.extend(list(parts.find("button_box")))
        index = list(container).index(button_box) + 1
        for offset, node in enumerate(parts.find("sheet_top")):
            container.insert(index + offset, node)
