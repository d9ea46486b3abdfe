"""RFC 3161 timestamps of a CMS signature: the TSA client and the token in the CMS (R23).

Signing and timestamping are separate steps so the Odoo layer can sign while
every TSA is down and add the token later (R23). The token is requested over
SHA-256 of the SignerInfo's signature value (:func:`signature_imprint`), as a
CAdES signature-time-stamp (RFC 3161 appendix A); :func:`attach_timestamp`
adds it to the CMS as the unsigned ``signature-time-stamp-token`` attribute,
which does not change the signature. :func:`timestamp_imprint` timestamps
any SHA-256 digest (e.g. an audit checkpoint's head).
"""

from __future__ import annotations

import hashlib
import os
import struct
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import requests
from asn1crypto import cms, core, tsp

from .pki_errors import PkiInputError, TimestampUnavailableError, TsaAttempt
from .pki_keys import utc
from .pki_sign import DIGEST_ALGORITHM, _load_signed_data

__all__ = [
    "TimestampResult",
    "attach_timestamp",
    "extract_timestamp",
    "request_timestamp",
    "signature_imprint",
    "timestamp_imprint",
]


def signature_imprint(cms_der: bytes) -> bytes:
    """SHA-256 of the SignerInfo's signature value: what the timestamp covers.

    Only the path to the signature value is parsed (the certificates are not),
    so asking for a timestamp right after signing costs next to nothing.

    :param cms_der: A CMS from :func:`sign_detached`.
    :return: The 32-byte digest.
    :raises PkiInputError: If ``cms_der`` is not a well-formed CMS.
    """
    try:
        info = cms.ContentInfo.load(cms_der)
        if info["content_type"].native != "signed_data":
            raise ValueError("The CMS is not of type SignedData.")
        signer_infos = info["content"]["signer_infos"]
        if len(signer_infos) != 1:
            raise ValueError("The CMS must have exactly one signer.")
        value = signer_infos[0]["signature"].native
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise PkiInputError(f"The data is not a well-formed CMS signature: {exc}") from exc
    return hashlib.sha256(value).digest()


@dataclass(frozen=True)
class TimestampResult:
    """A timestamp token obtained from a TSA.

    :param token: DER ``ContentInfo`` of the RFC 3161 token.
    :param gen_time: The TSA's time (``TSTInfo.genTime``), aware UTC.
    :param tsa_url: The TSA that answered.
    :param local_time: The server's UTC clock half-way through the request.
    :param attempts: The TSAs tried before it, with their failures.
    """

    token: bytes
    gen_time: datetime
    tsa_url: str
    local_time: datetime
    attempts: tuple[TsaAttempt, ...] = ()

    @property
    def drift(self) -> timedelta:
        """TSA time minus server time (positive when the TSA is ahead), for R27."""
        return self.gen_time - self.local_time

    def drift_exceeds(self, threshold: timedelta) -> bool:
        """Tell whether the clocks differ by more than ``threshold`` either way.

        :param threshold: The tolerated drift.
        :return: ``True`` if ``|drift| > threshold``.
        """
        return abs(self.drift) > threshold


def _token_gen_time(token: cms.ContentInfo, imprint: bytes) -> datetime:
    """Check a token's structure and imprint; return its genTime.

    :raises ValueError: If the token is malformed.
    :raises LookupError: If it covers another imprint.
    """
    try:
        if token["content_type"].native != "signed_data":
            raise ValueError("The token is not a SignedData.")
        tst_info = token["content"]["encap_content_info"]["content"].parsed
        if not isinstance(tst_info, tsp.TSTInfo):
            raise ValueError("The token does not encapsulate a TSTInfo.")
        algorithm = tst_info["message_imprint"]["hash_algorithm"]["algorithm"].native
        hashed = tst_info["message_imprint"]["hashed_message"].native
        gen_time = tst_info["gen_time"].native
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise ValueError(f"The token is malformed: {exc}") from exc
    if algorithm != DIGEST_ALGORITHM or hashed != imprint:
        raise LookupError("The token covers other data than the signature.")
    return utc(gen_time)


class _TimeStampResp(core.Sequence):
    """RFC 3161 ``TimeStampResp``, whose token is OPTIONAL (absent when the TSA refuses).

    asn1crypto's ``tsp.TimeStampResp`` makes the token mandatory, so a refusal could not be
    told from garbage with it.
    """

    _fields = [  # noqa: RUF012 - asn1crypto's declaration style
        ("status", tsp.PKIStatusInfo),
        ("time_stamp_token", cms.ContentInfo, {"optional": True}),
    ]


