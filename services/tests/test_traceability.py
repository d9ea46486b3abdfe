"""The traceability matrix (``scripts/traceability.py``, run by ``dev.py trace``).

The script lives outside the add-on's packages, so it is loaded from its file, as
``requirement_refs`` before it. Ids in the strings below are data, not citations of this file.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

_SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, _SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


_load("requirement_refs")
trace = _load("traceability")

DOC = """# Requirements

### R1 — One person
A signature belongs to one person.
Clauses: 21 CFR 11.100(a)
Risk: high — an unattributable signature.

### R2 — A medium one
Something weaker.
Clauses: ISO 13485 §4.2.5
Risk: medium — another control catches it.

### S3 — Production
Batch release is a signing point.
Clauses: ISO 13485 §8.2.6
Risk: high — product reaches patients.
"""

CORE_TEST = '''"""Module.

Verifies: R2
"""


def test_one():
    """Checks one thing.

    Verifies: R1
    """


def test_two():
    pass


def helper():
    """Verifies: S3"""
'''

ODOO_TEST = '''
class TestRelease:
    """Verifies: S3"""

    def test_release(self):
        """Verifies: R1, R2"""

    def test_other(self):
        pass
'''


def _repo(tmp_path: Path, doc: str = DOC, core: str = CORE_TEST, odoo: str = ODOO_TEST) -> Path:
    (tmp_path / "readme").mkdir(parents=True)
    (tmp_path / "readme" / "REQUIREMENTS.md").write_text(doc)
    (tmp_path / "services" / "tests").mkdir(parents=True)
    (tmp_path / "services" / "tests" / "test_core.py").write_text(core)
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_flow.py").write_text(odoo)
    return tmp_path


def test_declared_ids_read_the_verifies_lines_and_ranges():
    assert trace.declared_ids("Text.\n\n    Verifies: R3, R5-R7, S1.5\n") == [
        "R3",
        "R5",
        "R6",
        "R7",
        "S1",
    ]
    assert trace.declared_ids("Mentions R3 but declares nothing.") == []
    assert trace.declared_ids(None) == []


def test_a_test_inherits_the_ids_of_its_module_and_class(tmp_path):
    tests = trace.collect_tests(_repo(tmp_path))
    by_key = {t.key: t for t in tests}
    assert by_key["services/tests/test_core.py::test_one"].ids == ("R2", "R1")
    assert by_key["services/tests/test_core.py::test_two"].ids == ("R2",)
    assert by_key["tests/test_flow.py::TestRelease.test_release"].ids == ("S3", "R1", "R2")
    assert by_key["tests/test_flow.py::TestRelease.test_other"].ids == ("S3",)
    assert "services/tests/test_core.py::helper" not in by_key  # not a test
    assert {t.suite for t in tests} == {"core", "odoo"}


def test_covered_repository_passes_with_its_summary_line(tmp_path):
    matrix = trace.trace(_repo(tmp_path))
    assert matrix.problems == []
    assert matrix.counts("high") == (2, 2)
    assert matrix.summary() == (
        "trace: 3 requirements (2 high-risk); high-risk covered 2 of 2; all covered 3 of 3"
    )


def test_unknown_id_fails_the_trace(tmp_path):
    """Twin: a test that cites an id the requirements do not define."""
    odoo = ODOO_TEST.replace("Verifies: R1, R2", "Verifies: R1, R42")
    matrix = trace.trace(_repo(tmp_path, odoo=odoo))
    assert len(matrix.problems) == 1
    assert "TestRelease.test_release verifies R42" in matrix.problems[0]
    assert "tests/test_flow.py:" in matrix.problems[0]


def test_untested_high_risk_requirement_fails_the_trace(tmp_path):
    """Twin: nothing verifies a high-risk requirement any more."""
    core = CORE_TEST.replace("Verifies: R1\n", "")
    odoo = ODOO_TEST.replace("Verifies: R1, R2", "Verifies: R2")
    matrix = trace.trace(_repo(tmp_path, core=core, odoo=odoo))
    assert matrix.problems == ["R1 (One person) is high-risk and no test verifies it"]
    assert matrix.summary().endswith("high-risk covered 1 of 2; all covered 2 of 3")


def test_untested_medium_requirement_is_counted_but_does_not_fail(tmp_path):
    core = CORE_TEST.replace("Verifies: R2\n", "")
    odoo = ODOO_TEST.replace("Verifies: R1, R2", "Verifies: R1")
    matrix = trace.trace(_repo(tmp_path, core=core, odoo=odoo))
    assert matrix.problems == []
    assert matrix.counts("medium") == (0, 1)
    assert [r.status for r in matrix.rows] == ["not run", "untested", "not run"]


JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest">
<testcase classname="services.tests.test_core" name="test_one" time="0.1"/>
<testcase classname="services.tests.test_core" name="test_two[a]" time="0.1"/>
<testcase classname="services.tests.test_core" name="test_two[b]" time="0.1">
<failure message="boom">x</failure></testcase>
</testsuite></testsuites>
"""

