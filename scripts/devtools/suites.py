"""The three test suites (static checks, the core suite, the Odoo suite) and their summary."""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import traceability

from .cluster import Cluster
from .common import MODULE, ROOT, STATE, say
from .install import bootstrap
from .odoo import LOG_LINE, SUPERUSER_DSN_VAR, TEST_MODULE, find_odoo, odoo_command
from .trace import RESULTS


class Suite:
    def __init__(self, name: str) -> None:
        self.name = name
        self.status = "PASSED"
        self.detail = ""
        self.passed = 0
        self.failed = 0
        self.skipped = 0

    def line(self) -> str:
        return f"{self.name}: {self.status} ({self.detail})"


def static_checks() -> Suite:
    suite = Suite("Static checks")
    failures: list[str] = []
    done: list[str] = []

    def check(label: str, cmd: list[str]) -> None:
        res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        if res.returncode != 0:
            failures.append(label)
            print(f"--- {label} FAILED\n{res.stdout}{res.stderr}", flush=True)
        done.append(label)

    check("ruff", [sys.executable, "-m", "ruff", "check", "."])
    check(
        "pylint-odoo",
        [
            sys.executable,
            "-m",
            "pylint",
            "--rcfile",
            ".pylintrc-mandatory",
            *sorted(
                str(p.relative_to(ROOT))
                for p in ROOT.glob("*")
                if p.suffix == ".py" or (p / "__init__.py").exists()
            ),
        ],
    )
    check("files", [sys.executable, str(ROOT / "scripts" / "check_files.py")])
    # Traceability by declaration: every high-risk requirement has a test, no unknown id.
    check("trace", [sys.executable, str(ROOT / "scripts" / "dev.py"), "trace", "--static"])
    suite.failed = len(failures)
    suite.passed = len(done) - len(failures)
    if failures:
        suite.status = "FAILED"
        suite.detail = "failed: " + ", ".join(failures)
    else:
        suite.detail = ", ".join(done)
    return suite


