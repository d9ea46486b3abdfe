"""The per-record signature chain: what each signature's hash covers, and its offline check.

Every signature of a record links to the signature made before it on the same record::

    signature_hash = chain_hash(previous_hash, signature_payload(values))

(:func:`services.chain.chain_hash`). The payload binds the signature to the record and its
content, the signer, the meaning, the time and the policy step, and, when the signature
carries a CAdES signature, to the SHA-256 of that CMS, of its timestamp token and to the
certificate's fingerprint. Signatures made without PKI have no ``"pki"`` key, so their
chains verify as they did before PKI existed.

An evidence export carries the record's chain as ``chain.json`` (:data:`EXPORT_FORMAT`)::

    {"format": EXPORT_FORMAT, "version": CHAIN_VERSION, "model": ..., "res_id": ...,
     "entries": [{"previous_hash": ..., "signature_hash": ..., "payload": {...}}, ...]}

with the entries in signing order; :func:`verify_export` checks it with no server.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .canonical import JSONable
from .chain import CHAIN_VERSION, GENESIS, ChainEntry, ChainVerdict, chain_hash, verify_chain
from .errors import ChainError

__all__ = [
    "CHAIN_FIELDS",
    "EXPORT_FORMAT",
    "GENESIS",
    "ChainExportVerdict",
    "export_document",
    "signature_hash",
    "signature_payload",
    "verify_export",
    "verify_signature_chain",
]

#: What each signature's chain hash covers: record, content, signer, meaning, time, policy.
CHAIN_FIELDS = (
    "res_model",
    "res_id",
    "record_version",
    "content_hash",
    "user_id",
    "login",
    "printed_name",
    "meaning_code",
    "reason",
    "signed_at",
    "signer_tz",
    "auth_method",
    "policy_id",
    "policy_version",
    "step_name",
    "request_id",
)

EXPORT_FORMAT = "meddev-esign-signature-chain/1"
"""Name of the ``chain.json`` format described in the module docstring."""


def _sha256(data: bytes) -> str:
    """SHA-256 of ``data`` as 64 lowercase hex digits."""
    return hashlib.sha256(data).hexdigest()


def _time_text(value: datetime | str) -> str:
    """A UTC signing time as stored text, ``YYYY-MM-DD HH:MM:SS`` (no fraction)."""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, str):
        return value
    raise ChainError("A signing time must be a datetime or its text.", value=value)


def signature_payload(
    values: Mapping[str, Any],
    *,
    cms: bytes | None = None,
    token: bytes | None = None,
) -> dict[str, JSONable]:
    """The canonical payload one signature's chain hash covers.

    :param values: The signature's plain values by field name (:data:`CHAIN_FIELDS`): ids
        for the signer, policy and request, a datetime or its stored text for
        ``signed_at``; ``pki_certificate_fingerprint`` when it carries a CMS.
    :param cms: The raw CAdES signature (DER), if the signature carries one.
    :param token: The raw RFC 3161 token obtained at signing, if any.
    :return: The payload, ready for :func:`signature_hash`.
    :raises ChainError: If ``signed_at`` is missing or of another type.
    """
    if "signed_at" not in values:
        raise ChainError("A signature payload needs its signing time.")
    payload: dict[str, JSONable] = {key: values.get(key) for key in CHAIN_FIELDS}
    payload["signed_at"] = _time_text(values["signed_at"])
    payload["reason"] = payload["reason"] or ""
    if cms:
        payload["pki"] = {
            "cms_sha256": _sha256(cms),
            "token_sha256": _sha256(token) if token else "",
            "certificate": values.get("pki_certificate_fingerprint") or "",
        }
    return payload


def signature_hash(previous_hash: str, payload: Mapping[str, JSONable]) -> str:
    """The ``signature_hash`` of a signature following ``previous_hash`` on its record.

    :param previous_hash: The record's previous signature hash, or :data:`GENESIS`.
    :param payload: What :func:`signature_payload` returned.
    :return: 64 lowercase hex digits.
    :raises ChainError: See :func:`services.chain.chain_hash`.
    """
    return chain_hash(previous_hash, payload)


def verify_signature_chain(
    links: Iterable[tuple[str, str, Mapping[str, JSONable]]],
) -> ChainVerdict:
    """Verify one record's signatures in signing order.

    :param links: ``(previous_hash, signature_hash, payload)`` per signature, oldest first.
    :return: The verdict of :func:`services.chain.verify_chain` (numbered from 1).
    """
    return verify_chain(
        ChainEntry(seq, previous, stored, payload)
        for seq, (previous, stored, payload) in enumerate(links, start=1)
    )


def export_document(
    model: str, res_id: int, links: Sequence[tuple[str, str, Mapping[str, JSONable]]]
) -> dict[str, Any]:
    """The ``chain.json`` document of a record's signatures.

    :param model: The record's model name.
    :param res_id: The record's id.
    :param links: ``(previous_hash, signature_hash, payload)`` per signature, oldest first.
    :return: A JSON-serialisable mapping (see the module docstring).
    """
    return {
        "format": EXPORT_FORMAT,
        "version": CHAIN_VERSION,
        "model": model,
        "res_id": res_id,
        "entries": [
            {"previous_hash": previous, "signature_hash": stored, "payload": dict(payload)}
            for previous, stored, payload in links
        ],
    }


@dataclass(frozen=True)
class ChainExportVerdict:
    """Result of :func:`verify_export`.

    :param chain: The verdict on the links and hashes of the record's signatures.
    :param problems: Further findings, in plain English: the exported signature is not in
        the chain, or its content hash or CMS disagree with its chain entry.
    :param signatures: Number of signatures in the chain.
    """

    chain: ChainVerdict
    problems: tuple[str, ...]
    signatures: int

    @property
    def ok(self) -> bool:
        """``True`` when the chain holds and the exported signature is one of its links."""
        return self.chain.ok and not self.problems


def verify_export(
    document: Mapping[str, Any],
    *,
    signature_hash_value: str | None = None,
    content_hash: str | None = None,
    cms: bytes | None = None,
) -> ChainExportVerdict:
    """Check a ``chain.json`` document and the exported signature's place in it.

    :param document: The parsed ``chain.json``.
    :param signature_hash_value: The exported signature's ``signature_hash`` (manifest);
        ``None`` checks the chain alone.
    :param content_hash: The content hash the manifest states, to compare with the chain's.
    :param cms: The exported CMS (DER), to compare with the chain entry's digest.
    :return: The verdict.
    :raises ChainError: If the document is of another format or malformed.
    """
    if document.get("format") != EXPORT_FORMAT or document.get("version") != CHAIN_VERSION:
        raise ChainError(
            "This file is not a meddev_esign signature chain of a supported version.",
            value=document.get("format"),
        )
    try:
        links = [
            (str(item["previous_hash"]), str(item["signature_hash"]), dict(item["payload"]))
            for item in document["entries"]
        ]
    except (KeyError, TypeError, ValueError) as exc:
        raise ChainError("The signature chain's entries are malformed.") from exc
    verdict = verify_signature_chain(links)
    problems: list[str] = []
    if signature_hash_value is None:
        return ChainExportVerdict(verdict, (), len(links))
    own = [payload for _prev, stored, payload in links if stored == signature_hash_value]
    if not own:
        problems.append("The exported signature is not a link of the record's chain.")
    else:
        payload = own[0]
        if content_hash is not None and payload.get("content_hash") != content_hash:
            problems.append("The manifest's content hash differs from the chain's.")
        pki = payload.get("pki")
        if cms is not None and (
            not isinstance(pki, Mapping) or pki.get("cms_sha256") != _sha256(cms)
        ):
            problems.append("The CAdES signature differs from the one the chain recorded.")
    return ChainExportVerdict(verdict, tuple(problems), len(links))
