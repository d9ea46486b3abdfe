"""Let the core suite run without loading Odoo.

The add-on root is a Python package whose ``__init__.py`` loads the Odoo
models. pytest (8.x) sets up every package above a test by importing its
``__init__.py`` to look for ``setup_module``, which would load Odoo, and
``services/__init__.py`` would be imported as ``<root>.services``, which
imports the root too. Neither package defines ``setup_module``, so that
import is skipped here; the tests import the core as the top-level package
``services`` instead, with the add-on root on ``sys.path``.

This folder has no ``__init__.py`` on purpose, so this file and the tests are
imported as top-level modules and never through the add-on package.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

_ADDON_ROOT = Path(__file__).resolve().parents[2]
if str(_ADDON_ROOT) not in sys.path:
    sys.path.insert(0, str(_ADDON_ROOT))


def _skip_package_setup() -> None:
    """Stand in for ``pytest.Package.setup`` on the add-on's packages."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Stop pytest from importing the add-on's ``__init__.py`` files.

    :param items: The collected test items.
    """
    for item in items:
        for node in item.listchain():
            if isinstance(node, pytest.Package) and node.path.is_relative_to(_ADDON_ROOT):
                node.setup = _skip_package_setup  # type: ignore[method-assign]
