"""Traceability matrix: requirement -> tests that declare they verify it -> their last result.

Standard library only, and free of Odoo, so the static suite, ``scripts/dev.py trace`` and the
add-on's validation run (the OQ) can all use it.

A test declares what it verifies with a line in its docstring, or in the docstring of its class
or module (which then applies to every test in it)::

    def test_wrong_password(self):
        \"\"\"Verifies: R3, R5\"\"\"

The ids on the line follow the citation rules of :mod:`requirement_refs` (``R17-R19`` is a
range). A test's ids are the union of its module's, its class's and its own.

* :func:`collect_tests` reads the declarations of the core suite (``services/tests``) and the
  Odoo suites (``tests`` and the test add-on under ``tests/addons``) without importing them.
* :func:`junit_results` and :func:`odoo_log_results` read the last results the suites left: the
  JUnit XML of pytest and the log of an Odoo test run.
* :func:`build` puts requirements, declarations and results together into a :class:`Matrix`,
  whose ``problems`` are what fails the trace: a high-risk requirement no test verifies, and a
  test citing an id ``readme/REQUIREMENTS.md`` does not define.
"""

from __future__ import annotations

import ast
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from requirement_refs import REQUIREMENTS_FILE, Requirement, ids_in, parse_requirements

#: Where each suite's test files are, relative to the repository root.
SUITE_DIRS: dict[str, tuple[str, ...]] = {
    "core": ("services/tests",),
    "odoo": ("tests", "tests/addons/meddev_esign_test/tests"),
}
#: Where the suites leave their last results (``.state`` is git-ignored).
RESULTS_DIR = Path(".state") / "results"
CORE_JUNIT = "core-junit.xml"
ODOO_RESULTS = "odoo-results.json"

VERIFIES_RE = re.compile(r"^\s*Verifies:\s*(.+)$", re.MULTILINE)
#: An Odoo test log line: ``odoo.addons.<module>.tests.<file>: Starting Class.test ...``.
ODOO_START_RE = re.compile(r"odoo\.addons\.(\w+)\.tests\.(\w+): Starting (\w+)\.(test\w*) \.\.\.")
ODOO_FAIL_RE = re.compile(r"odoo\.addons\.(\w+)\.tests\.(\w+): (FAIL|ERROR): (\w+)\.(test\w*)")
ODOO_SKIP_RE = re.compile(r"odoo\.addons\.(\w+)\.tests\.(\w+): skipped (\w+)\.(test\w*)")
#: Statuses, from best to worst; a test run several times (subtests) keeps its worst.
STATUSES = ("passed", "skipped", "failed")


@dataclass(frozen=True)
class TestCase:
    """One test function or method and the requirement ids it declares."""

    suite: str
    path: str
    qualname: str
    line: int
    ids: tuple[str, ...]

    @property
    def key(self) -> str:
        return f"{self.path}::{self.qualname}"


@dataclass
class Row:
    """One requirement of the matrix with the tests that verify it."""

    requirement: Requirement
    tests: list[TestCase] = field(default_factory=list)
    results: dict[str, str] = field(default_factory=dict)

    @property
    def covered(self) -> bool:
        return bool(self.tests)

    @property
    def status(self) -> str:
        """``untested``, ``not run`` (no result yet), ``failed``, ``skipped`` or ``passed``."""
        if not self.tests:
            return "untested"
        found = [self.results[t.key] for t in self.tests if t.key in self.results]
        if not found:
            return "not run"
        return max(found, key=STATUSES.index)


@dataclass
class Matrix:
    rows: list[Row]
    tests: list[TestCase]
    problems: list[str]

    def counts(self, risk: str | None = None) -> tuple[int, int]:
        """(covered, total) over the requirements of ``risk`` (all when ``None``)."""
        rows = [r for r in self.rows if risk is None or r.requirement.risk == risk]
        return sum(1 for r in rows if r.covered), len(rows)

    def summary(self) -> str:
        high_covered, high = self.counts("high")
        covered, total = self.counts()
        return (
            f"trace: {total} requirements ({high} high-risk); "
            f"high-risk covered {high_covered} of {high}; all covered {covered} of {total}"
        )

    def to_json(self) -> list[dict[str, object]]:
        return [
            {
                "id": r.requirement.id,
                "title": r.requirement.title,
                "risk": r.requirement.risk,
                "clauses": list(r.requirement.clauses),
                "status": r.status,
                "tests": [
                    {"test": t.key, "suite": t.suite, "result": r.results.get(t.key, "not run")}
                    for t in r.tests
                ],
            }
            for r in self.rows
        ]


def declared_ids(docstring: str | None) -> list[str]:
    """The ids of the ``Verifies:`` lines of ``docstring``, in order, without repeats."""
    found: list[str] = []
    for m in VERIFIES_RE.finditer(docstring or ""):
        for req_id, _offset in ids_in(m.group(1)):
            if req_id not in found:
                found.append(req_id)
    return found


def _merge(*groups: Iterable[str]) -> tuple[str, ...]:
    out: list[str] = []
    for group in groups:
        out += [i for i in group if i not in out]
    return tuple(out)


