"""The static check of requirement ids (``scripts/requirement_refs.py``, run by check_files.py).

The script lives outside the add-on's packages, so it is loaded from its file. Strings below
that play the part of a cited id avoid parentheses, so this file does not cite them itself.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

_PATH = Path(__file__).resolve().parents[2] / "scripts" / "requirement_refs.py"
_SPEC = importlib.util.spec_from_file_location("requirement_refs", _PATH)
refs = importlib.util.module_from_spec(_SPEC)
sys.modules["requirement_refs"] = refs  # dataclasses look their module up there
_SPEC.loader.exec_module(refs)

DOC = """# Requirements

```
### R11 — Example inside a fence, not a requirement
```

## Group

### R1 — One person
A signature belongs to one person.
Clauses: 21 CFR 11.100(a); EU GMP Annex 11 §12.4
Risk: high — an unattributable signature.

### S3 — Production
Batch release is a signing point.
Clauses: ISO 13485 §8.2.6
Risk: medium — other gates catch it.
"""


def test_parse_requirements_reads_ids_clauses_and_risk():
    found, problems = refs.parse_requirements(DOC)
    assert problems == []
    assert sorted(found) == ["R1", "S3"]
    r1 = found["R1"]
    assert r1.title == "One person"
    assert r1.statement == "A signature belongs to one person."
    assert r1.clauses == ("21 CFR 11.100(a)", "EU GMP Annex 11 §12.4")
    assert (r1.risk, r1.risk_reason) == ("high", "an unattributable signature.")
    assert found["S3"].risk == "medium"


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("Risk: high — an unattributable signature.\n", "", "R1 needs 'Risk:"),
        ("Risk: high —", "Risk: severe —", "R1 needs 'Risk:"),
        ("Risk: high — an unattributable signature.", "Risk: high", "R1 needs 'Risk:"),
        ("Clauses: ISO 13485 §8.2.6\n", "", "S3 has no 'Clauses:'"),
        ("Clauses: ISO 13485 §8.2.6", "Clauses: ; ", "S3 has no 'Clauses:'"),
        ("A signature belongs to one person.\n", "", "R1 has no statement"),
        ("### R1 — One person", "### R1 One person", "heading R1 needs ' — Title'"),
        ("### S3 — Production", "### R1 — Production", "R1 is defined twice"),
    ],
)
def test_parse_requirements_reports_a_broken_definition(old, new, message):
    assert DOC.count(old) == 1
    _found, problems = refs.parse_requirements(DOC.replace(old, new))
    assert any(message in p for p in problems), problems


def _ids(source, name):
    return sorted({req_id for req_id, _line in refs.citations(source, name)})


def test_python_comments_docstrings_and_parenthesised_strings_cite():
    source = '''"""Module doc, R1 and S1.5."""
x = 1  # R17-R19 and R3–R5
HELP = "Shown to users" " (R7, R22)."
'''
    assert _ids(source, "m.py") == ["R1", "R17", "R18", "R19", "R22", "R3", "R4", "R5", "R7", "S1"]
    assert {("R1", 1), ("R17", 2), ("R22", 3)} <= set(refs.citations(source, "m.py"))


def test_python_data_strings_are_not_citations():
    source = """tampered = text.replace("R5", "R9")
domain = [("code", "=", "S2")]
colour = "#R1"
key = "0xS1 abcR2 R2D2"
"""
    assert _ids(source, "m.py") == []


def test_xml_comments_cite_and_markup_does_not():
    source = """<odoo>
    <!-- R20: a lot is released by its signature. -->
    <div class="o_S1 btn-S2" t-att-data-x="R3"/>
    <field name="domain">[('code', '=', 'R4')]</field>
    <span>(01)09506000134352(17)260101(10)LOT-R5</span>
</odoo>
"""
    assert refs.citations(source, "v.xml") == [("R20", 2)]


def test_js_comments_cite_and_strings_do_not():
    source = """// R15 in the browser.
const url = "http://host/R3";  /* S4 */
const label = 'R2';
"""
    assert _ids(source, "t.js") == ["R15", "S4"]


def test_tracker_numbers_in_comments_and_docstrings_are_found():
    py = '"""Done for issue 5."""\nx = 1  # see Issue #12\nmsg = "issue 7 in a plain string"\n'
    assert refs.tracker_references(py, "m.py") == [("issue 5", 1), ("Issue #12", 2)]
    assert refs.tracker_references("<a><!-- issues 3 --></a>", "v.xml") == [("issues 3", 1)]
    assert refs.tracker_references("// Issue 4\nx = 'issue 9';\n", "t.js") == [("Issue 4", 1)]


def test_words_about_issuing_are_not_tracker_numbers():
    py = '"""Issue a certificate; the CA issues 24 hours later, or issues #fast."""\n'
    assert refs.tracker_references(py.replace(" 24", " a CRL").replace("#", ""), "m.py") == []
    assert refs.tracker_references("issue 5 in a Markdown file", "notes.md") == []


def test_check_accepts_a_repository_whose_citations_are_defined(tmp_path):
    (tmp_path / "readme").mkdir()
    (tmp_path / "readme" / "REQUIREMENTS.md").write_text(DOC)
    (tmp_path / "m.py").write_text('"""Production (S3)."""\nx = 1  # R1\n')
    problems, defined, cited = refs.check(tmp_path)
    assert (problems, defined, cited) == ([], 2, 2)


def test_check_reports_an_unknown_id_and_a_tracker_number(tmp_path):
    (tmp_path / "readme").mkdir()
    (tmp_path / "readme" / "REQUIREMENTS.md").write_text(DOC)
    (tmp_path / "m.py").write_text('"""Production, S3."""\nx = 1  # R98, issue 5\n')
    problems, _defined, _cited = refs.check(tmp_path)
    assert len(problems) == 2
    assert problems[0].startswith("m.py:2: cites R98")
    assert problems[1].startswith("m.py:2: 'issue 5' points at an issue tracker")


def test_check_reports_a_missing_requirements_file(tmp_path):
    (tmp_path / "m.py").write_text("x = 1  # R1\n")
    assert refs.check(tmp_path)[0] == ["readme/REQUIREMENTS.md is missing"]
