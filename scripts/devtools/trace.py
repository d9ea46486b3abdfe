"""``dev.py trace``: the requirement -> tests -> last result matrix (see ``traceability.py``)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import traceability

from .common import ROOT, STATE

RESULTS = STATE / "results"


def cmd_trace(args: argparse.Namespace) -> int:
    results: dict[str, str] = {}
    if not args.static:
        results = traceability.load_results(RESULTS)
        for log in args.odoo_log or []:
            results.update(traceability.odoo_log_results(Path(log).read_text(errors="replace")))
    matrix = traceability.trace(ROOT, results)
    if not args.static:
        print(traceability.render(matrix))
        RESULTS.mkdir(parents=True, exist_ok=True)
        out = Path(args.json) if args.json else RESULTS / "trace.json"
        out.write_text(json.dumps(matrix.to_json(), indent=1, ensure_ascii=False))
        print(f"matrix written to {out}")
    for problem in matrix.problems:
        print(f"trace problem: {problem}")
    for risk in ("high", "medium", "low"):
        covered, total = matrix.counts(risk)
        print(f"{risk}: covered {covered} of {total}")
    print(matrix.summary())
    return 1 if matrix.problems else 0