def tests_in_source(source: str, path: str, suite: str) -> list[TestCase]:
    """The test functions and methods of one file, each with its declared ids."""
    tree = ast.parse(source, path)
    module_ids = declared_ids(ast.get_docstring(tree))
    found: list[TestCase] = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith(
            "test"
        ):
            ids = _merge(module_ids, declared_ids(ast.get_docstring(node)))
            found.append(TestCase(suite, path, node.name, node.lineno, ids))
        elif isinstance(node, ast.ClassDef):
            class_ids = declared_ids(ast.get_docstring(node))
            for item in node.body:
                if isinstance(
                    item, ast.FunctionDef | ast.AsyncFunctionDef
                ) and item.name.startswith("test"):
                    ids = _merge(module_ids, class_ids, declared_ids(ast.get_docstring(item)))
                    found.append(
                        TestCase(suite, path, f"{node.name}.{item.name}", item.lineno, ids)
                    )
    return found


def collect_tests(root: Path) -> list[TestCase]:
    """Every test of the core and Odoo suites under ``root``, in file and line order."""
    found: list[TestCase] = []
    for suite, dirs in SUITE_DIRS.items():
        for rel in dirs:
            for path in sorted((root / rel).glob("test_*.py")):
                found += tests_in_source(path.read_text(), str(path.relative_to(root)), suite)
    return found


def _worse(results: dict[str, str], key: str, status: str) -> None:
    old = results.get(key)
    if old is None or STATUSES.index(status) > STATUSES.index(old):
        results[key] = status


def junit_results(text: str) -> dict[str, str]:
    """Results by test key from pytest's JUnit XML (``--junitxml``)."""
    results: dict[str, str] = {}
    for case in ET.fromstring(text).iter("testcase"):
        parts = (case.get("classname") or "").split(".")
        module = [p for p in parts if not p[:1].isupper()]
        classes = [p for p in parts if p[:1].isupper()]
        name = re.sub(r"\[.*\]$", "", case.get("name") or "")
        key = "/".join(module) + ".py::" + ".".join([*classes, name])
        status = "passed"
        if case.find("failure") is not None or case.find("error") is not None:
            status = "failed"
        elif case.find("skipped") is not None:
            status = "skipped"
        _worse(results, key, status)
    return results


def _odoo_path(addon: str, module: str) -> str:
    if addon == "meddev_esign":
        return f"tests/{module}.py"
    return f"tests/addons/{addon}/tests/{module}.py"


def odoo_log_results(text: str) -> dict[str, str]:
    """Results by test key from the log of an Odoo test run (``--log-level=info``)."""
    results: dict[str, str] = {}
    for m in ODOO_START_RE.finditer(text):
        _worse(results, f"{_odoo_path(m[1], m[2])}::{m[3]}.{m[4]}", "passed")
    for m in ODOO_SKIP_RE.finditer(text):
        _worse(results, f"{_odoo_path(m[1], m[2])}::{m[3]}.{m[4]}", "skipped")
    for m in ODOO_FAIL_RE.finditer(text):
        _worse(results, f"{_odoo_path(m[1], m[2])}::{m[4]}.{m[5]}", "failed")
    return results


def load_results(results_dir: Path) -> dict[str, str]:
    """The last results the suites left in ``results_dir`` (empty when they left none)."""
    results: dict[str, str] = {}
    junit = results_dir / CORE_JUNIT
    if junit.exists():
        try:
            results.update(junit_results(junit.read_text()))
        except ET.ParseError:
            pass
    odoo = results_dir / ODOO_RESULTS
    if odoo.exists():
        try:
            data = json.loads(odoo.read_text())
        except ValueError:
            data = {}
        if isinstance(data, dict):
            results.update({str(k): str(v) for k, v in data.items() if v in STATUSES})
    return results


def build(
    requirements: Mapping[str, Requirement],
    tests: Iterable[TestCase],
    results: Mapping[str, str] | None = None,
) -> Matrix:
    """The matrix, and its problems: unknown ids cited by tests, untested high-risk ids."""
    tests = list(tests)
    results = dict(results or {})
    rows = {req_id: Row(req) for req_id, req in requirements.items()}
    problems: list[str] = []
    for test in tests:
        for req_id in test.ids:
            if req_id in rows:
                rows[req_id].tests.append(test)
                if test.key in results:
                    rows[req_id].results[test.key] = results[test.key]
            else:
                problems.append(
                    f"{test.path}:{test.line}: {test.qualname} verifies {req_id}, which "
                    f"{REQUIREMENTS_FILE} does not define"
                )
    problems += [
        f"{req_id} ({row.requirement.title}) is high-risk and no test verifies it"
        for req_id, row in rows.items()
        if row.requirement.risk == "high" and not row.covered
    ]
    return Matrix(list(rows.values()), tests, problems)


def trace(root: Path, results: Mapping[str, str] | None = None) -> Matrix:
    """The matrix of the repository at ``root`` (requirement problems included)."""
    doc = root / REQUIREMENTS_FILE
    if not doc.exists():
        return Matrix([], [], [f"{REQUIREMENTS_FILE} is missing"])
    requirements, problems = parse_requirements(doc.read_text())
    matrix = build(requirements, collect_tests(root), results)
    matrix.problems[:0] = [f"{REQUIREMENTS_FILE}: {p}" for p in problems]
    return matrix


def render(matrix: Matrix) -> str:
    """The matrix as text: one line per requirement, then its tests with their results."""
    lines = []
    for row in matrix.rows:
        req = row.requirement
        lines.append(f"{req.id:<4} {req.risk:<6} {row.status:<8} {req.title}")
        for test in row.tests:
            lines.append(f"       {row.results.get(test.key, 'not run'):<8} {test.key}")
    return "\n".join(lines)
