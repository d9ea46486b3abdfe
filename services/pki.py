"""PKI-backed signatures (S5, R22, R23): the one module the Odoo layer imports.

The work is split by concern; this module re-exports the public API:

* :mod:`services.pki_keys`: key types, loading certificates and CRLs, fingerprints;
* :mod:`services.pki_ca`: the company CA, generated or imported;
* :mod:`services.pki_issue`: signer certificates, issued and renewed;
* :mod:`services.pki_revocation`: revocation, CRLs, and whether a certificate
  may sign now;
* :mod:`services.pki_keystore`: the software keystore (keys sealed under a master key);
* :mod:`services.pki_sign`: detached CAdES signatures;
* :mod:`services.pki_timestamp`: RFC 3161 timestamps, the TSA client;
* :mod:`services.pki_verify`: offline verification;
* :mod:`services.pki_hsm`: the PKCS#11 back-end (import it directly; it needs
  python-pkcs11);
* :mod:`services.pki_ocsp`: the CA's OCSP responder;
* :mod:`services.pki_errors`: the exceptions.

Typical flow at signing time::

    key = open_private_key(sealed, parse_master_key(configured), key_id=key_id)
    assert_usable(cert, at=now, login=user.login, revocations=known)
    signer = CachedKeySigner(key, cert, ca.certificates)   # cache it per cert
    cms_der = sign_detached(canonical_bytes(snapshot), signer)
    stamp = request_timestamp(cms_der, tsa_urls, timeout=5)  # or "pending"
    cms_der = attach_timestamp(cms_der, stamp.token)
"""

from .pki_ca import CertificateAuthority, generate_ca, import_ca_pem, import_ca_pkcs12
from .pki_errors import (
    CertificateUnusableError,
    HsmError,
    HsmPinError,
    HsmUnavailableError,
    KeystoreError,
    MasterKeyMissingError,
    PkiError,
    PkiInputError,
    SigningError,
    TimestampUnavailableError,
    TsaAttempt,
    WrongMasterKeyError,
)
from .pki_issue import (
    SignerIdentity,
    certificate_login,
    issue_seal_certificate,
    issue_signer_certificate,
    renew_certificate,
)
from .pki_keys import (
    KeyType,
    PrivateKey,
    PublicKey,
    certificate_to_pem,
    fingerprint,
    generate_private_key,
    key_type_of,
    load_certificate,
    load_certificates,
    load_crl,
    utc,
)
from .pki_keystore import (
    MASTER_KEY_BYTES,
    generate_master_key,
    open_private_key,
    parse_master_key,
    seal_private_key,
)
from .pki_ocsp import OCSP_VALIDITY, ocsp_response
from .pki_revocation import (
    Revocation,
    RevocationReason,
    assert_usable,
    build_crl,
    crl_covers,
    revocations_from_crl,
    revoke,
)
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
    "MASTER_KEY_BYTES",
    "OCSP_VALIDITY",
    "CachedKeySigner",
    "CertificateAuthority",
    "CertificateUnusableError",
    "HsmError",
    "HsmPinError",
    "HsmUnavailableError",
    "KeyType",
    "KeystoreError",
    "MasterKeyMissingError",
    "PkiError",
    "PkiInputError",
    "PrivateKey",
    "PublicKey",
    "Revocation",
    "RevocationReason",
    "SignerIdentity",
    "SigningError",
    "TimestampResult",
    "TimestampUnavailableError",
    "TsaAttempt",
    "Verdict",
    "VerificationProblem",
    "VerificationResult",
    "WrongMasterKeyError",
    "asn1_certificate",
    "assert_usable",
    "attach_timestamp",
    "build_crl",
    "crl_covers",
    "certificate_login",
    "certificate_to_pem",
    "extract_timestamp",
    "fingerprint",
    "generate_ca",
    "generate_master_key",
    "generate_private_key",
    "import_ca_pem",
    "import_ca_pkcs12",
    "issue_seal_certificate",
    "issue_signer_certificate",
    "key_type_of",
    "load_certificate",
    "load_certificates",
    "load_crl",
    "ocsp_response",
    "open_private_key",
    "parse_master_key",
    "renew_certificate",
    "request_timestamp",
    "revocations_from_crl",
    "revoke",
    "seal_private_key",
    "sign_detached",
    "signature_imprint",
    "timestamp_imprint",
    "utc",
    "verify_signature",
]
