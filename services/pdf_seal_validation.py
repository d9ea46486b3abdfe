"""The validation data of a seal (:mod:`services.pdf_seal`), worked out once and reused.

At B-LT pyHanko validates the seal certificate's path and the TSA certificate's path before
signing (with revocation checked against the CRLs the caller gives, no fetching) and puts the
certificates of both paths and those CRLs in the file's DSS. Done for every seal, that is two
path validations, with their signature and CRL checks, per printed report, on the same inputs.

:func:`keep` keeps pyHanko's result per process (:func:`kept` finds it), keyed by everything
it depends on: the seal certificate and the chain the signer embeds, the trust roots (company
CA and TSAs), the DER of every CRL and OCSP response given, and the TSA's certificates as its
last token carries them. A revocation (the company CA issues a new CRL, which the caller
gives), a renewed CA or seal certificate, or a TSA with a new certificate therefore changes the
key, and the next seal is validated afresh at once. A kept result is used only while every
certificate of its paths is within its validity period, every CRL before its next update, and
for at most :data:`KEEP_FOR` seconds; after that it is worked out again. The DSS written from
a kept result is the one pyHanko would write: the same paths, CRLs and OCSP responses.
"""

from __future__ import annotations

import dataclasses
import hashlib
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from asn1crypto import crl as asn1_crl
from asn1crypto import x509 as asn1_x509
from pyhanko.sign.signers.pdf_signer import PreSignValidationStatus
from pyhanko_certvalidator import ValidationContext

KEEP_FOR = 60.0
"""Seconds a validation result is reused at most (time alone can change a validation)."""

MAX_KEPT = 32
"""Results kept per process (a handful of companies and seal certificates)."""


@dataclass(frozen=True)
class _Kept:
    status: PreSignValidationStatus
    context: ValidationContext
    not_before: datetime
    not_after: datetime
    made: float


_KEPT: dict[bytes, _Kept] = {}
_LOCK = threading.Lock()


def cache_key(
    signer_certificates: Iterable[asn1_x509.Certificate],
    roots: Iterable[bytes],
    crls: Iterable[bytes],
    ocsps: Iterable[bytes],
    tsa_certificates: Iterable[asn1_x509.Certificate] | None,
    key_usage: Iterable[str],
) -> bytes:
    """What a seal's validation depends on, as one digest.

    :param signer_certificates: The seal certificate, then the chain the signer embeds.
    :param roots: The trust roots' DER (the company CA's, the TSAs').
    :param crls: The CRLs' DER; ``ocsps``: the OCSP responses' DER.
    :param tsa_certificates: The TSA's certificates from its last token (``None``: no TSA).
    :param key_usage: The key usages the seal certificate is checked for.
    """
    digest = hashlib.sha256(b"meddev-esign-seal-validation/1")

    def part(label: bytes, items: Iterable[bytes]) -> None:
        digest.update(label)
        for item in items:
            digest.update(len(item).to_bytes(4, "big"))
            digest.update(item)

    signer = [item.dump() for item in signer_certificates]
    part(b"signer", signer[:1])
    part(b"chain", sorted(set(signer[1:])))
    part(b"roots", sorted(set(roots)))
    part(b"crls", sorted(bytes(item) for item in crls))
    part(b"ocsps", sorted(bytes(item) for item in ocsps))
    if tsa_certificates is not None:
        part(b"tsa", sorted({item.dump() for item in tsa_certificates}))
    part(b"usage", sorted(item.encode() for item in key_usage))
    return digest.digest()


def _window(
    status: PreSignValidationStatus, crls: Iterable[asn1_crl.CertificateList]
) -> tuple[datetime, datetime]:
    """When the result holds: every path certificate valid, every CRL not yet due."""
    starts, ends = [], []
    for path in status.validation_paths:
        for cert in path.iter_certs(include_root=True):
            validity = cert["tbs_certificate"]["validity"]
            starts.append(validity["not_before"].native)
            ends.append(validity["not_after"].native)
    for item in crls:
        next_update = item["tbs_cert_list"]["next_update"].native
        if next_update is not None:
            ends.append(next_update)
    now = datetime.now(UTC)
    return max(starts, default=now), min(ends, default=now)


def _copy(status: PreSignValidationStatus) -> PreSignValidationStatus:
    """A copy whose lists a signing may extend (pyHanko appends the document timestamp's
    path at B-LTA) without changing the kept one."""
    return dataclasses.replace(
        status,
        validation_paths=list(status.validation_paths),
        ts_validation_paths=(
            list(status.ts_validation_paths) if status.ts_validation_paths is not None else None
        ),
        ac_validation_paths=list(status.ac_validation_paths),
    )


def kept(key: bytes) -> tuple[PreSignValidationStatus, ValidationContext] | None:
    """The kept validation result for ``key`` if it still holds, as a copy, and its context."""
    with _LOCK:
        found = _KEPT.get(key)
    if found is None:
        return None
    now = datetime.now(UTC)
    if time.monotonic() - found.made > KEEP_FOR or not found.not_before <= now < found.not_after:
        with _LOCK:
            if _KEPT.get(key) is found:
                del _KEPT[key]
        return None
    return _copy(found.status), found.context


def keep(
    key: bytes,
    status: PreSignValidationStatus,
    context: ValidationContext,
    crls: Iterable[asn1_crl.CertificateList],
) -> None:
    """Keep pyHanko's validation result for the next seals with the same ``key``."""
    not_before, not_after = _window(status, crls)
    entry = _Kept(
        status=_copy(status),
        context=context,
        not_before=not_before,
        not_after=not_after,
        made=time.monotonic(),
    )
    with _LOCK:
        if len(_KEPT) >= MAX_KEPT:
            _KEPT.clear()
        _KEPT[key] = entry


def forget() -> None:
    """Drop every kept result (tests; a key change already makes a result unreachable)."""
    with _LOCK:
        _KEPT.clear()
