# The append-only mixin first: the evidence models below inherit it.
from . import append_only  # isort: skip

# isort: split
from . import (
    audit_base,
    esign_audit_chain,
    esign_audit_checkpoint,
    esign_audit_entry,
    esign_audit_rule,
    esign_audit_verification,
    esign_ca,
    esign_certificate,
    esign_db_reconnect,
    esign_keystore,
    esign_meaning,
    esign_migrated_signature,
    esign_policy,
    esign_policy_assist,
    esign_policy_cache,
    esign_policy_choice,
    esign_policy_step,
    esign_print,
    esign_print_evidence,
    esign_print_verify,
    esign_quality_record,
    esign_request,
    esign_request_escalation,
    esign_request_rejection,
    esign_request_signing,
    esign_request_todos,
    esign_signable_mixin,
    esign_signable_mixin_chatter,
    esign_signable_mixin_ui,
    esign_signature,
    esign_signature_pki,
    esign_signature_timestamp,
    esign_signature_verification,
    esign_signed_lines,
    esign_signing_session,
    ir_actions_report,
    ir_config_parameter,
    ir_module,
    mrp_production,
    product_template,
    purchase_order,
    report_batch_release,
    report_quality_record,
    res_company,
    res_partner_signup,
    res_users,
    stock_lot,
    stock_picking,
)

# isort: split
# The quality records inherit esign.signable.mixin: they must be defined after it.
from . import (
    esign_audit_review,
    esign_capa,
    esign_change_request,
    esign_deviation,
    esign_supplier_qualification,
    esign_validation_run,
    esign_validation_run_config,
    esign_validation_run_iq,
)

# isort: split
# Delegation: a signable record, and its hooks into the request, the signature and the mixin.
from . import esign_delegation, esign_delegation_demo, esign_delegation_signing

# isort: split
# Change control of the configuration: a signable record, and the capture on the models above.
from . import esign_config_capture, esign_config_change, esign_config_diff

# isort: split
# The reporting views read the tables of the models above: their init() comes last.
from . import esign_kpi
