"""Where signing keys live (R22): the thin Odoo side of the keystores.

Secrets never come from the database: the software keystore's master key and the PKCS#11
library, token label and PIN are read from the Odoo configuration file (``[options]``) or
the environment. The cryptography is in ``services.pki_keystore`` / ``services.pki_hsm``; this
module only finds the configuration, keeps loaded signers cached and turns the core's errors
into translated messages.
"""

import base64
import contextlib
import hashlib
import logging
import os
import threading

from odoo import SUPERUSER_ID, api
from odoo.exceptions import UserError
from odoo.tools import config

from ..services import pki, pki_hsm

_logger = logging.getLogger(__name__)

MASTER_KEY_OPTION = "meddev_esign_master_key"
MASTER_KEY_ENV = "MEDDEV_ESIGN_MASTER_KEY"
#: (config option, environment variable) of the PKCS#11 back-end.
HSM_SETTINGS = {
    "library": ("meddev_esign_pkcs11_library", "MEDDEV_ESIGN_PKCS11_LIBRARY"),
    "token": ("meddev_esign_pkcs11_token", "MEDDEV_ESIGN_PKCS11_TOKEN"),
    "pin": ("meddev_esign_pkcs11_pin", "MEDDEV_ESIGN_PKCS11_PIN"),
}

KEYSTORES = [
    ("software", "Software (sealed under the master key)"),
    ("pkcs11", "PKCS#11 token (HSM)"),
]
KEY_TYPES = [
    (pki.KeyType.ECDSA_P256.value, "ECDSA P-256"),
    (pki.KeyType.RSA_3072.value, "RSA-3072"),
]

# Loaded software signers, by (database, key id, certificate fingerprint, master key digest).
# Parsing a key costs up to 84 ms (RSA-3072); usability is checked from the database before
# every use, so a cached signer of a revoked certificate is never used.
_SIGNER_CACHE = {}
_SIGNER_CACHE_LOCK = threading.Lock()
_SIGNER_CACHE_SIZE = 256


def _setting(option, variable):
    value = config.get(option) or os.environ.get(variable)
    return value.strip() if isinstance(value, str) and value.strip() else None


def master_key(env):
    """The 32-byte master key of the software keystore, or a translated error."""
    text = _setting(MASTER_KEY_OPTION, MASTER_KEY_ENV)
    try:
        return pki.parse_master_key(text, source=f"{MASTER_KEY_OPTION} / {MASTER_KEY_ENV}")
    except pki.MasterKeyMissingError as exc:
        raise UserError(
            env._(
                "The software keystore's master key is missing or malformed. Set the option "
                "%(option)s in the Odoo configuration file, or the environment variable "
                "%(variable)s, to 32 random bytes in base64 or hex, then restart Odoo. "
                "(%(detail)s)",
                option=MASTER_KEY_OPTION,
                variable=MASTER_KEY_ENV,
                detail=exc.reason,
            )
        ) from exc


def hsm_settings(env):
    """(library path, token label, PIN) of the PKCS#11 back-end, or a translated error."""
    values = {name: _setting(*pair) for name, pair in HSM_SETTINGS.items()}
    missing = [HSM_SETTINGS[name][0] for name, value in values.items() if not value]
    if missing:
        raise UserError(
            env._(
                "The PKCS#11 token is not configured: set %(options)s in the Odoo "
                "configuration file (or the matching MEDDEV_ESIGN_PKCS11_* environment "
                "variables).",
                options=", ".join(missing),
            )
        )
    return values["library"], values["token"], values["pin"]


def user_error(env, exc):
    """A translated UserError for an error of the PKI core."""
    if isinstance(exc, pki.WrongMasterKeyError):
        message = env._(
            "The signing key %(key)s cannot be opened: the configured master key is not the "
            "one it was sealed under. Check %(option)s / %(variable)s.",
            key=exc.key_id,
            option=MASTER_KEY_OPTION,
            variable=MASTER_KEY_ENV,
        )
    elif isinstance(exc, pki.KeystoreError):
        message = env._(
            "The sealed signing key is damaged or was altered (%(detail)s).", detail=exc.reason
        )
    elif isinstance(exc, pki.HsmPinError):
        message = env._(
            "The PKCS#11 token refused the PIN: check %(option)s. Nothing was signed. "
            "(%(detail)s)",
            option=HSM_SETTINGS["pin"][0],
            detail=exc.reason,
        )
    elif isinstance(exc, pki.HsmError):
        message = env._(
            "The PKCS#11 token cannot be used: %(detail)s Nothing was signed.", detail=exc.reason
        )
    elif isinstance(exc, pki.CertificateUnusableError):
        message = certificate_message(env, exc)
    elif isinstance(exc, pki.TimestampUnavailableError):
        tried = "; ".join(f"{item.url}: {item.detail}" for item in exc.attempts)
        message = env._(
            "No timestamp authority answered with a usable timestamp, and this company "
            "refuses to sign without one. Nothing was signed. Tried: %(tried)s",
            tried=tried or env._("no TSA URL is configured"),
        )
    else:
        message = env._("The cryptographic operation failed: %(detail)s", detail=str(exc))
    return UserError(message)


def certificate_message(env, exc):
    """Why a certificate may not sign, translated."""
    serial = f"{exc.serial:x}"
    if exc.problem == "expired":
        return env._(
            "Your signing certificate %(serial)s has expired. An E-Signature Administrator "
            "must renew it before you can sign.",
            serial=serial,
        )
    if exc.problem == "revoked":
        return env._(
            "Your signing certificate %(serial)s is revoked. An E-Signature Administrator must "
            "enrol you again before you can sign.",
            serial=serial,
        )
    if exc.problem == "other_user":
        return env._(
            "The signing certificate %(serial)s was issued to another person; it cannot sign "
            "for you.",
            serial=serial,
        )
    if exc.problem == "not_yet_valid":
        return env._("Your signing certificate %(serial)s is not valid yet.", serial=serial)
    return env._("The certificate %(serial)s may not be used to sign.", serial=serial)


