"""Real test PKI services for the PKI tests: a loopback TSA and a SoftHSM2 token.

* :func:`start_tsa` starts, once per process, a certomancer ``Animator`` (WSGI)
  served by werkzeug in a thread on a free 127.0.0.1 port. Its PKI (a root CA
  with a CRL service, and a TSA certificate with the critical timeStamping
  EKU) uses ECDSA P-256 keys generated in a temporary directory. The same
  server answers garbage on ``/garbage`` and HTML on ``/html``.
* :func:`softhsm_token` initialises, once per process, a SoftHSM2 token in a
  temporary directory with its own ``SOFTHSM2_CONF``.

Both are module-level singletons rather than fixtures because several test
modules share them and the add-on's ``conftest.py`` is not ours to extend;
each test module wraps them in thin fixtures.
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from asn1crypto import core, tsp
from asn1crypto import x509 as asn1_x509
from certomancer.integrations.animator import Animator, AnimatorArchStore
from certomancer.registry import CertomancerConfig, ServiceLabel
from certomancer.services import TimeStamper
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

SOFTHSM_LIBRARY = "/usr/lib/softhsm/libsofthsm2.so"
FAKE_TIME_HEADER = "X-Certomancer-Fake-Time"

_CONFIG = """
external-url-prefix: "{prefix}"
keysets:
  esign-test:
    path-prefix: "{keydir}"
    keys:
      root: {{path: root.key.pem}}
      tsa: {{path: tsa.key.pem}}
pki-architectures:
  esign-test:
    keyset: esign-test
    entity-defaults:
      country-name: CH
      organization-name: Test Time Authority
    entities:
      root: {{common-name: Test TSA Root}}
      tsa: {{common-name: Test TSA}}
    certs:
      root:
        subject: root
        issuer: root
        validity:
          valid-from: "2020-01-01T00:00:00+0000"
          valid-to: "2100-01-01T00:00:00+0000"
        extensions:
          - id: basic_constraints
            critical: true
            value: {{ca: true}}
          - id: key_usage
            critical: true
            smart-value:
              schema: key-usage
              params: [digital_signature, key_cert_sign, crl_sign]
      tsa:
        issuer: root
        validity:
          valid-from: "2020-01-01T00:00:00+0000"
          valid-to: "2099-01-01T00:00:00+0000"
        extensions:
          - id: key_usage
            critical: true
            smart-value:
              schema: key-usage
              params: [digital_signature]
          - id: extended_key_usage
            critical: true
            value: [time_stamping]
          - id: crl_distribution_points
            smart-value:
              schema: crl-dist-url
              params: {{crl-repo-names: [root]}}
    services:
      crl-repo:
        root:
          for-issuer: root
          signing-key: root
          simulated-update-schedule: "P90D"
      time-stamping:
        tsa:
          signing-key: tsa
          signing-cert: tsa
"""


@dataclass(frozen=True)
class TestTsa:
    """The running loopback TSA.

    :param url: The certomancer TSA endpoint.
    :param garbage_url: Answers 200 ``application/timestamp-reply`` with junk.
    :param html_url: Answers 200 ``text/html``.
    :param slow_url: Answers after 2 seconds.
    :param refuse_url: Answers a well-formed reply with the status "rejection".
    :param replay_url: Answers a real token over the right imprint, but for another nonce (as a
        replayed or cached answer would be).
    :param down_url: A loopback port nothing listens on.
    :param crl_url: The TSA root's CRL.
    :param root: The TSA's trust anchor.
    :param tsa_certificate: The TSA's certificate.
    """

    __test__ = False

    url: str
    garbage_url: str
    html_url: str
    slow_url: str
    refuse_url: str
    replay_url: str
    down_url: str
    crl_url: str
    root: x509.Certificate
    tsa_certificate: x509.Certificate


def _temp_dir(prefix: str) -> Path:
    """A temporary directory removed when the process exits."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    atexit.register(shutil.rmtree, path, True)
    return path


def _write_key(path: Path) -> None:
    """Write a new unencrypted ECDSA P-256 key in PKCS#8 PEM."""
    key = ec.generate_private_key(ec.SECP256R1())
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def _closed_port() -> int:
    """A loopback port that was free a moment ago (nothing listens on it)."""
    server = make_server("127.0.0.1", 0, Response("x"))
    port = server.server_port
    server.server_close()
    return port


class _QuietHandler(WSGIRequestHandler):
    """Request handler that does not log every request to stderr."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Log nothing."""


