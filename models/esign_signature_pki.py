"""A signature's PKI evidence (R22, R23): the CAdES signature and RFC 3161 timestamp made
with it, their verification, the evidence package an auditor exports, and the job that fills
timestamps a TSA could not give at once."""

import io
import json
import logging
import zipfile
from datetime import timedelta
from pathlib import Path

from cryptography.hazmat.primitives.serialization import Encoding

from odoo import api, fields, models
from odoo.exceptions import UserError

from ..services import pki, pki_cli
from ..services import signature_chain as sigchain
from ..services import snapshot as snap
from . import esign_keystore as keystore

_logger = logging.getLogger(__name__)

EVIDENCE_README = """Electronic signature evidence (meddev_esign)

{manifestation}

evidence/
{listing}
services/           the verifier: this add-on's pure-Python core.

Verify it offline, with no server (Python 3.10+ with cryptography and pyhanko installed,
e.g. pip install pyhanko==0.38.0):

    python3 -m services.pki_cli evidence

It checks the CAdES signature over snapshot.json, the signer's certificate chain to ca.pem,
that the certificate was not revoked at the timestamp's time (ca.crl), the RFC 3161 token and
its TSA (tsa-roots.pem), and that snapshot.json hashes to the content hash in manifest.json.
Exit status 0 means valid.
"""


