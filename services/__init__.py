"""Odoo-free core of ``meddev_esign``: GS1/UDI, content hashes and hash chains.

Nothing here imports Odoo, so it can be tested with plain pytest. Import the
submodules directly (``from .services import gs1``); this package re-exports
only the error hierarchy, which every layer needs.
"""

from .errors import (
    CanonicalValueError,
    ChainError,
    EsignError,
    InvalidGTINError,
    SnapshotError,
    UDIEncodingError,
    UDIParseError,
)

__all__ = [
    "CanonicalValueError",
    "ChainError",
    "EsignError",
    "InvalidGTINError",
    "SnapshotError",
    "UDIEncodingError",
    "UDIParseError",
]