class _Dispatcher:
    """WSGI app: junk endpoints, the TSA, else certomancer (set once the port is known)."""

    def __init__(self) -> None:
        self.animator: Animator | None = None
        self.tsa_path = ""
        self.stamper: TimeStamper | None = None

    def _timestamp(self, request: Request) -> Response:
        """certomancer's TSA answer, from a stamper made once.

        certomancer's own handler builds a new ``TimeStamper`` per request from certificates it
        built in memory, which asn1crypto re-encodes on every use: 6.5 ms of the 7 ms a token
        took. This one holds the same key and certificates, loaded once from DER; the token is
        the same. A request carrying the fake-time header goes to certomancer's handler.
        """
        assert self.stamper is not None
        query = tsp.TimeStampReq.load(request.get_data())
        if request.path == "/replay":
            query = tsp.TimeStampReq(
                {
                    "version": "v1",
                    "message_imprint": query["message_imprint"],
                    "nonce": query["nonce"].native + 1,
                    "cert_req": True,
                }
            )
        reply = self.stamper.request_tsa_response(query)
        return Response(reply.dump(), mimetype="application/timestamp-reply")

    @staticmethod
    def _refusal() -> Response:
        """A TimeStampResp with only a rejection status (asn1crypto will not build one)."""
        status = tsp.PKIStatusInfo(
            {
                "status": "rejection",
                "status_string": ["policy not accepted"],
                "fail_info": tsp.PKIFailureInfo({"unaccepted_policy"}),
            }
        ).dump()
        reply = core.Sequence.load(b"\x30" + bytes([len(status)]) + status).dump()
        return Response(reply, mimetype="application/timestamp-reply")

    def __call__(self, environ, start_response):  # noqa: ANN001, ANN204
        request = Request(environ)
        if request.path == "/garbage":
            response = Response(b"\x30\x03junk", mimetype="application/timestamp-reply")
        elif request.path == "/slow":
            time.sleep(2)
            response = Response(b"", mimetype="application/timestamp-reply")
        elif request.path == "/refuse":
            response = self._refusal()
        elif request.path == "/replay":
            response = self._timestamp(request)
        elif request.path == "/html":
            response = Response("<html>maintenance</html>", mimetype="text/html")
        elif (
            request.path == self.tsa_path
            and request.method == "POST"
            and FAKE_TIME_HEADER not in request.headers
        ):
            response = self._timestamp(request)
        else:
            assert self.animator is not None
            return self.animator(environ, start_response)
        return response(environ, start_response)


def _cached_stamper(arch, label: str) -> TimeStamper:  # noqa: ANN001 - certomancer's PKIArchitecture
    """certomancer's stamper for ``label``, with its certificates re-loaded from DER."""
    stamper = arch.service_registry.summon_timestamper(ServiceLabel(label))
    stamper.tsa_cert = asn1_x509.Certificate.load(stamper.tsa_cert.dump())
    stamper.certs_to_embed = [
        asn1_x509.Certificate.load(item.dump()) for item in stamper.certs_to_embed
    ]
    return stamper


@functools.cache
def start_tsa() -> TestTsa:
    """Start the loopback TSA (once per process).

    :return: Its URLs and certificates.
    """
    keydir = _temp_dir("esign-tsa-")
    _write_key(keydir / "root.key.pem")
    _write_key(keydir / "tsa.key.pem")
    dispatcher = _Dispatcher()
    server = make_server("127.0.0.1", 0, dispatcher, threaded=True, request_handler=_QuietHandler)
    prefix = f"http://127.0.0.1:{server.server_port}"
    config = CertomancerConfig.from_yaml(
        _CONFIG.format(prefix=prefix, keydir=keydir), key_search_dir=str(keydir)
    )
    arch = config.get_pki_arch("esign-test")
    dispatcher.tsa_path = "/esign-test/tsa/tsa"
    dispatcher.stamper = _cached_stamper(arch, "tsa")
    dispatcher.animator = Animator(
        AnimatorArchStore(config.pki_archs), with_web_ui=False, allow_time_override=True
    )
    thread = threading.Thread(target=server.serve_forever, name="esign-test-tsa", daemon=True)
    thread.start()
    atexit.register(server.shutdown)

    def _load(label: str) -> x509.Certificate:
        return x509.load_der_x509_certificate(arch.get_cert(label).dump())

    return TestTsa(
        url=f"{prefix}{dispatcher.tsa_path}",
        garbage_url=f"{prefix}/garbage",
        html_url=f"{prefix}/html",
        slow_url=f"{prefix}/slow",
        refuse_url=f"{prefix}/refuse",
        replay_url=f"{prefix}/replay",
        down_url=f"http://127.0.0.1:{_closed_port()}/tsa",
        crl_url=f"{prefix}/esign-test/crls/root/latest.crl",
        root=_load("root"),
        tsa_certificate=_load("tsa"),
    )


@dataclass(frozen=True)
class SoftHsmToken:
    """An initialised SoftHSM2 token.

    :param library: Path of the PKCS#11 module.
    :param label: Token label.
    :param pin: User PIN.
    :param so_pin: Security officer PIN.
    """

    library: str
    label: str
    pin: str
    so_pin: str


@functools.cache
def softhsm_token() -> SoftHsmToken:
    """Initialise a private SoftHSM2 token (once per process).

    Sets ``SOFTHSM2_CONF`` for this process, which SoftHSM reads when the
    library is first loaded.

    :return: The token's coordinates.
    """
    root = _temp_dir("esign-softhsm-")
    (root / "tokens").mkdir()
    conf = root / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {root / 'tokens'}\n"
        "objectstore.backend = file\n"
        "log.level = ERROR\n"
        "slots.removable = false\n"
    )
    os.environ["SOFTHSM2_CONF"] = str(conf)
    token = SoftHsmToken(library=SOFTHSM_LIBRARY, label="esign-test", pin="1234", so_pin="123456")
    subprocess.run(
        [
            "softhsm2-util",
            "--init-token",
            "--free",
            "--label",
            token.label,
            "--so-pin",
            token.so_pin,
            "--pin",
            token.pin,
        ],
        check=True,
        capture_output=True,
        env={**os.environ, "SOFTHSM2_CONF": str(conf)},
    )
    return token
