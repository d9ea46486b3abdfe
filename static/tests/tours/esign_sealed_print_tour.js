/** @odoo-module **/
// The auditor prints a lot's Batch Release Certificate from the Print menu, reads the copy's
// verification address from the print log (the address its QR code encodes), opens the
// public verification page and uploads the very PDF the Print menu gave: it is authentic.
// (The browser keeps its session cookie on these requests: the test server needs it; the page
// and the upload are public and show the same to anybody.)
import { browser } from "@web/core/browser/browser";
import { registry } from "@web/core/registry";
import { printReleaseCertificate } from "@meddev_esign/../tests/tours/esign_scenario_common";

const printed = {};

/**
 * Keep the PDF the Print menu downloads (the report download runs through an XHR). Under
 * test, Odoo renders reports as HTML unless the context says ``force_report_rendering``: the
 * Print menu's request gets that key, so that it returns the real, sealed PDF.
 */
function capturePrintedPdf() {
    const Original = browser.XMLHttpRequest;
    class Capturing extends Original {
        open(method, url, ...rest) {
            this.esignUrl = String(url);
            return super.open(method, url, ...rest);
        }
        send(body, ...args) {
            if (this.esignUrl.includes("/report/download") && body instanceof FormData) {
                const context = JSON.parse(body.get("context") || "{}");
                body.set("context", JSON.stringify({ ...context, force_report_rendering: true }));
            }
            this.addEventListener("load", () => {
                if (this.esignUrl.includes("/report/download") && this.status === 200) {
                    printed.pdf = this.response;
                }
            });
            return super.send(body, ...args);
        }
    }
    browser.XMLHttpRequest = Capturing;
    printed.restore = () => (browser.XMLHttpRequest = Original);
}

async function waitFor(check, what) {
    for (let i = 0; i < 200; i++) {
        if (check()) {
            return;
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`Timed out waiting for ${what}`);
}

registry.category("web_tour.tours").add("meddev_esign_sealed_print", {
    steps: () => [
        {
            content: "The released lot's form",
            trigger: ".o_form_view .o_esign_panel",
            run: capturePrintedPdf,
        },
        ...printReleaseCertificate(),
        {
            content: "The Print menu gave a PDF file",
            trigger: "body",
            async run() {
                await waitFor(() => printed.pdf, "the printed PDF");
                printed.restore();
                const head = await printed.pdf.slice(0, 5).text();
                if (head !== "%PDF-") {
                    throw new Error(`The print is not a PDF: ${head}`);
                }
            },
        },
        // The print log: the copy and the address its QR code encodes.
        {
            content: "Open the audit trail menu",
            trigger: ".o_main_navbar .o_menu_sections button:contains('Audit Trail')",
            run: "click",
        },
        {
            content: "Sealed Prints",
            trigger: ".o-dropdown--menu .o-dropdown-item:contains('Sealed Prints')",
            run: "click",
        },
        {
            content: "Open the latest print",
            trigger: ".o_list_view .o_data_row:first .o_data_cell[name='name']",
            run: "click",
        },
        {
            content: "Read the verification address",
            trigger: ".o_form_view .o_field_widget[name='verify_url'] a[href*='/meddev_esign/verify/']",
            run() {
                printed.url = this.anchor.getAttribute("href");
            },
        },
        // The public page, as a phone that scanned the QR code would open it.
        {
            content: "Open the verification page",
            trigger: "body",
            async run() {
                const response = await fetch(printed.url);
                const page = await response.text();
                for (const expected of ["Sealed printout", "VP-LOT-1", "Verify Page Releaser"]) {
                    if (response.status !== 200 || !page.includes(expected)) {
                        throw new Error(`The verification page lacks ${expected}: ${page}`);
                    }
                }
            },
        },
        // The upload: the very file the Print menu gave.
        {
            content: "Upload the printed PDF",
            trigger: "body",
            async run() {
                const form = new FormData();
                form.append("pdf", printed.pdf, "certificate.pdf");
                const response = await fetch("/meddev_esign/verify", {
                    method: "POST",
                    body: form,
                    headers: { Accept: "application/json" },
                });
                const answer = await response.json();
                if (answer.status !== "authentic" || !answer.message.startsWith("Authentic")) {
                    throw new Error(`The printed PDF is not authentic: ${JSON.stringify(answer)}`);
                }
                document.body.classList.add("o_esign_sealed_print_verified");
            },
        },
        {
            content: "The printed copy was verified as authentic",
            trigger: "body.o_esign_sealed_print_verified",
        },
    ],
});
