/** @odoo-module **/
import { registry } from "@web/core/registry";

// A button that changes signed lines: refused without a reason, done with the reason typed
// in the form's "Reason for Change" box.
registry.category("web_tour.tours").add("meddev_esign_change_reason_button", {
    steps: () => [
        {
            content: "The signed document asks for a reason before a change",
            trigger: ".o_form_view .o_esign_change_reason:not(.d-none)",
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
            content: "Give the reason in the form",
            trigger: ".o_form_view .o_field_widget[name='esign_change_reason'] input",
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
