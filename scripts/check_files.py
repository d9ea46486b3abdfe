#!/usr/bin/env python3
"""Static file checks that need no Odoo: XML parses, manifest files exist, .po files parse and
zh_CN is complete, services/ never imports odoo, and every requirement id cited is defined in
readme/REQUIREMENTS.md (see requirement_refs.py). Prints one line per problem; exit 1 on any."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

from lxml import etree
from requirement_refs import check as check_requirements

ROOT = Path(__file__).resolve().parent.parent
SKIP = {".git", ".state", ".venv", "__pycache__", "node_modules"}


def files(pattern: str) -> list[Path]:
    return [p for p in ROOT.rglob(pattern) if not SKIP.intersection(p.relative_to(ROOT).parts)]


def main() -> int:
    problems: list[str] = []
    xml_files = files("*.xml")
    for path in xml_files:
        try:
            etree.parse(str(path))
        except etree.XMLSyntaxError as exc:
            problems.append(f"{path.relative_to(ROOT)}: XML does not parse: {exc}")

    manifest = ast.literal_eval((ROOT / "__manifest__.py").read_text())
    listed = [*manifest.get("data", []), *manifest.get("demo", [])]
    for value in manifest.get("assets", {}).values():
        listed += [
            v
            for v in value
            if isinstance(v, str) and "*" not in v and v.startswith("meddev_esign/")
        ]
    for rel in listed:
        rel = rel.removeprefix("meddev_esign/")
        if not (ROOT / rel).exists():
            problems.append(f"__manifest__.py lists {rel}, which does not exist")
    for path in files("*.xml"):
        rel = str(path.relative_to(ROOT))
        if (
            rel.split("/")[0] in {"views", "data", "security", "reports", "wizards", "demo"}
            and rel not in listed
        ):
            problems.append(f"{rel} is not listed in __manifest__.py")

    import polib  # noqa: PLC0415

    pot_ids: set[tuple[str, str]] = set()
    pot = ROOT / "i18n" / "meddev_esign.pot"
    if not pot.exists():
        problems.append("i18n/meddev_esign.pot is missing")
    else:
        pot_ids = {(e.msgctxt or "", e.msgid) for e in polib.pofile(str(pot)) if not e.obsolete}
    for po_path in files("*.po"):
        try:
            po = polib.pofile(str(po_path))
        except (OSError, ValueError) as exc:
            problems.append(f"{po_path.relative_to(ROOT)}: does not parse: {exc}")
            continue
        if po_path.name == "zh_CN.po":
            ids = {(e.msgctxt or "", e.msgid) for e in po if not e.obsolete and e.msgstr.strip()}
            missing = sorted(m for _, m in pot_ids - ids)
            if missing:
                problems.append(
                    f"zh_CN.po lacks {len(missing)} translation(s), e.g. {missing[:3]}"
                )
            for e in po:
                if e.msgstr and sorted(re.findall(r"%\(\w+\)s|%s", e.msgid)) != sorted(
                    re.findall(r"%\(\w+\)s|%s", e.msgstr)
                ):
                    problems.append(f"zh_CN.po placeholders differ for {e.msgid!r}")

    for path in files("*.py"):
        rel = path.relative_to(ROOT)
        if rel.parts[0] != "services":
            continue
        tree = ast.parse(path.read_text(), str(rel))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            if any(n == "odoo" or n.startswith("odoo.") for n in names):
                problems.append(f"{rel}:{node.lineno}: services/ must not import odoo")

    req_problems, req_defined, req_cited = check_requirements(ROOT)
    problems += req_problems

    for line in problems:
        print(line)
    print(
        f"{len(xml_files)} XML files, {len(listed)} manifest entries, "
        f"{len(files('*.po'))} .po files, {req_defined} requirements ({req_cited} citations) "
        f"checked; {len(problems)} problem(s)"
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
