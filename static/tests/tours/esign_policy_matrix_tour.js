/** @odoo-module **/
// From E-Signatures > Configuration > Signing Matrix, a new administrator adds "purchase orders over 50,000 also need the finance manager": in
// the purchase-order policy's form, one more step for the finance managers' group, with the
// condition "Total > 50,000" (typed in the condition editor's code box), then saves.
import { registry } from "@web/core/registry";

registry.category("web_tour.tours").add("meddev_esign_policy_matrix", {
    steps: () => [
        {
            content: "Open the purchase-order approval policy",
            trigger: ".o_list_view .o_data_row td:contains('Tour PO approval')",
            run: "click",
        },
        {
            content: "The form offers only the purchase order's signing point",
            trigger: ".o_form_view div[name='trigger_id'] input",
            run: "click",
        },
        {
            content: "... and nothing of another model",
            trigger:
                ".o-autocomplete--dropdown-menu:has(a:contains('Purchase Order: Confirm')):not(:has(a:contains('Lot: Release')))",
        },
        {
            content: "Close the list of signing points",
            trigger: ".o_form_view div[name='trigger_id'] input",
            run: "press Escape",
        },
        {
            content: "Add a step",
            trigger: ".o_form_view div[name='step_ids'] .o_field_x2many_list_row_add a",
            run: "click",
        },
        {
            content: "Name it",
            trigger: ".modal div[name='name'] input",
            run: "edit Finance approval",
        },
        {
            content: "Stage 20: after the purchase approval",
            trigger: ".modal div[name='sequence'] input",
            run: "edit 20",
        },
        {
            content: "Its meaning",
            trigger: ".modal div[name='meaning_id'] input",
            run: "edit Approved",
        },
        {
            content: "Pick Approved",
            trigger: ".modal div[name='meaning_id'] .o-autocomplete--dropdown-item a:contains('Approved')",
            run: "click",
        },
        {
            content: "Signed by a group: the finance managers",
            trigger: ".modal div[name='group_id'] input",
            run: "edit Tour Finance",
        },
        {
            content: "Pick the finance managers' group",
            trigger: ".modal div[name='group_id'] .o-autocomplete--dropdown-item a:contains('Tour Finance Managers')",
            run: "click",
        },
        {
            content: "Needed when the total is over 50,000",
            trigger: ".modal div[name='condition'] .o_domain_selector_debug_container textarea",
            run: "edit [('amount_total', '>', 50000)]",
        },
        {
            content: "Leave the code box: the condition is taken",
            trigger: ".modal .modal-title",
            run: "click",
        },
        {
            content: "The condition editor reads it as a rule on the total",
            trigger: ".modal div[name='condition'] .o_domain_selector:has(.o_tree_editor_condition)",
        },
        {
            content: "Save the step",
            trigger: ".modal .o_form_button_save",
            run: "click",
        },
        {
            content: "The step is in the list with its condition",
            trigger: ".o_form_view div[name='step_ids'] .o_data_row:contains('Finance approval'):contains('amount_total')",
        },
        {
            content: "No warning: the group has an active member",
            trigger: ".o_form_view:not(:has(.o_esign_matrix_warning:visible))",
        },
        {
            content: "Save the policy",
            trigger: ".o_form_view .o_form_button_save",
            run: "click",
        },
        {
            content: "Saved",
            trigger: ".o_form_view .o_form_saved",
        },
    ],
});
