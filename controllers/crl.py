from odoo import http
from odoo.http import request


class EsignCrlController(http.Controller):
    """The company CA's certificate revocation list, public as RFC 5280 expects."""

    @http.route(
        "/meddev_esign/crl/<int:company_id>.crl",
        type="http",
        auth="public",
        methods=["GET"],
        csrf=False,
        save_session=False,
    )
    def crl(self, company_id):
        ca = (
            request.env["esign.ca"]
            .sudo()
            .search([("company_id", "=", company_id), ("active", "=", True)], limit=1)
        )
        if not ca:
            raise request.not_found()
        der = ca._current_crl()
        return request.make_response(
            der,
            headers=[
                ("Content-Type", "application/pkix-crl"),
                ("Content-Disposition", f'attachment; filename="{company_id}.crl"'),
                ("Cache-Control", "public, max-age=3600"),
            ],
        )


class EsignEvidenceController(http.Controller):
    """A signature's evidence ZIP, for whoever may read the signature."""

    @http.route(
        "/meddev_esign/signature/<int:signature_id>/evidence.zip",
        type="http",
        auth="user",
        methods=["GET"],
    )
    def evidence(self, signature_id):
        signature = request.env["esign.signature"].browse(signature_id).exists()
        if not signature:
            raise request.not_found()
        signature.check_access("read")
        data = signature._pki_evidence_zip()
        return request.make_response(
            data,
            headers=[
                ("Content-Type", "application/zip"),
                (
                    "Content-Disposition",
                    f'attachment; filename="signature-{signature_id}-evidence.zip"',
                ),
            ],
        )
