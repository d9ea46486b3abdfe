/** @odoo-module **/
// Scenario 1, step 4: the release authority signs a lot's release in the form, through the
// sign wizard, then prints the Batch Release Certificate.
import { registry } from "@web/core/registry";
import { printReleaseCertificate } from "@meddev_esign/../tests/tours/esign_scenario_common";

registry.category("web_tour.tours").add("meddev_esign_lot_release", {
    steps: () => [
        {
            content: "Open the lot's dates",
            trigger: ".o_notebook .nav-link[name='expiration_dates']",
            run: "click",
        },
        {
            content: "The editable expiry is a date, with no clock time",
            trigger: ".o_field_widget[name='expiration_date'] input",
            run() {
                const value = this.anchor.value;
                if (!value || value.includes(":")) {
                    throw new Error(`the expiry input reads "${value}"`);
                }
            },
        },
        {
            content: "The signature panel asks for the release",
            trigger: ".o_esign_panel .o_esign_steps td:contains('Release')",
        },
        {
            content: "Open the sign wizard",
            trigger: ".o_form_view .o_esign_sign_button",
            run: "click",
        },
        {
            content: "The wizard states the meaning",
            trigger: ".modal .alert-info:contains('Released')",
        },
        {
            content: "First component: the log-in",
            trigger: ".modal div[name='login'] input",
            run: "edit tour_qa_manager",
        },
        {
            content: "Reason for signing",
            trigger: ".modal div[name='reason'] textarea",
            run: "edit Batch record reviewed; all release tests passed.",
        },
        {
            content: "Second component: the password",
            trigger: ".modal .o_esign_password",
            run: "edit tour-Pass-42",
        },
        {
            content: "Sign",
            trigger: ".modal .o_esign_confirm",
            run: "click",
        },
        {
            content: "The lot is released",
            trigger: ".o_statusbar_status .o_arrow_button_current:contains('Released')",
        },
        {
            content: "The panel shows the signature",
            trigger: ".o_esign_panel .badge:contains('Signed')",
        },
        ...printReleaseCertificate(),
    ],
});
