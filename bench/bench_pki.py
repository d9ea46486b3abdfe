#!/usr/bin/env python3
"""Benchmark: the crypto cost of a PKI signature (CAdES + RFC 3161), and its cost in Odoo.

Run ``python3 bench/bench_pki.py`` from anywhere. It prints figures and never asserts speed.

1. The core, no Odoo: a detached CAdES signature over a snapshot-sized content, then the same
   plus a timestamp from a loopback TSA (certomancer, in a child process so that it does not
   share this interpreter), per key: software ECDSA P-256 and RSA-3072, and the same keys on a
   SoftHSM2 token. Target: under 10 ms per signature with ECDSA P-256 and the loopback TSA.
2. In Odoo (``odoo shell`` on a throw-away database ``bench_pki``): lot-release signatures made
   the way the sign wizard makes them (``esign.request._sign``), first with the company's PKI
   switched on (software key, loopback TSA), then off: the overhead and the ratio.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
FIXTURES = ROOT / "services" / "tests" / "pki_fixtures.py"
DB = "bench_pki"
RESULT_MARK = "BENCH_RESULT "  # as bench_signing.Runner.measure expects
CONTENT = b"esign-snapshot/1\n" + b'{"fields":{"x":"' + b"a" * 1000 + b'"}}'


def _median_ms(action: Callable[[], object], rounds: int) -> float:
    """Median wall time of ``action`` in milliseconds, after 3 warm-up runs."""
    for _ in range(3):
        action()
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def _load_fixtures():
    """The core suite's loopback TSA / SoftHSM helpers, loaded from their file."""
    import importlib.util  # noqa: PLC0415

    name = "meddev_esign_pki_fixtures"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, FIXTURES)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def _serve() -> None:
    """Child process: start the loopback TSA, print its URL, wait for stdin to close."""
    tsa = _load_fixtures().start_tsa()
    print(json.dumps({"url": tsa.url, "root_pem": _pem(tsa.root)}), flush=True)
    sys.stdin.read()


def _pem(cert) -> str:
    from cryptography.hazmat.primitives.serialization import Encoding  # noqa: PLC0415

    return cert.public_bytes(Encoding.PEM).decode()


