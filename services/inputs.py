"""Shape checks for values that reach the signing wizards from outside (a form or RPC).

Over JSON-RPC a caller can send any JSON value where the web client sends text: a number
as the password, a list as the record ids, a megabyte as the authenticator code. These
functions accept exactly the shapes the add-on works with and raise :class:`InputError`
(with a stable ``problem`` code) for anything else, so the Odoo layer answers with a
translated message instead of a traceback. Nothing here imports Odoo.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable
from typing import Literal, TypeAlias

from .errors import EsignError

__all__ = [
    "MAX_ID",
    "MAX_SECRET_CHARS",
    "MAX_TEXT_CHARS",
    "MAX_TOTP_CHARS",
    "InputError",
    "InputProblem",
    "are_record_ids",
    "base64_data",
    "hash_map",
    "id_list",
    "model_name",
    "optional_secret",
    "record_id",
    "secret",
    "text",
]

InputProblem: TypeAlias = Literal[
    "not_text",
    "empty",
    "too_long",
    "not_id",
    "not_id_list",
    "not_hash_map",
    "not_model",
    "not_base64",
]

#: The longest password accepted (characters); longer is refused before any hashing.
MAX_SECRET_CHARS = 4096
#: The longest authenticator code accepted; TOTP codes have 6 to 8 digits.
MAX_TOTP_CHARS = 16
#: The longest reason, comment or log-in accepted.
MAX_TEXT_CHARS = 10_000
#: PostgreSQL ``integer`` ids end here.
MAX_ID = 2**31 - 1

_MODEL_NAME = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_]+)*$")


class InputError(EsignError):
    """A value from outside does not have the shape required.

    :param field: Which input it is (``"password"``, ``"res_ids"``...).
    :param problem: Which rule it broke: ``"not_text"``, ``"empty"``, ``"too_long"``,
        ``"not_id"``, ``"not_id_list"``, ``"not_hash_map"``, ``"not_model"`` or
        ``"not_base64"``.
    :param limit: For ``"too_long"``, the largest length accepted.
    """

    def __init__(self, field: str, problem: InputProblem, *, limit: int | None = None) -> None:
        self.field = field
        self.problem: InputProblem = problem
        self.limit = limit
        super().__init__(f"The input {field!r} is refused: {problem}.")


def secret(value: object, field: str = "password", *, max_chars: int = MAX_SECRET_CHARS) -> str:
    """A required secret: non-empty text of at most ``max_chars`` characters.

    :raises InputError: ``not_text``, ``empty`` or ``too_long``.
    """
    if not isinstance(value, str):
        raise InputError(field, "not_text")
    if not value:
        raise InputError(field, "empty")
    if len(value) > max_chars:
        raise InputError(field, "too_long", limit=max_chars)
    return value


def optional_secret(
    value: object, field: str = "totp_code", *, max_chars: int = MAX_TOTP_CHARS
) -> str | None:
    """An optional secret: ``None``, ``False`` and ``""`` mean "not given"; else as ``secret``.

    ``False`` is what Odoo's clients send for an empty field.
    """
    if value is None or value is False or value == "":
        return None
    return secret(value, field, max_chars=max_chars)


def text(
    value: object, field: str, *, max_chars: int = MAX_TEXT_CHARS, required: bool = False
) -> str | None:
    """Optional (or ``required``) free text; ``None``/``False`` mean empty.

    :return: the text, or None when empty and not required.
    :raises InputError: ``not_text``, ``too_long``, or ``empty`` when ``required`` and only
        blanks are given.
    """
    if value is None or value is False:
        value = ""
    if not isinstance(value, str):
        raise InputError(field, "not_text")
    if len(value) > max_chars:
        raise InputError(field, "too_long", limit=max_chars)
    if required and not value.strip():
        raise InputError(field, "empty")
    return value or None


def base64_data(value: object, field: str, *, max_chars: int) -> str | bytes | None:
    """An optional file as Odoo carries it: base64 text (or bytes) that decodes.

    Decoded the lenient way Odoo decodes attachments, so what passes here also passes there.
    """
    if value is None or value is False:
        return None
    if not isinstance(value, str | bytes):
        raise InputError(field, "not_text")
    if len(value) > max_chars:
        raise InputError(field, "too_long", limit=max_chars)
    try:
        base64.b64decode(value)
    except (binascii.Error, ValueError):
        raise InputError(field, "not_base64") from None
    return value


def record_id(value: object, field: str = "res_id") -> int:
    """A database id: a positive integer (not a boolean) within PostgreSQL's ``integer``."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_ID:
        raise InputError(field, "not_id")
    return value


def are_record_ids(values: Iterable[object]) -> bool:
    """Whether every value is a database id (:func:`record_id`): the ids of records an RPC
    caller names reach SQL as given, where text or a number out of range is a database
    error rather than the caller's."""
    return all(not isinstance(v, bool) and isinstance(v, int) and 0 < v <= MAX_ID for v in values)


def model_name(value: object, field: str = "res_model") -> str:
    """A syntactically valid model name (``stock.lot``); whether it exists is Odoo's to say."""
    if not isinstance(value, str) or len(value) > 128 or not _MODEL_NAME.match(value):
        raise InputError(field, "not_model")
    return value


def id_list(value: object, field: str = "res_ids") -> list[int]:
    """JSON text of a non-empty list of distinct record ids, as the sign wizard stores them.

    :return: the ids, in the given order.
    """
    try:
        ids = json.loads(value) if isinstance(value, str) else None
    except (ValueError, RecursionError):
        ids = None
    if not isinstance(ids, list) or not ids:
        raise InputError(field, "not_id_list")
    try:
        checked = [record_id(i, field) for i in ids]
    except InputError:
        raise InputError(field, "not_id_list") from None
    if len(set(checked)) != len(checked):
        raise InputError(field, "not_id_list")
    return checked


def hash_map(value: object, ids: list[int], field: str = "expected_hashes") -> dict[str, str]:
    """JSON text of ``{"<id>": "<content hash>"}`` with exactly one entry per id in ``ids``."""
    try:
        hashes = json.loads(value) if isinstance(value, str) else None
    except (ValueError, RecursionError):
        hashes = None
    if (
        not isinstance(hashes, dict)
        or set(hashes) != {str(i) for i in ids}
        or not all(isinstance(h, str) and 0 < len(h) <= 256 for h in hashes.values())
    ):
        raise InputError(field, "not_hash_map")
    return hashes
