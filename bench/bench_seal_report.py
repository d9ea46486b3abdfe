#!/usr/bin/env python3
"""Benchmark: sealing a printed Batch Release Certificate in real Odoo, next to OCA
``report_qweb_signer`` 18.0 on the same report, in the same run.

Run ``python3 bench/bench_seal_report.py [--rounds N]`` from anywhere. It prints figures and
never asserts speed.

The driver (``main``):

* downloads OCA's ``odoo-addon-report_qweb_signer`` 18.0 wheel (``--no-deps``) and installs it
  into a cache folder outside the repository; the module signs through the ``pyhanko`` command
  (the ``pyhanko-cli`` package), which goes into a virtual environment of its own in that
  cache, so nothing is added to the project's environment;
* starts the demo's loopback TSA (``scripts/devtools/tsa.py``, a child process, so its work is
  not this Odoo process's);
* creates one throw-away database ``bench_seal_report`` with ``meddev_esign`` and
  ``report_qweb_signer`` (which needs Odoo's ``certificate`` and ``account``), runs
  :func:`measure` in ``odoo shell`` and drops the database.

What :func:`measure` times, inside Odoo, each the median over ``--rounds`` (after warm-up):

* ``render``: the Batch Release Certificate rendered by ``_render_qweb_pdf`` with sealing off
  and no OCA certificate (wkhtmltopdf included);
* ``render sealed``: the same with the company seal on (B-LT, software key, loopback TSA);
* ``render OCA``: the same with sealing off and OCA's PKCS#12 certificate on the report;
* ``seal overhead``: ``esign.print._seal_report`` on the rendered PDF alone: evidence, CRL,
  TSA round trip, PAdES signature, DSS, the print log and its audit entry: what our hook adds
  to a print (the difference of two wkhtmltopdf renders is mostly noise). Each round is a
  print as Odoo makes it: an empty record cache (a new request), the unsealed render, then the
  hook on that PDF, with Odoo's registry caches warm as in production (OCA's renders are timed
  in a phase of their own, since switching its certificate on the report empties them);
* ``OCA overhead``: OCA's ``PdfSigner(pdf, certificate).sign_pdf()`` alone, alternating with
  ours in the same loop;
* ``verify``: ``controllers.verify.check_pdf`` of a sealed certificate, what the upload route
  runs after reading the file;
* ``50 certificates``: one print of 50 lots (one file, one seal), unsealed and sealed.

Figures come from a shared machine under load: compare the ratios, not the absolute times.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
MODULE = "meddev_esign"
DB = "bench_seal_report"
OCA_PROJECT = "odoo-addon-report_qweb_signer>=18.0,<18.1"
PYHANKO_CLI = "pyhanko-cli"
RESULT_MARK = "BENCH_RESULT "
REPORT = "meddev_esign.action_report_batch_release"
P12_PASSWORD = "bench-p12"  # the throw-away PKCS#12 of the bench only


# =========================================================================== inside Odoo
def emit(result: dict) -> None:
    print(RESULT_MARK + json.dumps(result), flush=True)


def _median_ms(values: list[float]) -> float:
    return round(1000 * statistics.median(values), 1)


def _pkcs12(env) -> bytes:
    """A PKCS#12 file (key + certificate) issued by the company CA, for OCA's signer."""
    from cryptography.hazmat.primitives.serialization import (  # noqa: PLC0415
        BestAvailableEncryption,
        pkcs12,
    )

    from odoo.addons.meddev_esign.services import pki  # noqa: PLC0415

    ca = env["esign.ca"].search([("company_id", "=", env.company.id)], limit=1)
    key = pki.generate_private_key()
    with ca._authority() as authority:
        cert = pki.issue_seal_certificate(authority, "OCA bench seal", key.public_key())
    return pkcs12.serialize_key_and_certificates(
        b"oca-bench",
        key,
        cert,
        [ca._certificate()],
        BestAvailableEncryption(P12_PASSWORD.encode()),
    )


