/** @odoo-module **/
// Scenario 2, design change control. An R&D engineer drafts a change request for a BoM change
// and signs Authored; R&D lead and QA review in parallel; the QA manager signs Approved and
// approves (the BoM change is applied then); someone other than the author signs Verified and
// closes it. A later edit of the risk assessment needs a reason and sends it back to review.
import { registry } from "@web/core/registry";
import { signInWizard } from "@meddev_esign/../tests/tours/esign_scenario_common";

const tours = registry.category("web_tour.tours");

/** Pick ``label`` in the autocomplete of the relational field ``name`` after typing ``text``. */
function pick(name, text, label) {
    return [
        {
            content: `Search ${text} in ${name}`,
            trigger: `.o_form_view .o_field_widget[name='${name}'] input`,
            run: `edit ${text}`,
        },
        {
            content: `Pick ${label}`,
            trigger: `.o-autocomplete--dropdown-item:not(.o_m2o_dropdown_option) > a:contains('${label}')`,
            run: "click",
        },
    ];
}

/** Click an action of the form and close the refusal that names ``message``. */
function refused(button, message) {
    return [
        {
            content: `Try ${button}`,
            trigger: `.o_form_view .o_statusbar_buttons button[name='${button}']`,
            run: "click",
        },
        {
            content: `Refused: ${message}`,
            trigger: `.modal .modal-body:contains('${message}')`,
        },
        {
            content: "Close the message",
            trigger: ".modal .modal-footer .btn-primary",
            run: "click",
        },
    ];
}

function inState(state) {
    return {
        content: `In ${state}`,
        trigger: `body:not(:has(.modal)) .o_statusbar_status .o_arrow_button_current[data-value='${state}']`,
    };
}

tours.add("meddev_esign_scenario_change_draft", {
    steps: () => [
        {
            content: "New change request",
            trigger: ".o_list_button_add",
            run: "click",
        },
        {
            content: "Title",
            trigger: ".o_form_view .o_field_widget[name='title'] input",
            run: "edit Replace pressure sensor PS-10 by PS-12",
        },
        {
            content: "It changes how the device is made",
            trigger: ".o_form_view .o_field_widget[name='change_type'] select",
            run: 'select "engineering"',
        },
        ...pick("product_ids", "Tour Cr Pump", "Tour Cr Pump"),
        {
            content: "The product is linked",
            trigger: ".o_field_widget[name='product_ids'] .o_tag:contains('Tour Cr Pump')",
        },
        ...pick("bom_ids", "PUMP-BOM-C", "PUMP-BOM-C"),
        {
            content: "The BoM it replaces is linked",
            trigger: ".o_field_widget[name='bom_ids'] .o_tag:contains('PUMP-BOM-C')",
        },
        ...pick("new_bom_id", "PUMP-BOM-D", "PUMP-BOM-D"),
        {
            content: "What changes and why",
            trigger: ".o_form_view .o_field_widget[name='description'] textarea",
            run: "edit PS-10 is discontinued; PS-12 has the same range and better drift.",
        },
        {
            content: "Open the impact page",
            trigger: ".o_notebook .nav-link[name='impact']",
            run: "click",
        },
        {
            content: "Impact",
            trigger: ".o_form_view .o_field_widget[name='impact_description'] textarea",
            run: "edit Occlusion alarm verification to repeat; DMR and labelling unchanged.",
        },
        {
            content: "Open the risk assessment",
            trigger: ".o_notebook .nav-link[name='risk']",
            run: "click",
        },
        {
            content: "Risk assessment",
            trigger:
                ".o_field_html[name='risk_assessment'] .odoo-editor-editable div.o-paragraph",
            run: "editor Late occlusion alarm: risk 12 before, 4 after (drift halved).",
        },
        {
            content: "Save",
            trigger: ".o_form_button_save",
            run: "click",
        },
        ...refused("action_submit", "Authored"),
        inState("proposal"),
        ...signInWizard({
            meaning: "Authored",
            reason: "Change request drafted and complete.",
        }),
        {
            content: "Submit for review",
            trigger: ".o_form_view .o_statusbar_buttons button[name='action_submit']",
            run: "click",
        },
        inState("review"),
        {
            content: "The panel asks for the reviews",
            trigger: ".o_esign_panel .o_esign_steps tr.table-info .badge:contains('To sign')",
        },
    ],
});

