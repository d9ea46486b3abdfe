"""Measure the crypto overhead per signature (CMS sign + loopback TSA).

Run from the add-on root: ``python3 services/tests/pki_bench.py [rounds]``.
The TSA (certomancer, from pki_fixtures) runs in a child process so its
work does not share this process's interpreter lock. Figures are medians in
milliseconds; nothing is asserted.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parents[2]), str(Path(__file__).resolve().parent)]

from cryptography import x509  # noqa: E402
from pki_fixtures import softhsm_token, start_tsa  # noqa: E402

from services.pki_cms import CachedKeySigner, request_timestamp, sign_detached  # noqa: E402
from services.pki_hsm import generate_key_pair, hsm_signer, open_token  # noqa: E402
from services.pki_keys import (  # noqa: E402
    KeyType,
    SignerIdentity,
    generate_ca,
    generate_private_key,
    issue_signer_certificate,
)

CONTENT = b"esign-snapshot/1\n" + b'{"fields":{"x":"' + b"a" * 1000 + b'"}}'


def _serve() -> None:
    """Child process: start the TSA, print its URL, wait for stdin to close."""
    tsa = start_tsa()
    print(tsa.url, flush=True)
    sys.stdin.read()


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


def main(rounds: int) -> None:
    """Print the figures."""
    child = subprocess.Popen(
        [sys.executable, __file__, "--serve"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        url = child.stdout.readline().strip()
        ca = generate_ca("Bench CA")
        for key_type in KeyType:
            key = generate_private_key(key_type)
            cert = issue_signer_certificate(ca, SignerIdentity("B", "b"), key.public_key())
            signer = CachedKeySigner(key, cert, ca.certificates)
            _report(f"software {key_type.value}", signer, url, rounds)
        token = softhsm_token()
        session = open_token(token.library, token.label, token.pin)
        try:
            for key_type in KeyType:
                public = generate_key_pair(session, f"bench-{key_type.value}", key_type)
                cert: x509.Certificate = issue_signer_certificate(
                    ca, SignerIdentity("B", "b"), public
                )
                signer = hsm_signer(session, f"bench-{key_type.value}", cert, ca.certificates)
                _report(f"softhsm  {key_type.value}", signer, url, rounds)
        finally:
            session.close()
    finally:
        child.stdin.close()  # type: ignore[union-attr]
        child.wait(timeout=10)


def _report(name: str, signer: object, url: str, rounds: int) -> None:
    """Print sign-only and sign+timestamp medians for one signer."""
    sign = _median_ms(lambda: sign_detached(CONTENT, signer), rounds)  # type: ignore[arg-type]
    both = _median_ms(
        lambda: request_timestamp(sign_detached(CONTENT, signer), [url]),  # type: ignore[arg-type]
        rounds,
    )
    print(f"{name}: CMS sign {sign:6.2f} ms | CMS sign + loopback TSA {both:6.2f} ms")


if __name__ == "__main__":
    if sys.argv[1:] == ["--serve"]:
        _serve()
    else:
        main(int(sys.argv[1]) if len(sys.argv) > 1 else 50)
