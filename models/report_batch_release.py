import base64

from odoo import api, models
from odoo.exceptions import UserError

from ..services import gs1
from ..services.errors import EsignError


class ReportBatchReleaseCertificate(models.AbstractModel):
    """What the Batch Release Certificate prints for each lot: the MO that made it, the UDI
    (GS1 DataMatrix and its text), the quantity and every signature behind the release.

    The lot model stays about releasing; the certificate's data is gathered here, once per
    lot, and the template only lays it out.
    """

    _name = "report.meddev_esign.report_batch_release_certificate"
    _description = "Batch Release Certificate"

    @api.model
    def _get_report_values(self, docids, data=None):
        lots = self.env["stock.lot"].browse(docids)
        return {
            "doc_ids": docids,
            "doc_model": "stock.lot",
            "docs": lots,
            "certificates": {lot.id: self._certificate(lot) for lot in lots},
        }

    @api.model
    def _certificate(self, lot):
        productions = self._productions(lot)
        return {
            "productions": productions,
            "udi": self._udi_print(lot),
            "quantity": self._produced_qty(lot, productions),
            "signatures": self._signatures(lot, productions),
            "paper": lot._esign_paper_signatures() | productions._esign_paper_signatures(),
        }

    @api.model
    def _productions(self, lot):
        """The done or ongoing manufacturing order(s) that produced ``lot``."""
        return (
            self.env["mrp.production"]
            .sudo()
            .search([("lot_producing_id", "=", lot.id)], order="id")
        )

    @api.model
    def _udi(self, lot):
        """The lot's UDI: GTIN (01), production date (11), expiry (17), lot (10)."""
        gtin = lot.product_id.esign_gtin
        if not gtin:
            return None
        production = self._productions(lot).filtered(lambda p: p.state == "done")[:1]
        made = production.date_finished.date() if production.date_finished else None
        expiry = lot.expiration_date.date() if lot.expiration_date else None
        try:
            return gs1.UDI(gtin=gtin, production_date=made, expiry_date=expiry, lot=lot.name)
        except EsignError as exc:
            raise UserError(
                self.env._(
                    "Lot %(lot)s cannot carry a UDI: %(reason)s", lot=lot.name, reason=exc.message
                )
            ) from exc

    @api.model
    def _udi_print(self, lot):
        """What the certificate prints for the UDI: a GS1 DataMatrix and its text."""
        udi = self._udi(lot)
        if not udi:
            return {}
        png = gs1.render_datamatrix_png(udi, scale=6)
        return {
            "datamatrix": "data:image/png;base64," + base64.b64encode(png).decode(),
            "hri": gs1.build_hri(udi),
            "hri_elements": gs1.build_hri_elements(udi),
            "expiry": gs1.format_label_date(udi.expiry_date) if udi.expiry_date else "",
            "made": gs1.format_label_date(udi.production_date) if udi.production_date else "",
        }

    @api.model
    def _signatures(self, lot, productions):
        """Every signature behind the release: the MO's review and approval, the release."""
        domain = [
            "|",
            "&",
            ("res_model", "=", "stock.lot"),
            ("res_id", "=", lot.id),
            "&",
            ("res_model", "=", "mrp.production"),
            ("res_id", "in", productions.ids),
        ]
        return self.env["esign.signature"].sudo().search(domain, order="signed_at, id")

    @api.model
    def _produced_qty(self, lot, productions):
        done = productions.filtered(lambda p: p.state == "done")
        return sum(done.mapped("qty_produced")) if done else lot.product_qty
