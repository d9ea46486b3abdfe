/** @odoo-module **/
// Scenario 6, the inspector's visit. The auditor (read-only) opens a released lot, reads its
// signature and its audit trail (old -> new, with the reason), prints the release certificate,
// exports the lot's trail with its chain proof, and verifies the chain and prints the
// integrity report from E-Signatures > Audit Trail > Integrity.
import { registry } from "@web/core/registry";
import {
    exportTrailWithChainProof,
    openTrailIntegrity,
    printReleaseCertificate,
} from "@meddev_esign/../tests/tours/esign_scenario_common";

registry.category("web_tour.tours").add("meddev_esign_scenario_inspector", {
    steps: () => [
        {
            content: "The lot is released",
            trigger: ".o_statusbar_status .o_arrow_button_current[data-value='released']",
        },
        {
            content: "The signing sequence: the release step, its meaning and who signed",
            trigger:
                ".o_esign_panel .o_esign_steps tr:contains('Release'):contains('Released'):contains('Tour Inspector Ra')",
        },
        {
            content: "... when",
            trigger: ".o_esign_panel .o_esign_steps tr:contains('Tour Inspector Ra') td:nth-child(4) div:not(:empty)",
        },
        {
            content: "... and that the signature is valid",
            trigger: ".o_esign_panel .o_esign_steps tr:contains('Tour Inspector Ra') .badge:contains('Valid')",
        },
        {
            content: "The auditor has nothing to sign or reject, and nothing to edit",
            trigger:
                ".o_form_view:not(:has(.o_esign_sign_button)):not(:has(.o_esign_reject_button)):not(:has(.o_field_widget[name='ref'] input))",
        },
        ...printReleaseCertificate(),
        {
            content: "Open the lot's audit trail",
            trigger: ".o_form_view .o_esign_audit_button",
            run: "click",
        },
        {
            content: "The change with its reason is in the trail",
            trigger: ".o_list_view .o_data_row:contains('Label reprinted') .o_data_cell:first",
            run: "click",
        },
        {
            content: "Old value",
            trigger: ".o_esign_audit_changes td:contains('INSP-REF-1')",
        },
        {
            content: "New value",
            trigger: ".o_esign_audit_changes td:contains('INSP-REF-2')",
        },
        {
            content: "Back to the lot's trail",
            trigger: ".o_breadcrumb .breadcrumb-item:last-child a",
            run: "click",
        },
        {
            content: "The signature is in the trail too",
            trigger: ".o_list_view .o_data_row .o_data_cell[name='operation']:contains('Signature')",
        },
        ...exportTrailWithChainProof(),
        ...openTrailIntegrity(),
        {
            content: "Verify it and print the integrity report",
            trigger: ".o_form_view button[name='action_print_integrity_report']",
            run: "click",
        },
        {
            content: "The verdict: intact",
            trigger: ".o_form_view .o_field_widget[name='last_verdict']:contains('Intact')",
        },
        {
            content: "The report was downloaded without error",
            trigger: "body:not(:has(.o_blockUI)):not(:has(.o_error_dialog))",
        },
    ],
});
