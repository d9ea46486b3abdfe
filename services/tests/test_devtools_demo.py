"""What ``make demo`` prints and starts besides Odoo (``scripts/devtools/demo.py``, ``tsa.py``):
the log-ins of the banner and the README, the loopback TSA, and Odoo's HTTP port."""

from __future__ import annotations

import hashlib
import shutil
import socket
import sys
import tempfile
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature

_ROOT = Path(__file__).resolve().parents[2]
if str(_ROOT / "scripts") not in sys.path:
    sys.path.insert(0, str(_ROOT / "scripts"))

from devtools import demo  # noqa: E402
from devtools.cluster import port_is_free  # noqa: E402
from devtools.tsa import DemoTsa, QuickStamper, ensure_certificates  # noqa: E402

from services.pki_ca import generate_ca  # noqa: E402
from services.pki_errors import TimestampUnavailableError  # noqa: E402
from services.pki_issue import SignerIdentity, issue_signer_certificate  # noqa: E402
from services.pki_keys import generate_private_key, utc  # noqa: E402
from services.pki_revocation import build_crl  # noqa: E402
from services.pki_sign import CachedKeySigner, sign_detached  # noqa: E402
from services.pki_timestamp import attach_timestamp, request_timestamp  # noqa: E402
from services.pki_verify import Verdict, verify_signature  # noqa: E402

# --- The log-ins ----------------------------------------------------------------------


def test_banner_lists_every_demo_user_and_the_readme_every_one_of_them() -> None:
    logins = [login for _name, login in demo.demo_logins()]
    for expected in ("rd.engineer", "rd.lead", "qa.manager", "auditor", "admin"):
        assert expected in logins
    assert len(logins) == len(set(logins))
    readme = (_ROOT / "README.md").read_text()
    assert sorted(demo.readme_logins(readme)) == sorted(logins)


def test_banner_prints_the_list(capsys: pytest.CaptureFixture[str]) -> None:
    tsa = DemoTsa(Path("/nonexistent"))
    tsa.url = "http://127.0.0.1:1/tsa"
    demo.print_demo_banner(Path("/odoo"), "test", 8069, tsa)
    out = capsys.readouterr().out
    for name, login in demo.demo_logins():
        assert login in out and name in out


def test_a_user_missing_from_the_readme_is_seen() -> None:
    readme = (_ROOT / "README.md").read_text()
    cut = "\n".join(ln for ln in readme.splitlines() if "`rd.lead`" not in ln)
    assert "rd.lead" not in demo.readme_logins(cut)
    assert sorted(demo.readme_logins(cut)) != sorted(login for _n, login in demo.demo_logins())


def test_a_demo_user_added_to_the_xml_reaches_the_banner(tmp_path: Path) -> None:
    (tmp_path / "demo").mkdir()
    (tmp_path / "__manifest__.py").write_text("{'demo': ['demo/users.xml']}")
    (tmp_path / "demo" / "users.xml").write_text(
        '<odoo><record id="u" model="res.users"><field name="name">New One</field>'
        '<field name="login">new.one</field></record>'
        '<record id="p" model="res.partner"><field name="login">not.a.user</field></record>'
        "</odoo>"
    )
    assert demo.demo_logins(tmp_path) == [("New One", "new.one"), demo.ADMIN_LOGIN]


def test_odoo_listens_on_loopback_unless_told(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MEDDEV_HTTP_INTERFACE", raising=False)
    assert demo.http_interface() == "127.0.0.1"
    monkeypatch.setenv("MEDDEV_HTTP_INTERFACE", "0.0.0.0")
    assert demo.http_interface() == "0.0.0.0"


# --- The loopback TSA -----------------------------------------------------------------


@pytest.fixture()
def folder() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="meddev-tsa-"))
    (path / "tsa").mkdir()
    (path / "tsa" / "tsa.json").write_text('{"port": 0}')  # any free port, not the demo's
    yield path / "tsa"
    shutil.rmtree(path, ignore_errors=True)


