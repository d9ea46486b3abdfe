/** @odoo-module **/
// A QA manager's monthly look: from the E-Signatures app, Reporting shows the cycle time per
// policy as a chart, then as a pivot with the median, the 90th percentile and the first-pass
// rate, and lists the requests that are overdue.
import { registry } from "@web/core/registry";
import { stepUtils } from "@web_tour/tour_service/tour_utils";

function openReportingMenu(label, xmlid) {
    return [
        {
            content: "Open the Reporting menu",
            trigger: ".o_menu_sections button:contains('Reporting')",
            run: "click",
        },
        {
            content: `Choose ${label}`,
            trigger: `.dropdown-menu a[data-menu-xmlid='${xmlid}']`,
            run: "click",
        },
    ];
}

registry.category("web_tour.tours").add("meddev_esign_qa_reporting", {
    steps: () => [
        stepUtils.showAppsMenuItem(),
        {
            content: "Open the E-Signatures app",
            trigger: ".o_app[data-menu-xmlid='meddev_esign.menu_esign_root']",
            run: "click",
        },
        ...openReportingMenu("Cycle Time and First Pass", "meddev_esign.menu_esign_kpi_cycle"),
        {
            content: "The cycle time is drawn as a chart",
            trigger: ".o_graph_view .o_graph_renderer canvas",
        },
        {
            content: "Switch to the pivot",
            trigger: ".o_switch_view.o_pivot",
            run: "click",
        },
        {
            content: "The pivot gives the lot release's median, 90th percentile and first pass",
            trigger:
                ".o_pivot:has(th:contains('Median Cycle (h)')):has(th:contains('First-Pass Rate (%)')) th:contains('Lot release')",
        },
        ...openReportingMenu("Overdue Requests", "meddev_esign.menu_esign_kpi_overdue"),
        {
            content: "The lot that has waited ten days is overdue",
            trigger: ".o_list_view .o_data_row:contains('TOUR-KPI-OPEN')",
        },
        {
            content: "The released lot is not",
            trigger: ".o_list_view:not(:has(.o_data_row:contains('TOUR-KPI-DONE')))",
        },
    ],
});
