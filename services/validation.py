"""The pure comparisons of the installation qualification (IQ) and of the configuration diff.

The add-on's ``esign.validation.run`` reads the installation (the database catalog, the
registry, the files it ships) and hands plain data to these functions, which decide pass or
fail and say why. Nothing here imports Odoo.

* :class:`Check` is one IQ check: a code, pass or fail, and the evidence text.
* Shipped configuration: :func:`parse_access_csv`, :func:`parse_rules_xml` and
  :func:`parse_groups_xml` read ``security/``; :func:`access_problems`, :func:`rule_problems`
  and :func:`group_problems` compare the installed records with them.
* :func:`function_body`, :func:`body_digest` and :func:`trigger_problems` compare the
  append-only trigger function and each table's triggers with the shipped definition.
* :func:`pin_problems`, :func:`wkhtmltopdf_patched`, :func:`freshness_problem` for the
  environment.
* :func:`config_diff` lists what changed between two configuration snapshots.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

PERMS = ("perm_read", "perm_write", "perm_create", "perm_unlink")
WRITE_PERMS = ("perm_write", "perm_create", "perm_unlink")


@dataclass(frozen=True)
class Check:
    """One IQ check and its outcome."""

    code: str
    passed: bool
    evidence: str


# ------------------------------------------------------------------ shipped security files
def parse_access_csv(text: str, module: str) -> dict[str, dict[str, object]]:
    """``security/ir.model.access.csv`` by full xmlid: model xmlid, group xmlid and perms."""
    rows: dict[str, dict[str, object]] = {}
    for row in csv.DictReader(io.StringIO(text)):
        xmlid = _full(row["id"], module)
        rows[xmlid] = {
            "model": _full(row["model_id:id"], module),
            "group": _full(row["group_id:id"], module) if row.get("group_id:id") else "",
            **{p: row[p].strip() in ("1", "True", "true") for p in PERMS},
        }
    return rows


def _full(xmlid: str, module: str) -> str:
    xmlid = xmlid.strip()
    return xmlid if "." in xmlid else f"{module}.{xmlid}"


REF_RE = re.compile(r"ref\(\s*['\"]([\w.]+)['\"]\s*\)")


def parse_rules_xml(text: str, module: str) -> dict[str, dict[str, object]]:
    """The ``ir.rule`` records of a data file by full xmlid: domain, groups and perms."""
    rules: dict[str, dict[str, object]] = {}
    for record in ET.fromstring(text).iter("record"):
        if record.get("model") != "ir.rule":
            continue
        vals: dict[str, object] = {p: True for p in PERMS}
        vals["groups"] = ()
        vals["domain"] = ""
        for fld in record.iter("field"):
            name = fld.get("name")
            if name == "domain_force":
                vals["domain"] = normalise_domain(fld.text or "")
            elif name == "groups":
                vals["groups"] = tuple(
                    sorted(_full(r, module) for r in REF_RE.findall(fld.get("eval") or ""))
                )
            elif name in PERMS:
                vals[name] = (fld.get("eval") or "True").strip() not in ("False", "0")
            elif name == "model_id":
                vals["model"] = _full(fld.get("ref") or "", module)
        rules[_full(record.get("id") or "", module)] = vals
    return rules


def parse_groups_xml(text: str, module: str) -> dict[str, tuple[str, ...]]:
    """The ``res.groups`` records of a data file by full xmlid, with their implied groups."""
    groups: dict[str, tuple[str, ...]] = {}
    for record in ET.fromstring(text).iter("record"):
        if record.get("model") != "res.groups":
            continue
        implied: list[str] = []
        for fld in record.iter("field"):
            if fld.get("name") == "implied_ids":
                implied += REF_RE.findall(fld.get("eval") or "")
        groups[_full(record.get("id") or "", module)] = tuple(
            sorted(_full(i, module) for i in implied)
        )
    return groups


def normalise_domain(text: str) -> str:
    """A domain's text without its layout, so a re-indented file compares equal."""
    return re.sub(r"\s+", "", text).replace('"', "'")