class Tsa:
    """The loopback TSA in a child process."""

    def __enter__(self):
        self.child = subprocess.Popen(
            [sys.executable, __file__, "--serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        info = json.loads(self.child.stdout.readline())
        self.url, self.root_pem = info["url"], info["root_pem"]
        return self

    def __exit__(self, *_exc):
        self.child.stdin.close()
        self.child.wait(timeout=10)


# =========================================================================== 1. the core
def measure_core(rounds: int) -> list[dict]:
    """CMS sign, and CMS sign + loopback TSA, per key type and key store."""
    sys.path.insert(0, str(ROOT))
    from services.pki_ca import generate_ca  # noqa: PLC0415
    from services.pki_hsm import generate_key_pair, hsm_signer, open_token  # noqa: PLC0415
    from services.pki_issue import SignerIdentity, issue_signer_certificate  # noqa: PLC0415
    from services.pki_keys import KeyType, generate_private_key  # noqa: PLC0415
    from services.pki_sign import CachedKeySigner, sign_detached  # noqa: PLC0415
    from services.pki_timestamp import request_timestamp, timestamp_imprint  # noqa: PLC0415

    rows = []

    def report(store, key_type, signer, url):
        sign = _median_ms(lambda: sign_detached(CONTENT, signer), rounds)
        both = _median_ms(lambda: request_timestamp(sign_detached(CONTENT, signer), [url]), rounds)
        rows.append({"store": store, "key": key_type.value, "sign_ms": sign, "sign_tsa_ms": both})

    def tsa_alone(url):
        digest = bytes(32)
        return _median_ms(lambda: timestamp_imprint(digest, [url]), rounds)

    with Tsa() as tsa:
        rows.append({"store": "-", "key": "-", "sign_ms": 0.0, "sign_tsa_ms": tsa_alone(tsa.url)})
        ca = generate_ca("Bench CA")
        for key_type in KeyType:
            key = generate_private_key(key_type)
            cert = issue_signer_certificate(ca, SignerIdentity("B", "b"), key.public_key())
            report("software", key_type, CachedKeySigner(key, cert, ca.certificates), tsa.url)
        token = _load_fixtures().softhsm_token()
        session = open_token(token.library, token.label, token.pin)
        try:
            for key_type in KeyType:
                label = f"bench-{key_type.value}"
                public = generate_key_pair(session, label, key_type)
                cert = issue_signer_certificate(ca, SignerIdentity("B", "b"), public)
                report(
                    "SoftHSM2",
                    key_type,
                    hsm_signer(session, label, cert, ca.certificates),
                    tsa.url,
                )
        finally:
            session.close()
    return rows


# =========================================================================== 2. in Odoo
def measure_odoo(env, tsa_url: str, tsa_root_pem: str, n: int, warmup: int) -> dict:
    """Lot releases signed one by one with the company's PKI on, then off (inside Odoo)."""
    from odoo import Command  # noqa: PLC0415 - runs inside odoo shell only
    from odoo.tools import config  # noqa: PLC0415

    from odoo.addons.meddev_esign.services import pki  # noqa: PLC0415

    config.options["meddev_esign_master_key"] = pki.generate_master_key()
    company = env.company
    company.write(
        {
            "esign_keystore": "software",
            "esign_key_type": "ecdsa-p256",
            "esign_tsa_urls": tsa_url,
            "esign_tsa_timeout": 3.0,
            "esign_tsa_offline": "refuse",
            "esign_tsa_roots_pem": tsa_root_pem,
        }
    )
    admin = env.ref("base.user_admin")
    admin.groups_id = [Command.link(env.ref("meddev_esign.group_esign_admin").id)]
    env["esign.ca"].with_user(admin)._generate(company)
    ra = env["res.users"].create(
        {
            "name": "Bench Release Authority",
            "login": "bench.pki.ra",
            "groups_id": [
                Command.set(
                    [
                        env.ref("meddev_esign.group_esign_release_authority").id,
                        env.ref("stock.group_stock_user").id,
                    ]
                )
            ],
        }
    )
    env["esign.certificate"].with_user(admin)._enrol(ra, "in_person", "bench", company)
    policy = env.ref("meddev_esign.policy_lot_release").with_user(ra)
    step = policy.step_ids.with_user(ra)
    device = env["product.product"].create(
        {
            "name": "Bench PKI Pump",
            "is_storable": True,
            "tracking": "lot",
            "esign_device_class": "II",
        }
    )
    requests = env["esign.request"].with_user(ra)
    results = {}
    for enabled in (True, False):
        company.esign_pki_enabled = enabled
        lots = (
            env["stock.lot"]
            .create(
                [
                    {"name": f"BENCH-PKI-{enabled}-{i:04d}", "product_id": device.id}
                    for i in range(warmup + n)
                ]
            )
            .with_user(ra)
        )
        samples = []
        for index, lot in enumerate(lots):
            env.flush_all()
            env.invalidate_all()
            start = time.perf_counter()
            request = requests._for_record(lot, policy, create=True)
            request._sign(lot, step, reason="bench", auth_method="login_password")
            env.flush_all()
            if index >= warmup:
                samples.append((time.perf_counter() - start) * 1000)
        signatures = env["esign.signature"].search(
            [("res_model", "=", "stock.lot"), ("res_id", "in", lots.ids)]
        )
        results["pki" if enabled else "plain"] = {
            "median_ms": statistics.median(samples),
            "mean_ms": statistics.fmean(samples),
            "n": len(samples),
            "with_cms": sum(1 for sig in signatures if sig.pki_cms),
            "stamped": sum(1 for sig in signatures if sig.pki_token),
        }
    return results


def emit(result: dict) -> None:
    print(RESULT_MARK + json.dumps(result), flush=True)


# =========================================================================== the driver
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=50, help="core: timed runs per figure")
    parser.add_argument("--signatures", type=int, default=30, help="Odoo: timed per mode")
    parser.add_argument("--warmup", type=int, default=5, help="Odoo: untimed first")
    parser.add_argument("--no-odoo", action="store_true", help="core figures only")
    parser.add_argument("--keep", action="store_true", help=f"keep the {DB} database")
    args = parser.parse_args()

    core = measure_core(args.rounds)
    odoo = None
    if not args.no_odoo:
        sys.path.insert(0, str(HERE))
        import bench_signing  # noqa: PLC0415 - the shared Odoo runner

        dev = bench_signing.load_dev()
        odoo_root, how = dev.find_odoo()
        if odoo_root is None:
            bench_signing.log(f"Odoo 18.0 not found ({how}): core figures only")
        else:
            cluster = dev.Cluster()
            cluster.ensure()
            data_dir = Path(tempfile.mkdtemp(prefix="bench_odoo_data_"))
            runner = bench_signing.Runner(dev, odoo_root, cluster, data_dir, module="bench_pki")
            try:
                bench_signing.log(f"creating {DB} (a minute or two)")
                runner.finish_install(runner.start_install(DB, "meddev_esign"))
                with Tsa() as tsa:
                    odoo = runner.measure(
                        DB,
                        f"measure_odoo(env, {tsa.url!r}, {tsa.root_pem!r}, {args.signatures}, "
                        f"{args.warmup})",
                    )
            finally:
                if not args.keep:
                    cluster.drop_db(DB)
                shutil.rmtree(data_dir, ignore_errors=True)
                if cluster.started_here:
                    cluster.stop()

    print()
    print("meddev_esign PKI benchmark (medians; loopback TSA in its own process)")
    print("1. Crypto per signature, no Odoo")
    print(f"   {'key store':<10} {'key':<11} {'CMS sign':>10} {'CMS + TSA':>10}  target")
    for row in core:
        if row["store"] == "-":
            label = "TSA round trip alone (request, token, checks)"
            print(f"   {label:<44} {row['sign_tsa_ms']:>7.2f} ms")
            continue
        target = "< 10 ms" if row["key"] == "ecdsa-p256" else ""
        print(
            f"   {row['store']:<10} {row['key']:<11} {row['sign_ms']:>7.2f} ms "
            f"{row['sign_tsa_ms']:>7.2f} ms  {target}"
        )
    if odoo:
        pki_ms, plain_ms = odoo["pki"]["median_ms"], odoo["plain"]["median_ms"]
        print("2. One lot-release signature in Odoo (request + sign, cold cache)")
        print(f"   with PKI (software ECDSA P-256 + TSA): {pki_ms:.1f} ms (n={odoo['pki']['n']})")
        print(f"   without PKI:                           {plain_ms:.1f} ms")
        print(
            f"   overhead: {pki_ms - plain_ms:.1f} ms; ratio with/without: {pki_ms / plain_ms:.2f}"
        )
        print(
            f"   checks: {odoo['pki']['with_cms']} signatures with CMS, "
            f"{odoo['pki']['stamped']} timestamped; {odoo['plain']['with_cms']} CMS without PKI"
        )
    results = HERE / "results"
    results.mkdir(exist_ok=True)
    (results / "pki_latest.json").write_text(json.dumps({"core": core, "odoo": odoo}, indent=2))
    return 0


if __name__ == "__main__":
    if sys.argv[1:] == ["--serve"]:
        _serve()
        sys.exit(0)
    sys.exit(main())
