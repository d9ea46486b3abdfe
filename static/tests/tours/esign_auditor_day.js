/** @odoo-module **/
// The auditor's day (read-only): open a released lot, print its Batch Release Certificate,
// export its trail with the chain proof, open the signed MO and PO from their signatures,
// and verify the audit trail. No step may meet an access error.
import { registry } from "@web/core/registry";
import {
    exportTrailWithChainProof,
    openTrailIntegrity,
    printReleaseCertificate,
} from "@meddev_esign/../tests/tours/esign_scenario_common";

const noError = {
    content: "No error or access error dialog",
    trigger: "body:not(:has(.o_error_dialog)):not(:has(.o_blockUI))",
};

registry.category("web_tour.tours").add("meddev_esign_auditor_day", {
    steps: () => [
        // The released lot.
        {
            content: "The lot is released",
            trigger: ".o_statusbar_status .o_arrow_button_current[data-value='released']",
        },
        {
            content: "Its release signature",
            trigger: ".o_esign_panel .o_esign_steps tr:contains('Released'):contains('Aud Release Authority')",
        },
        {
            content: "The auditor has nothing to sign and nothing to edit",
            trigger:
                ".o_form_view:not(:has(.o_esign_sign_button)):not(:has(.o_field_widget[name='ref'] input))",
        },
        // Print the certificate.
        ...printReleaseCertificate(),
        // The lot's trail, exported with its chain proof.
        {
            content: "Open the lot's audit trail",
            trigger: ".o_form_view .o_esign_audit_button",
            run: "click",
        },
        {
            content: "The release signature is in the trail",
            trigger: ".o_list_view .o_data_row .o_data_cell[name='operation']:contains('Signature')",
        },
        ...exportTrailWithChainProof(),
        noError,
        // The MO, from its signature.
        {
            content: "Go to the signatures",
            trigger: ".o_main_navbar .o_menu_sections button:contains('Records')",
            run: "click",
        },
        {
            content: "Signatures",
            trigger: ".o-dropdown--menu .o-dropdown-item:contains('Signatures')",
            run: "click",
        },
        {
            content: "The signing time column is labelled UTC",
            trigger: ".o_list_view th[data-name='signed_at_utc']:contains('UTC')",
        },
        {
            content: "Open the MO's review signature",
            trigger: ".o_list_view .o_data_row:contains('Auditor Day MO Review') .o_data_cell[name='printed_name']",
            run: "click",
        },
        {
            content: "Its time in UTC",
            trigger: ".o_form_view .o_field_widget[name='signed_at_utc']:contains('UTC')",
        },
        {
            content: "Open the signed document",
            trigger: ".o_form_view button[name='action_open_record']",
            run: "click",
        },
        {
            content: "The MO opens: its product",
            trigger: ".o_form_view .o_field_widget[name='product_id']:contains('Auditor Day Pump')",
        },
        {
            content: "... and its components, with the lot consumed",
            trigger: ".o_form_view .o_field_widget[name='move_raw_ids'] .o_data_row:contains('Auditor Day Sensor')",
        },
        noError,
        // The PO, from its signature.
        {
            content: "Back to the signatures",
            trigger: ".o_breadcrumb .breadcrumb-item:first-child a",
            run: "click",
        },
        {
            content: "Open the PO's approval signature",
            trigger: ".o_list_view .o_data_row:contains('Auditor Day PO Approval') .o_data_cell[name='printed_name']",
            run: "click",
        },
        {
            content: "Open the signed document",
            trigger: ".o_form_view button[name='action_open_record']",
            run: "click",
        },
        {
            content: "The PO opens: its vendor",
            trigger: ".o_form_view .o_field_widget[name='partner_id']:contains('Auditor Day Sensors')",
        },
        {
            content: "... and its line",
            trigger: ".o_form_view .o_field_widget[name='order_line'] .o_data_row:contains('Auditor Day Sensor')",
        },
        noError,
        // Verify the audit trail.
        ...openTrailIntegrity(),
        {
            content: "Verify its integrity",
            trigger: ".o_form_view button[name='action_verify']",
            run: "click",
        },
        {
            content: "The verdict has a proper title, not 'Odoo'",
            trigger: ".modal .modal-title:contains('Audit Trail Verification'):contains('Intact')",
        },
        {
            content: "The verdict: intact",
            trigger: ".modal .o_field_widget[name='verdict']:contains('Intact')",
        },
        noError,
    ],
});
