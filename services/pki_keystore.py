"""The software keystore: private keys sealed under a master key (S5, R22).

:func:`seal_private_key` encrypts a PKCS#8 key with AES-256-GCM under a master
key the caller supplies (from the Odoo configuration file or the environment,
never from the database); :func:`open_private_key` opens it again.
:func:`generate_master_key` and :func:`parse_master_key` make and read the
configured master key. Keys held on a PKCS#11 token are in
:mod:`services.pki_hsm` instead.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .pki_errors import KeystoreError, MasterKeyMissingError, WrongMasterKeyError
from .pki_keys import PrivateKey, key_type_of

__all__ = [
    "MASTER_KEY_BYTES",
    "generate_master_key",
    "open_private_key",
    "parse_master_key",
    "seal_private_key",
]

MASTER_KEY_BYTES = 32
"""Length of a keystore master key (AES-256)."""

_SEAL_MAGIC = b"esign-keystore/1\n"
_CHECK_BYTES = 8
_NONCE_BYTES = 12
_HEX_RE = re.compile(r"[0-9a-fA-F]{64}")


def generate_master_key() -> str:
    """Make a new master key, as text to put in the configuration file.

    :return: 32 random bytes in URL-safe base64 (44 characters).
    """
    return base64.urlsafe_b64encode(os.urandom(MASTER_KEY_BYTES)).decode("ascii")


def parse_master_key(text: str | bytes | None, *, source: str = "the configuration") -> bytes:
    """Decode a configured master key.

    :param text: 64 hex digits or base64 (standard or URL-safe) of 32 bytes;
        ``None`` or blank when not configured.
    :param source: Where the key was looked for, for the error message (e.g.
        ``"the option esign_master_key or the variable ESIGN_MASTER_KEY"``).
    :return: The 32 key bytes.
    :raises MasterKeyMissingError: If the key is absent or is not 32 bytes.
    """
    if isinstance(text, bytes):
        text = text.decode("ascii", "replace")
    if text is None or not text.strip():
        raise MasterKeyMissingError(
            f"No keystore master key is configured in {source}; software-held signing "
            "keys cannot be used."
        )
    text = text.strip()
    if _HEX_RE.fullmatch(text):
        return bytes.fromhex(text)
    try:
        raw = base64.b64decode(text.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != MASTER_KEY_BYTES:
        raise MasterKeyMissingError(
            f"The keystore master key in {source} must be 32 bytes, written as 64 hex "
            "digits or in base64."
        )
    return raw


def _derive(master_key: bytes, label: bytes) -> bytes:
    """Derive a purpose-bound 32-byte key from the master key (HMAC-SHA256 as a PRF)."""
    return hmac.new(master_key, _SEAL_MAGIC + label, hashlib.sha256).digest()


def _check_master_key(master_key: bytes) -> None:
    """Refuse anything but 32 bytes."""
    if not isinstance(master_key, bytes) or len(master_key) != MASTER_KEY_BYTES:
        raise MasterKeyMissingError(
            "The keystore master key must be 32 bytes; decode it with parse_master_key()."
        )


def seal_private_key(private_key: PrivateKey, master_key: bytes, *, key_id: str) -> bytes:
    """Encrypt a private key for storage (in the database or a file).

    Layout: ``"esign-keystore/1\\n"`` + 8-byte master-key check value +
    12-byte random nonce + AES-256-GCM(PKCS#8 DER). The associated data binds
    the magic, the check value and ``key_id``, so a sealed key copied to
    another key id does not open. The check value (a truncated HMAC of a
    constant) only tells a wrong master key from a tampered blob.

    :param private_key: The key.
    :param master_key: 32 bytes from :func:`parse_master_key`.
    :param key_id: A stable id of the key, e.g. ``"esign.certificate/42"``.
    :return: The sealed key.
    :raises MasterKeyMissingError: If ``master_key`` is not 32 bytes.
    :raises PkiInputError: If the key type is unsupported.
    """
    _check_master_key(master_key)
    key_type_of(private_key)
    plain = private_key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    check = _derive(master_key, b"check")[:_CHECK_BYTES]
    nonce = os.urandom(_NONCE_BYTES)
    aad = _SEAL_MAGIC + check + key_id.encode("utf-8")
    cipher = AESGCM(_derive(master_key, b"encrypt")).encrypt(nonce, plain, aad)
    return _SEAL_MAGIC + check + nonce + cipher


def open_private_key(sealed: bytes, master_key: bytes, *, key_id: str) -> PrivateKey:
    """Decrypt a key sealed by :func:`seal_private_key`.

    :param sealed: The sealed key.
    :param master_key: 32 bytes from :func:`parse_master_key`.
    :param key_id: The key id it was sealed with.
    :return: The private key.
    :raises MasterKeyMissingError: If ``master_key`` is not 32 bytes.
    :raises WrongMasterKeyError: If it was sealed under another master key.
    :raises KeystoreError: If the blob is malformed or was altered, or the
        key id differs.
    """
    _check_master_key(master_key)
    header = len(_SEAL_MAGIC)
    if not isinstance(sealed, bytes) or not sealed.startswith(_SEAL_MAGIC):
        raise KeystoreError("malformed", f"The sealed key {key_id!r} is not in a known format.")
    if len(sealed) < header + _CHECK_BYTES + _NONCE_BYTES + 16:
        raise KeystoreError("malformed", f"The sealed key {key_id!r} is truncated.")
    check = sealed[header : header + _CHECK_BYTES]
    if not hmac.compare_digest(check, _derive(master_key, b"check")[:_CHECK_BYTES]):
        raise WrongMasterKeyError(key_id)
    nonce = sealed[header + _CHECK_BYTES : header + _CHECK_BYTES + _NONCE_BYTES]
    cipher = sealed[header + _CHECK_BYTES + _NONCE_BYTES :]
    aad = _SEAL_MAGIC + check + key_id.encode("utf-8")
    try:
        plain = AESGCM(_derive(master_key, b"encrypt")).decrypt(nonce, cipher, aad)
    except InvalidTag as exc:
        raise KeystoreError(
            "tampered",
            f"The sealed key {key_id!r} was altered, or was sealed under another key id.",
        ) from exc
    key = serialization.load_der_private_key(plain, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise KeystoreError("malformed", f"The sealed key {key_id!r} is not an ECDSA or RSA key.")
    return key
