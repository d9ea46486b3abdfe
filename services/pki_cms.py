"""Detached CMS/CAdES signatures, RFC 3161 timestamps and offline verification.

A re-export kept for the callers that import these names from here (the
offline verifier :mod:`services.pki_cli`, scripts). Each idea has its module;
new code imports from it, or from the :mod:`services.pki` facade:

* :mod:`services.pki_sign`: the detached CAdES signature;
* :mod:`services.pki_timestamp`: RFC 3161 timestamps, the TSA client;
* :mod:`services.pki_verify`: offline verification.
"""

from .pki_sign import DIGEST_ALGORITHM, CachedKeySigner, asn1_certificate, sign_detached
from .pki_timestamp import (
    TimestampResult,
    attach_timestamp,
    extract_timestamp,
    request_timestamp,
    signature_imprint,
    timestamp_imprint,
)
from .pki_verify import Verdict, VerificationProblem, VerificationResult, verify_signature

__all__ = [
    "DIGEST_ALGORITHM",
    "CachedKeySigner",
    "TimestampResult",
    "VerificationProblem",
    "VerificationResult",
    "Verdict",
    "asn1_certificate",
    "attach_timestamp",
    "extract_timestamp",
    "request_timestamp",
    "sign_detached",
    "signature_imprint",
    "timestamp_imprint",
    "verify_signature",
]