def profile_seal(env, report, lot, pdf, rounds: int) -> str:
    """cProfile of ``rounds`` seals of ``pdf`` in this Odoo process, with the SQL statements
    per seal: the top functions by cumulative and by own time, as text."""
    import cProfile  # noqa: PLC0415
    import io  # noqa: PLC0415
    import logging  # noqa: PLC0415
    import pstats  # noqa: PLC0415

    Print = env["esign.print"]

    class Collect(logging.Handler):
        def __init__(self):
            super().__init__(logging.DEBUG)
            self.lines = []

        def emit(self, record):
            self.lines.append(record.getMessage()[:160])

    sql_logger = logging.getLogger("odoo.sql_db")
    collect, level = Collect(), sql_logger.level
    sql_logger.addHandler(collect)
    sql_logger.setLevel(logging.DEBUG)
    sql_logger.propagate, propagate = False, sql_logger.propagate
    env.invalidate_all()
    try:
        Print._seal_report(report, lot, pdf)
    finally:
        sql_logger.removeHandler(collect)
        sql_logger.setLevel(level)
        sql_logger.propagate = propagate
    statements = [line for line in collect.lines if "query:" in line]
    queries = env.cr.sql_log_count
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(rounds):
        profiler.disable()
        env.invalidate_all()  # as the timed seals: a new request's empty record cache
        profiler.enable()
        Print._seal_report(report, lot, pdf)
    profiler.disable()
    per_seal = (env.cr.sql_log_count - queries) / rounds
    out = io.StringIO()
    out.write(f"SQL statements per seal: {per_seal:.1f}\n")
    out.writelines(f"  {line}\n" for line in statements)
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(45)
    stats.sort_stats("tottime").print_stats(25)
    return out.getvalue()


def measure(  # noqa: PLR0913
    env,
    rounds: int,
    warmup: int,
    tsa_url: str,
    tsa_root_pem: str,
    master_key: str,
    profile: int = 0,
):
    """Run inside ``odoo shell``: see the module docstring."""
    from odoo.tools import config  # noqa: PLC0415

    from odoo.addons.meddev_esign.controllers import verify  # noqa: PLC0415
    from odoo.addons.report_qweb_signer.models.signature import PdfSigner  # noqa: PLC0415

    config["meddev_esign_master_key"] = master_key
    company = env.company
    company.write(
        {
            "esign_tsa_urls": tsa_url,
            "esign_tsa_timeout": 5.0,
            "esign_tsa_roots_pem": tsa_root_pem,
            "esign_seal_level": "B-LT",
            "esign_seal_tsa_required": True,
        }
    )
    env["esign.ca"]._generate(company)
    env["esign.certificate"]._enrol_seal(company)
    product = env["product.product"].create(
        {
            "name": "Bench Infusion Pump",
            "is_storable": True,
            "tracking": "lot",
            "esign_device_class": "II",
            "esign_gtin": "06951234500047",
        }
    )
    lots = env["stock.lot"].create(
        [{"name": f"BENCH-LOT-{i:03d}", "product_id": product.id} for i in range(50)]
    )
    lot = lots[:1]
    report = env.ref(REPORT)
    oca_cert = env["certificate.certificate"].create(
        {
            "name": "OCA bench PKCS#12",
            "content": base64.b64encode(_pkcs12(env)),
            "pkcs12_password": P12_PASSWORD,
        }
    )
    Report = env["ir.actions.report"].with_context(force_report_rendering=True)

    def render(records):
        return Report._render_qweb_pdf(REPORT, records.ids)[0]

    def mode(name):
        company.esign_seal_enabled = name == "sealed"
        report.certificate_id = oca_cert if name == "oca" else False
        env.flush_all()

    def timed(func, n):
        out = []
        for _ in range(n):
            start = time.perf_counter()
            func()
            out.append(time.perf_counter() - start)
        return out

    renders = {"plain": [], "sealed": [], "oca": []}
    seal_only, oca_only = [], []
    mode("plain")
    plain_pdf = render(lot)
    for name in renders:  # warm-up: fonts, signer cache, TSA keep-alive, templates
        mode(name)
        timed(lambda: render(lot), warmup)
    # OCA's renders first, on their own: switching OCA's certificate on the report writes an
    # ir.actions record, which empties every registry cache of Odoo (access and audit rules,
    # ...); no print in production follows such a write, so none precedes our timed seals.
    mode("oca")
    for _round in range(rounds):
        renders["oca"] += timed(lambda: render(lot), 1)
    mode("sealed")
    env["esign.print"]._seal_report(report, lot, plain_pdf)  # its registry caches, once

    def sealing(enabled):
        company.esign_seal_enabled = enabled  # a company field: no registry cache emptied
        env.flush_all()

    # Each round is a print as Odoo makes it: a new request (empty record cache), the report
    # rendered, then our hook seals that PDF (timed alone: the difference of two wkhtmltopdf
    # renders is mostly noise); OCA's signer alone on the same PDF; then the sealed print whole.
    for _round in range(rounds):
        sealing(False)
        env.invalidate_all()
        start = time.perf_counter()
        rendered = render(lot)
        renders["plain"].append(time.perf_counter() - start)
        sealing(True)
        seal_only += timed(
            lambda pdf=rendered: env["esign.print"]._seal_report(report, lot, pdf), 1
        )
        oca_only += timed(lambda pdf=rendered: PdfSigner(pdf, oca_cert).sign_pdf(), 1)
        env.invalidate_all()
        renders["sealed"] += timed(lambda: render(lot), 1)
    env.invalidate_all()
    seal_sql = env.cr.sql_log_count
    env["esign.print"]._seal_report(report, lot, plain_pdf)
    seal_sql = env.cr.sql_log_count - seal_sql
    profile_text = profile_seal(env, report, lot, plain_pdf, profile) if profile else ""
    sealed_pdf = render(lot)
    timed(lambda: verify.check_pdf(env, sealed_pdf), warmup)
    verify_only = timed(lambda: verify.check_pdf(env, sealed_pdf), rounds)
    answer = verify.check_pdf(env, sealed_pdf)[0]["status"]
    mode("plain")
    many_plain = timed(lambda: render(lots), 2)
    mode("sealed")
    many_sealed = timed(lambda: render(lots), 2)
    many_pdf = render(lots)
    env.cr.rollback()
    return {
        "rounds": rounds,
        "render_plain_ms": _median_ms(renders["plain"]),
        "render_sealed_ms": _median_ms(renders["sealed"]),
        "render_oca_ms": _median_ms(renders["oca"]),
        "seal_overhead_ms": _median_ms(seal_only),
        "oca_overhead_ms": _median_ms(oca_only),
        "verify_ms": _median_ms(verify_only),
        "verify_answer": answer,
        "fifty_plain_ms": _median_ms(many_plain),
        "fifty_sealed_ms": _median_ms(many_sealed),
        "fifty_sealed_bytes": len(many_pdf),
        "sealed_bytes": len(sealed_pdf),
        "plain_bytes": len(plain_pdf),
        "seal_sql_statements": seal_sql,
        "profile": profile_text,
    }