def save_odoo_results(log_text: str) -> Path:
    """Keep each Odoo test's result where ``dev.py trace`` reads the last results."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / traceability.ODOO_RESULTS
    out.write_text(json.dumps(traceability.odoo_log_results(log_text), indent=1, sort_keys=True))
    return out


def pytest_suite(name: str, args: list[str], env: dict | None = None) -> Suite:
    """A pytest run as one suite: its counts, and FAILED on any failure, skip or no test."""
    suite = Suite(name)
    res = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
    )
    print(res.stdout[-6000:], res.stderr[-3000:], sep="", flush=True)
    summary = res.stdout.strip().splitlines()[-1] if res.stdout.strip() else "no output"
    for key in ("passed", "failed", "skipped", "error"):
        m = re.search(rf"(\d+) {key}", summary)
        if m:
            n = int(m.group(1))
            if key == "passed":
                suite.passed = n
            elif key == "skipped":
                suite.skipped = n
            else:
                suite.failed += n
    # exit 5 means "no tests collected", which is a failure here, not a pass.
    if res.returncode != 0 or suite.passed == 0 or suite.skipped:
        suite.status = "FAILED"
        suite.failed = max(suite.failed, 1)
    suite.detail = summary.strip("= ")
    return suite


def core_suite() -> Suite:
    # The JUnit results are where ``dev.py trace`` reads each core test's last result.
    RESULTS.mkdir(parents=True, exist_ok=True)
    return pytest_suite(
        "Core suite", [f"--junitxml={RESULTS / traceability.CORE_JUNIT}", "services"]
    )


LIVE_TESTS = "tests/live"


def live_suite(template_db: str | None) -> Suite:
    """Two real Odoo servers on one database (``tests/live``): what must hold across
    processes, and bad input over HTTP. Its database is a copy of ``template_db`` when given,
    else of a clean one it installs once per version of the add-on."""
    env = dict(os.environ)
    if template_db:
        env["MEDDEV_LIVE_TEMPLATE_DB"] = template_db
    say(f"Multi-process suite: two Odoo servers on a copy of {template_db or 'a new database'}")
    return pytest_suite("Multi-process suite", [LIVE_TESTS], env)


def odoo_suite(wk_dir: Path | None) -> list[Suite]:
    """The Odoo suite, then the multi-process suite on the same cluster."""
    suite = Suite("Odoo suite")
    live = Suite("Multi-process suite")
    odoo_root, how = find_odoo()
    if odoo_root is None:
        suite.status = live.status = "SKIPPED"
        suite.detail = live.detail = f"Odoo 18.0 not found: {how}"
        return [suite, live]
    cluster = Cluster()
    cluster.ensure()
    problems: list[str] = []
    try:
        db = f"{MODULE}_test"
        cluster.drop_db(db)
        # 1. Install with demo data, tests enabled (at_install and post_install), our tags only.
        log = STATE / "odoo-test.log"
        log.unlink(missing_ok=True)  # Odoo appends to its log file
        argv, env = odoo_command(
            odoo_root,
            cluster,
            wk_dir,
            "-d",
            db,
            "-i",
            f"{MODULE},{TEST_MODULE}",
            "--test-enable",
            f"--test-tags=/{MODULE},/{TEST_MODULE}",
            "--stop-after-init",
            "--http-port",
            str(Cluster._free_port(18069)),
            "--log-level=info",
            f"--logfile={log}",
            test_addons=True,
        )
        # The tamper tests act as the cluster's maintenance superuser, as an attacker with
        # database access would; only this child process gets the credentials.
        env[SUPERUSER_DSN_VAR] = cluster.superuser_dsn()
        say(f"Odoo suite: installing {MODULE} with demo data and running its tests (log: {log})")
        rc = subprocess.run(argv, env=env, stderr=subprocess.DEVNULL).returncode
        text = log.read_text(errors="replace") if log.exists() else ""
        save_odoo_results(text)
        m = re.findall(r"(\d+) failed, (\d+) error\(s\) of (\d+) tests when loading", text)
        if m:
            failed, errors, total = map(int, m[-1])
            suite.failed = failed + errors
            suite.passed = total - suite.failed
        bad = [
            ln
            for ln in text.splitlines()
            if (mm := LOG_LINE.match(ln)) and mm.group(1) in {"ERROR", "CRITICAL"}
        ]
        skips = [
            ln
            for ln in text.splitlines()
            if " skipped" in ln.lower() and MODULE in ln and "odoo.tests" in ln
        ]
        if bad:
            print("\n".join(["--- ERROR lines in the Odoo test log:", *bad[:40]]), flush=True)
            problems.append(f"{len(bad)} ERROR log lines")
        if skips:
            print("\n".join(["--- skipped Odoo tests:", *skips[:20]]), flush=True)
            problems.append(f"{len(skips)} skipped tests")
        if rc != 0:
            problems.append(f"Odoo exited {rc}")
        if not m or suite.passed == 0:
            problems.append("no test ran")
        cluster.drop_db(db)
        # Its own database, installed without demo data: the Odoo suite's keeps what its
        # tests committed (tampered chains of test companies), which is not a clean start.
        live = live_suite(None)
        # 2. Install without demo data, uninstall, install again: no warnings allowed.
        problems += clean_install_checks(odoo_root, cluster, wk_dir)
    finally:
        if cluster.started_here:
            cluster.stop()
    if problems:
        suite.status = "FAILED"
        suite.failed = max(suite.failed, 1)
    suite.detail = (
        f"{suite.passed} passed, {suite.failed} failed"
        + (f"; {'; '.join(problems)}" if problems else "")
        + f"; Odoo found by {how}"
    )
    return [suite, live]


def clean_install_checks(odoo_root: Path, cluster: Cluster, wk_dir: Path | None) -> list[str]:
    """Install without demo data, uninstall, reinstall; report any WARNING or ERROR line."""
    db = f"{MODULE}_nodemo"
    cluster.drop_db(db)
    problems = []
    steps = [
        ("install without demo data", ["-i", MODULE, "--without-demo=all"]),
        ("uninstall", None),
        ("install again", ["-i", MODULE]),
    ]
    for label, extra in steps:
        log = STATE / f"odoo-{label.replace(' ', '-')}.log"
        log.unlink(missing_ok=True)
        if extra is None:
            argv, env = odoo_command(
                odoo_root,
                cluster,
                wk_dir,
                "-d",
                db,
                "--log-level=warn",
                f"--logfile={log}",
                "--no-http",
                sub="shell",
            )
            script = (
                f"env['ir.module.module'].search([('name', '=', '{MODULE}')])"
                ".button_immediate_uninstall()\nenv.cr.commit()\n"
            )
            res = subprocess.run(argv, env=env, input=script, text=True, capture_output=True)
        else:
            argv, env = odoo_command(
                odoo_root,
                cluster,
                wk_dir,
                "-d",
                db,
                *extra,
                "--stop-after-init",
                "--no-http",
                "--log-level=warn",
                f"--logfile={log}",
            )
            res = subprocess.run(argv, env=env, capture_output=True, text=True)
        text = log.read_text(errors="replace") if log.exists() else ""
        noisy = [
            ln
            for ln in text.splitlines()
            if (mm := LOG_LINE.match(ln)) and mm.group(1) in {"WARNING", "ERROR", "CRITICAL"}
        ]
        if res.returncode != 0 or noisy:
            print(
                f"--- {label}: exit {res.returncode}",
                *noisy[:30],
                res.stderr[-2000:],
                sep="\n",
                flush=True,
            )
            problems.append(f"{label}: {len(noisy)} warnings" if noisy else f"{label} failed")
        say(f"Odoo suite: {label}: {'ok' if not noisy and res.returncode == 0 else 'NOT CLEAN'}")
    cluster.drop_db(db)
    return problems


def cmd_test(args: argparse.Namespace) -> int:
    wk_dir = bootstrap("requirements-dev.txt")
    suites = [static_checks(), core_suite()]
    if not args.no_odoo:
        suites.extend(odoo_suite(wk_dir))
    print("\n==================== meddev_esign test summary ====================")
    for s in suites:
        print(s.line())
    passed = sum(s.passed for s in suites)
    failed = sum(s.failed for s in suites)
    skipped = sum(1 for s in suites if s.status == "SKIPPED")
    if any(s.status == "SKIPPED" for s in suites):
        print("WARNING: a suite was SKIPPED; see its line above.")
    print(f"Total: {passed} passed, {failed} failed, {skipped} skipped")
    return 1 if any(s.status == "FAILED" for s in suites) else 0
