/** @odoo-module **/
// Steps the scenario tours share: signing the step the panel offers the logged-in user,
// through the sign wizard, with their log-in and password (the two components).
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
 * Open the sign wizard from the form, check the meaning it states, authenticate and sign.
 *
 * @param {Object} options
 * @param {string} options.meaning the meaning the wizard must state (e.g. "Approved")
 * @param {string} options.reason the reason kept with the signature
 */
export function signInWizard({ meaning, reason }) {
    return [
        {
            content: "Open the sign wizard",
            trigger: ".o_form_view .o_esign_sign_button",
            run: "click",
        },
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
