from . import (
    esign_audit_export,
    esign_base_wizard,  # before the wizards that inherit it
    esign_certificate_wizards,
    esign_migration_import,
    esign_reject_wizard,
    esign_sign_wizard,
    esign_sign_wizard_config,  # after the sign wizard it extends
    esign_sign_wizard_delegation,  # after the wizard it extends
)
