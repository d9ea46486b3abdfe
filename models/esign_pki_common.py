"""What the CA and the certificate models share: choices, limits and two small checks."""

from datetime import timedelta

from odoo.exceptions import AccessError

from ..services import pki

REVOCATION_REASONS = [
    ("unspecified", "Unspecified"),
    ("key_compromise", "Key compromise"),
    ("ca_compromise", "CA compromise"),
    ("affiliation_changed", "Affiliation changed"),
    ("superseded", "Superseded"),
    ("cessation_of_operation", "Cessation of operation"),
    ("certificate_hold", "Certificate hold"),
    ("privilege_withdrawn", "Privilege withdrawn"),
    ("aa_compromise", "AA compromise"),
]
IDENTITY_METHODS = [
    ("in_person", "In person, with an official photo ID"),
    ("video", "Video call, with an official photo ID"),
    ("hr_record", "Checked against the HR record"),
    ("renewal", "Renewal of a verified identity"),
    ("other", "Other (described in the evidence)"),
    ("company_seal", "Company seal: issued to the company, not to a person"),
]
EXPIRY_WARNING_DAYS = 30
CRL_VALIDITY = timedelta(days=7)
ADMIN_GROUP = "meddev_esign.group_esign_admin"


def check_admin(env):
    if not env.su and not env.user.has_group(ADMIN_GROUP):
        raise AccessError(
            env._("Only an E-Signature Administrator may manage certificates and the CA.")
        )


def to_naive(moment):
    return pki.utc(moment).replace(tzinfo=None)
