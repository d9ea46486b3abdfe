/** @odoo-module **/
// Scenario 4, purchasing a critical component. The purchaser cannot confirm an order from an
// unqualified supplier; QA signs the supplier qualification and approves it; the purchasing
// manager signs Approved on the order and confirms it.
import { registry } from "@web/core/registry";
import { signInWizard } from "@meddev_esign/../tests/tours/esign_scenario_common";

const tours = registry.category("web_tour.tours");

tours.add("meddev_esign_scenario_po_refused", {
    steps: () => [
        {
            content: "Confirm the order",
            trigger: ".o_form_view .o_statusbar_buttons button[name='button_confirm']",
            run: "click",
        },
        {
            content: "Refused: the supplier is not qualified for the critical component",
            trigger:
                ".modal .modal-body:contains('Tour Critical Sensor'):contains('Tour Unqualified Supplier'):contains('supplier qualification')",
        },
        {
            content: "Close the message",
            trigger: ".modal .modal-footer .btn-primary",
            run: "click",
        },
        {
            content: "The order is still a request for quotation",
            trigger:
                "body:not(:has(.modal)) .o_statusbar_status .o_arrow_button_current[data-value='draft']",
        },
    ],
});

tours.add("meddev_esign_scenario_supplier_approve", {
    steps: () => [
        {
            content: "The qualification waits for QA's signature",
            trigger: ".o_esign_panel .o_esign_steps .badge:contains('To sign')",
        },
        ...signInWizard({
            meaning: "Approved",
            reason: "On-site audit passed; ISO 13485 certificate checked.",
        }),
        {
            content: "Approve the qualification",
            trigger: ".o_form_view .o_statusbar_buttons button[name='action_approve']",
            run: "click",
        },
        {
            content: "The supplier is qualified",
            trigger: ".o_statusbar_status .o_arrow_button_current[data-value='approved']",
        },
    ],
});

tours.add("meddev_esign_scenario_po_approve", {
    steps: () => [
        {
            content: "The order waits for the purchasing manager's approval",
            trigger: ".o_esign_panel .o_esign_steps .badge:contains('To sign')",
        },
        ...signInWizard({
            meaning: "Approved",
            reason: "Price and supplier checked against the frame agreement.",
        }),
        {
            content: "Confirm the order",
            trigger: ".o_form_view .o_statusbar_buttons button[name='button_confirm']",
            run: "click",
        },
        {
            content: "The order is confirmed",
            trigger: ".o_statusbar_status .o_arrow_button_current[data-value='purchase']",
        },
    ],
});
