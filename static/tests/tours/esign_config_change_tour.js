/** @odoo-module **/
// Change control of the signing matrix. Administrator A changes the lot release policy's
// reminder: the form tells him the change awaits approval and keeps the policy in force.
// Administrator B opens Configuration > Configuration Changes (the tours start on the
// menus' actions), reads the old -> new
// difference in the sign wizard and signs it Approved with his password.
import { registry } from "@web/core/registry";
import { user } from "@web/core/user";

const TOUR_PASSWORD = "tour-Pass-42";

registry.category("web_tour.tours").add("meddev_esign_config_change_propose", {
    steps: () => [
        {
            content: "Open the lot release policy",
            trigger: ".o_list_view .o_data_row td:contains('Lot release')",
            run: "click",
        },
        {
            content: "Remind after four days instead of two",
            trigger: ".o_form_view div[name='reminder_days'] input",
            run: "edit 4",
        },
        {
            content: "Save",
            trigger: ".o_form_button_save",
            run: "click",
        },
        {
            content: "The form says so, and still shows the policy in force",
            trigger: ".o_form_view .o_esign_pending_changes:visible",
            run() {
                const input = document.querySelector(".o_form_view div[name='reminder_days'] input");
                if (input.value !== "2") {
                    throw new Error(`the policy in force shows ${input.value}, not 2`);
                }
            },
        },
    ],
});

registry.category("web_tour.tours").add("meddev_esign_config_change_approve", {
    steps: () => [
        {
            content: "Open the pending change of the lot release policy",
            trigger: ".o_list_view .o_data_row td:contains('Lot release')",
            run: "click",
        },
        {
            content: "The form shows the old and the new value",
            trigger: ".o_form_view .o_esign_config_diff td:contains('Remind After (days)')",
        },
        {
            content: "Open the sign wizard",
            trigger: ".o_form_view .o_esign_sign_button",
            run: "click",
        },
        {
            content: "The wizard shows what is approved",
            trigger: ".modal .o_esign_config_diff td:contains('4')",
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
            run: "edit Four-eyes review of the reminder change.",
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
            content: "The change is applied",
            trigger: ".o_form_view .o_statusbar_status button.o_arrow_button_current:contains('Applied')",
        },
    ],
});
