#!/usr/bin/env python3
"""Odoo's command line from a real file, as ``odoo-bin`` is (the project's tools run this).

In prefork mode (``--workers N``) Odoo starts its gevent worker (websocket, live updates) by
running ``sys.executable sys.argv[0] gevent ...`` again: ``sys.argv[0]`` must be a script
that starts Odoo, which ``python -c`` is not. Odoo itself is found through ``PYTHONPATH``
(set by ``scripts/devtools/odoo.py``), like an installed ``odoo`` package.
"""

import os
import sys

# This folder holds the project's tools, not modules Odoo should import.
if sys.path and os.path.abspath(sys.path[0] or ".") == os.path.dirname(os.path.abspath(__file__)):
    del sys.path[0]
os.environ["TZ"] = "UTC"  # what odoo-bin sets before importing odoo

import odoo  # noqa: E402

if __name__ == "__main__":
    odoo.cli.main()
