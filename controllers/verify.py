"""The public verification of sealed printouts: the page a printout's QR code opens, and the
upload that checks a PDF file.

Website-free, like the CRL route: ``auth="public"``, no session saved, a QWeb page of its own
that links to nothing inside Odoo. It shows only what the printout already shows.

* An unknown token and a malformed one get the same "not found" page, status and body: every
  token, whatever its shape, is hashed and looked up by its hash (one indexed query), so
  neither the answer nor its time says anything about how near a guess was.
* Requests are counted per client address and minute in the database
  (``esign.verify.throttle``): with several prefork workers or servers an in-process counter
  would let each worker grant the limit again; one upsert per request is cheap.
* The upload form posts without Odoo's CSRF token (``csrf=False``): the route is anonymous,
  changes nothing and stores nothing (only the rate counter), so a forged cross-site post
  can do no more than verify a file its author already has; a CSRF token would need a
  session for every anonymous visitor, and scripts (curl, JSON clients) must be able to post.
"""

import json
import logging

from odoo import http
from odoo.http import request

from ..services import pdf_verify, pki

_logger = logging.getLogger(__name__)

#: Requests per client address and minute, page and upload together (the system parameter
#: ``meddev_esign.verify_rate_limit`` overrides it).
RATE_LIMIT = 30
RATE_LIMIT_PARAM = "meddev_esign.verify_rate_limit"
#: The largest PDF accepted for verification.
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
#: Room for the multipart envelope around the file.
MULTIPART_SLACK = 64 * 1024

HEADERS = [
    ("Content-Type", "text/html; charset=utf-8"),
    ("Cache-Control", "no-store"),
    ("X-Robots-Tag", "noindex, nofollow"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Content-Type-Options", "nosniff"),
]


class EsignVerifyController(http.Controller):
    @http.route(
        "/meddev_esign/verify/<string:token>",
        type="http",
        auth="public",
        methods=["GET"],
        csrf=False,
        save_session=False,
    )
    def verify_token(self, token, **_kwargs):
        if not _within_rate():
            return _too_many()
        printed = request.env["esign.print"]._find_by_token(token)
        if not printed:
            return _page("meddev_esign.verify_not_found", {}, status=404)
        lang = printed.lang if printed.lang in _installed_langs() else None
        view = (printed.with_context(lang=lang) if lang else printed)._public_view()
        values = {"print": view}
        return _page("meddev_esign.verify_print", values, lang=lang)

    @http.route(
        "/meddev_esign/verify",
        type="http",
        auth="public",
        methods=["GET", "POST"],
        csrf=False,
        save_session=False,
    )
    def verify_upload(self, **_kwargs):
        if not _within_rate():
            return _too_many()
        if request.httprequest.method == "GET":
            return _page("meddev_esign.verify_upload", {"result": None})
        result, status = _check_upload()
        if _wants_json():
            return request.make_response(
                json.dumps(result, ensure_ascii=False),
                headers=[("Content-Type", "application/json"), ("Cache-Control", "no-store")],
                status=status,
            )
        return _page("meddev_esign.verify_upload", {"result": result}, status=status)


# ---------------------------------------------------------------------- helpers
def _installed_langs():
    return {code for code, _name in request.env["res.lang"].sudo().get_installed()}


def _page(template, values, status=200, lang=None):
    env = request.env(context=dict(request.env.context, lang=lang)) if lang else request.env
    body = env["ir.qweb"]._render(template, values)
    return request.make_response(body, headers=HEADERS, status=status)


def _client_address():
    return request.httprequest.remote_addr or ""


def _within_rate():
    param = request.env["ir.config_parameter"].sudo().get_param(RATE_LIMIT_PARAM)
    limit = int(param) if param and param.strip().isdigit() else RATE_LIMIT
    return request.env["esign.verify.throttle"].sudo()._hit(_client_address(), limit)


def _too_many():
    response = _page("meddev_esign.verify_too_many", {}, status=429)
    response.headers["Retry-After"] = "60"
    return response


def _wants_json():
    accept = request.httprequest.accept_mimetypes
    return accept.best_match(["text/html", "application/json"]) == "application/json"


def _result(status, message, **extra):
    return {"status": status, "message": message, **extra}


def _check_upload():
    """Verify the uploaded ``pdf``; (the answer as a dict, the HTTP status)."""
    env = request.env
    length = request.httprequest.content_length
    if length and length > MAX_UPLOAD_BYTES + MULTIPART_SLACK:
        return _too_large(env)
    upload = request.httprequest.files.get("pdf")
    if upload is None:
        return _result("no_file", env._("Choose a PDF file to verify.")), 400
    data = upload.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        return _too_large(env)
    return check_pdf(env, data)


def check_pdf(env, data):
    """What the upload answers for the bytes ``data``: (the answer as a dict, HTTP status).

    Every company's CA root is a trust anchor; the file is matched to its print by SHA-256.
    Nothing is stored.
    """
    if not data.lstrip()[:5].startswith(b"%PDF-"):
        return (
            _result("not_pdf", env._("This file is not a PDF: nothing could be verified.")),
            400,
        )
    cas = env["esign.ca"].sudo().search([("active", "=", True)])
    roots = tuple({ca.fingerprint: ca._root() for ca in cas}.values())
    tsa_roots = []
    companies = env["res.company"].sudo().search([("esign_tsa_roots_pem", "!=", False)])
    for company in companies:
        tsa_roots += pki.load_certificates(company.esign_tsa_roots_pem.encode())
    verdict = pdf_verify.verify_sealed_pdf(
        data, trust_roots=roots, tsa_roots=tuple(tsa_roots), max_bytes=MAX_UPLOAD_BYTES
    )
    checks = [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in verdict.checks]
    extra = {"sha256": verdict.sha256, "checks": checks}
    if verdict.status == "authentic":
        printed = env["esign.print"]._find_by_sha256(verdict.sha256)
        if not printed:
            return (
                _result(
                    "authentic_unknown_print",
                    env._(
                        "The seal is intact and made by a trusted company seal, but no print "
                        "of this exact file is on record here."
                    ),
                    **extra,
                ),
                200,
            )
        view = printed._public_view()
        return (
            _result(
                "authentic",
                env._(
                    "Authentic: unchanged since printed on %(when)s by %(user)s.",
                    when=view["printed_at"],
                    user=view["printed_by"],
                ),
                company=view["company"],
                report=view["report"],
                records=[
                    {
                        "name": item["name"],
                        "print_number": item["print_number"],
                        "newer_print": item["newer_print"],
                        # The file is unchanged; each e-signature it shows may not be.
                        "signatures": item["signatures"],
                    }
                    for item in view["records"]
                ],
                timestamped=verdict.timestamped,
                **extra,
            ),
            200,
        )
    messages = {
        "altered": env._(
            "Altered after sealing: the file is not the one that was sealed, or something was "
            "added to it since."
        ),
        "unknown_issuer": env._(
            "Sealed by an unknown issuer: the seal was not made with a company seal of this "
            "system."
        ),
        "not_sealed": env._("Not sealed: the file carries no seal."),
        "unusable": env._("This file is a broken or unreadable PDF: nothing could be verified."),
    }
    message = messages.get(verdict.status) or messages["unusable"]
    return _result(verdict.status, message, **extra), 200


def _too_large(env):
    return (
        _result(
            "too_large",
            env._(
                "The file is larger than %(size)s MB: it cannot be verified here.",
                size=MAX_UPLOAD_BYTES // (1024 * 1024),
            ),
        ),
        413,
    )