def access_problems(
    shipped: Mapping[str, Mapping[str, object]],
    installed: Mapping[str, Mapping[str, object]],
    protected_models: Iterable[str],
) -> list[str]:
    """What differs between the shipped access rights and the installed ones.

    :param shipped: :func:`parse_access_csv` of the add-on.
    :param installed: every installed ``ir.model.access`` on the add-on's models and on the
        protected ones, by xmlid (or ``id:<n>`` when it has none), with ``model``, ``group``,
        ``active`` and the perms.
    :param protected_models: model xmlids (``meddev_esign.model_esign_signature``) on which no
        access right beyond the shipped ones may write, create or delete.
    """
    protected = set(protected_models)
    problems = []
    for xmlid, want in shipped.items():
        have = installed.get(xmlid)
        if have is None:
            problems.append(f"{xmlid}: shipped access right is missing")
            continue
        if not have.get("active", True):
            problems.append(f"{xmlid}: shipped access right is archived")
        changed = [p for p in PERMS if bool(have.get(p)) != bool(want[p])]
        if changed or have.get("group", "") != want["group"]:
            problems.append(
                f"{xmlid}: differs from the shipped one ({', '.join(changed) or 'group'})"
            )
    for xmlid, have in installed.items():
        if xmlid in shipped or not have.get("active", True):
            continue
        grants = [p for p in WRITE_PERMS if have.get(p)]
        if have.get("model") in protected and grants:
            problems.append(
                f"{xmlid}: extra access right gives {', '.join(grants)} on "
                f"{have.get('model')} to {have.get('group') or 'everybody'}"
            )
        elif have.get("model") not in protected:
            problems.append(f"{xmlid}: access right not shipped with the add-on")
    return problems


def rule_problems(
    shipped: Mapping[str, Mapping[str, object]], installed: Mapping[str, Mapping[str, object]]
) -> list[str]:
    """Shipped record rules missing, archived or changed (domain, groups, perms)."""
    problems = []
    for xmlid, want in shipped.items():
        have = installed.get(xmlid)
        if have is None:
            problems.append(f"{xmlid}: shipped record rule is missing")
            continue
        if not have.get("active", True):
            problems.append(f"{xmlid}: shipped record rule is archived")
        diffs = [
            key
            for key in ("domain", "groups", *PERMS)
            if (normalise_domain(str(have.get(key, ""))) if key == "domain" else have.get(key))
            != want.get(key)
        ]
        if diffs:
            problems.append(f"{xmlid}: differs from the shipped one ({', '.join(diffs)})")
    return problems


def group_problems(
    shipped: Mapping[str, tuple[str, ...]], installed: Mapping[str, tuple[str, ...] | None]
) -> list[str]:
    """Shipped groups missing or implying other groups than shipped."""
    problems = []
    for xmlid, implied in shipped.items():
        have = installed.get(xmlid)
        if have is None:
            problems.append(f"{xmlid}: shipped group is missing")
        elif tuple(sorted(have)) != tuple(sorted(implied)):
            problems.append(
                f"{xmlid}: implies {', '.join(sorted(have)) or 'nothing'} instead of "
                f"{', '.join(sorted(implied)) or 'nothing'}"
            )
    return problems


# ------------------------------------------------------------------ append-only triggers
BODY_RE = re.compile(r"AS \$\$(.*)\$\$", re.DOTALL)


def function_body(create_sql: str) -> str:
    """The body between ``$$`` of a ``CREATE FUNCTION`` statement."""
    m = BODY_RE.search(create_sql)
    if not m:
        raise ValueError("no $$ body in the function definition")
    return m.group(1)


def body_digest(body: str) -> str:
    """SHA-256 of a function body, trailing spaces and blank edges ignored."""
    text = "\n".join(line.rstrip() for line in body.strip().splitlines())
    return hashlib.sha256(text.encode()).hexdigest()


