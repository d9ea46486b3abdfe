"""``dev.py validate --db NAME``: IQ in the database, OQ on a throw-away copy, executed report.

1. **OQ**: the add-on's Odoo test suite runs on a new database ``NAME_oq_<UTC time>`` of the
   same server (never on ``NAME``), which is dropped afterwards; each test's result, with the
   requirement ids its docstring declares, makes the traceability matrix. The core suite runs
   too, so the matrix has every test's result.
2. **IQ** and the record: in ``NAME``, ``esign.validation.run._execute`` checks the installation,
   keeps the run with the OQ matrix (linked to the previous run) and opens its signing request
   for the QA manager and the system owner; the executed report is written as a PDF.

The last line is ``validate: IQ PASS|FAIL, OQ PASS|FAIL``, after the PDF's path.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time

import traceability

from .cluster import Cluster
from .common import MODULE, ROOT, STATE, DevError, say
from .install import bootstrap
from .odoo import SUPERUSER_DSN_VAR, TEST_MODULE, find_odoo, odoo_command

OUT = STATE / "validation"

SHELL_SCRIPT = """
import json
data = json.load(open({payload!r}))
Run = env["esign.validation.run"]
run = Run._execute(data["matrix"], data["oq"], database={db!r})
env.cr.commit()
lang = {lang!r} or env.ref("base.user_admin").lang or "en_US"
if not env["res.lang"]._lang_get(lang):
    print("LANG-NOT-ACTIVE", lang)
    lang = "en_US"
with open({pdf!r}, "wb") as f:
    f.write(run.with_context(lang=lang)._render_pdf())
for check in run.check_ids:
    print("IQ-CHECK", "PASS" if check.passed else "FAIL", check.code, "|", check.evidence)
print("RUN-RESULT", run.name, run.iq_status, run.oq_status, run.previous_run_id.name or "-")
"""


def run_oq(odoo_root, cluster: Cluster, wk_dir, oq_db: str, tags: str) -> dict[str, str]:
    """The Odoo suite on a throw-away database (dropped afterwards): results by test key."""
    log = OUT / f"{oq_db}.log"
    log.unlink(missing_ok=True)
    argv, env = odoo_command(
        odoo_root,
        cluster,
        wk_dir,
        "-d",
        oq_db,
        "-i",
        f"{MODULE},{TEST_MODULE}",
        "--test-enable",
        f"--test-tags={tags}",
        "--stop-after-init",
        "--http-port",
        str(Cluster._free_port(18269)),
        "--log-level=info",
        f"--logfile={log}",
        test_addons=True,
    )
    env[SUPERUSER_DSN_VAR] = cluster.superuser_dsn()
    say(f"OQ: running the Odoo suite ({tags}) on the throw-away database {oq_db} (log: {log})")
    try:
        rc = subprocess.run(argv, env=env, stderr=subprocess.DEVNULL).returncode
    finally:
        cluster.drop_db(oq_db)
        say(f"OQ: dropped {oq_db}")
    text = log.read_text(errors="replace") if log.exists() else ""
    results = traceability.odoo_log_results(text)
    if rc != 0:
        results["(odoo run)"] = "failed"
    return results


def run_core() -> dict[str, str]:
    junit = OUT / "core-junit.xml"
    say("OQ: running the core suite")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            f"--junitxml={junit}",
            "services",
        ],
        cwd=ROOT,
        capture_output=True,
    )
    return traceability.junit_results(junit.read_text()) if junit.exists() else {}


def cmd_validate(args: argparse.Namespace) -> int:
    wk_dir = bootstrap("requirements-dev.txt")
    odoo_root, how = find_odoo()
    if odoo_root is None:
        raise DevError(f"Odoo 18.0 not found: {how}")
    cluster = Cluster()
    cluster.ensure()
    if not cluster.db_exists(args.db):
        raise DevError(f"database {args.db} does not exist on this server")
    OUT.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime())
    oq_db = f"{args.db}_oq_{stamp}"
    matrix_json = None
    oq = {"status": "not_run", "database": "", "summary": "OQ not run (--no-oq)"}
    if not args.no_oq:
        results = run_oq(odoo_root, cluster, wk_dir, oq_db, args.oq_tags)
        if not args.no_core:
            results.update(run_core())
        matrix = traceability.trace(ROOT, results)
        failed = sorted(k for k, v in results.items() if v == "failed")
        high = [r for r in matrix.rows if r.requirement.risk == "high"]
        high_passed = sum(1 for r in high if r.status == "passed")
        ok = bool(results) and not failed and high_passed == len(high) and not matrix.problems
        oq = {
            "status": "pass" if ok else "fail",
            "database": oq_db,
            "summary": (
                f"{sum(1 for v in results.values() if v == 'passed')} tests passed, "
                f"{len(failed)} failed; high-risk requirements passed {high_passed} of "
                f"{len(high)}; tags {args.oq_tags}"
                + (f"; failed: {', '.join(failed[:20])}" if failed else "")
            ),
        }
        matrix_json = matrix.to_json()
        print(matrix.summary())
    payload = OUT / f"{args.db}-{stamp}.json"
    payload.write_text(json.dumps({"matrix": matrix_json, "oq": oq}, ensure_ascii=False))
    pdf = OUT / f"{args.db}-{stamp}.pdf"
    argv, env = odoo_command(
        odoo_root,
        cluster,
        wk_dir,
        "-d",
        args.db,
        "--log-level=warn",
        "--no-http",
        sub="shell",
    )
    script = SHELL_SCRIPT.format(payload=str(payload), db=args.db, lang=args.lang, pdf=str(pdf))
    say(f"IQ: checking the installation of {args.db} and recording the run")
    res = subprocess.run(argv, env=env, input=script, text=True, capture_output=True)
    out = res.stdout
    for line in out.splitlines():
        if line.startswith("IQ-CHECK "):
            print(line.removeprefix("IQ-CHECK "))
        elif line.startswith("LANG-NOT-ACTIVE "):
            say(f"language {line.split()[1]} is not active in {args.db}: report in English")
    m = re.search(r"^RUN-RESULT (\S+) (\w+) (\w+) (\S+)$", out, re.MULTILINE)
    if not m:
        print(out[-3000:], res.stderr[-3000:], sep="\n")
        raise DevError(f"the validation run could not be recorded in {args.db}")
    name, iq_status, oq_status, previous = m.groups()
    print(
        f"run {name} recorded in {args.db} (previous run: {previous}); it awaits the QA "
        "manager's and the system owner's signatures"
    )
    print(f"report: {pdf}")
    oq_word = {"pass": "PASS", "fail": "FAIL"}.get(oq_status, "NOT RUN")
    print(f"validate: IQ {iq_status.upper()}, OQ {oq_word}")
    return 0 if iq_status == "pass" and oq_status == "pass" else 1
