import logging

from cryptography.hazmat.primitives import serialization
from cryptography.x509 import ocsp

from odoo import http
from odoo.exceptions import UserError
from odoo.http import request

_logger = logging.getLogger(__name__)


def _active_ca(company_id):
    """The company's active signing CA, or a 404 (the public PKI routes)."""
    ca = (
        request.env["esign.ca"]
        .sudo()
        .search([("company_id", "=", company_id), ("active", "=", True)], limit=1)
    )
    if not ca:
        raise request.not_found()
    return ca


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
        ca = _active_ca(company_id)
        der = ca._current_crl()
        return request.make_response(
            der,
            headers=[
                ("Content-Type", "application/pkix-crl"),
                ("Content-Disposition", f'attachment; filename="{company_id}.crl"'),
                ("Cache-Control", "public, max-age=3600"),
            ],
        )


class EsignOcspController(http.Controller):
    """The company CA's OCSP responder (RFC 6960, POST), public like the CRL."""

    MAX_REQUEST_BYTES = 16384

    @http.route(
        "/meddev_esign/ocsp/<int:company_id>",
        type="http",
        auth="public",
        methods=["POST"],
        csrf=False,
        save_session=False,
    )
    def ocsp(self, company_id):
        ca = _active_ca(company_id)
        body = request.httprequest.get_data(cache=False)
        if len(body) > self.MAX_REQUEST_BYTES:
            der = _unsuccessful(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
        else:
            try:
                der = ca._ocsp_response(body)
            except UserError as exc:  # the CA key cannot be opened (master key, token)
                _logger.warning("OCSP request for company %s not answered: %s", company_id, exc)
                der = _unsuccessful(ocsp.OCSPResponseStatus.INTERNAL_ERROR)
        return request.make_response(
            der,
            headers=[
                ("Content-Type", "application/ocsp-response"),
                ("Cache-Control", "no-cache"),
            ],
        )


def _unsuccessful(status):
    return ocsp.OCSPResponseBuilder.build_unsuccessful(status).public_bytes(
        serialization.Encoding.DER
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