_TSA_CLIENT = threading.local()
"""Per thread: one ``requests.Session``, so a TSA that keeps connections alive is asked
over the same connection each time (Odoo's request threads each get their own)."""


def _http_session() -> requests.Session:
    session = getattr(_TSA_CLIENT, "session", None)
    if session is None:
        session = _TSA_CLIENT.session = requests.Session()
    return session


def _nonce() -> int:
    """A random positive 64-bit nonce of fixed width (as pyHanko makes them)."""
    return struct.unpack(">q", b"\x01" + os.urandom(7))[0]


def _ask(
    url: str, imprint: bytes, timeout: float, headers: dict[str, str] | None
) -> cms.ContentInfo | TsaAttempt:
    """Ask one TSA for a token (RFC 3161 over HTTP); return it or the reason it failed.

    The request asks for the TSA certificate and carries a nonce, which the
    token must echo. The token's signature is checked later, by
    :func:`verify_signature`; here only the reply's status, nonce and form.
    This is plain ``requests`` in the caller's thread: pyHanko's clients add a
    thread hop and an event loop per call (about 2 ms on loopback), and its
    aiohttp one a new HTTP session per call (25-60 ms).
    """
    nonce = _nonce()
    query = tsp.TimeStampReq(
        {
            "version": "v1",
            "message_imprint": {
                "hash_algorithm": {"algorithm": DIGEST_ALGORITHM},
                "hashed_message": imprint,
            },
            "nonce": nonce,
            "cert_req": True,
        }
    ).dump()
    sent = dict(headers or {})
    sent["Content-Type"] = "application/timestamp-query"
    sent["Accept"] = "application/timestamp-reply"
    try:
        reply = _http_session().post(url, data=query, headers=sent, timeout=timeout)
    except (requests.RequestException, OSError) as exc:
        detail = str(exc) or type(exc).__name__
        return TsaAttempt(url, "unreachable", f"no answer ({detail}).")
    if reply.status_code != 200:
        return TsaAttempt(url, "unreachable", f"HTTP status {reply.status_code}.")
    if (
        reply.headers.get("Content-Type", "").split(";")[0].strip()
        != "application/timestamp-reply"
    ):
        return TsaAttempt(
            url, "garbage", "the answer is not a timestamp reply (wrong content type)."
        )
    try:
        response = _TimeStampResp.load(reply.content)
        status = response["status"]
        if status["status"].native not in ("granted", "granted_with_mods"):
            texts = "; ".join(status["status_string"].native or []) or "no reason given"
            fails = "; ".join(status["fail_info"].native or []) or "none"
            return TsaAttempt(url, "refused", f"the TSA refused: {texts} (failure: {fails}).")
        token = response["time_stamp_token"]
        echoed = token["content"]["encap_content_info"]["content"].parsed["nonce"].native
    except (ValueError, TypeError, KeyError, AttributeError, IndexError) as exc:
        return TsaAttempt(url, "garbage", f"the answer is not a timestamp response ({exc}).")
    if echoed != nonce:
        return TsaAttempt(url, "garbage", "the token does not echo the request's nonce.")
    return token


def request_timestamp(
    cms_der: bytes,
    tsa_urls: Sequence[str],
    *,
    timeout: float = 5.0,
    headers: dict[str, str] | None = None,
    clock: Callable[[], datetime] = utc,
) -> TimestampResult:
    """Get an RFC 3161 token over the signature of ``cms_der``.

    TSAs are tried in order until one returns a token that is well formed,
    matches the request's nonce and covers the signature. The token's own
    signature and TSA certificate are checked by :func:`verify_signature`.

    :param cms_der: A CMS from :func:`sign_detached`.
    :param tsa_urls: TSA URLs, in order of preference.
    :param timeout: Seconds allowed per TSA, connection and answer included.
    :param headers: Extra HTTP headers (e.g. an authorisation header).
    :param clock: The server's UTC clock (tests replace it).
    :return: The token, the TSA time, and the clock drift.
    :raises PkiInputError: If ``cms_der`` is not a well-formed CMS.
    :raises TimestampUnavailableError: If no TSA gave a usable token (also
        when the list is empty); ``attempts`` says what each did.
    """
    return timestamp_imprint(
        signature_imprint(cms_der), tsa_urls, timeout=timeout, headers=headers, clock=clock
    )


