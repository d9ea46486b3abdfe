/** @odoo-module **/
// The auditor's day (read-only): open a released lot, print its Batch Release Certificate,
// export its trail with the chain proof, open the signed MO and PO from their signatures,
// and verify the audit trail. No step may meet an access error.
import { registry } from "@web/core/registry";

const noError = {
    content: "No error or access error dialog",
    trigger: "body:not(:has(.o_error_dialog)):not(:has(.o_blockUI))",
};

let selected = 0;

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
        { content: "Open the actions menu", trigger: ".o_cp_action_menus .fa-cog", run: "click" },
        {
            content: "Open the print menu",
            trigger: ".o-dropdown--menu button:contains('Print')",
            run: "click",
        },
        {
            content: "Print the Batch Release Certificate",
            trigger: ".o-dropdown--menu .o-dropdown-item:contains('Batch Release Certificate')",
            run: "click",
        },
        noError,
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
        {
            content: "Select every entry of the lot",
            trigger: ".o_list_view thead .o_list_record_selector input",
            run(helpers) {
                selected = document.querySelectorAll(".o_list_view .o_data_row").length;
                return helpers.click();
            },
        },
        { content: "Open the actions menu", trigger: ".o_cp_action_menus .fa-cog", run: "click" },
        {
            content: "Export with the chain proof",
            trigger: ".o-dropdown--menu .o-dropdown-item:contains('Export with Chain Proof')",
            run: "click",
        },
        {
            content: "The export takes the selected entries",
            trigger: ".modal .o_field_widget[name='entry_count']",
            run() {
                const count = parseInt(this.anchor.textContent.trim(), 10);
                if (!selected || count !== selected) {
                    throw new Error(`The export counts ${count} entries, ${selected} selected`);
                }
            },
        },
        { content: "Export", trigger: ".modal button[name='action_export']", run: "click" },
        {
            content: "Once the export is built and downloaded, close the wizard",
            trigger: ".modal .modal-footer button.btn-secondary:enabled",
            run: "click",
        },
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
        {
            content: "Go to the integrity of the audit trails",
            trigger: ".o_main_navbar .o_menu_sections button:contains('Audit Trail')",
            run: "click",
        },
        {
            content: "Integrity",
            trigger: ".o-dropdown--menu .o-dropdown-item:contains('Integrity')",
            run: "click",
        },
        {
            content: "Open the company's audit trail",
            trigger: ".o_list_view .o_data_row:has(.o_data_cell[name='head_seq']) .o_data_cell[name='name']",
            run: "click",
        },
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
