"""Hold changes of the signing configuration for a second administrator's approval.

A user's create, write or unlink of a signing policy, a policy step (its signer groups
included), a signature meaning or the company's PKI/TSA/seal settings is not applied: it is
captured as an ``esign.config.change`` and the old configuration stays in force until another
E-Signature Administrator approves it by electronic signature. A new policy or meaning is made
archived (in force for nothing) and put in force by the approval. This sits in the ORM methods, so
the web client, RPC and imports are held alike, and there is no context key to get around it.

Superuser environments apply directly: module install and update, data files, migrations,
and ``sudo()`` inside the add-on's own code (the approval itself applies the change that
way, under the approver's user id, so the audit trail names the approver).
"""

from odoo import api, fields, models

from ..services import config_change as cc


def _held_names(model, vals):
    prefix = "esign_" if model._name == "res.company" else None
    return cc.split_values(
        vals,
        lambda name: (
            name in model._fields
            and name not in models.MAGIC_COLUMNS
            and name != "version"
            and cc.is_held_field(name, model._fields[name].store, prefix)
        ),
    )


def _capture_create(model, vals_list):
    """The create's values held as proposals; returns no record (nothing is created yet)."""
    model.check_access("create")
    Change = model.env["esign.config.change"]
    changes = Change.browse()
    for vals in vals_list:
        changes |= Change._esign_propose(model.browse(), "create", vals)
    changes._esign_notify_proposed()
    return model.browse()


def _capture_create_archived(model, vals_list, create):
    """For models with an ``active`` flag (policies, meanings): the new record is made
    archived, so nothing of it is in force and the user's form still has a record to show
    (the web client reads back what it saved); putting it in force is the held change.
    ``create`` is super's, in a superuser environment that keeps the proposer's user id."""
    model.check_access("create")
    records = create([{**vals, "active": False} for vals in vals_list])
    Change = model.env["esign.config.change"]
    changes = Change.browse()
    for record, vals in zip(records, vals_list, strict=True):
        changes |= Change._esign_propose(record, "create", vals)
    changes._esign_notify_proposed()
    return records.with_env(model.env)


def _capture_write(records, vals, write):
    """Apply what is not configuration at once; hold the rest. ``write`` is super's."""
    direct, held = _held_names(records, vals)
    if not held:
        return write(vals)
    records.check_access("write")
    Change = records.env["esign.config.change"]
    changes = Change.browse()
    for record in records:
        changes |= Change._esign_propose(record, "write", held)
    if direct:
        write(direct)
    changes._esign_notify_proposed()
    return True


def _capture_unlink(records):
    records.check_access("unlink")
    Change = records.env["esign.config.change"]
    changes = Change.browse()
    for record in records:
        changes |= Change._esign_propose(record, "unlink", {})
    changes._esign_notify_proposed()
    return True


class EsignConfigControlled(models.AbstractModel):
    """What the held configuration models share: their pending changes."""

    _name = "esign.config.controlled"
    _description = "Configuration under change control"

    esign_pending_change_count = fields.Integer(
        string="Pending Changes",
        compute="_compute_esign_pending_change_count",
        help="Changes proposed to this configuration that wait for a second administrator's "
        "approval. Until then the configuration shown here is the one in force.",
    )

    def _esign_pending_domain(self):
        return [
            ("state", "=", "pending"),
            ("target_model", "=", self._name),
            ("target_id", "in", self.ids),
        ]

    def _compute_esign_pending_change_count(self):
        Change = self.env["esign.config.change"].sudo()
        counts = dict(Change._read_group(self._esign_pending_domain(), ["target_id"], ["__count"]))
        for record in self:
            record.esign_pending_change_count = counts.get(record.id, 0)

    def action_esign_pending_changes(self):
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "meddev_esign.esign_config_change_action"
        )
        action["domain"] = self._esign_pending_domain()
        action["context"] = {"create": False}
        return action


class EsignPolicyChangeControl(models.Model):
    _name = "esign.policy"
    _inherit = ["esign.policy", "esign.config.controlled"]

    def _esign_pending_domain(self):
        # A policy's own changes, and those of its steps (the change names its policy).
        return [("state", "=", "pending"), ("policy_id", "in", self.ids)]

    def _compute_esign_pending_change_count(self):
        Change = self.env["esign.config.change"].sudo()
        counts = dict(Change._read_group(self._esign_pending_domain(), ["policy_id"], ["__count"]))
        for policy in self:
            policy.esign_pending_change_count = counts.get(policy, 0)

    @api.model_create_multi
    def create(self, vals_list):
        if self.env.su:  # install, data files, our own sudo(): applied directly
            return super().create(vals_list)
        return _capture_create_archived(
            self, vals_list, super(EsignPolicyChangeControl, self.sudo()).create
        )

    def write(self, vals):
        if self.env.su or not self:
            return super().write(vals)
        return _capture_write(self, vals, super().write)

    def unlink(self):
        if self.env.su or not self:
            return super().unlink()
        return _capture_unlink(self)


class EsignPolicyStepChangeControl(models.Model):
    _name = "esign.policy.step"
    _inherit = ["esign.policy.step", "esign.config.controlled"]

    @api.model_create_multi
    def create(self, vals_list):
        if self.env.su:
            return super().create(vals_list)
        return _capture_create(self, vals_list)

    def write(self, vals):
        if self.env.su or not self:
            return super().write(vals)
        return _capture_write(self, vals, super().write)

    def unlink(self):
        if self.env.su or not self:
            return super().unlink()
        return _capture_unlink(self)


class EsignMeaningChangeControl(models.Model):
    _name = "esign.meaning"
    _inherit = ["esign.meaning", "esign.config.controlled"]

    @api.model_create_multi
    def create(self, vals_list):
        if self.env.su:
            return super().create(vals_list)
        return _capture_create_archived(
            self, vals_list, super(EsignMeaningChangeControl, self.sudo()).create
        )

    def write(self, vals):
        if self.env.su or not self:
            return super().write(vals)
        return _capture_write(self, vals, super().write)

    def unlink(self):
        if self.env.su or not self:
            return super().unlink()
        return _capture_unlink(self)


class ResCompanyChangeControl(models.Model):
    """Only the company's e-signature settings (``esign_*``) are held; its name, address and
    the rest are written at once. Creating or deleting a company is not held."""

    _name = "res.company"
    _inherit = ["res.company", "esign.config.controlled"]

    def write(self, vals):
        if self.env.su or not self:
            return super().write(vals)
        return _capture_write(self, vals, super().write)