def timestamp_imprint(
    imprint: bytes,
    tsa_urls: Sequence[str],
    *,
    timeout: float = 5.0,
    headers: dict[str, str] | None = None,
    clock: Callable[[], datetime] = utc,
) -> TimestampResult:
    """Get an RFC 3161 token over a SHA-256 ``imprint`` (e.g. an audit checkpoint's head).

    :param imprint: The 32-byte SHA-256 digest to timestamp.
    :param tsa_urls: TSA URLs, in order of preference.
    :param timeout: Seconds allowed per TSA.
    :param headers: Extra HTTP headers.
    :param clock: The server's UTC clock.
    :return: The token, the TSA time, and the clock drift.
    :raises PkiInputError: If ``imprint`` is not 32 bytes.
    :raises TimestampUnavailableError: If no TSA gave a usable token.
    """
    if not isinstance(imprint, bytes) or len(imprint) != 32:
        raise PkiInputError("A timestamp imprint must be a 32-byte SHA-256 digest.")
    attempts: list[TsaAttempt] = []
    for url in tsa_urls:
        before = clock()
        answer = _ask(url, imprint, timeout, headers)
        after = clock()
        if isinstance(answer, TsaAttempt):
            attempts.append(answer)
            continue
        try:
            gen_time = _token_gen_time(answer, imprint)
            token = answer.dump()
        except ValueError as exc:
            attempts.append(TsaAttempt(url, "garbage", str(exc)))
            continue
        except LookupError as exc:
            attempts.append(TsaAttempt(url, "wrong_imprint", str(exc)))
            continue
        return TimestampResult(
            token=token,
            gen_time=gen_time,
            tsa_url=url,
            local_time=before + (after - before) / 2,
            attempts=tuple(attempts),
        )
    raise TimestampUnavailableError(attempts)


def _with_token(signed_data: cms.SignedData, token: cms.ContentInfo) -> cms.SignedData:
    """A copy of ``signed_data`` whose signer carries ``token`` as its only timestamp."""
    copy = signed_data.copy()
    signer_info = copy["signer_infos"][0].copy()
    attributes = signer_info["unsigned_attrs"]
    kept = [
        attribute
        for attribute in ([] if isinstance(attributes, core.Void) else attributes)
        if attribute["type"].native != "signature_time_stamp_token"
    ]
    kept.append(cms.CMSAttribute({"type": "signature_time_stamp_token", "values": [token]}))
    signer_info["unsigned_attrs"] = cms.CMSAttributes(kept)
    # Fresh containers: asn1crypto re-encodes a parent only when it was itself modified.
    copy["signer_infos"] = cms.SignerInfos([signer_info])
    return copy


def attach_timestamp(cms_der: bytes, token: bytes) -> bytes:
    """Add a timestamp token to a CMS as its signature-time-stamp.

    The signature itself is unchanged (unsigned attributes are not signed).
    An existing signature-time-stamp is replaced.

    :param cms_der: A CMS from :func:`sign_detached`.
    :param token: The token of :class:`TimestampResult`.
    :return: The CMS with the token (CAdES-T).
    :raises PkiInputError: If either is malformed or the token does not cover
        this signature.
    """
    try:
        info, signed_data, signer_info = _load_signed_data(cms_der)
        token_info = cms.ContentInfo.load(token)
        imprint = hashlib.sha256(signer_info["signature"].native).digest()
        _token_gen_time(token_info, imprint)
    except ValueError as exc:
        raise PkiInputError(str(exc)) from exc
    except LookupError as exc:
        raise PkiInputError(str(exc)) from exc
    return cms.ContentInfo(
        {"content_type": info["content_type"], "content": _with_token(signed_data, token_info)}
    ).dump()


def extract_timestamp(cms_der: bytes) -> bytes | None:
    """The signature-time-stamp token embedded in a CMS, if any.

    :param cms_der: A CMS.
    :return: The token's DER, or ``None``.
    :raises PkiInputError: If ``cms_der`` is not a well-formed CMS.
    """
    try:
        _info, _data, signer_info = _load_signed_data(cms_der)
    except ValueError as exc:
        raise PkiInputError(str(exc)) from exc
    attributes = signer_info["unsigned_attrs"]
    if isinstance(attributes, core.Void):
        return None
    for attribute in attributes:
        if attribute["type"].native == "signature_time_stamp_token":
            return attribute["values"][0].dump()
    return None
