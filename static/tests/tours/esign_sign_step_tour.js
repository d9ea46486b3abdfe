/** @odoo-module **/
// Whoever is logged in signs the step the panel offers them, through the sign wizard, then
// sees their own name in the panel. Used for scenario 1, steps 2 and 3, on a manufacturing
// order: the quality engineer signs Reviewed, then the QA manager signs Approved.
import { registry } from "@web/core/registry";
import { user } from "@web/core/user";

const TOUR_PASSWORD = "tour-Pass-42";

registry.category("web_tour.tours").add("meddev_esign_sign_step", {
    steps: () => [
        {
            content: "The panel offers a step to sign",
            trigger: ".o_esign_panel .o_esign_steps .badge:contains('To sign')",
        },
        {
            content: "Open the sign wizard",
            trigger: ".o_form_view .o_esign_sign_button",
            run: "click",
        },
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
            run: "edit Production record complete and correct.",
        },
        {
            content: "Second component: my password",
            trigger: ".modal .o_esign_password",
            run: `edit ${TOUR_PASSWORD}`,
        },
        {
            content: "Sign",
            trigger: ".modal .o_esign_confirm",
            run: "click",
        },
        {
            content: "The panel shows my signature",
            trigger: ".o_esign_panel .o_esign_steps td div:contains('" + user.name + "')",
        },
        {
            content: "The wizard is closed and nothing is left for me to sign here",
            trigger: "body:not(:has(.modal)):not(:has(.o_esign_sign_button:visible))",
        },
    ],
});
