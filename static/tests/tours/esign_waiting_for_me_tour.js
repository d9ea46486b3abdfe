/** @odoo-module **/
// A new signer's first hour: the quality engineer finds the MO that waits for their review in
// E-Signatures > Waiting for Me, opens it, reads "0 of 1 signatures" on the panel, and signs
// in a wizard that names the policy and the step once and has its Sign button in the footer.
import { registry } from "@web/core/registry";
import { user } from "@web/core/user";

const TOUR_PASSWORD = "tour-Pass-42";
const POLICY = "Tour first-hour review";

function countIn(selector, text) {
    const el = document.querySelector(selector);
    return el ? el.textContent.split(text).length - 1 : 0;
}

registry.category("web_tour.tours").add("meddev_esign_waiting_for_me", {
    steps: () => [
        {
            content: "The MO waits for my signature",
            trigger: `.o_list_view .o_data_row:contains('${POLICY}') td[name='record_name']`,
            run: "click",
        },
        {
            content: "Open the document from its request",
            trigger: ".o_form_view button[name='action_open_record']",
            run: "click",
        },
        {
            content: "The panel counts the step's signatures",
            trigger: ".o_esign_panel .o_esign_step_progress:contains('0 of 1 signatures')",
        },
        {
            content: "Nothing was edited: no Reason for Change box on the MO",
            trigger: ".o_form_view:not(:has(.o_esign_change_reason))",
        },
        {
            content: "Open the sign wizard",
            trigger: ".o_form_view .o_esign_sign_button",
            run: "click",
        },
        {
            content: "Sign sits in the footer, beside Cancel",
            trigger:
                ".modal .modal-footer:has(.o_esign_confirm.btn-primary):has(button.btn-secondary:contains('Cancel'))",
        },
        {
            content: "The policy and the step are each named once",
            trigger: ".modal .modal-body div[name='step_id']",
            run() {
                for (const name of [POLICY, "First-hour review step"]) {
                    const count = countIn(".modal .modal-body", name);
                    if (count !== 1) {
                        throw new Error(`"${name}" shows ${count} times in the wizard`);
                    }
                }
            },
        },
        {
            content: "First component: my log-in",
            trigger: ".modal div[name='login'] input",
            async run(helpers) {
                await helpers.edit(user.login);
            },
        },
        {
            content: "Second component: my password, right under the log-in (before the reason)",
            trigger: ".modal .o_esign_password",
            async run(helpers) {
                const modal = document.querySelector(".modal");
                const login = modal.querySelector("div[name='login'] input");
                const password = modal.querySelector(".o_esign_password");
                const reason = modal.querySelector("div[name='reason'] textarea");
                const follows = (a, b) =>
                    Boolean(a.compareDocumentPosition(b) & Node.DOCUMENT_POSITION_FOLLOWING);
                if (!follows(login, password) || !follows(password, reason)) {
                    throw new Error("the password is not between the log-in and the reason");
                }
                await helpers.edit(TOUR_PASSWORD);
            },
        },
        {
            content: "Sign from the footer",
            trigger: ".modal .modal-footer .o_esign_confirm",
            run: "click",
        },
        {
            content: "The panel counts my signature",
            trigger: ".o_esign_panel .o_esign_step_progress:contains('1 of 1 signatures')",
        },
        {
            content: "The wizard is closed",
            trigger: "body:not(:has(.modal))",
        },
    ],
});
