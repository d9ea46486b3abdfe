/** @odoo-module **/
import { registry } from "@web/core/registry";

// A button that changes signed lines: refused without a reason, done with the reason typed
// in the form's "Reason for Change" box, which the signer opens from its hint (no field is
// edited, so the box does not show by itself).
registry.category("web_tour.tours").add("meddev_esign_change_reason_button", {
    steps: () => [
        {
            content: "The signed document says a change needs a reason; no box yet",
            trigger: ".o_form_view:not(:has(.o_esign_change_reason)) .o_esign_change_reason_hint",
        },
        {
            content: "Change the signed lines without a reason",
            trigger: ".o_form_view button[name='action_double']",
            run: "click",
        },
        {
            content: "Refused: a reason for change is needed",
            trigger: ".modal:contains('needs a reason for change')",
        },
        {
            content: "Close the message",
            trigger: ".modal .modal-footer .btn-primary",
            run: "click",
        },
        {
            content: "Open the Reason for Change box",
            trigger: ".o_form_view .o_esign_change_reason_hint .o_esign_change_reason_open",
            run: "click",
        },
        {
            content: "Give the reason in the form",
            trigger: ".o_form_view .o_field_widget[name='esign_change_reason'] .o_esign_change_reason input",
            run: "edit Recount after the stock audit",
        },
        {
            content: "Change the signed lines again",
            trigger: ".o_form_view button[name='action_double']",
            run: "click",
        },
        {
            content: "The quantities are doubled",
            trigger: ".o_form_view .o_field_widget[name='line_ids'] .o_data_cell:contains('4.00')",
        },
    ],
});
