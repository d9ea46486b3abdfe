"""18.0.1.1.0: the supplier qualification is signed by Quality Assurance, not any Signer.

The shipped policy is ``noupdate`` data, so an update does not rewrite its step: this moves the
step from the Signer group to the new Quality Assurance group. Nobody is put in that group
here: until an administrator names the QA signers, the policy shows as misconfigured and no
qualification is approved (the safe side), rather than any Signer approving one.
"""

from odoo import SUPERUSER_ID, api


def migrate(cr, version):
    if not version:
        return
    env = api.Environment(cr, SUPERUSER_ID, {})
    policy = env.ref("meddev_esign.policy_supplier_approve", raise_if_not_found=False)
    signer = env.ref("meddev_esign.group_esign_signer", raise_if_not_found=False)
    qa = env.ref("meddev_esign.group_esign_qa", raise_if_not_found=False)
    if not (policy and signer and qa):
        return
    policy.step_ids.filtered(
        lambda step: step.signer_type == "group" and step.group_id == signer
    ).write({"group_id": qa.id})