def expected_triggers(table: str, function: str, rules: Iterable[str]) -> dict[str, str]:
    """The two triggers a table must have, as PostgreSQL's ``pg_get_triggerdef`` prints them
    without the schema."""
    args = ", ".join("'" + r.replace("'", "''") + "'" for r in rules)
    return {
        f"{table}_append_only_row": (
            f"CREATE TRIGGER {table}_append_only_row BEFORE DELETE OR UPDATE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION {function}({args})"
        ),
        f"{table}_append_only_truncate": (
            f"CREATE TRIGGER {table}_append_only_truncate BEFORE TRUNCATE ON {table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {function}({args})"
        ),
    }


def trigger_problems(
    shipped_body: str,
    installed_body: str | None,
    tables: Mapping[str, Iterable[str]],
    installed: Mapping[str, Mapping[str, tuple[str, bool]]],
    function: str,
) -> list[str]:
    """The function and each table's triggers against the shipped definition.

    :param shipped_body: the body of the function the add-on ships.
    :param installed_body: the body in the database (``pg_proc.prosrc``), None if missing.
    :param tables: each append-only table with its rules (the triggers' arguments).
    :param installed: per table, its triggers by name: (definition without schema, enabled).
    """
    problems = []
    if installed_body is None:
        problems.append(f"function {function}() is missing")
    elif body_digest(installed_body) != body_digest(shipped_body):
        problems.append(
            f"function {function}() was modified: body sha256 {body_digest(installed_body)[:16]}"
            f" instead of {body_digest(shipped_body)[:16]}"
        )
    for table, rules in tables.items():
        have = installed.get(table, {})
        for name, want in expected_triggers(table, function, rules).items():
            if name not in have:
                problems.append(f"{table}: trigger {name} is missing")
                continue
            definition, enabled = have[name]
            if definition != want:
                problems.append(f"{table}: trigger {name} was changed: {definition}")
            if not enabled:
                problems.append(f"{table}: trigger {name} is disabled")
    return problems


# ------------------------------------------------------------------ environment
PIN_RE = re.compile(r"^\s*([A-Za-z0-9_.\-\[\]]+)\s*(?:==\s*([^\s#;]+))?")


def parse_pins(text: str) -> dict[str, str | None]:
    """``requirements.txt`` as {distribution name: pinned version or None}."""
    pins: dict[str, str | None] = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        m = PIN_RE.match(line)
        if line and m:
            pins[re.sub(r"\[.*\]", "", m.group(1))] = m.group(2)
    return pins


def pin_problems(pins: Mapping[str, str | None], installed: Mapping[str, str | None]) -> list[str]:
    """Packages missing, or installed at another version than pinned."""
    problems = []
    for name, version in pins.items():
        have = installed.get(name)
        if have is None:
            problems.append(f"{name}: not installed")
        elif version is not None and have != version:
            problems.append(f"{name}: {have} installed, {version} pinned")
    return problems


def wkhtmltopdf_patched(version_output: str) -> bool:
    """Whether ``wkhtmltopdf --version`` names the patched Qt build Odoo needs."""
    return "with patched qt" in version_output.lower()


def freshness_problem(
    what: str, valid_until: datetime | None, now: datetime, margin: timedelta = timedelta(0)
) -> str | None:
    """A problem text when ``valid_until`` is missing or passed (``margin`` ahead of ``now``)."""
    if valid_until is None:
        return f"{what}: no validity date"
    if valid_until <= now + margin:
        return f"{what}: expired or expiring at {valid_until:%Y-%m-%d %H:%M} UTC"
    return None


# ------------------------------------------------------------------ configuration diff
def config_diff(old: Mapping[str, Mapping[str, str]], new: Mapping[str, Mapping[str, str]]):
    """What changed between two configuration snapshots.

    A snapshot is {section: {key: value}}, e.g. ``{"modules": {"meddev_esign": "18.0.1.1.0"},
    "policies": {...}, "access": {...}}``. Returns ``[(section, key, old, new)]`` sorted, with
    ``None`` for a side where the key does not exist.
    """
    changes = []
    for section in sorted(set(old) | set(new)):
        a, b = old.get(section, {}), new.get(section, {})
        for key in sorted(set(a) | set(b)):
            if a.get(key) != b.get(key):
                changes.append((section, key, a.get(key), b.get(key)))
    return changes
