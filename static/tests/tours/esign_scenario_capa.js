/** @odoo-module **/
// Scenario 3, CAPA closed loop. The owner opens a CAPA from a customer complaint, investigates
// and submits the action plan; QA rejects a plan (back to investigation, the reason and the
// earlier signature kept as history), then signs Approved on the resubmitted plan.
import { registry } from "@web/core/registry";
import { signInWizard } from "@meddev_esign/../tests/tours/esign_scenario_common";

const tours = registry.category("web_tour.tours");

tours.add("meddev_esign_scenario_capa_open", {
    steps: () => [
        {
            content: "New CAPA",
            trigger: ".o_list_button_add",
            run: "click",
        },
        {
            content: "Title",
            trigger: ".o_form_view .o_field_widget[name='title'] input",
            run: "edit Occlusion alarm late at low flow",
        },
        {
            content: "The complaint it comes from",
            trigger: ".o_form_view .o_field_widget[name='source_reference'] input",
            run: "edit CC-2025-017",
        },
        {
            content: "What was observed",
            trigger: ".o_form_view .o_field_widget[name='description'] textarea",
            run: "edit Hospital reports the alarm 40 s late at 1 ml/h.",
        },
        {
            content: "Save",
            trigger: ".o_form_button_save",
            run: "click",
        },
        {
            content: "Start the investigation",
            trigger: ".o_form_view .o_statusbar_buttons button[name='action_start_investigation']",
            run: "click",
        },
        {
            content: "In investigation",
            trigger: ".o_statusbar_status .o_arrow_button_current[data-value='investigation']",
        },
        {
            content: "Root cause",
            trigger: ".o_form_view .o_field_widget[name='root_cause'] textarea",
            run: "edit Pressure threshold set for the old sensor.",
        },
        {
            content: "Open the action plan",
            trigger: ".o_notebook .nav-link[name='plan']",
            run: "click",
        },
        {
            content: "Write the action plan",
            trigger: ".o_field_html[name='action_plan'] .odoo-editor-editable div.o-paragraph",
            run: "editor Recalibrate the threshold; update the test procedure.",
        },
        {
            content: "Effectiveness criteria",
            trigger: ".o_form_view .o_field_widget[name='effectiveness_criteria'] textarea",
            run: "edit No late alarm in three months of field data.",
        },
        {
            content: "Submit the plan for approval",
            trigger: ".o_form_view .o_statusbar_buttons button[name='action_submit_plan']",
            run: "click",
        },
        {
            content: "In plan approval",
            trigger: ".o_statusbar_status .o_arrow_button_current[data-value='plan_approval']",
        },
        {
            content: "The panel asks for the plan's signatures",
            trigger: ".o_esign_panel .o_esign_steps .badge:contains('To sign')",
        },
    ],
});

tours.add("meddev_esign_scenario_capa_reject", {
    steps: () => [
        {
            content: "The reviewer's signature is on the plan",
            trigger: ".o_esign_panel .o_esign_steps td div:contains('Tour Capa Reviewer')",
        },
        {
            content: "Reject the plan",
            trigger: ".o_form_view .o_statusbar_buttons .o_esign_reject_button",
            run: "click",
        },
        {
            content: "Give the reason",
            trigger: ".modal .o_field_widget[name='reason'] textarea",
            run: "edit Threshold change lacks a verification protocol.",
        },
        {
            content: "Confirm the rejection",
            trigger: ".modal button[name='action_reject']",
            run: "click",
        },
        {
            content: "The CAPA is back in investigation",
            trigger: ".o_statusbar_status .o_arrow_button_current[data-value='investigation']",
        },
        {
            content: "The rejection and its reason stay visible, with the earlier signature",
            trigger:
                ".o_esign_panel .o_esign_panel_body div:contains('Threshold change lacks a verification protocol.'):contains('1 signature(s) kept as history')",
        },
    ],
});

tours.add("meddev_esign_scenario_capa_approve", {
    steps: () => [
        {
            content: "The plan is waiting for QA's approval",
            trigger: ".o_esign_panel .o_esign_steps tr.table-info .badge:contains('To sign')",
        },
        ...signInWizard({
            meaning: "Approved",
            reason: "Plan and verification protocol adequate.",
        }),
        {
            content: "The plan approval is signed",
            trigger: ".o_esign_panel .card-header .badge:contains('Signed')",
        },
        {
            content: "The rejected plan is still shown as history",
            trigger:
                ".o_esign_panel .o_esign_panel_body div:contains('Threshold change lacks a verification protocol.')",
        },
        {
            content: "Approve the plan: implementation starts",
            trigger: ".o_form_view .o_statusbar_buttons button[name='action_approve_plan']",
            run: "click",
        },
        {
            content: "In implementation",
            trigger: ".o_statusbar_status .o_arrow_button_current[data-value='implementation']",
        },
    ],
});

tours.add("meddev_esign_scenario_capa_effectiveness", {
    steps: () => [
        {
            content: "The actions are done: check their effectiveness",
            trigger: ".o_form_view .o_statusbar_buttons button[name='action_to_effectiveness']",
            run: "click",
        },
        {
            content: "In the effectiveness check",
            trigger: ".o_statusbar_status .o_arrow_button_current[data-value='effectiveness']",
        },
        {
            content: "Open the effectiveness page",
            trigger: ".o_notebook .nav-link[name='effectiveness']",
            run: "click",
        },
        {
            content: "Record the result",
            trigger: ".o_form_view .o_field_widget[name='effectiveness_result'] textarea",
            run: "edit No late alarm in three months of field data (412 pumps).",
        },
        {
            content: "Save",
            trigger: ".o_form_button_save",
            run: "click",
        },
        {
            content: "Try to close",
            trigger: ".o_form_view .o_statusbar_buttons button[name='action_close']",
            run: "click",
        },
        {
            content: "Refused: the effectiveness verification is not signed yet",
            trigger: ".modal .modal-body:contains('Effectiveness verification')",
        },
        {
            content: "Close the message",
            trigger: ".modal .modal-footer .btn-primary",
            run: "click",
        },
        {
            content: "Still in the effectiveness check",
            trigger:
                "body:not(:has(.modal)) .o_statusbar_status .o_arrow_button_current[data-value='effectiveness']",
        },
    ],
});

tours.add("meddev_esign_scenario_capa_verify", {
    steps: () => [
        ...signInWizard({
            meaning: "Verified",
            reason: "Field data reviewed against the criteria.",
        }),
        {
            content: "Every step is signed: close the CAPA",
            trigger: ".o_form_view .o_statusbar_buttons button[name='action_close']",
            run: "click",
        },
        {
            content: "Closed",
            trigger: ".o_statusbar_status .o_arrow_button_current[data-value='closed']",
        },
    ],
});
