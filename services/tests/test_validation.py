"""Tests for services.validation: the IQ's comparisons with what the add-on ships.

Verifies: R12, R15
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from services import validation as iq

ROOT = Path(__file__).resolve().parents[2]
M = "meddev_esign"

CSV = """id,name,model_id:id,group_id:id,perm_read,perm_write,perm_create,perm_unlink
access_sig_user,sig user,model_esign_signature,base.group_user,1,0,0,0
access_lot_auditor,lot auditor,stock.model_stock_lot,group_esign_auditor,1,0,0,0
"""

RULES = """<odoo>
    <record id="rule_sig" model="ir.rule">
        <field name="model_id" ref="model_esign_signature"/>
        <field name="domain_force">[('company_id', 'in',
            company_ids + [False])]</field>
    </record>
    <record id="rule_lot" model="ir.rule">
        <field name="groups" eval="[Command.link(ref('group_esign_auditor'))]"/>
        <field name="domain_force">[]</field>
        <field name="perm_write" eval="False"/>
    </record>
    <record id="not_a_rule" model="res.groups"/>
</odoo>"""

GROUPS = """<odoo>
    <record id="group_signer" model="res.groups">
        <field name="implied_ids" eval="[(4, ref('base.group_user'))]"/>
    </record>
    <record id="group_ra" model="res.groups">
        <field name="implied_ids" eval="[(4, ref('group_signer'))]"/>
    </record>