def _signed() -> tuple[bytes, object, object]:
    ca = generate_ca("Demo e-Signature CA", organization="Demo")
    key = generate_private_key()
    cert = issue_signer_certificate(ca, SignerIdentity("Li Na", "qa.manager"), key.public_key())
    return sign_detached(b"lot L-1 released", CachedKeySigner(key, cert, ca.certificates)), ca, key


def test_demo_tsa_stamps_and_the_token_verifies_against_its_kept_root(folder: Path) -> None:
    tsa = DemoTsa(folder)
    try:
        url = tsa.start()
        assert url.startswith("http://127.0.0.1:")
        cms_der, ca, _key = _signed()
        stamp = request_timestamp(cms_der, [url], timeout=5)
        root = x509.load_pem_x509_certificate(tsa.root_pem.encode())
        result = verify_signature(
            attach_timestamp(cms_der, stamp.token),
            trusted_ca=ca.root,
            content=b"lot L-1 released",
            tsa_roots=[root],
            crl=build_crl(ca, [], crl_number=1, this_update=utc() + timedelta(seconds=2)),
        )
        assert result.verdict is Verdict.VALID, result.problems
    finally:
        tsa.stop()
    # Started again, it keeps its root (yesterday's tokens still verify) and its port.
    before = hashlib.sha256(tsa.root_pem.encode()).hexdigest()
    again = DemoTsa(folder)
    try:
        assert again.start() == url
        assert hashlib.sha256(again.root_pem.encode()).hexdigest() == before
    finally:
        again.stop()


def test_token_of_the_demo_tsa_fails_against_another_root(folder: Path) -> None:
    tsa = DemoTsa(folder)
    try:
        cms_der, ca, _key = _signed()
        stamp = request_timestamp(cms_der, [tsa.start()], timeout=5)
    finally:
        tsa.stop()
    stranger = generate_ca("Not the TSA root", organization="Elsewhere").root
    result = verify_signature(
        attach_timestamp(cms_der, stamp.token),
        trusted_ca=ca.root,
        content=b"lot L-1 released",
        tsa_roots=[stranger],
        crl=build_crl(ca, [], crl_number=1, this_update=utc() + timedelta(seconds=2)),
    )
    assert result.verdict is not Verdict.VALID


def _stampers(folder: Path) -> tuple[QuickStamper, object, bytes]:
    from asn1crypto import keys, pem  # noqa: PLC0415
    from asn1crypto import x509 as asn1_x509  # noqa: PLC0415
    from certomancer.services import TimeStamper  # noqa: PLC0415

    ensure_certificates(folder)

    def der(name: str) -> bytes:
        return pem.unarmor((folder / name).read_bytes())[2]

    quick = QuickStamper(
        der("tsa.cert.pem"), (folder / "tsa.key.pem").read_bytes(), [der("root.cert.pem")]
    )
    reference = TimeStamper(
        tsa_cert=asn1_x509.Certificate.load(der("tsa.cert.pem")),
        tsa_key=keys.PrivateKeyInfo.load(der("tsa.key.pem")),
        certs_to_embed=[asn1_x509.Certificate.load(der("root.cert.pem"))],
    )
    return quick, reference, der("tsa.cert.pem")


def _request(nonce: int | None = 5) -> bytes:
    from asn1crypto import tsp  # noqa: PLC0415

    request = {
        "version": 1,
        "message_imprint": {
            "hash_algorithm": {"algorithm": "sha256"},
            "hashed_message": hashlib.sha256(b"lot L-1 released").digest(),
        },
        "cert_req": True,
    }
    if nonce is not None:
        request["nonce"] = nonce
    return tsp.TimeStampReq(request).dump()


