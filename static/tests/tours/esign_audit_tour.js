/** @odoo-module **/
// The audit trail (R15) in the browser. A signer changes a released lot: the form refuses the change until
// a reason is given, then the Audit Trail smart button shows the change, old -> new, with its
// reason. An auditor verifies the chain from the Integrity menu.
import { registry } from "@web/core/registry";

registry.category("web_tour.tours").add("meddev_esign_audit_change", {
    steps: () => [
        {
            content: "Before any edit, the signed lot shows a hint, not the yellow box",
            trigger:
                ".o_form_view:has(.o_esign_change_reason_hint):not(:has(.o_esign_change_reason))",
        },
        {
            content: "Change the internal reference of the released lot",
            trigger: ".o_form_view .o_field_widget[name='ref'] input",
            run: "edit TOUR-REF-2",
        },
        {
            content: "Editing a signed field brings up the Reason for Change box",
            trigger: ".o_form_view .o_esign_change_reason label:contains('Reason for Change')",
        },
        {
            content: "Save without a reason",
            trigger: ".o_form_button_save",
            run: "click",
        },
        {
            content: "The change is refused: a reason is needed",
            trigger: ".modal:contains('needs a reason for change') .modal-footer .btn-primary",
            run: "click",
        },
        {
            content: "Give the reason for change",
            trigger: ".o_field_widget[name='esign_change_reason'] .o_esign_change_reason input",
            run: "edit Label typo corrected",
        },
        {
            content: "Save with the reason",
            trigger: ".o_form_button_save",
            run: "click",
        },
        {
            content: "Saved",
            trigger: ".o_form_view .o_form_saved, .o_form_view:not(:has(.o_form_button_save))",
        },
        {
            content: "Open the record's audit trail",
            trigger: ".o_form_view .o_esign_audit_button",
            run: "click",
        },
        {
            content: "The change is in the trail with its reason",
            trigger: ".o_data_row:contains('Label typo corrected') .o_data_cell:first",
            run: "click",
        },
        {
            content: "The entry shows the old and the new value",
            trigger: ".o_esign_audit_changes td:contains('TOUR-REF-2')",
        },
        {
            content: "... and the old one",
            trigger: ".o_esign_audit_changes td:contains('TOUR-REF-1')",
        },
    ],
});

registry.category("web_tour.tours").add("meddev_esign_audit_verify", {
    steps: () => [
        {
            content: "Open the company's audit trail",
            trigger: ".o_data_row .o_data_cell:first",
            run: "click",
        },
        {
            content: "Verify its integrity",
            trigger: ".o_form_view button[name='action_verify']",
            run: "click",
        },
        {
            content: "The verdict: intact",
            trigger: ".modal .badge:contains('Intact')",
        },
        {
            content: "It can be printed",
            trigger: ".modal button[name='action_print']",
        },
    ],
});
