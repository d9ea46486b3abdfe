from . import esign_audit_export, esign_reject_wizard, esign_sign_wizard