</odoo>"""

SIG = f"{M}.model_esign_signature"


def installed_access():
    return {
        f"{M}.access_sig_user": {
            "model": SIG,
            "group": "base.group_user",
            "active": True,
            "perm_read": True,
            "perm_write": False,
            "perm_create": False,
            "perm_unlink": False,
        },
        f"{M}.access_lot_auditor": {
            "model": "stock.model_stock_lot",
            "group": f"{M}.group_esign_auditor",
            "active": True,
            "perm_read": True,
            "perm_write": False,
            "perm_create": False,
            "perm_unlink": False,
        },
    }


def test_shipped_files_parse():
    access = iq.parse_access_csv(CSV, M)
    assert access[f"{M}.access_sig_user"] == {
        "model": SIG,
        "group": "base.group_user",
        "perm_read": True,
        "perm_write": False,
        "perm_create": False,
        "perm_unlink": False,
    }
    assert access[f"{M}.access_lot_auditor"]["model"] == "stock.model_stock_lot"
    rules = iq.parse_rules_xml(RULES, M)
    assert set(rules) == {f"{M}.rule_sig", f"{M}.rule_lot"}
    assert rules[f"{M}.rule_sig"]["domain"] == "[('company_id','in',company_ids+[False])]"
    assert rules[f"{M}.rule_lot"]["groups"] == (f"{M}.group_esign_auditor",)
    assert rules[f"{M}.rule_lot"]["perm_write"] is False
    assert rules[f"{M}.rule_lot"]["perm_read"] is True
    assert iq.parse_groups_xml(GROUPS, M) == {
        f"{M}.group_signer": ("base.group_user",),
        f"{M}.group_ra": (f"{M}.group_signer",),
    }


def test_the_add_on_s_own_security_files_parse():
    text = (ROOT / "security" / "ir.model.access.csv").read_text()
    access = iq.parse_access_csv(text, M)
    assert f"{M}.access_esign_signature_user" in access
    rules = iq.parse_rules_xml((ROOT / "security" / "esign_rules.xml").read_text(), M)
    assert f"{M}.rule_esign_signature_company" in rules
    groups = iq.parse_groups_xml((ROOT / "security" / "esign_groups.xml").read_text(), M)
    assert groups[f"{M}.group_esign_release_authority"] == (f"{M}.group_esign_signer",)


def test_access_as_shipped_passes():
    shipped = iq.parse_access_csv(CSV, M)
    assert iq.access_problems(shipped, installed_access(), [SIG]) == []


def test_extra_write_access_on_a_protected_model_fails():
    shipped = iq.parse_access_csv(CSV, M)
    installed = installed_access()
    installed["id:99"] = {**installed[f"{M}.access_sig_user"], "perm_write": True, "group": ""}
    assert iq.access_problems(shipped, installed, [SIG]) == [
        f"id:99: extra access right gives perm_write on {SIG} to everybody"
    ]


def test_extra_read_access_on_a_protected_model_passes_and_elsewhere_fails():
    shipped = iq.parse_access_csv(CSV, M)
    installed = installed_access()
    installed["x.read_sig"] = {**installed[f"{M}.access_sig_user"], "group": "base.group_portal"}
    installed["x.other"] = {**installed[f"{M}.access_lot_auditor"], "perm_write": True}
    assert iq.access_problems(shipped, installed, [SIG]) == [
        "x.other: access right not shipped with the add-on"
    ]


def test_changed_missing_or_archived_shipped_access_fails():
    shipped = iq.parse_access_csv(CSV, M)
    installed = installed_access()
    installed[f"{M}.access_sig_user"]["perm_unlink"] = True
    installed[f"{M}.access_lot_auditor"]["active"] = False
    problems = iq.access_problems(shipped, installed, [SIG])
    assert problems == [
        f"{M}.access_sig_user: differs from the shipped one (perm_unlink)",
        f"{M}.access_lot_auditor: shipped access right is archived",
    ]
    del installed[f"{M}.access_sig_user"]
    assert f"{M}.access_sig_user: shipped access right is missing" in iq.access_problems(
        shipped, installed, [SIG]
    )


def test_rules_and_groups():
    shipped = iq.parse_rules_xml(RULES, M)
    installed = {
        key: {**val, "domain": val["domain"].replace(",", ", "), "active": True}
        for key, val in shipped.items()
    }
    assert iq.rule_problems(shipped, installed) == []  # layout does not count
    installed[f"{M}.rule_sig"]["domain"] = "[(1, '=', 1)]"
    installed[f"{M}.rule_lot"]["perm_write"] = True
    assert iq.rule_problems(shipped, installed) == [
        f"{M}.rule_sig: differs from the shipped one (domain)",
        f"{M}.rule_lot: differs from the shipped one (perm_write)",
    ]
    groups = iq.parse_groups_xml(GROUPS, M)
    assert iq.group_problems(groups, dict(groups)) == []
    assert iq.group_problems(groups, {f"{M}.group_signer": ("base.group_system",)}) == [
        f"{M}.group_signer: implies base.group_system instead of base.group_user",
        f"{M}.group_ra: shipped group is missing",
    ]


FUNCTION = """CREATE OR REPLACE FUNCTION f() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'no';
END;
$$ LANGUAGE plpgsql;"""


def triggers(table, rules=()):
    return {
        name: (definition, True)
        for name, definition in iq.expected_triggers(table, "f", rules).items()
    }


def test_shipped_triggers_pass():
    body = iq.function_body(FUNCTION)
    installed = {"sig": triggers("sig"), "entry": triggers("entry", ["retention"])}
    tables = {"sig": (), "entry": ("retention",)}
    assert iq.trigger_problems(body, body + "  \n", tables, installed, "f") == []
    assert "EXECUTE FUNCTION f('retention')" in installed["entry"]["entry_append_only_row"][0]


def test_tampered_function_and_triggers_fail():
    body = iq.function_body(FUNCTION)
    installed = {"sig": triggers("sig"), "entry": triggers("entry")}
    del installed["sig"]["sig_append_only_row"]
    definition, _ = installed["entry"]["entry_append_only_truncate"]
    installed["entry"]["entry_append_only_truncate"] = (definition, False)
    tables = {"sig": (), "entry": ("retention",)}
    problems = iq.trigger_problems(body, "BEGIN RETURN NEW; END;", tables, installed, "f")
    assert problems[0].startswith("function f() was modified: body sha256 ")
    assert "sig: trigger sig_append_only_row is missing" in problems
    assert any(p.startswith("entry: trigger entry_append_only_row was changed") for p in problems)
    assert "entry: trigger entry_append_only_truncate is disabled" in problems
    assert iq.trigger_problems(body, None, {}, {}, "f") == ["function f() is missing"]
    with pytest.raises(ValueError):
        iq.function_body("CREATE FUNCTION f() RETURNS trigger LANGUAGE sql")


def test_pins_wkhtmltopdf_and_freshness():
    pins = iq.parse_pins("# comment\nlxml==5.4.0   # why\npytz\n\nfoo[extra]==1.0\n")
    assert pins == {"lxml": "5.4.0", "pytz": None, "foo": "1.0"}
    assert iq.pin_problems(pins, {"lxml": "5.4.0", "pytz": "2024.1", "foo": "1.0"}) == []
    assert iq.pin_problems(pins, {"lxml": "5.3.0", "pytz": None, "foo": "1.0"}) == [
        "lxml: 5.3.0 installed, 5.4.0 pinned",
        "pytz: not installed",
    ]
    assert iq.wkhtmltopdf_patched("wkhtmltopdf 0.12.6.1 (with patched qt)")
    assert not iq.wkhtmltopdf_patched("wkhtmltopdf 0.12.6")
    now = datetime(2026, 12, 6, 12, 0)
    assert iq.freshness_problem("CRL", now + timedelta(days=1), now) is None
    assert "expired" in iq.freshness_problem("CRL", now - timedelta(seconds=1), now)
    assert "expired" in iq.freshness_problem("CA", now + timedelta(days=3), now, timedelta(30))
    assert iq.freshness_problem("CA", None, now) == "CA: no validity date"


def test_config_diff():
    old = {"modules": {"meddev_esign": "18.0.1.1.0"}, "policies": {"1:MO": "a", "2:PO": "b"}}
    new = {"modules": {"meddev_esign": "18.0.1.2.0"}, "policies": {"1:MO": "a", "3:CR": "c"}}
    assert iq.config_diff(old, new) == [
        ("modules", "meddev_esign", "18.0.1.1.0", "18.0.1.2.0"),
        ("policies", "2:PO", "b", None),
        ("policies", "3:CR", None, "c"),
    ]
    assert iq.config_diff(new, new) == []