# =========================================================================== the driver
def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def load_dev():
    sys.path.insert(0, str(ROOT / "scripts"))
    import dev  # noqa: PLC0415

    return dev


def ensure_oca(cache: Path) -> tuple[Path, Path]:
    """OCA's module (wheel, no deps) and a ``pyhanko`` command; (addons dir, pyhanko path)."""
    target = cache / "oca-report-signer"
    addons = target / "odoo" / "addons"
    if not (addons / "report_qweb_signer" / "__manifest__.py").exists():
        log(f"installing {OCA_PROJECT} (no deps) into {target}")
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target)]
            + [OCA_PROJECT],
            check=True,
            cwd=tempfile.gettempdir(),
        )
    env_dir = cache / "pyhanko-cli-venv"
    command = env_dir / "bin" / "pyhanko"
    if not command.exists():
        log(f"installing {PYHANKO_CLI} into {env_dir}")
        venv.create(env_dir, with_pip=True)
        subprocess.run(
            [str(env_dir / "bin" / "python"), "-m", "pip", "install", "-q", PYHANKO_CLI],
            check=True,
            cwd=tempfile.gettempdir(),
        )
    return addons, command


def install(dev, odoo_root, cluster, extra) -> None:
    """Create the bench database with both modules (no demo data)."""
    cluster.drop_db(DB)
    log("creating the bench database (a few minutes)")
    argv, env = dev.odoo_command(
        odoo_root,
        cluster,
        None,
        *extra,
        "-i",
        f"{MODULE},report_qweb_signer",
        "--without-demo=all",
        "--stop-after-init",
    )
    subprocess.run(argv, env=env, check=True, capture_output=True, text=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument(
        "--profile", type=int, default=0, help="also cProfile this many seals and print it"
    )
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    parser.add_argument(
        "--reuse", action="store_true", help="measure on the kept database, no new install"
    )
    args = parser.parse_args()

    dev = load_dev()
    odoo_root, how = dev.find_odoo()
    if odoo_root is None:
        log(f"Odoo 18.0 not found: {how}")
        return 1
    sys.path.insert(0, str(ROOT / "scripts"))
    sys.path.insert(0, str(ROOT))
    from devtools.tsa import DemoTsa, ensure_certificates  # noqa: PLC0415

    from services import pki  # noqa: PLC0415 - the add-on's core, for a master key

    cluster = dev.Cluster()
    cluster.ensure()
    addons, pyhanko = ensure_oca(dev.CACHE)
    data_dir = Path(tempfile.mkdtemp(prefix="bench_seal_data_"))
    tsa_dir = Path(tempfile.mkdtemp(prefix="bench_seal_tsa_"))
    ensure_certificates(tsa_dir)
    tsa = DemoTsa(tsa_dir)
    tsa_url = tsa.start()
    log(f"loopback TSA at {tsa_url}")
    extra = [
        f"--data-dir={data_dir}",
        "--no-http",
        "--log-level=warn",
        "-d",
        DB,
        f"--addons-path={dev.addons_path(odoo_root)},{addons}",
    ]
    wkhtmltopdf = next((p for p in dev.CACHE.rglob("wkhtmltopdf") if p.is_file()), None)
    path_env = (
        {"PATH": f"{wkhtmltopdf.parent}:{os.environ.get('PATH', '')}"} if wkhtmltopdf else {}
    )
    try:
        if not args.reuse:
            install(dev, odoo_root, cluster, extra)
        call = (
            f"measure(env, {args.rounds}, {args.warmup}, {tsa_url!r}, "
            f"{tsa.root_pem!r}, {pki.generate_master_key()!r}, {args.profile})"
        )
        script = (
            "import sys\n"
            "sys.dont_write_bytecode = True\n"
            f"sys.path.insert(0, {str(HERE)!r})\n"
            "import bench_seal_report\n"
            f"bench_seal_report.emit(bench_seal_report.{call})\n"
        )
        argv, env = dev.odoo_command(odoo_root, cluster, None, *extra, sub="shell")
        env = {**env, **path_env, "PYHANKO_BIN": str(pyhanko)}
        log(f"measuring ({args.rounds} rounds)")
        res = subprocess.run(argv, env=env, input=script, capture_output=True, text=True)
        result = None
        for line in res.stdout.splitlines():
            if line.startswith(RESULT_MARK):
                result = json.loads(line[len(RESULT_MARK) :])
        if result is None:
            log(res.stderr[-4000:])
            return 1
    finally:
        tsa.stop()
        if not args.keep:
            cluster.drop_db(DB)
        shutil.rmtree(data_dir, ignore_errors=True)
        shutil.rmtree(tsa_dir, ignore_errors=True)

    ratio = result["oca_overhead_ms"] / result["seal_overhead_ms"]
    print()
    print("Sealed Batch Release Certificate, real Odoo, one process (shared machine, under load)")
    print(f"medians over {result['rounds']} rounds")
    rows = [
        ("render, unsealed (wkhtmltopdf)", f"{result['render_plain_ms']} ms"),
        ("render, sealed B-LT", f"{result['render_sealed_ms']} ms"),
        ("render, OCA report_qweb_signer", f"{result['render_oca_ms']} ms"),
        ("seal overhead (our hook alone)", f"{result['seal_overhead_ms']} ms"),
        ("OCA overhead (its signer alone)", f"{result['oca_overhead_ms']} ms"),
        ("OCA overhead / ours", f"{ratio:.1f}x"),
        ("SQL statements per seal", str(result["seal_sql_statements"])),
        ("upload verification, server side", f"{result['verify_ms']} ms"),
        ("50 certificates in one PDF, unsealed", f"{result['fifty_plain_ms']} ms"),
        ("50 certificates in one PDF, sealed", f"{result['fifty_sealed_ms']} ms"),
        (
            "sizes: plain / sealed / 50 sealed",
            f"{result['plain_bytes']} / "
            f"{result['sealed_bytes']} / {result['fifty_sealed_bytes']} bytes",
        ),
    ]
    for label, value in rows:
        print(f"  {label:<40} {value}")
    print(f"  (the verified copy was: {result['verify_answer']})")
    if result["profile"]:
        print(result["profile"])
    results = HERE / "results"
    results.mkdir(exist_ok=True)
    (results / "seal_report_latest.json").write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
