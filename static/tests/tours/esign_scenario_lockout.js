/** @odoo-module **/
// Scenario 5, failed authentication. The release authority mistypes the password three times
// in the sign wizard and is locked from signing; an E-Signature Administrator unlocks the
// account: E-Signatures > Configuration > Locked Signers lists it, and the Unlock button is
// on the user form (Settings > Users & Companies > Users). The signer then signs.
import { registry } from "@web/core/registry";
import { user } from "@web/core/user";
import {
    SCENARIO_PASSWORD,
    loginAndReason,
    openSignWizard,
    passwordAndSign,
    signInWizard,
} from "@meddev_esign/../tests/tours/esign_scenario_common";

const tours = registry.category("web_tour.tours");

function wrongPassword(attempt, remaining) {
    return [
        {
            content: `Attempt ${attempt}: a mistyped password`,
            trigger: ".modal .o_esign_password",
            run: `edit wrong-password-${attempt}`,
        },
        {
            content: "Sign",
            trigger: ".modal .o_esign_confirm:enabled",
            run: "click",
        },
        {
            content: `Refused; ${remaining} attempt(s) left`,
            trigger: `.modal .o_esign_error:contains('${remaining} attempt(s) left')`,
        },
    ];
}

tours.add("meddev_esign_scenario_lockout", {
    steps: () => [
        ...openSignWizard(),
        ...loginAndReason("Release tests passed."),
        ...wrongPassword(1, 2),
        ...wrongPassword(2, 1),
        ...wrongPassword(3, 0),
        {
            content: "Now the right password",
            trigger: ".modal .o_esign_password",
            run: `edit ${SCENARIO_PASSWORD}`,
        },
        {
            content: "Sign",
            trigger: ".modal .o_esign_confirm:enabled",
            run: "click",
        },
        {
            content: "Refused: the account is locked from signing",
            trigger: ".modal .o_esign_error:contains('locked from signing')",
        },
        {
            content: "Give up",
            trigger: ".modal .modal-footer button.btn-secondary",
            run: "click",
        },
        {
            content: "Nothing was signed",
            trigger: "body:not(:has(.modal)) .o_esign_panel .o_esign_steps .badge:contains('To sign')",
        },
    ],
});

// A mistyped password, then the right one, in the same wizard: the log-in and the reason,
// typed once before the first attempt, go with each attempt (a refused one saves nothing),
// and the signature keeps them.
tours.add("meddev_esign_scenario_mistype_then_sign", {
    steps: () => [
        ...openSignWizard(),
        ...loginAndReason("Typed once, before a mistyped password."),
        ...wrongPassword(1, 2),
        {
            content: "The log-in and the reason are still in the form",
            trigger: ".modal div[name='reason'] textarea:value(Typed once, before a mistyped password.)",
        },
        ...passwordAndSign(),
        {
            content: "The panel shows my signature",
            trigger: ".o_esign_panel .o_esign_steps td div:contains('Tour Mistyping Signer')",
        },
    ],
});

tours.add("meddev_esign_scenario_unlock", {
    steps: () => [
        {
            content: "The locked signer is listed in Locked Signers",
            trigger: ".o_list_view .o_data_row .o_data_cell:contains('Tour Locked Signer')",
        },
        {
            // The Locked Signers list opens the simple user form, which has no Unlock button:
            // the administrator unlocks from Settings > Users & Companies > Users.
            content: "Go to the users",
            trigger: ".o_list_view",
            run: "goToUrl /odoo/action-base.action_res_users",
        },
        {
            content: "Look for the locked signer",
            trigger: ".o_searchview_input",
            run: "edit Tour Locked Signer",
        },
        {
            content: "Search",
            trigger: ".o_searchview_input",
            run: "press Enter",
        },
        {
            content: "Open the user",
            trigger: ".o_list_view .o_data_row .o_data_cell:contains('Tour Locked Signer')",
            run: "click",
        },
        {
            content: "Open the E-Signature page of the user form",
            trigger: ".o_form_view .o_notebook .nav-link[name='esign']",
            run: "click",
        },
        {
            content: "The account is locked",
            trigger: ".o_form_view .o_field_widget[name='esign_locked'] input:checked",
        },
        {
            content: "Unlock signing",
            trigger: ".o_form_view button[name='action_esign_unlock']",
            run: "click",
        },
        {
            content: "Confirm that the person's identity was verified",
            trigger: ".modal .modal-footer .btn-primary",
            run: "click",
        },
        {
            content: "The unlock is recorded with my name",
            trigger: `.o_form_view .o_field_widget[name='esign_unlocked_by_id']:contains('${user.name}')`,
        },
        {
            content: "... and the account is no longer locked",
            trigger: ".o_form_view .o_field_widget[name='esign_locked'] input:not(:checked)",
        },
    ],
});

tours.add("meddev_esign_scenario_sign_release", {
    steps: () => [
        ...signInWizard({
            meaning: "Released",
            reason: "Release tests passed.",
        }),
        {
            content: "The lot is released",
            trigger: ".o_statusbar_status .o_arrow_button_current[data-value='released']",
        },
    ],
});
