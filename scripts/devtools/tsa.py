"""The demo's RFC 3161 timestamp authority: a child process on loopback that ``make demo``
starts and stops with Ctrl-C.

Its root and TSA certificates (ECDSA P-256, the TSA's with the critical timeStamping EKU) and
keys are made once in ``.state/tsa/`` and kept, so a demo signature timestamped today still
verifies against the same root tomorrow. Tokens are made by ``QuickStamper``, field for field
certomancer's ``TimeStamper`` (the tool the PKI tests use, and the reference its test compares
with), behind the standard library's threaded HTTP/1.1 server, which keeps a client's
connection open (werkzeug's closed it after every token). The child prefers the
port it had last time, takes any free one when that is taken (binding port 0 cannot race),
and prints ``READY <url>``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from .common import DevError, say

TSA_PATH = "/tsa"
READY = "READY "
DEFAULT_PORT = 8079
ABOUT = b"RFC 3161 timestamp authority of the meddev_esign demo\n"


def ensure_certificates(folder: Path) -> None:
    """Make the TSA's root and its signing certificate in ``folder``, once."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    if (folder / "tsa.cert.pem").exists() and (folder / "root.cert.pem").exists():
        return
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)

    def name(common: str) -> x509.Name:
        return x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "meddev_esign demo"),
                x509.NameAttribute(NameOID.COMMON_NAME, common),
            ]
        )

    def usage(**flags: bool) -> x509.KeyUsage:
        keys = (
            "digital_signature content_commitment key_encipherment data_encipherment "
            "key_agreement key_cert_sign crl_sign encipher_only decipher_only"
        ).split()
        return x509.KeyUsage(**{k: flags.get(k, False) for k in keys})

    start, end = datetime(2020, 1, 1, tzinfo=UTC), datetime(2099, 1, 1, tzinfo=UTC)
    root_key = ec.generate_private_key(ec.SECP256R1())
    tsa_key = ec.generate_private_key(ec.SECP256R1())
    root = (
        x509.CertificateBuilder()
        .subject_name(name("Demo TSA Root"))
        .issuer_name(name("Demo TSA Root"))
        .public_key(root_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(usage(key_cert_sign=True, crl_sign=True), critical=True)
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()), critical=False
        )
        .sign(root_key, hashes.SHA256())
    )
    tsa = (
        x509.CertificateBuilder()
        .subject_name(name("Demo TSA"))
        .issuer_name(root.subject)
        .public_key(tsa_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(usage(digital_signature=True), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()),
            critical=False,
        )
        .sign(root_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    (folder / "tsa.key.pem").write_bytes(
        tsa_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    (folder / "tsa.key.pem").chmod(0o600)
    (folder / "root.cert.pem").write_bytes(root.public_bytes(pem))
    (folder / "tsa.cert.pem").write_bytes(tsa.public_bytes(pem))
    # The root's key is needed no more: nothing else is ever issued under this root.


def _tlv(tag: int, content: bytes) -> bytes:
    """One DER element: ``tag``, the definite length of ``content``, ``content``."""
    size = len(content)
    if size < 0x80:
        return bytes((tag, size)) + content
    length = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(length))) + length + content


class QuickStamper:
    """RFC 3161 tokens with the fields and signed attributes of certomancer's
    ``TimeStamper`` (the reference this is tested against), made about four times faster.

    What never changes between tokens (the certificates, the signer's identifier, the
    algorithms, the ESS signing-certificate attribute) is encoded once; a token then
    encodes only its TSTInfo and signed attributes with asn1crypto, signs them with the
    ECDSA key through ``cryptography``, and is put together as DER. certomancer re-encodes
    every certificate of every token, which cost about 5 ms of the seal's TSA round trip.
    """

    def __init__(self, tsa_cert_der: bytes, tsa_key_pem: bytes, embed_der: list[bytes]) -> None:
        from asn1crypto import algos, cms, tsp, x509  # noqa: PLC0415 - the child's imports
        from cryptography.hazmat.primitives import serialization  # noqa: PLC0415
        from cryptography.hazmat.primitives.asymmetric import ec  # noqa: PLC0415

        self._key = serialization.load_pem_private_key(tsa_key_pem, password=None)
        if not isinstance(self._key, ec.EllipticCurvePrivateKey):
            raise TypeError("The demo TSA signs with an ECDSA key.")
        cert = x509.Certificate.load(tsa_cert_der)
        self._tsa_name = x509.GeneralName(name="directory_name", value=cert.subject)
        digest = algos.DigestAlgorithm({"algorithm": "sha256"}).dump()
        self._digest_set = _tlv(0x31, digest)
        self._digest = digest
        self._signature_algo = algos.SignedDigestAlgorithm({"algorithm": "sha256_ecdsa"}).dump()
        self._sid = cms.IssuerAndSerialNumber(
            {"issuer": cert.issuer, "serial_number": cert.serial_number}
        ).dump()
        self._signing_certificate = cms.CMSAttribute(
            {
                "type": "signing_certificate",
                "values": [
                    tsp.SigningCertificate(
                        {"certs": [{"cert_hash": hashlib.sha1(tsa_cert_der).digest()}]}
                    )
                ],
            }
        ).dump()
        # A DER SET OF is sorted by encoding, as asn1crypto writes it.
        self._certificates = _tlv(0xA0, b"".join(sorted({tsa_cert_der, *embed_der})))
        self._content_type_attr = cms.CMSAttribute(
            {"type": "content_type", "values": ["tst_info"]}
        ).dump()
        self._signed_data_oid = cms.ContentType("signed_data").dump()
        self._tst_info_oid = cms.ContentType("tst_info").dump()
        self._granted = tsp.PKIStatusInfo({"status": "granted"}).dump()
        self._policy = tsp.ObjectIdentifier("1.3.6.1.4.1.4146.2.3")

    def reply(self, request: bytes) -> bytes:
        """The DER ``TimeStampResp`` granting a token for the DER ``TimeStampReq``."""
        from asn1crypto import cms, core, tsp  # noqa: PLC0415
        from certomancer.services import get_nonce  # noqa: PLC0415 - the reference's serial
        from cryptography.hazmat.primitives import hashes  # noqa: PLC0415
        from cryptography.hazmat.primitives.asymmetric import ec  # noqa: PLC0415

        req = tsp.TimeStampReq.load(request)
        now = datetime.now(tz=UTC)
        info = {
            "version": "v1",
            "policy": self._policy,
            "message_imprint": req["message_imprint"],
            "serial_number": get_nonce(),
            "gen_time": now,
            "tsa": self._tsa_name,
        }
        if isinstance(req["nonce"], core.Integer):
            info["nonce"] = req["nonce"]
        tst_info = tsp.TSTInfo(info).dump()
        attributes = [
            self._content_type_attr,
            cms.CMSAttribute(
                {"type": "signing_time", "values": [cms.Time({"utc_time": core.UTCTime(now)})]}
            ).dump(),
            self._signing_certificate,
            cms.CMSAttribute(
                {"type": "message_digest", "values": [hashlib.sha256(tst_info).digest()]}
            ).dump(),
        ]
        signed_attrs = b"".join(sorted(attributes))
        signature = self._key.sign(_tlv(0x31, signed_attrs), ec.ECDSA(hashes.SHA256()))
        signer_info = _tlv(
            0x30,
            b"\x02\x01\x01"  # version 1
            + self._sid
            + self._digest
            + _tlv(0xA0, signed_attrs)
            + self._signature_algo
            + _tlv(0x04, signature),
        )
        encapsulated = _tlv(0x30, self._tst_info_oid + _tlv(0xA0, _tlv(0x04, tst_info)))
        signed_data = _tlv(
            0x30,
            b"\x02\x01\x03"  # version 3
            + self._digest_set
            + encapsulated
            + self._certificates
            + _tlv(0x31, signer_info),
        )
        token = _tlv(0x30, self._signed_data_oid + _tlv(0xA0, signed_data))
        return _tlv(0x30, self._granted + token)


def serve(folder: Path, port: int) -> None:
    """Serve the TSA on ``127.0.0.1:port`` (any free port if taken) until stopped."""
    from asn1crypto import pem

    ensure_certificates(folder)

    def load(name: str) -> bytes:
        return pem.unarmor((folder / name).read_bytes())[2]

    stamper = QuickStamper(
        load("tsa.cert.pem"), (folder / "tsa.key.pem").read_bytes(), [load("root.cert.pem")]
    )

    class Handler(BaseHTTPRequestHandler):
        """One token per POST to the TSA path; HTTP/1.1, so a client keeps its connection."""

        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and token leave at once

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            """Log nothing per request."""

        def _answer(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self._headers_buffer.append(b"\r\n" + body)  # one write: head and token together
            self.flush_headers()

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            self._answer(200, ABOUT, "text/plain; charset=utf-8")

        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path != TSA_PATH:
                self._answer(200, ABOUT, "text/plain; charset=utf-8")
                return
            try:
                reply = stamper.reply(data)
            except (ValueError, TypeError, KeyError):
                self._answer(400, b"not a timestamp request\n", "text/plain; charset=utf-8")
                return
            self._answer(200, reply, "application/timestamp-reply")

    class Server(ThreadingHTTPServer):
        daemon_threads = True

    try:
        server = Server(("127.0.0.1", port), Handler)
    except OSError:  # the port is taken: any free one
        server = Server(("127.0.0.1", 0), Handler)
    (folder / "tsa.json").write_text(json.dumps({"port": server.server_port}))
    print(f"{READY}http://127.0.0.1:{server.server_port}{TSA_PATH}", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    parent = os.getppid()

    def orphaned() -> None:  # the demo was killed without stopping us: stop too
        while os.getppid() == parent:
            threading.Event().wait(2)
        server.shutdown()

    threading.Thread(target=orphaned, daemon=True).start()
    server.serve_forever()


class DemoTsa:
    """The TSA child process of ``make demo``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.proc: subprocess.Popen | None = None
        self.url = ""
        self.stopping = False

    @property
    def root_pem(self) -> str:
        return (self.folder / "root.cert.pem").read_text()

    def start(self, on_death: Callable[[int], None] | None = None, timeout: float = 60) -> str:
        """Start the child and wait for its URL; ``on_death(exit code)`` is called should it
        stop before :meth:`stop` is."""
        meta = self.folder / "tsa.json"
        port = json.loads(meta.read_text())["port"] if meta.exists() else DEFAULT_PORT
        port = int(os.environ.get("MEDDEV_TSA_PORT", port))
        env = dict(os.environ)
        scripts = str(Path(__file__).resolve().parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [scripts, env.get("PYTHONPATH")]))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "devtools.tsa", str(self.folder), str(port)],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            start_new_session=True,  # Ctrl-C stops the demo, which then stops this child
        )
        found: list[str] = []
        reader = threading.Thread(target=lambda: found.append(self.proc.stdout.readline()))
        reader.start()
        reader.join(timeout)
        line = found[0] if found else ""
        if not line.startswith(READY):
            self.stop()
            raise DevError(f"the demo's timestamp authority did not start: {line.strip()!r}")
        self.url = line[len(READY) :].strip()
        if on_death:
            threading.Thread(target=self._watch, args=(on_death,), daemon=True).start()
        return self.url

    def _watch(self, on_death: Callable[[int], None]) -> None:
        code = self.proc.wait()
        if not self.stopping:
            on_death(code)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        self.stopping = True
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc and self.proc.stdout:
            self.proc.stdout.close()


def report_death(code: int) -> None:
    """What the demo says when its TSA stops under it."""
    say(
        f"the demo's timestamp authority stopped (exit {code}): new signatures are refused "
        "(no timestamp) until `make demo` is started again"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="the meddev_esign demo's TSA")
    parser.add_argument("folder", type=Path)
    parser.add_argument("port", type=int)
    args = parser.parse_args()
    serve(args.folder, args.port)


if __name__ == "__main__":
    main()
