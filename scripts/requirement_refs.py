"""Requirement ids: what ``readme/REQUIREMENTS.md`` defines, and where the repository cites them.

Standard library only, so ``scripts/check_files.py`` and ``scripts/dev.py`` can both use it.

* :func:`parse_requirements` reads the definitions: one ``### R11 — Title`` heading per id, a
  statement, a ``Clauses:`` line (``;``-separated) and a ``Risk: high|medium|low — reason`` line.
* :func:`citations` finds the ids a file cites, with their line numbers. In Python, XML and JS
  files, any id in a comment or docstring counts; in other string literals and XML text only
  parentheses that open with an id do (``help="... (R2)."``, ``(R7, R22)``), so data such as
  ``"R5"`` or ``('code', '=', 'R1')`` is not a citation. In Markdown every id counts.
  ``R17-R19`` and ``R3–R5`` cite each id of the range; ``S1.5`` (a step of S1) cites ``S1``.
* :func:`tracker_references` finds "issue" followed by a number in the comments and docstrings
  of Python, XML and JS files: such a number points at a tracker the repository does not hold.
* :func:`check` puts these together for the whole repository and returns the problems.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

REQUIREMENTS_FILE = Path("readme") / "REQUIREMENTS.md"
RISK_CLASSES = ("high", "medium", "low")
CITING_SUFFIXES = (".py", ".xml", ".js", ".md")
SKIP_DIRS = {".git", ".state", ".venv", "__pycache__", "node_modules", "i18n"}

#: One id (``R11``, ``S3``) or a range (``R17-R19``, ``R3–R5``, ``R27-28``). Not preceded by a
#: word character, ``.``, ``#`` or ``&`` (``0xR1``, ``o_S1``, ``a.R2``) and not followed by
#: one (``R2D2``, ``S1x``); a ``.`` after it is allowed, so ``S1.5`` cites S1.
ID_RE = re.compile(r"(?<![\w.#&])([RS])(\d{1,2})(?:\s*[-–]\s*\1?(\d{1,2}))?(?!\w)")
PARENS_RE = re.compile(r"\(([^()]*)\)")
TRACKER_RE = re.compile(r"\bissues?\s*#?\s*\d+", re.IGNORECASE)
HEADING_RE = re.compile(r"^###\s+([RS]\d+)\b\s*(.*)$")
TITLE_RE = re.compile(r"^—\s+(\S.*)$")
RISK_RE = re.compile(r"^Risk:\s*(\S+)\s+—\s+(\S.*)$")


@dataclass(frozen=True)
class Requirement:
    """One requirement as ``readme/REQUIREMENTS.md`` defines it."""

    id: str
    title: str
    statement: str
    clauses: tuple[str, ...]
    risk: str
    risk_reason: str
    line: int


@dataclass(frozen=True)
class Chunk:
    """Text from a file with the line it starts on. ``note`` is a comment or docstring."""

    text: str
    line: int
    note: bool


def ids_in(text: str) -> list[tuple[str, int]]:
    """The ids ``text`` cites, ranges expanded, each with its line offset in ``text``."""
    found: list[tuple[str, int]] = []
    for m in ID_RE.finditer(text):
        letter, first, last = m.group(1), int(m.group(2)), m.group(3)
        offset = text.count("\n", 0, m.start())
        if last is None or int(last) <= first:
            found.append((f"{letter}{m.group(2)}", offset))
            if last is not None:
                found.append((f"{letter}{last}", offset))
        else:
            found += [(f"{letter}{n}", offset) for n in range(first, int(last) + 1)]
    return found


def parse_requirements(text: str) -> tuple[dict[str, Requirement], list[str]]:
    """Parse REQUIREMENTS.md. Returns the requirements by id and the problems found.

    A problem is a heading that looks like an id but has no ``— Title``, a duplicate id, or a
    requirement without a statement, without a clause, or without a valid risk class and reason.
    Headings inside fenced code blocks (the format example) are not requirements.
    """
    problems: list[str] = []
    sections: list[tuple[str, str, int, list[str]]] = []
    fenced = False
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip()
        if line.startswith("```"):
            fenced = not fenced
            continue
        if fenced:
            continue
        if line.startswith("#"):
            m = HEADING_RE.match(line)
            if not m:
                sections.append(("", "", number, []))  # any other heading ends a section
                continue
            title = TITLE_RE.match(m.group(2))
            if not title:
                problems.append(f"line {number}: heading {m.group(1)} needs ' — Title'")
            sections.append((m.group(1), title.group(1) if title else "", number, []))
        elif sections:
            sections[-1][3].append(line)

    found: dict[str, Requirement] = {}
    for req_id, title, number, body in sections:
        if not req_id:
            continue
        if req_id in found:
            problems.append(f"line {number}: {req_id} is defined twice")
            continue
        clauses: tuple[str, ...] = ()
        risk = reason = ""
        statement: list[str] = []
        for line in body:
            if line.startswith("Clauses:"):
                clauses = tuple(c.strip() for c in line[8:].split(";") if c.strip())
            elif line.startswith("Risk:"):
                m = RISK_RE.match(line)
                if m and m.group(1) in RISK_CLASSES:
                    risk, reason = m.group(1), m.group(2)
            elif line.strip():
                statement.append(line.strip())
        if not statement:
            problems.append(f"line {number}: {req_id} has no statement")
        if not clauses:
            problems.append(f"line {number}: {req_id} has no 'Clauses:' line with a clause")
        if not risk:
            problems.append(f"line {number}: {req_id} needs 'Risk: high|medium|low — reason'")
        found[req_id] = Requirement(
            req_id, title, " ".join(statement), clauses, risk, reason, number
        )
    return found, problems


def _python_chunks(source: str, name: str) -> Iterator[Chunk]:
    tree = ast.parse(source, name)
    notes = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            if isinstance(node.value.value, str):
                notes.add(id(node.value))
                yield Chunk(node.value.value, node.value.lineno, True)
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in notes
        ):
            yield Chunk(node.value, node.lineno, False)
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            yield Chunk(tok.string, tok.start[0], True)


XML_COMMENT_RE = re.compile(r"<!--(.*?)-->", re.DOTALL)
JS_TOKEN_RE = re.compile(
    r"""(?P<comment>//[^\n]*|/\*.*?\*/)"""
    r"""|(?P<string>"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'|`(?:\\.|[^`\\])*`)""",
    re.DOTALL,
)