tours.add("meddev_esign_scenario_change_review_first", {
    steps: () => [
        inState("review"),
        {
            content: "My review is waiting",
            trigger: ".o_esign_panel .o_esign_steps tr.table-info .badge:contains('To sign')",
        },
        ...signInWizard({
            meaning: "Reviewed",
            reason: "Verification plan and risk controls adequate.",
        }),
        ...refused("action_request_approval", "before its reviews are signed"),
        inState("review"),
    ],
});

tours.add("meddev_esign_scenario_change_review_second", {
    steps: () => [
        inState("review"),
        {
            content: "QA's review is already signed",
            trigger:
                ".o_esign_panel .o_esign_steps tr:contains('QA review'):contains('Tour Cr QA Reviewer') .badge:contains('Done')",
        },
        ...signInWizard({
            meaning: "Reviewed",
            reason: "Design impact assessed; sensor equivalent.",
        }),
        {
            content: "Both reviews are signed: request the approval",
            trigger: ".o_form_view .o_statusbar_buttons button[name='action_request_approval']",
            run: "click",
        },
        inState("approval"),
    ],
});

tours.add("meddev_esign_scenario_change_approve", {
    steps: () => [
        inState("approval"),
        ...refused("action_approve", "QA approval"),
        ...signInWizard({
            meaning: "Approved",
            reason: "Change approved for implementation.",
        }),
        {
            content: "Approve: the BoM change is applied",
            trigger: ".o_form_view .o_statusbar_buttons button[name='action_approve']",
            run: "click",
        },
        inState("implementation"),
        {
            content: "The form says the BoM change is applied",
            trigger: ".o_form_view .o_field_widget[name='bom_change_applied'] input:checked",
        },
    ],
});

tours.add("meddev_esign_scenario_change_implemented", {
    steps: () => [
        inState("implementation"),
        {
            content: "Implemented: ready for verification",
            trigger: ".o_form_view .o_statusbar_buttons button[name='action_to_verification']",
            run: "click",
        },
        inState("verification"),
        {
            content: "The verification is waiting for a signature",
            trigger:
                ".o_esign_panel .o_esign_steps tr.table-info:contains('Verification') .badge:contains('To sign')",
        },
        {
            content: "The author is not offered to verify their own change",
            trigger:
                ".o_form_view:has(.o_arrow_button_current[data-value='verification']):not(:has(.o_esign_sign_button))",
        },
    ],
});

tours.add("meddev_esign_scenario_change_verify", {
    steps: () => [
        inState("verification"),
        ...signInWizard({
            meaning: "Verified",
            reason: "Alarm verification repeated with PS-12: passed.",
        }),
        {
            content: "Close the change request",
            trigger: ".o_form_view .o_statusbar_buttons button[name='action_close']",
            run: "click",
        },
        inState("closed"),
    ],
});

tours.add("meddev_esign_scenario_change_edit", {
    steps: () => [
        inState("closed"),
        {
            content: "The form says that a change needs a reason; no box before an edit",
            trigger:
                ".o_form_view:not(:has(.o_esign_change_reason)) .o_esign_change_reason_hint:contains('a change needs a reason')",
        },
        {
            content: "Open the risk assessment",
            trigger: ".o_notebook .nav-link[name='risk']",
            run: "click",
        },
        {
            content: "Re-rate the risk",
            trigger:
                ".o_field_html[name='risk_assessment'] .odoo-editor-editable > *:contains('risk 12 before')",
            run: "editor Late occlusion alarm: risk 16 before, 4 after (field data).",
        },
        {
            content: "Save without a reason",
            trigger: ".o_form_button_save",
            run: "click",
        },
        {
            content: "Refused: a signed record needs a reason for change",
            trigger: ".modal .modal-body:contains('needs a reason for change')",
        },
        {
            content: "Close the message",
            trigger: ".modal .modal-footer .btn-primary",
            run: "click",
        },
        inState("closed"),
        {
            content: "Give the reason for change",
            trigger: ".o_form_view .o_field_widget[name='esign_change_reason'] input",
            run: "edit Severity re-rated after field data",
        },
        {
            content: "Save with the reason",
            trigger: ".o_form_button_save",
            run: "click",
        },
        inState("review"),
        {
            content: "The approval shows the record changed after signing",
            trigger:
                ".o_esign_panel .o_esign_steps tr:contains('QA approval') .badge:contains('Record changed after signing')",
        },
        {
            content: "The reviews are to sign again",
            trigger:
                ".o_esign_panel .o_esign_steps tr.table-info:contains('R&D review') .badge:contains('To sign')",
        },
    ],
});
