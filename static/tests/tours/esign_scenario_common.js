/** @odoo-module **/
// Steps the scenario tours share: signing the step the panel offers the logged-in user,
// through the sign wizard, with their log-in and password (the two components); printing a
// lot's certificate, exporting a trail with its chain proof, and opening the trail's integrity.
import { user } from "@web/core/user";

export const SCENARIO_PASSWORD = "Scenario-Pass-42";

/**
 * In the open sign wizard: the first component (my log-in) and the reason for signing.
 *
 * @param {string} reason the reason kept with the signature
 */
export function loginAndReason(reason) {
    return [
        {
            content: "First component: my log-in",
            trigger: ".modal div[name='login'] input",
            async run(helpers) {
                await helpers.edit(user.login);
            },
        },
        {
            content: "Reason for signing",
            trigger: ".modal div[name='reason'] textarea",
            run: `edit ${reason}`,
        },
    ];
}

/** In the open sign wizard: the second component (my password), sign, and the wizard closes. */
export function passwordAndSign() {
    return [
        {
            content: "Second component: my password",
            trigger: ".modal .o_esign_password",
            run: `edit ${SCENARIO_PASSWORD}`,
        },
        {
            content: "Sign",
            trigger: ".modal .o_esign_confirm",
            run: "click",
        },
        {
            content: "The wizard closes",
            trigger: "body:not(:has(.modal))",
        },
    ];
}

/**
 * Open the sign wizard from the form's Sign button. The wizard opens with what the button
 * returned (``esign_preload``): the form does not read the wizard from the server again.
 */
export function openSignWizard() {
    return [
        {
            content: "Open the sign wizard",
            trigger: ".o_form_view .o_esign_sign_button",
            run(helpers) {
                performance.clearResourceTimings();
                return helpers.click();
            },
        },
        wizardNotReadAgain(),
    ];
}

/**
 * Once the sign wizard is open: since the requests were last cleared
 * (``performance.clearResourceTimings()`` in the step that opened it), the web client did
 * not ask the server for the wizard (``web_read``); it used the preload.
 */
export function wizardNotReadAgain() {
    return {
        content: "The wizard opened without reading itself from the server again",
        trigger: ".modal .o_esign_password",
        run() {
            const reads = performance
                .getEntriesByType("resource")
                .filter((entry) => entry.name.includes("/esign.sign.wizard/web_read"));
            if (reads.length) {
                throw new Error(`The sign wizard was read again: ${reads[0].name}`);
            }
        },
    };
}

/**
 * Open the sign wizard from the form, check the meaning it states, authenticate and sign.
 *
 * @param {Object} options
 * @param {string} options.meaning the meaning the wizard must state (e.g. "Approved")
 * @param {string} options.reason the reason kept with the signature
 */
export function signInWizard({ meaning, reason }) {
    return [
        ...openSignWizard(),
        {
            content: `The wizard states the meaning: ${meaning}`,
            trigger: `.modal .alert-info:contains('${meaning}')`,
        },
        ...loginAndReason(reason),
        ...passwordAndSign(),
        {
            content: "The panel shows my signature",
            trigger: `.o_esign_panel .o_esign_steps td div:contains('${user.name}')`,
        },
    ];
}

/** From a lot's form: print its Batch Release Certificate; it downloads without error. */
export function printReleaseCertificate() {
    return [
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
        {
            content: "The certificate was downloaded without error",
            trigger: "body:not(:has(.o_blockUI)):not(:has(.o_error_dialog))",
        },
    ];
}

/** From a list of audit entries: select them all and export them with the chain proof. */
export function exportTrailWithChainProof() {
    let selected = 0;
    return [
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
    ];
}

/** From anywhere in E-Signatures: open the company's audit trail under Integrity. */
export function openTrailIntegrity() {
    return [
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
            // The chains' list, not the entries' list it replaces: wait for its own column.
            trigger: ".o_list_view .o_data_row:has(.o_data_cell[name='head_seq']) .o_data_cell[name='name']",
            run: "click",
        },
    ];
}