class EsignSignaturePki(models.Model):
    _inherit = "esign.signature"

    @api.model
    def _pki_sign(self, vals, company):
        """The CAdES signature, certificate and timestamp of a new signature's INSERT.

        Refuses (translated UserError, nothing stored) a signer without a usable certificate,
        a keystore or token that cannot sign, and, unless the company signs with a pending
        timestamp, a signature no TSA will stamp.

        :return: (vals to add, the TimestampResult or None when pending)
        """
        # The company's timestamping columns, not its row: a cold read of one field fetches
        # its hundred and more columns, which cost more than the rest of the timestamping.
        company.fetch(
            ["esign_tsa_urls", "esign_tsa_timeout", "esign_tsa_offline", "esign_tsa_drift_seconds"]
        )
        user = self.env["res.users"].browse(vals["user_id"])
        certificate = self.env["esign.certificate"]._signing_certificate(user, company)
        record = self.env[vals["res_model"]].browse(vals["res_id"]).sudo()
        trigger = self.env["esign.request"].browse(vals["request_id"]).trigger
        snapshot = record._esign_snapshot(trigger)
        if snap.content_hash(snapshot) != vals["content_hash"]:
            raise UserError(
                self.env._("%(record)s changed while signing; sign again.", record=record)
            )
        content = snap.canonical_bytes(snapshot)
        ca = certificate.ca_id
        with keystore.signer(
            self.env, certificate, certificate.key_ref, ca._embedded_certificates()
        ) as signer:
            cms_der = pki.sign_detached(content, signer)
        stamp = None
        try:
            stamp = pki.request_timestamp(
                cms_der, company._esign_tsa_url_list(), timeout=company.esign_tsa_timeout or 5.0
            )
        except pki.TimestampUnavailableError as exc:
            if company.esign_tsa_offline != "pending":
                raise keystore.user_error(self.env, exc) from exc
            _logger.warning("Signature made with its timestamp pending: %s", exc)
        return {
            "certificate_id": certificate.id,
            "pki_certificate_fingerprint": certificate.fingerprint,
            "pki_snapshot": keystore.b64(content),
            "pki_cms": keystore.b64(cms_der),
            "pki_token": keystore.b64(stamp.token) if stamp else False,
            "pki_timestamp_at": pki.utc(stamp.gen_time).replace(tzinfo=None) if stamp else False,
            "pki_tsa_url": stamp.tsa_url if stamp else False,
            "pki_timestamp_pending": stamp is None,
        }, stamp

    def _pki_check_drift(self, stamp, company):
        """Record in the audit trail a TSA time too far from the server's clock (R27)."""
        self.ensure_one()
        threshold = company.esign_tsa_drift_seconds or 0
        drift = stamp.drift.total_seconds()
        if threshold <= 0 or abs(drift) <= threshold:
            return
        _logger.warning(
            "TSA %s clock differs from the server's by %.1f s (signature %s)",
            stamp.tsa_url,
            drift,
            self.id,
        )
        self.env["esign.audit.entry"]._append(
            [
                self._esign_audit_item(
                    "clock_drift",
                    [
                        ["drift_seconds", None, f"{drift:.3f}"],
                        ["server_time", None, snap.utc_iso(stamp.local_time)],
                        ["tsa_time", None, snap.utc_iso(stamp.gen_time)],
                        ["tsa_url", None, stamp.tsa_url],
                        ["threshold_seconds", None, threshold],
                    ],
                    self.env._("The timestamp authority's clock differs from the server's."),
                    record_name=self.manifestation,
                )
            ]
        )

    def _pki_evidence(self):
        """Everything a verifier needs, as bytes and certificates (exportable as files)."""
        self.ensure_one()
        sig = self.sudo()
        if not sig.pki_cms:
            raise UserError(self.env._("This signature carries no CAdES signature to verify."))
        token = keystore.raw(sig.pki_token) or keystore.raw(sig.timestamp_ids[:1].token)
        ca = sig.certificate_id.ca_id
        company = sig.company_id or self.env.company
        roots = company.esign_tsa_roots_pem
        # Stored times are cut to the second: the TSA's genTime is before stored + 1 s.
        stamped_at = sig.pki_timestamp_at or sig.timestamp_ids[:1].gen_time
        issued_after = stamped_at + timedelta(seconds=1) if token and stamped_at else None
        verified_at = None
        if not token:
            # Nothing dates the signature: its revocation is judged now, from a CRL issued
            # after now (a second later at most), so only the missing token is reported.
            verified_at = fields.Datetime.now().replace(microsecond=0)
            issued_after = verified_at + timedelta(seconds=1)
        return {
            "cms": keystore.raw(sig.pki_cms),
            "content": keystore.raw(sig.pki_snapshot),
            "token": token or None,
            "trusted_ca": ca._root(),
            "tsa_roots": pki.load_certificates(roots.encode()) if roots else [],
            "crl": pki.load_crl(ca._current_crl(issued_after=issued_after)),
            "crl_number": ca.crl_number,
            "verified_at": verified_at,
        }

    def _pki_verify(self, evidence=None):
        """Verify the CAdES signature, chain, revocation at signing time and timestamp.

        :param evidence: What ``_pki_evidence`` returns (tests pass tampered copies).
        :return: the stored ``esign.signature.verification``.
        """
        self.ensure_one()
        evidence = evidence or self._pki_evidence()
        result = pki.verify_signature(
            evidence["cms"],
            evidence["content"],
            trusted_ca=evidence["trusted_ca"],
            tsa_roots=evidence["tsa_roots"],
            crl=evidence["crl"],
            token=evidence["token"],
            expected_content_hash=self.content_hash,
            expected_login=self.login,
            now=evidence.get("verified_at"),
        )
        return (
            self.env["esign.signature.verification"]
            .sudo()
            .create(
                {
                    "signature_id": self.id,
                    "verdict": result.verdict.value,
                    "problem_codes": " ".join(sorted(result.codes)),
                    "problems": "\n".join(item.message for item in result.problems),
                    "notes": "\n".join(result.notes),
                    "signer_subject": result.signer_subject,
                    "signer_fingerprint": result.signer_fingerprint,
                    "timestamp_time": pki.utc(result.timestamp_time).replace(tzinfo=None)
                    if result.timestamp_time
                    else False,
                    "tsa_subject": result.tsa_subject,
                    "crl_number": evidence.get("crl_number") or 0,
                }
            )
        )

    def action_pki_verify(self):
        """The "Verify" button: verify and keep the result as its own record."""
        for sig in self:
            sig._pki_verify()
        return True

    def action_pki_export(self):
        """The "Export Evidence" button: a ZIP an auditor verifies with no server (S10)."""
        self.ensure_one()
        self.check_access("read")
        return {
            "type": "ir.actions.act_url",
            "url": f"/meddev_esign/signature/{self.id}/evidence.zip",
            "target": "self",
        }

    def _pki_signature_files(self, evidence=None):
        """This signature's own evidence files: {name: bytes}.

        ``manifest.json``, ``snapshot.json``, ``signature.p7s`` and, when there is one,
        ``timestamp.tsr``. The evidence ZIP adds the anchors (CA, CRL, TSA roots) and the
        record's chain; a sealed report embeds these per signature and the anchors once.
        """
        self.ensure_one()
        evidence = evidence or self._pki_evidence()
        sig = self.sudo()
        # What the signer saw: the meaning in the signer's language, not the reader's.
        manifest = {
            "format": pki_cli.EVIDENCE_FORMAT,
            "manifestation": sig._manifestation(sig.meaning_name),
            "signer": sig.printed_name,
            "login": sig.login,
            "meaning": sig.meaning_code,
            "meaning_signed": sig.meaning_name,
            "signed_at_utc": fields.Datetime.to_string(sig.signed_at),
            "model": sig.res_model,
            "res_id": sig.res_id,
            "record": sig.record_name,
            "content_hash": sig.content_hash,
            "signature_hash": sig.signature_hash,
            "certificate_fingerprint": sig.pki_certificate_fingerprint,
            "crl_number": evidence["crl_number"],
        }
        files = {
            "manifest.json": json.dumps(manifest, indent=2, ensure_ascii=False).encode(),
            "snapshot.json": evidence["content"],
            "signature.p7s": evidence["cms"],
        }
        if evidence["token"]:
            files["timestamp.tsr"] = evidence["token"]
        return files

    def _pki_evidence_files(self):
        """The signature's whole evidence as files: {name: bytes}, the names ``pki_cli`` reads.

        Its own files (:meth:`_pki_signature_files`), plus ``ca.pem``, ``ca.crl``,
        ``chain.json`` and, when there are, ``tsa-roots.pem``.
        """
        self.ensure_one()
        evidence = self._pki_evidence()
        sig = self.sudo()
        files = self._pki_signature_files(evidence)
        files["ca.pem"] = pki.certificate_to_pem(evidence["trusted_ca"])
        files["ca.crl"] = evidence["crl"].public_bytes(Encoding.DER)
        chain_document = sigchain.export_document(
            sig.res_model, sig.res_id, self._chain_links(sig.res_model, sig.res_id)
        )
        files["chain.json"] = json.dumps(chain_document, indent=1, ensure_ascii=False).encode()
        if evidence["tsa_roots"]:
            files["tsa-roots.pem"] = b"".join(
                pki.certificate_to_pem(cert) for cert in evidence["tsa_roots"]
            )
        return files

    def _pki_evidence_zip(self):
        """The signature's evidence and the offline verifier, as ZIP bytes.

        See ``services/pki_cli.py`` for the files; the verifier is this add-on's own
        ``services`` package (it needs ``cryptography`` and ``pyhanko``).
        """
        self.ensure_one()
        files = self._pki_evidence_files()
        listing = "\n".join(
            f"  {name:<16} {pki_cli.EVIDENCE_FILES[name]}" for name in sorted(files)
        )
        files["README.txt"] = EVIDENCE_README.format(
            manifestation=self.sudo()._manifestation(self.sudo().meaning_name), listing=listing
        ).encode()
        services = Path(__file__).resolve().parent.parent / "services"
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, data in files.items():
                archive.writestr(f"evidence/{name}", data)
            for path in sorted(services.glob("*.py")):
                archive.write(path, f"services/{path.name}")
        return buffer.getvalue()

    @api.model
    def _cron_pki_timestamps(self, limit=200):
        """Add the timestamp to signatures made while no TSA answered (R23), with the delay."""
        pending = self.sudo().search(
            [("pki_timestamp_pending", "=", True), ("timestamp_ids", "=", False)],
            order="id",
            limit=limit,
        )
        stamps = self.env["esign.signature.timestamp"].sudo()
        for sig in pending:
            company = sig.company_id or self.env.company
            try:
                stamp = pki.request_timestamp(
                    keystore.raw(sig.pki_cms),
                    company._esign_tsa_url_list(),
                    timeout=company.esign_tsa_timeout or 5.0,
                )
            except pki.TimestampUnavailableError as exc:
                _logger.info("Timestamp still pending for signature %s: %s", sig.id, exc)
                continue
            gen_time = pki.utc(stamp.gen_time).replace(tzinfo=None)
            delay = (gen_time - sig.signed_at).total_seconds()
            late = stamps.create(
                {
                    "signature_id": sig.id,
                    "token": keystore.b64(stamp.token),
                    "gen_time": gen_time,
                    "tsa_url": stamp.tsa_url,
                    "delay_seconds": max(int(delay), 0),
                    "drift_seconds": stamp.drift.total_seconds(),
                }
            )
            self.env["esign.audit.entry"]._append(
                [
                    sig._esign_audit_item(
                        "timestamp",
                        [
                            ["delay_seconds", None, late.delay_seconds],
                            ["token_sha256", None, late.token_sha256],
                            ["tsa_time", None, snap.utc_iso(stamp.gen_time)],
                            ["tsa_url", None, stamp.tsa_url],
                        ],
                        self.env._("Timestamp added after the signature (no TSA answered)."),
                        record_name=sig.manifestation,
                    )
                ]
            )
            sig._pki_check_drift(stamp, company)