def b64(data):
    """Odoo's Binary value (base64) of raw bytes."""
    return base64.b64encode(data) if data else False


def raw(value):
    """Raw bytes of an Odoo Binary value (base64 bytes or str)."""
    if not value:
        return b""
    return base64.b64decode(value)


# ---------------------------------------------------------------------- key creation
def new_key(env, keystore, key_type, key_id):
    """Create a key pair in ``keystore``; return (public key, vals to store on the record).

    Software keys come back sealed under the master key; PKCS#11 keys stay on the token
    (sensitive, non-extractable) and are referred to by their label, which is ``key_id``.
    """
    try:
        if keystore == "pkcs11":
            library, token, pin = hsm_settings(env)
            label = key_id.replace("/", "-")
            with contextlib.closing(pki_hsm.open_token(library, token, pin)) as session:
                public = pki_hsm.generate_key_pair(session, label, pki.KeyType(key_type))
            return public, {"keystore": "pkcs11", "hsm_label": label}
        key = pki.generate_private_key(pki.KeyType(key_type))
        sealed = pki.seal_private_key(key, master_key(env), key_id=key_id)
        return key.public_key(), {"keystore": "software", "sealed_key": b64(sealed)}
    except pki.PkiError as exc:
        raise user_error(env, exc) from exc


def open_software_key(env, sealed_b64, key_id):
    """Open a sealed private key (a CA key or a signer key), or a translated error."""
    try:
        return pki.open_private_key(raw(sealed_b64), master_key(env), key_id=key_id)
    except pki.PkiError as exc:
        raise user_error(env, exc) from exc


@contextlib.contextmanager
def token_private_key(env, label):
    """The token key pair ``label`` as a private key object, while the block runs.

    For a CA whose key is on the PKCS#11 token: certificates and CRLs are signed by the token
    (``services.pki_hsm.hsm_private_key``); the key never leaves it.
    """
    try:
        library, token, pin = hsm_settings(env)
        with contextlib.closing(pki_hsm.open_token(library, token, pin)) as session:
            yield pki_hsm.hsm_private_key(session, label)
    except pki.PkiError as exc:
        raise user_error(env, exc) from exc


@contextlib.contextmanager
def signer(env, certificate, key_id, chain):
    """A pyHanko signer for ``certificate`` (an ``esign.certificate``), while the block runs.

    :param key_id: The key id the software key was sealed with.
    :param chain: ``cryptography`` CA certificates to embed.
    """
    try:
        cert = pki.load_certificate(certificate.certificate_pem.encode())
        if certificate.keystore == "pkcs11":
            try:
                library, token, pin = hsm_settings(env)
                session = pki_hsm.open_token(library, token, pin)
            except (pki.HsmError, UserError) as exc:
                error = user_error(env, exc) if isinstance(exc, pki.PkiError) else exc
                alert_token_unusable(env, certificate, str(error))
                raise error from exc
            with contextlib.closing(session):
                yield pki_hsm.hsm_signer(session, certificate.hsm_label, cert, chain)
            return
        key_bytes = master_key(env)
        cache_key = (
            env.cr.dbname,
            key_id,
            certificate.fingerprint,
            hashlib.sha256(key_bytes).hexdigest(),
        )
        with _SIGNER_CACHE_LOCK:
            cached = _SIGNER_CACHE.get(cache_key)
        if cached is None:
            sealed = raw(certificate.sudo().sealed_key)
            private = pki.open_private_key(sealed, key_bytes, key_id=key_id)
            cached = pki.CachedKeySigner(private, cert, chain)
            with _SIGNER_CACHE_LOCK:
                if len(_SIGNER_CACHE) >= _SIGNER_CACHE_SIZE:
                    _SIGNER_CACHE.clear()
                _SIGNER_CACHE[cache_key] = cached
        yield cached
    except pki.PkiError as exc:
        raise user_error(env, exc) from exc


def alert_token_unusable(env, certificate, message):
    """Tell the E-Signature Administrators that ``certificate``'s PKCS#11 token cannot sign.

    The signer's transaction is rolled back with its refusal, so the alert is written through
    a cursor of its own. One open alert per certificate: a whole shift of refused signatures
    raises one to-do per administrator, not hundreds.
    """
    try:
        with env.registry.cursor() as cr:
            side = api.Environment(cr, SUPERUSER_ID, {"lang": env.context.get("lang")})
            cert = side["esign.certificate"].browse(certificate.id)
            subject = side._(
                "Signing token unavailable: %(certificate)s", certificate=cert.display_name
            )
            if cert.activity_ids.filtered(lambda act: act.summary == subject):
                return
            side["res.users"]._esign_alert(cert, subject, message)
    except Exception:  # the signer's refusal matters more than the alert
        _logger.exception("Could not alert the administrators about the PKCS#11 token")
    _logger.warning("E-signature: PKCS#11 token unusable for certificate %s", certificate.id)


def forget_signers(fingerprints):
    """Drop cached signers of these certificates (on revocation or supersession)."""
    with _SIGNER_CACHE_LOCK:
        for cache_key in [k for k in _SIGNER_CACHE if k[2] in set(fingerprints)]:
            del _SIGNER_CACHE[cache_key]
