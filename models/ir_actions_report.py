"""Regulated reports print sealed: the hook in Odoo's PDF rendering.

``_render_qweb_pdf`` is what the Print menu, the report controller, e-mail templates and
chatter attachments all go through; the merged PDF it returns (one file for one or many
records) is sealed there once, so every way out of Odoo gives the sealed file. A report's
per-record attachments (``attachment`` on the report) are made from the unsealed streams
before the merge; they are sealed here too, one print each, so a stored copy is sealed as well.
"""

from markupsafe import Markup

from odoo import fields, models

#: A blank block at the end of a sealed report's last record, where the seal's stamp is drawn
#: (250 x 72 pt at the right, just above the footer): the report's text never runs under it.
STAMP_ROOM = Markup(
    '<div class="o_esign_stamp_room" style="height: 30mm; clear: both; '
    'page-break-inside: avoid; break-inside: avoid;"></div>'
)


class IrActionsReport(models.Model):
    _inherit = "ir.actions.report"

    esign_seal = fields.Boolean(
        string="Seal When Printed",
        help="A regulated report: when the company seals regulated reports, every printout "
        "of this report is sealed with the company seal (PAdES), carries a QR code to its "
        "verification page, embeds the records' signature evidence and is logged as a "
        "controlled copy.",
    )

    def _render_qweb_pdf(self, report_ref, res_ids=None, data=None):
        pdf, kind = super()._render_qweb_pdf(report_ref, res_ids=res_ids, data=data)
        if kind != "pdf" or not res_ids:
            return pdf, kind
        report = self._get_report(report_ref)
        if not report.esign_seal:
            return pdf, kind
        ids = [res_ids] if isinstance(res_ids, int) else list(dict.fromkeys(res_ids))
        records = self.env[report.model].browse(ids)
        return self.env["esign.print"]._seal_report(report, records, pdf), kind

    def _prepare_html(self, html, report_model=False):
        """Leave room for the seal's stamp at the end of each record's body.

        The stamp is drawn on the last page just above the footer (see
        ``esign.print._seal_stamp``). Each record's body ends with a blank block as tall as
        the stamp, kept whole on one page: the last page always ends with that blank room, so
        the stamp covers neither the report's text nor its footer. (Each record gets it, as a
        record's body may become a sealed file of its own through the report's attachment.)
        """
        result = super()._prepare_html(html, report_model=report_model)
        if not (self.esign_seal and result and self._esign_sealing_on()):
            return result
        bodies = result[0]
        for index, body in enumerate(bodies):
            text = str(body)
            at = text.rfind("</body>")
            if at >= 0:
                bodies[index] = Markup(text[:at]) + STAMP_ROOM + Markup(text[at:])
        return result

    def _esign_sealing_on(self):
        """Whether a company the user prints for seals its regulated reports."""
        return any(self.env.companies.sudo().mapped("esign_seal_enabled"))

    def _prepare_pdf_report_attachment_vals_list(self, report, streams):
        vals_list = super()._prepare_pdf_report_attachment_vals_list(report, streams)
        if not report.esign_seal:
            return vals_list
        for vals in vals_list:
            record = self.env[report.model].browse(vals["res_id"])
            vals["raw"] = self.env["esign.print"]._seal_report(report, record, vals["raw"])
        return vals_list
