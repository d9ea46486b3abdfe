"""PKCS#11 key back-end (HSM; SoftHSM2 in tests and the demo).

The private key is generated on the token, sensitive and non-extractable,
and never leaves it: :func:`generate_key_pair` returns only the public key
(to issue the certificate), and :func:`hsm_signer` gives a pyHanko signer
that asks the token to sign.

Needs ``python-pkcs11`` 0.9.x (pyHanko's ``[pkcs11]`` extra excludes 0.10).
If it is not installed, :func:`open_token` raises :class:`HsmUnavailableError`
and the rest of the ``services`` package still imports.

A company CA can keep its key on the token too: :func:`hsm_private_key` wraps
a token key as a ``cryptography`` private key whose ``sign`` asks the token,
so ``cryptography``'s certificate and CRL builders (which call the key's
``sign`` method) issue certificates and CRLs without the key leaving it.

SoftHSM2 has no ``CKM_ECDSA_SHA256``: EC keys are used with the raw
``CKM_ECDSA`` mechanism (pyHanko hashes, the token signs the digest).

A PKCS#11 library reads its configuration (``SOFTHSM2_CONF`` for SoftHSM)
when it is first loaded in the process; set it before calling
:func:`open_token`.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterable
from typing import Any, NoReturn

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from pyhanko.sign.pkcs11 import PKCS11Signer

from .pki_errors import HsmError, HsmPinError, HsmUnavailableError, PkiInputError
from .pki_keys import KeyType, PublicKey
from .pki_sign import asn1_certificate

try:
    import pkcs11
    from pkcs11 import exceptions as p11_errors
    from pkcs11.util.ec import encode_ec_public_key, encode_named_curve_parameters
except ImportError:  # pragma: no cover - depends on the installation
    pkcs11 = None  # type: ignore[assignment]

__all__ = [
    "HsmSigner",
    "find_public_key",
    "generate_key_pair",
    "hsm_private_key",
    "hsm_signer",
    "open_token",
]

# Raised by C_Login for a PIN that is wrong, locked, expired or malformed.
_PIN_ERRORS: tuple[type[Exception], ...] = (
    (
        p11_errors.PinIncorrect,
        p11_errors.PinInvalid,
        p11_errors.PinLenRange,
        p11_errors.PinLocked,
        p11_errors.PinExpired,
    )
    if pkcs11 is not None
    else ()
)


# PKCS#11 login state belongs to the application, not to a session: C_Login on a second
# session fails with CKR_USER_ALREADY_LOGGED_IN, and python-pkcs11 closes a logged-in session
# with C_Logout, which logs every other session out too. So each (library, token) gets one
# logged-in "keeper" session for the life of the process, and the sessions handed out are
# opened without a PIN: they inherit the login, and closing them logs nobody out. Two Odoo
# threads can then sign on the token at the same time, and a signature costs no login.
_KEEPERS: dict[tuple[str, str], tuple[bytes, Any]] = {}
_KEEPERS_LOCK = threading.Lock()


def _login(token: Any, token_label: str, user_pin: str) -> Any:
    """Open the logged-in keeper session, or raise the matching :class:`HsmError`."""
    try:
        return token.open(rw=True, user_pin=user_pin)
    except _PIN_ERRORS as exc:
        raise HsmPinError(
            f"The PKCS#11 token {token_label!r} refused the PIN ({type(exc).__name__})."
        ) from exc
    except p11_errors.PKCS11Error as exc:
        raise HsmUnavailableError(
            f"A session on the PKCS#11 token {token_label!r} cannot be opened: "
            f"{type(exc).__name__}."
        ) from exc


def _alive(session: Any) -> bool:
    """Whether a kept session still works (the token may have been removed or re-initialised)."""
    try:
        session.generate_random(64)
    except p11_errors.PKCS11Error:
        return False
    return True


def _drop(session: Any) -> None:
    """Close a keeper session that is being replaced; it may already be dead."""
    try:
        session.close()
    except p11_errors.PKCS11Error:
        return


def open_token(library_path: str, token_label: str, user_pin: str) -> Any:
    """Open a read/write session on a PKCS#11 token, logged in with ``user_pin``.

    Close it with ``session.close()`` (or use it as a context manager); that never logs out
    the other sessions of the process (see ``_KEEPERS`` above). A PIN other than the one the
    process is logged in with is checked afresh: the old login is closed first, so a wrong
    PIN is refused even after a right one.

    :param library_path: Path of the PKCS#11 module, e.g.
        ``/usr/lib/softhsm/libsofthsm2.so``.
    :param token_label: The token's label.
    :param user_pin: The user PIN.
    :return: A ``pkcs11.Session``.
    :raises HsmUnavailableError: If python-pkcs11 is missing, the library
        cannot be loaded, or no token has that label.
    :raises HsmPinError: If the token refuses the PIN.
    """
    if pkcs11 is None:
        raise HsmUnavailableError(
            "PKCS#11 support is not installed (the Python package python-pkcs11 0.9)."
        )
    if not os.path.isfile(library_path):
        raise HsmUnavailableError(f"The PKCS#11 library {library_path!r} does not exist.")
    try:
        library = pkcs11.lib(library_path)
    except (RuntimeError, OSError) as exc:
        raise HsmUnavailableError(
            f"The PKCS#11 library {library_path!r} cannot be loaded: {exc}"
        ) from exc
    try:
        token = library.get_token(token_label=token_label)
    except p11_errors.NoSuchToken as exc:
        raise HsmUnavailableError(f"No PKCS#11 token is labelled {token_label!r}.") from exc
    except p11_errors.PKCS11Error as exc:
        raise HsmUnavailableError(
            f"The PKCS#11 token {token_label!r} cannot be reached: {type(exc).__name__}."
        ) from exc
    where = (library_path, token_label)
    pin_digest = hashlib.sha256(user_pin.encode("utf-8")).digest()
    with _KEEPERS_LOCK:
        kept = _KEEPERS.get(where)
        if kept is not None and (kept[0] != pin_digest or not _alive(kept[1])):
            del _KEEPERS[where]
            _drop(kept[1])
            kept = None
        if kept is None:
            _KEEPERS[where] = (pin_digest, _login(token, token_label, user_pin))
        try:
            return token.open(rw=True)
        except p11_errors.PKCS11Error as exc:
            raise HsmUnavailableError(
                f"A session on the PKCS#11 token {token_label!r} cannot be opened: "
                f"{type(exc).__name__}."
            ) from exc


def _to_public_key(key: Any) -> PublicKey:
    """Convert a PKCS#11 public key object to a ``cryptography`` key."""
    if key.key_type == pkcs11.KeyType.EC:
        loaded = serialization.load_der_public_key(encode_ec_public_key(key))
    else:
        modulus = int.from_bytes(key[pkcs11.Attribute.MODULUS], "big")
        exponent = int.from_bytes(key[pkcs11.Attribute.PUBLIC_EXPONENT], "big")
        loaded = rsa.RSAPublicNumbers(exponent, modulus).public_key()
    if not isinstance(loaded, ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
        raise HsmError("The token returned a public key of an unsupported type.")
    return loaded


def generate_key_pair(
    session: Any, label: str, key_type: KeyType = KeyType.ECDSA_P256
) -> PublicKey:
    """Generate a signing key pair on the token.

    The private key is sensitive and non-extractable.

    :param session: A session from :func:`open_token`.
    :param label: The label of both halves; must be unique on the token.
    :param key_type: ECDSA P-256 or RSA-3072.
    :return: The public key, to put in the signer certificate.
    :raises PkiInputError: If a key with that label exists or the type is unsupported.
    :raises HsmError: If the token fails.
    """
    if find_public_key(session, label, missing_ok=True) is not None:
        raise PkiInputError(f"The token already holds a key labelled {label!r}.")
    private_template = {
        pkcs11.Attribute.SENSITIVE: True,
        pkcs11.Attribute.EXTRACTABLE: False,
    }
    key_id = label.encode("utf-8")
    try:
        if key_type == KeyType.ECDSA_P256:
            parameters = session.create_domain_parameters(
                pkcs11.KeyType.EC,
                {pkcs11.Attribute.EC_PARAMS: encode_named_curve_parameters("secp256r1")},
                local=True,
            )
            public, _private = parameters.generate_keypair(
                store=True, label=label, id=key_id, private_template=private_template
            )
        elif key_type == KeyType.RSA_3072:
            public, _private = session.generate_keypair(
                pkcs11.KeyType.RSA,
                3072,
                store=True,
                label=label,
                id=key_id,
                private_template=private_template,
            )
        else:
            raise PkiInputError(f"The key type {key_type!r} is not supported on a PKCS#11 token.")
    except p11_errors.PKCS11Error as exc:
        raise HsmError(f"The token could not generate the key {label!r}: {exc!r}") from exc
    return _to_public_key(public)


def find_public_key(session: Any, label: str, *, missing_ok: bool = False) -> PublicKey | None:
    """Read the public half of a key pair on the token.

    :param session: A session from :func:`open_token`.
    :param label: The key's label.
    :param missing_ok: Return ``None`` instead of raising when absent.
    :return: The public key.
    :raises HsmUnavailableError: If no key has that label (unless ``missing_ok``).
    """
    try:
        key = session.get_key(object_class=pkcs11.ObjectClass.PUBLIC_KEY, label=label)
    except p11_errors.NoSuchKey as exc:
        if missing_ok:
            return None
        raise HsmUnavailableError(f"The token holds no key labelled {label!r}.") from exc
    return _to_public_key(key)


class HsmSigner(PKCS11Signer):
    """pyHanko's PKCS#11 signer, with token errors turned into :class:`HsmError`."""

    async def async_sign_raw(
        self, data: bytes, digest_algorithm: str, dry_run: bool = False
    ) -> bytes:
        """Sign on the token.

        :param data: The bytes to sign.
        :param digest_algorithm: The digest name.
        :param dry_run: Passed to pyHanko.
        :return: The raw signature.
        :raises HsmUnavailableError: If the token fails or is gone.
        """
        try:
            return await super().async_sign_raw(data, digest_algorithm, dry_run)
        except p11_errors.PKCS11Error as exc:
            raise HsmUnavailableError(f"The PKCS#11 token failed to sign: {exc!r}") from exc


def hsm_signer(
    session: Any,
    label: str,
    certificate: x509.Certificate,
    chain: Iterable[x509.Certificate] = (),
) -> HsmSigner:
    """A pyHanko signer whose key stays on the token.

    :param session: A session from :func:`open_token`, kept open while signing.
    :param label: The key's label.
    :param certificate: The signer certificate (its key must be the token's).
    :param chain: The CA certificates to embed.
    :return: The signer, for :func:`services.pki_sign.sign_detached`.
    :raises HsmUnavailableError: If the token has no such key.
    :raises PkiInputError: If the certificate is not for that key.
    """
    public = find_public_key(session, label)
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    if public.public_bytes(der, spki) != certificate.public_key().public_bytes(der, spki):  # type: ignore[union-attr]
        raise PkiInputError(f"The certificate is not for the token key {label!r}.")
    return HsmSigner(
        pkcs11_session=session,
        key_label=label,
        signing_cert=asn1_certificate(certificate),
        ca_chain=[asn1_certificate(item) for item in chain],
        # SoftHSM2 lacks CKM_ECDSA_SHA256; RSA keeps the combined mechanism.
        use_raw_mechanism=isinstance(public, ec.EllipticCurvePublicKey),
    )


# --- Token keys as ``cryptography`` private keys (for a CA on the token) ------------


def _private_handle(session: Any, label: str) -> Any:
    try:
        return session.get_key(object_class=pkcs11.ObjectClass.PRIVATE_KEY, label=label)
    except p11_errors.NoSuchKey as exc:
        raise HsmUnavailableError(f"The token holds no private key labelled {label!r}.") from exc


def _token_sign(handle: Any, data: bytes, mechanism: Any) -> bytes:
    try:
        return bytes(handle.sign(data, mechanism=mechanism))
    except p11_errors.PKCS11Error as exc:
        raise HsmUnavailableError(f"The PKCS#11 token failed to sign: {exc!r}") from exc


def _refuse_export(what: str) -> NoReturn:
    raise HsmError(f"A token key cannot be {what}: it never leaves the token.")


class _HsmEcKey(ec.EllipticCurvePrivateKey):
    """An EC key on the token. ``sign`` hashes here and has the token sign the digest (raw
    ``CKM_ECDSA``, which SoftHSM2 has); everything that would export the key refuses."""

    def __init__(self, handle: Any, public: ec.EllipticCurvePublicKey) -> None:
        self._handle = handle
        self._public = public

    def sign(self, data: bytes, signature_algorithm: ec.EllipticCurveSignatureAlgorithm) -> bytes:
        """Sign ``data`` (SHA-256 only), returning a DER ECDSA-Sig-Value as cryptography does."""
        algorithm = signature_algorithm.algorithm
        if not isinstance(algorithm, hashes.SHA256):
            raise HsmError(f"The token key signs with SHA-256 only, not {algorithm.name}.")
        raw = _token_sign(self._handle, hashlib.sha256(data).digest(), pkcs11.Mechanism.ECDSA)
        half = len(raw) // 2
        return encode_dss_signature(
            int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big")
        )

    def public_key(self) -> ec.EllipticCurvePublicKey:
        """The public half, read from the token."""
        return self._public

    @property
    def curve(self) -> ec.EllipticCurve:
        """The key's curve."""
        return self._public.curve

    @property
    def key_size(self) -> int:
        """The curve's size in bits."""
        return self._public.key_size

    def exchange(self, algorithm: ec.ECDH, peer_public_key: ec.EllipticCurvePublicKey) -> bytes:
        """Not for signing keys."""
        raise HsmError("A token signing key does not do key agreement.")

    def private_numbers(self) -> NoReturn:
        """Refused: the key is non-extractable."""
        _refuse_export("read")

    def private_bytes(self, *_args: object) -> NoReturn:
        """Refused: the key is non-extractable."""
        _refuse_export("exported")

    def __copy__(self) -> _HsmEcKey:
        return self

    def __deepcopy__(self, memo: dict) -> _HsmEcKey:
        return self


class _HsmRsaKey(rsa.RSAPrivateKey):
    """An RSA key on the token, signing with ``CKM_SHA256_RSA_PKCS`` (PKCS#1 v1.5)."""

    def __init__(self, handle: Any, public: rsa.RSAPublicKey) -> None:
        self._handle = handle
        self._public = public

    def sign(
        self,
        data: bytes,
        padding_: padding.AsymmetricPadding,
        algorithm: hashes.HashAlgorithm,  # type: ignore[override]
    ) -> bytes:
        """Sign ``data`` with PKCS#1 v1.5 and SHA-256 (what certificates and CRLs use here)."""
        if not isinstance(padding_, padding.PKCS1v15) or not isinstance(algorithm, hashes.SHA256):
            raise HsmError("The token key signs with PKCS#1 v1.5 and SHA-256 only.")
        return _token_sign(self._handle, data, pkcs11.Mechanism.SHA256_RSA_PKCS)

    def public_key(self) -> rsa.RSAPublicKey:
        """The public half, read from the token."""
        return self._public

    @property
    def key_size(self) -> int:
        """The modulus size in bits."""
        return self._public.key_size

    def decrypt(self, ciphertext: bytes, padding_: padding.AsymmetricPadding) -> NoReturn:
        """Not for signing keys."""
        raise HsmError("A token signing key does not decrypt.")

    def private_numbers(self) -> NoReturn:
        """Refused: the key is non-extractable."""
        _refuse_export("read")

    def private_bytes(self, *_args: object) -> NoReturn:
        """Refused: the key is non-extractable."""
        _refuse_export("exported")

    def __copy__(self) -> _HsmRsaKey:
        return self

    def __deepcopy__(self, memo: dict) -> _HsmRsaKey:
        return self


def hsm_private_key(session: Any, label: str) -> ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey:
    """A token key pair as a ``cryptography`` private key, for issuing certificates and CRLs.

    ``cryptography``'s ``CertificateBuilder.sign`` and
    ``CertificateRevocationListBuilder.sign`` call the key's ``sign``; this one asks the token.
    The session must stay open while the key is used.

    :param session: A session from :func:`open_token`.
    :param label: The key pair's label (from :func:`generate_key_pair`).
    :return: An ECDSA or RSA private key object that cannot be exported.
    :raises HsmUnavailableError: If the token has no such key pair.
    """
    public = find_public_key(session, label)
    handle = _private_handle(session, label)
    if isinstance(public, ec.EllipticCurvePublicKey):
        return _HsmEcKey(handle, public)
    if isinstance(public, rsa.RSAPublicKey):
        return _HsmRsaKey(handle, public)
    raise HsmError("The token key is neither ECDSA nor RSA.")  # pragma: no cover