def _xml_chunks(source: str) -> Iterator[Chunk]:
    rest = []
    end = 0
    for m in XML_COMMENT_RE.finditer(source):
        yield Chunk(m.group(1), source.count("\n", 0, m.start()) + 1, True)
        rest.append(source[end : m.start()])
        rest.append("\n" * m.group(0).count("\n"))
        end = m.end()
    rest.append(source[end:])
    yield Chunk("".join(rest), 1, False)


def _js_chunks(source: str) -> Iterator[Chunk]:
    for m in JS_TOKEN_RE.finditer(source):
        line = source.count("\n", 0, m.start()) + 1
        yield Chunk(m.group(0), line, m.lastgroup == "comment")


def chunks(source: str, name: str) -> list[Chunk]:
    """Split a file's text into comments/docstrings and other text, by the file's suffix."""
    if name.endswith(".py"):
        return list(_python_chunks(source, name))
    if name.endswith(".xml"):
        return list(_xml_chunks(source))
    if name.endswith(".js"):
        return list(_js_chunks(source))
    return [Chunk(source, 1, True)]


def _cited(chunk: Chunk) -> Iterator[tuple[str, int]]:
    if chunk.note:
        for req_id, offset in ids_in(chunk.text):
            yield req_id, chunk.line + offset
        return
    for m in PARENS_RE.finditer(chunk.text):
        if not ID_RE.match(m.group(1).lstrip()):
            continue  # ('state', '=', 'R1') is data, (R2) or (R7, R22) is a citation
        offset = chunk.text.count("\n", 0, m.start())
        for req_id, inner in ids_in(m.group(1)):
            yield req_id, chunk.line + offset + inner


def citations(source: str, name: str) -> list[tuple[str, int]]:
    """The requirement ids ``source`` (the text of file ``name``) cites, with line numbers."""
    return sorted({c for chunk in chunks(source, name) for c in _cited(chunk)}, key=lambda c: c[1])


def tracker_references(source: str, name: str) -> list[tuple[str, int]]:
    """Each "issue N" in the comments and docstrings of a .py, .xml or .js file, with its line."""
    if name.endswith(".md"):
        return []
    found = []
    for chunk in chunks(source, name):
        if chunk.note:
            for m in TRACKER_RE.finditer(chunk.text):
                found.append((m.group(0), chunk.line + chunk.text.count("\n", 0, m.start())))
    return found


def citing_files(root: Path) -> Iterable[Path]:
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if (
            path.suffix in CITING_SUFFIXES
            and path.is_file()
            and not SKIP_DIRS.intersection(rel.parts)
            and rel != REQUIREMENTS_FILE
        ):
            yield path


def check(root: Path) -> tuple[list[str], int, int]:
    """Check the repository at ``root``: (problems, ids defined, citations found)."""
    doc = root / REQUIREMENTS_FILE
    if not doc.exists():
        return [f"{REQUIREMENTS_FILE} is missing"], 0, 0
    defined, problems = parse_requirements(doc.read_text())
    problems = [f"{REQUIREMENTS_FILE}: {p}" for p in problems]
    cited = 0
    for path in citing_files(root):
        rel = str(path.relative_to(root))
        try:
            source = path.read_text()
            found = citations(source, rel)
            tracker = tracker_references(source, rel)
        except (SyntaxError, UnicodeDecodeError, ValueError) as exc:
            problems.append(f"{rel}: cannot scan for requirement ids: {exc}")
            continue
        cited += len(found)
        problems += [
            f"{rel}:{line}: cites {req_id}, which {REQUIREMENTS_FILE} does not define"
            for req_id, line in found
            if req_id not in defined
        ]
        problems += [
            f"{rel}:{line}: '{text}' points at an issue tracker the repository does not hold;"
            " say the reason in words or cite a requirement id"
            for text, line in tracker
        ]
    return problems, len(defined), cited