ODOO_LOG = """\
2026-12-06 14:48:32,731 1 INFO db odoo.addons.meddev_esign.tests.test_flow: \
Starting TestRelease.test_release ...
2026-12-06 14:48:33,059 1 INFO db odoo.addons.meddev_esign.tests.test_flow: \
Starting TestRelease.test_other ...
2026-12-06 14:48:33,100 1 ERROR db odoo.addons.meddev_esign.tests.test_flow: \
FAIL: TestRelease.test_other
Traceback (most recent call last):
2026-12-06 14:48:34,000 1 INFO db odoo.addons.meddev_esign_test.tests.test_mixin: \
Starting TestMixin.test_hook ...
"""


def test_results_from_junit_and_the_odoo_log(tmp_path):
    assert trace.junit_results(JUNIT) == {
        "services/tests/test_core.py::test_one": "passed",
        "services/tests/test_core.py::test_two": "failed",  # the worst of its parameters
    }
    assert trace.odoo_log_results(ODOO_LOG) == {
        "tests/test_flow.py::TestRelease.test_release": "passed",
        "tests/test_flow.py::TestRelease.test_other": "failed",
        "tests/addons/meddev_esign_test/tests/test_mixin.py::TestMixin.test_hook": "passed",
    }
    results_dir = tmp_path / "results"
    results_dir.mkdir()
    (results_dir / trace.CORE_JUNIT).write_text(JUNIT)
    (results_dir / trace.ODOO_RESULTS).write_text(json.dumps(trace.odoo_log_results(ODOO_LOG)))
    results = trace.load_results(results_dir)
    matrix = trace.trace(_repo(tmp_path / "repo"), results)
    status = {r.requirement.id: r.status for r in matrix.rows}
    # R1: test_one and test_release passed. R2 and S3: a failed test among theirs.
    assert status == {"R1": "passed", "R2": "failed", "S3": "failed"}
    assert "failed   tests/test_flow.py::TestRelease.test_other" in trace.render(matrix)
    exported = {row["id"]: row for row in matrix.to_json()}
    assert exported["R1"]["tests"][0] == {
        "test": "services/tests/test_core.py::test_one",
        "suite": "core",
        "result": "passed",
    }


def test_unreadable_results_count_as_not_run(tmp_path):
    """Bad input: a half-written JUnit file or JSON gives no results, not a crash."""
    (tmp_path / trace.CORE_JUNIT).write_text("<testsuites><testcase")
    (tmp_path / trace.ODOO_RESULTS).write_text("{not json")
    assert trace.load_results(tmp_path) == {}


def test_missing_requirements_file_is_a_problem(tmp_path):
    assert trace.trace(tmp_path).problems == ["readme/REQUIREMENTS.md is missing"]


def test_this_repository_covers_every_high_risk_requirement():
    matrix = trace.trace(_SCRIPTS.parent)
    assert matrix.problems == []
    assert matrix.counts("high")[0] == matrix.counts("high")[1] > 0