def _comparable(reply: object) -> dict:
    """A token's fields but those that differ from one token to the next."""
    native = reply.native
    signed = native["time_stamp_token"]["content"]
    for key in ("serial_number", "gen_time"):
        signed["encap_content_info"]["content"].pop(key)
    info = signed["signer_infos"][0]
    info.pop("signature")
    info["signed_attrs"] = sorted(
        (attr["type"], repr(attr["values"]))
        for attr in info["signed_attrs"]
        if attr["type"] not in ("signing_time", "message_digest")
    )
    signed["certificates"] = sorted(repr(cert) for cert in signed["certificates"])
    return native


@pytest.mark.parametrize("nonce", [5, None])
def test_quick_tokens_have_the_fields_of_certomancers(folder: Path, nonce: int | None) -> None:
    """The demo TSA's token is certomancer's token (the reference of the PKI tests) field
    for field, encoded once for what never changes; its signature is the TSA key's over its
    signed attributes, whose message digest is that of its TSTInfo."""
    from asn1crypto import tsp  # noqa: PLC0415
    from cryptography.hazmat.primitives import hashes  # noqa: PLC0415
    from cryptography.hazmat.primitives.asymmetric import ec  # noqa: PLC0415

    quick, reference, tsa_der = _stampers(folder)
    ours = tsp.TimeStampResp.load(quick.reply(_request(nonce)))
    theirs = tsp.TimeStampResp.load(
        reference.request_tsa_response(tsp.TimeStampReq.load(_request(nonce))).dump()
    )
    assert _comparable(ours) == _comparable(theirs)
    signed = ours["time_stamp_token"]["content"]
    info = signed["signer_infos"][0]
    digest = next(a for a in info["signed_attrs"] if a["type"].native == "message_digest")
    tst_info = signed["encap_content_info"]["content"].contents
    assert digest["values"][0].native == hashlib.sha256(tst_info).digest()
    key = x509.load_der_x509_certificate(tsa_der).public_key()
    attrs = info["signed_attrs"].untag().dump()
    key.verify(info["signature"].native, attrs, ec.ECDSA(hashes.SHA256()))
    # The twin: one changed bit of the signed attributes (their last byte) breaks it.
    altered = attrs[:-1] + bytes([attrs[-1] ^ 1])
    with pytest.raises(InvalidSignature):
        key.verify(info["signature"].native, altered, ec.ECDSA(hashes.SHA256()))


def test_quick_stamper_refuses_what_is_not_a_timestamp_request(folder: Path) -> None:
    quick, _reference, _der = _stampers(folder)
    with pytest.raises(ValueError):
        quick.reply(b"not DER at all")


def test_taken_tsa_port_falls_back_to_a_free_one(folder: Path) -> None:
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen()
    (folder / "tsa.json").write_text(f'{{"port": {blocker.getsockname()[1]}}}')
    tsa = DemoTsa(folder)
    try:
        url = tsa.start()
        assert f":{blocker.getsockname()[1]}/" not in url
        request_timestamp(_signed()[0], [url], timeout=5)
    finally:
        tsa.stop()
        blocker.close()


def test_a_dead_tsa_is_reported_and_refuses_timestamps(folder: Path) -> None:
    died = threading.Event()
    codes: list[int] = []
    tsa = DemoTsa(folder)
    url = tsa.start(on_death=lambda code: (codes.append(code), died.set()))
    tsa.proc.kill()
    assert died.wait(10)
    assert codes == [-9] and not tsa.alive()
    with pytest.raises(TimestampUnavailableError):
        request_timestamp(_signed()[0], [url], timeout=2)
    tsa.stop()


def test_a_stopped_tsa_is_not_reported_as_dead(folder: Path) -> None:
    died = threading.Event()
    tsa = DemoTsa(folder)
    tsa.start(on_death=lambda _code: died.set())
    tsa.stop()
    assert not died.wait(1)


# --- Odoo's HTTP port -----------------------------------------------------------------


