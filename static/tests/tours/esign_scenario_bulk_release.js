/** @odoo-module **/
// Scenario 7, bulk release. The release authority finds the quarantined lots in
// E-Signatures > Records > Lot Release, selects them all, runs "Release (sign)" from the
// actions menu and authenticates once for all of them.
import { registry } from "@web/core/registry";
import {
    loginAndReason,
    passwordAndSign,
    wizardNotReadAgain,
} from "@meddev_esign/../tests/tours/esign_scenario_common";

registry.category("web_tour.tours").add("meddev_esign_scenario_bulk_release", {
    steps: () => [
        {
            content: "Look for the batch's lots",
            trigger: ".o_searchview_input",
            run: "edit TOUR-BULK",
        },
        {
            content: "Search",
            trigger: ".o_searchview_input",
            run: "press Enter",
        },
        {
            content: "The quarantined lots are listed",
            trigger: ".o_list_view .o_data_row:contains('TOUR-BULK-5')",
        },
        {
            content: "Select them all",
            trigger: ".o_list_view thead .o_list_record_selector input",
            run: "click",
        },
        {
            content: "Five lots are selected",
            trigger: ".o_list_selection_box:contains('5')",
        },
        {
            content: "Open the actions menu",
            trigger: ".o_cp_action_menus .fa-cog",
            run: "click",
        },
        {
            content: "Release them with one signature",
            trigger: ".o-dropdown--menu .o-dropdown-item:contains('Release (sign)')",
            run(helpers) {
                performance.clearResourceTimings();
                return helpers.click();
            },
        },
        wizardNotReadAgain(),
        {
            content: "The wizard states the meaning",
            trigger: ".modal .alert-info:contains('Released')",
        },
        {
            content: "... and signs the five lots",
            trigger: ".modal .o_field_widget[name='record_count']:contains('5')",
        },
        ...loginAndReason("Batch records reviewed; release tests passed."),
        ...passwordAndSign(),
        {
            content: "No lot of the batch is left in quarantine",
            trigger: ".o_action:not(:has(.o_data_row:contains('TOUR-BULK')))",
        },
    ],
});