def test_port_is_free_sees_a_listener_and_a_bound_socket() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    bound = socket.socket()
    bound.bind(("127.0.0.1", 0))  # bound, not listening: connect fails, bind fails too
    try:
        assert not port_is_free(listener.getsockname()[1])
        assert not port_is_free(bound.getsockname()[1])
    finally:
        listener.close()
        bound.close()


# A stand-in for Odoo's server: binds --http-port on --http-interface, answers one connection,
# and fails as Odoo does ("Address already in use") on the port given as RACE, as when another
# process takes the port between the free-port check and the bind.
FAKE_ODOO = """
import socket, sys
args = sys.argv[1:]
host, port = args[args.index("--http-interface") + 1], int(args[args.index("--http-port") + 1])
if port == int(sys.argv[1]):
    sys.stderr.write("OSError: [Errno 98] Address already in use\\n")
    sys.exit(1)
with socket.socket() as s:
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, port))
    s.listen()
    s.settimeout(20)
    s.accept()[0].close()
print("interface", host, file=sys.stderr)
"""


def _free() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_port_taken_as_odoo_binds_moves_to_the_next(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(demo, "HTTP_INTERFACE", "127.0.0.1")
    port = _free()
    shown: list[int] = []
    argv = [sys.executable, "-c", FAKE_ODOO, str(port)]
    assert demo.serve(argv, {}, port, shown.append) == 0
    assert shown and shown[0] > port
    captured = capsys.readouterr()
    assert f"HTTP port {port} was taken as Odoo started" in captured.out
    assert "interface 127.0.0.1" in captured.err


def test_port_taken_before_the_start_is_skipped(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(demo, "HTTP_INTERFACE", "127.0.0.1")
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen()
    port = blocker.getsockname()[1]
    shown: list[int] = []
    try:
        argv = [sys.executable, "-c", FAKE_ODOO, "0"]
        assert demo.serve(argv, {}, port, shown.append) == 0
    finally:
        blocker.close()
    assert shown and shown[0] != port
    assert f"HTTP port {port} is taken" in capsys.readouterr().out


def test_odoo_that_fails_otherwise_is_not_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(demo, "HTTP_INTERFACE", "127.0.0.1")
    shown: list[int] = []
    argv = [sys.executable, "-c", "import sys; sys.exit(3)"]
    assert demo.serve(argv, {}, _free(), shown.append) == 3
    assert shown == []


def test_demo_tsa_keeps_the_connection_and_refuses_what_is_not_a_request(folder: Path) -> None:
    """Two tokens over one HTTP/1.1 connection (a signer's session keeps it); garbage gets a
    400 and the connection still serves the next token."""
    import http.client  # noqa: PLC0415
    from urllib.parse import urlsplit  # noqa: PLC0415

    from asn1crypto import tsp  # noqa: PLC0415

    tsa = DemoTsa(folder)
    try:
        url = urlsplit(tsa.start())
        query = tsp.TimeStampReq(
            {
                "version": 1,
                "message_imprint": {
                    "hash_algorithm": {"algorithm": "sha256"},
                    "hashed_message": hashlib.sha256(b"lot L-1").digest(),
                },
                "nonce": 42,
                "cert_req": True,
            }
        ).dump()
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=5)
        answers, sockets = [], []
        for body in (query, b"not a timestamp request", query):
            conn.request("POST", url.path, body, {"Content-Type": "application/timestamp-query"})
            reply = conn.getresponse()
            answers.append((reply.status, reply.getheader("Content-Type"), reply.read()))
            assert not reply.will_close
            sockets.append(conn.sock)
        assert sockets[0] is not None and sockets.count(sockets[0]) == 3  # one connection
        assert [status for status, _type, _body in answers] == [200, 400, 200]
        assert answers[0][1] == "application/timestamp-reply"
        granted = tsp.TimeStampResp.load(answers[2][2])
        assert granted["status"]["status"].native == "granted"
        conn.close()
    finally:
        tsa.stop()
