"""Tests for services.pki_sign, pki_timestamp and pki_verify: CAdES signing, RFC 3161
timestamps from a real loopback TSA (certomancer), and offline verification, tampering
included."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from asn1crypto import cms
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from pki_fixtures import FAKE_TIME_HEADER, TestTsa, start_tsa

from services.pki_ca import CertificateAuthority, generate_ca
from services.pki_errors import PkiInputError, TimestampUnavailableError
from services.pki_issue import SignerIdentity, issue_signer_certificate
from services.pki_keys import KeyType, PrivateKey, generate_private_key, utc
from services.pki_revocation import assert_usable, build_crl, crl_covers, revoke
from services.pki_sign import CachedKeySigner, sign_detached
from services.pki_timestamp import (
    TimestampResult,
    attach_timestamp,
    extract_timestamp,
    request_timestamp,
    signature_imprint,
    timestamp_imprint,
)
from services.pki_verify import Verdict, verify_signature
from services.snapshot import RecordSnapshot, canonical_bytes, content_hash

SNAPSHOT = RecordSnapshot("quality.dhr", 42, {"lot": "L-2026-001", "result": "pass", "批准": "是"})
CONTENT = canonical_bytes(SNAPSHOT)


@dataclass(frozen=True)
class Enrolled:
    ca: CertificateAuthority
    key: PrivateKey
    cert: x509.Certificate
    signer: CachedKeySigner


def _enrol(
    key_type: KeyType = KeyType.ECDSA_P256, valid_for: timedelta = timedelta(days=730)
) -> Enrolled:
    ca = generate_ca("ACME e-Signature CA", organization="ACME Medical", key_type=key_type)
    key = generate_private_key(key_type)
    cert = issue_signer_certificate(
        ca, SignerIdentity("Alice", "alice", "alice@example.com"), key.public_key(),
        valid_for=valid_for,
    )  # fmt: skip
    return Enrolled(ca, key, cert, CachedKeySigner(key, cert, ca.certificates))


@pytest.fixture(scope="module")
def tsa() -> TestTsa:
    return start_tsa()


@pytest.fixture(scope="module")
def alice() -> Enrolled:
    return _enrol()


@pytest.fixture(scope="module")
def signed(alice: Enrolled, tsa: TestTsa) -> tuple[bytes, TimestampResult]:
    """A CMS over CONTENT and its token (not attached)."""
    cms_der = sign_detached(CONTENT, alice.signer)
    return cms_der, request_timestamp(cms_der, [tsa.url], timeout=5)


def _crl_after(ca: CertificateAuthority, *revocations, seconds: int = 2):  # noqa: ANN001, ANN202
    """A CRL issued a little after now, so it covers a signature just made."""
    return build_crl(ca, revocations, crl_number=1, this_update=utc() + timedelta(seconds=seconds))


def _verify(cms_der: bytes, alice: Enrolled, tsa: TestTsa, **kwargs):  # noqa: ANN003, ANN202
    kwargs.setdefault("crl", _crl_after(alice.ca))
    kwargs.setdefault("content", CONTENT)
    kwargs.setdefault("tsa_roots", [tsa.root])
    return verify_signature(cms_der, trusted_ca=alice.ca.root, **kwargs)


def _flip(data: bytes, needle: bytes) -> bytes:
    """Flip one bit inside the first occurrence of ``needle``."""
    index = data.index(needle) + len(needle) // 2
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1 :]


# --- Signing ------------------------------------------------------------------------


def test_cms_is_detached_cades_with_chain(alice: Enrolled, signed) -> None:  # noqa: ANN001
    """Verifies: R22, S5"""
    cms_der, _stamp = signed
    info = cms.ContentInfo.load(cms_der)
    data = info["content"]
    assert data["encap_content_info"]["content"].native is None  # detached
    embedded = {cert.chosen.dump() for cert in data["certificates"]}
    assert alice.cert.public_bytes(Encoding.DER) in embedded
    assert alice.ca.certificate.public_bytes(Encoding.DER) in embedded
    attrs = {attr["type"].native: attr for attr in data["signer_infos"][0]["signed_attrs"]}
    assert "signing_certificate_v2" in attrs
    # The signed digest is the hex of the stored content hash.
    digest = attrs["message_digest"]["values"][0].native
    assert content_hash(SNAPSHOT).endswith(digest.hex())


def test_signing_certificate_v2_names_the_signer(alice: Enrolled, signed) -> None:  # noqa: ANN001
    """Verifies: R1, R22"""
    cms_der, _stamp = signed
    signer_info = cms.ContentInfo.load(cms_der)["content"]["signer_infos"][0]
    attrs = {attr["type"].native: attr for attr in signer_info["signed_attrs"]}
    ess = attrs["signing_certificate_v2"]["values"][0]["certs"][0]
    assert (
        ess["cert_hash"].native == hashlib.sha256(alice.cert.public_bytes(Encoding.DER)).digest()
    )
    assert ess["issuer_serial"]["serial_number"].native == alice.cert.serial_number
    assert abs(attrs["signing_time"]["values"][0].native - utc()) < timedelta(minutes=1)


@pytest.mark.parametrize("key_type", list(KeyType))
def test_openssl_verifies_the_cms_and_refuses_other_content(
    key_type: KeyType, tmp_path: Path
) -> None:
    """An independent implementation (OpenSSL) accepts what we build, and only for its content.

    Verifies: R11, R22
    """
    openssl = shutil.which("openssl")
    assert openssl, "the openssl command is needed for this cross-check"
    enrolled = _enrol(key_type)
    (tmp_path / "sig.der").write_bytes(sign_detached(CONTENT, enrolled.signer))
    (tmp_path / "ca.pem").write_bytes(enrolled.ca.root.public_bytes(Encoding.PEM))

    def verify(content: bytes) -> subprocess.CompletedProcess:
        (tmp_path / "content").write_bytes(content)
        return subprocess.run(
            [openssl, "cms", "-verify", "-binary", "-inform", "DER", "-purpose", "any",
             "-in", str(tmp_path / "sig.der"), "-content", str(tmp_path / "content"),
             "-CAfile", str(tmp_path / "ca.pem"), "-out", os.devnull],
            capture_output=True, text=True, check=False,
        )  # fmt: skip

    good = verify(CONTENT)
    assert good.returncode == 0, good.stderr
    bad = verify(CONTENT.replace(b"pass", b"fail"))
    assert bad.returncode != 0 and "verify error" in bad.stderr


def test_cached_signer_refuses_a_foreign_key(alice: Enrolled) -> None:
    """Verifies: R22"""
    with pytest.raises(PkiInputError):
        CachedKeySigner(generate_private_key(), alice.cert)


# --- Timestamps ---------------------------------------------------------------------


def test_timestamp_covers_the_signature(signed) -> None:  # noqa: ANN001
    """Verifies: R23"""
    cms_der, stamp = signed
    token = cms.ContentInfo.load(stamp.token)
    tst_info = token["content"]["encap_content_info"]["content"].parsed
    assert tst_info["message_imprint"]["hashed_message"].native == signature_imprint(cms_der)
    assert abs(stamp.drift) < timedelta(seconds=5)
    assert not stamp.drift_exceeds(timedelta(minutes=1))
    assert stamp.gen_time.tzinfo is not None
    assert stamp.attempts == ()


def test_tsas_are_tried_in_order(alice: Enrolled, tsa: TestTsa) -> None:
    """Verifies: R23"""
    cms_der = sign_detached(CONTENT, alice.signer)
    stamp = request_timestamp(
        cms_der, [tsa.down_url, tsa.garbage_url, tsa.html_url, tsa.url], timeout=2
    )
    assert stamp.tsa_url == tsa.url
    assert [attempt.problem for attempt in stamp.attempts] == ["unreachable", "garbage", "garbage"]


def test_timestamp_of_a_bare_digest(tsa: TestTsa) -> None:
    """Verifies: R23"""
    digest = hashlib.sha256(b"audit chain head").digest()
    stamp = timestamp_imprint(digest, [tsa.url], timeout=2)
    assert stamp.token and stamp.tsa_url == tsa.url
    with pytest.raises(PkiInputError):
        timestamp_imprint(b"short", [tsa.url])
    with pytest.raises(TimestampUnavailableError):
        timestamp_imprint(digest, [tsa.down_url], timeout=1)


@pytest.mark.parametrize(
    ("which", "problem"),
    [
        ("down_url", "unreachable"),
        ("garbage_url", "garbage"),
        ("html_url", "garbage"),
        ("refuse_url", "refused"),
        ("replay_url", "garbage"),
    ],
)
def test_no_usable_tsa(alice: Enrolled, tsa: TestTsa, which: str, problem: str) -> None:
    """Verifies: R23"""
    cms_der = sign_detached(CONTENT, alice.signer)
    url = getattr(tsa, which)
    with pytest.raises(TimestampUnavailableError) as caught:
        request_timestamp(cms_der, [url], timeout=2)
    assert [(item.url, item.problem) for item in caught.value.attempts] == [(url, problem)]
    assert url in str(caught.value)


def test_tsa_timeout(alice: Enrolled, tsa: TestTsa) -> None:
    """Verifies: R23"""
    cms_der = sign_detached(CONTENT, alice.signer)
    started = time.perf_counter()
    with pytest.raises(TimestampUnavailableError) as caught:
        request_timestamp(cms_der, [tsa.slow_url], timeout=0.3)
    assert time.perf_counter() - started < 1.5
    assert caught.value.attempts[0].problem == "unreachable"


def test_no_tsa_configured(signed) -> None:  # noqa: ANN001
    """Verifies: R23"""
    with pytest.raises(TimestampUnavailableError, match="No timestamp authority"):
        request_timestamp(signed[0], [])
    with pytest.raises(PkiInputError):
        request_timestamp(b"not cms", ["http://127.0.0.1:1/"])


def test_drift_is_reported(alice: Enrolled, tsa: TestTsa) -> None:
    """Verifies: R27"""
    cms_der = sign_detached(CONTENT, alice.signer)
    ahead = (utc() + timedelta(hours=1)).isoformat()
    stamp = request_timestamp(cms_der, [tsa.url], headers={FAKE_TIME_HEADER: ahead})
    assert timedelta(minutes=59) < stamp.drift < timedelta(minutes=61)
    assert stamp.drift_exceeds(timedelta(minutes=5))


def test_attach_and_extract(signed) -> None:  # noqa: ANN001
    """Verifies: R23"""
    cms_der, stamp = signed
    assert extract_timestamp(cms_der) is None
    stamped = attach_timestamp(cms_der, stamp.token)
    assert extract_timestamp(stamped) == stamp.token
    # Attaching is idempotent: the token is replaced, not added twice.
    assert attach_timestamp(stamped, stamp.token) == stamped
    assert signature_imprint(stamped) == signature_imprint(cms_der)


def test_attach_refuses_a_token_of_another_signature(alice: Enrolled, signed) -> None:  # noqa: ANN001
    """Verifies: R23"""
    other = sign_detached(CONTENT, alice.signer)  # ECDSA: a new random signature
    with pytest.raises(PkiInputError, match="other data"):
        attach_timestamp(other, signed[1].token)


# --- Verification -------------------------------------------------------------------


def test_valid_with_embedded_or_separate_token(alice: Enrolled, tsa: TestTsa, signed) -> None:  # noqa: ANN001
    """Verifies: R22, R23"""
    cms_der, stamp = signed
    for result in (
        _verify(attach_timestamp(cms_der, stamp.token), alice, tsa),
        _verify(cms_der, alice, tsa, token=stamp.token),
    ):
        assert result.verdict is Verdict.VALID, result.problems
        assert result.valid and result.problems == ()
        assert result.signer_login == "alice"
        assert result.signer_serial == alice.cert.serial_number
        assert result.timestamp_time == stamp.gen_time
        assert "Test TSA" in (result.tsa_subject or "")
    result = _verify(
        cms_der,
        alice,
        tsa,
        token=stamp.token,
        expected_content_hash=content_hash(SNAPSHOT),
        expected_login="alice",
    )
    assert result.valid, result.problems


def test_rsa_3072_end_to_end(tsa: TestTsa) -> None:
    """Verifies: R22"""
    bob = _enrol(KeyType.RSA_3072)
    cms_der = sign_detached(CONTENT, bob.signer)
    stamp = request_timestamp(cms_der, [tsa.url])
    assert _verify(attach_timestamp(cms_der, stamp.token), bob, tsa).valid


def test_tampered_content(alice: Enrolled, tsa: TestTsa, signed) -> None:  # noqa: ANN001
    """Verifies: R11"""
    cms_der, stamp = signed
    altered = CONTENT.replace(b"pass", b"fail")
    result = _verify(cms_der, alice, tsa, token=stamp.token, content=altered)
    assert result.verdict is Verdict.INVALID
    assert "content_mismatch" in result.codes
    other_hash = content_hash(RecordSnapshot("quality.dhr", 43, {}))
    result = _verify(cms_der, alice, tsa, token=stamp.token, expected_content_hash=other_hash)
    assert result.codes == {"content_hash_mismatch"}
    result = _verify(cms_der, alice, tsa, token=stamp.token, expected_content_hash="junk")
    assert result.codes == {"content_hash_mismatch"}


def test_tampered_cms(alice: Enrolled, tsa: TestTsa, signed) -> None:  # noqa: ANN001
    """Verifies: R11, S5"""
    cms_der, stamp = signed
    signature = cms.ContentInfo.load(cms_der)["content"]["signer_infos"][0]["signature"].native
    result = _verify(_flip(cms_der, signature), alice, tsa, token=stamp.token)
    assert result.verdict is Verdict.INVALID
    # The token no longer covers the altered signature value either.
    assert "timestamp_mismatch" in result.codes or "bad_signature" in result.codes
    stamped = attach_timestamp(cms_der, stamp.token)
    result = _verify(_flip(stamped, signature), alice, tsa)
    assert result.verdict is Verdict.INVALID
    # A signed attribute altered (the message digest).
    info = cms.ContentInfo.load(cms_der)
    digest = next(
        attr["values"][0].native
        for attr in info["content"]["signer_infos"][0]["signed_attrs"]
        if attr["type"].native == "message_digest"
    )
    result = _verify(_flip(stamped, digest), alice, tsa)
    assert result.verdict is Verdict.INVALID
    assert result.codes & {"bad_signature", "content_mismatch"}
    for junk in (b"", b"junk", cms_der[:-10]):
        result = _verify(junk, alice, tsa)
        assert result.verdict is Verdict.INVALID
        assert result.codes == {"malformed_cms"}


def test_tampered_token(alice: Enrolled, tsa: TestTsa, signed) -> None:  # noqa: ANN001
    """Verifies: R23"""
    cms_der, stamp = signed
    token = cms.ContentInfo.load(stamp.token)
    tsa_signature = token["content"]["signer_infos"][0]["signature"].native
    result = _verify(cms_der, alice, tsa, token=_flip(stamp.token, tsa_signature))
    assert result.verdict is Verdict.INVALID
    assert "bad_timestamp" in result.codes
    result = _verify(cms_der, alice, tsa, token=b"\x30\x03abc")
    assert result.verdict is Verdict.INVALID
    assert "malformed_timestamp" in result.codes
    other = request_timestamp(sign_detached(b"other", alice.signer), [tsa.url])
    result = _verify(cms_der, alice, tsa, token=other.token)
    assert result.verdict is Verdict.INVALID
    assert "timestamp_mismatch" in result.codes


def test_untrusted_signer_tsa_and_wrong_user(alice: Enrolled, tsa: TestTsa, signed) -> None:  # noqa: ANN001
    """Verifies: R1, R22"""
    cms_der, stamp = signed
    stranger = generate_ca("Stranger CA")
    result = verify_signature(
        cms_der,
        CONTENT,
        trusted_ca=stranger.certificate,
        tsa_roots=[tsa.root],
        crl=_crl_after(stranger),
        token=stamp.token,
    )
    assert result.verdict is Verdict.INVALID
    assert "untrusted_signer" in result.codes
    result = _verify(cms_der, alice, tsa, token=stamp.token, tsa_roots=[alice.ca.root])
    assert result.codes == {"untrusted_timestamp"}
    result = _verify(cms_der, alice, tsa, token=stamp.token, expected_login="bob")
    assert result.codes == {"wrong_signer"}


def test_incomplete_evidence_is_indeterminate(alice: Enrolled, tsa: TestTsa, signed) -> None:  # noqa: ANN001
    """Verifies: R22"""
    cms_der, stamp = signed
    result = _verify(cms_der, alice, tsa)
    assert result.verdict is Verdict.INDETERMINATE
    assert result.codes == {"no_timestamp"}
    result = _verify(cms_der, alice, tsa, token=stamp.token, crl=None)
    assert result.verdict is Verdict.INDETERMINATE
    assert result.codes == {"no_revocation_info"}
    stale = build_crl(alice.ca, [], crl_number=1, this_update=stamp.gen_time - timedelta(hours=1))
    result = _verify(cms_der, alice, tsa, token=stamp.token, crl=stale)
    assert result.codes == {"stale_revocation_info"}
    foreign = _crl_after(generate_ca("Other CA"))
    result = _verify(cms_der, alice, tsa, token=stamp.token, crl=foreign)
    assert result.verdict is Verdict.INVALID
    assert result.codes == {"bad_revocation_info"}


def test_signature_before_revocation_stays_valid(tsa: TestTsa) -> None:
    """Verifies: R7"""
    carol = _enrol()
    cms_der = sign_detached(CONTENT, carol.signer)
    stamp = request_timestamp(cms_der, [tsa.url])
    # Revoked in the next second after the timestamp (CRL times are whole seconds).
    revocation = revoke(carol.cert, "key_compromise", at=stamp.gen_time + timedelta(seconds=1))
    crl = build_crl(carol.ca, [revocation], crl_number=2, this_update=revocation.revoked_at)
    result = _verify(cms_der, carol, tsa, token=stamp.token, crl=crl)
    assert result.verdict is Verdict.VALID, result.problems
    assert "revoked" in result.notes[0] and "after the signature" in result.notes[0]


def test_signature_after_revocation_is_invalid(tsa: TestTsa) -> None:
    """Verifies: R7"""
    dave = _enrol()
    revocation = revoke(dave.cert, "privilege_withdrawn", at=utc() - timedelta(seconds=1))
    # The signing service refuses at once (R7)...
    with pytest.raises(Exception, match="revoked") as caught:
        assert_usable(dave.cert, login="alice", revocations=[revocation])
    assert caught.value.problem == "revoked"  # type: ignore[attr-defined]
    # ...and a signature made anyway (a hostile server) fails verification.
    cms_der = sign_detached(CONTENT, dave.signer)
    stamp = request_timestamp(cms_der, [tsa.url])
    crl = _crl_after(dave.ca, revocation)
    result = _verify(cms_der, dave, tsa, token=stamp.token, crl=crl)
    assert result.verdict is Verdict.INVALID
    assert result.codes == {"revoked"}


def test_certificate_expired_at_timestamp_time(tsa: TestTsa) -> None:
    """Verifies: R22"""
    erin = _enrol(valid_for=timedelta(days=1))
    cms_der = sign_detached(CONTENT, erin.signer)
    later = (utc() + timedelta(days=3)).isoformat()
    stamp = request_timestamp(cms_der, [tsa.url], headers={FAKE_TIME_HEADER: later})
    crl = build_crl(erin.ca, [], crl_number=1, this_update=stamp.gen_time + timedelta(seconds=1))
    result = _verify(cms_der, erin, tsa, token=stamp.token, crl=crl)
    assert result.verdict is Verdict.INVALID
    assert "untrusted_signer" in result.codes


# --- Which CRL proves the status at the signing time -------------------------------


def test_crl_covers_only_a_later_second() -> None:
    """A CRL speaks for the second it was issued in; it must be issued after the signature's.

    Verifies: R7
    """
    signed_at = utc().replace(microsecond=0) + timedelta(milliseconds=400)
    second = signed_at.replace(microsecond=0)
    assert not crl_covers(second - timedelta(seconds=1), signed_at)
    assert not crl_covers(second, signed_at)  # the same second: it may predate a revocation
    assert crl_covers(second + timedelta(seconds=1), signed_at)
    # Naive times are UTC, as Odoo stores them.
    assert crl_covers((second + timedelta(seconds=1)).replace(tzinfo=None), signed_at)


@pytest.mark.parametrize(
    ("offset", "covered"),
    [(-1, False), (0, False), (1, True)],
    ids=["one-second-before", "exactly-at", "one-second-after"],
)
def test_crl_issued_at_the_boundary_of_the_timestamp(
    alice: Enrolled, tsa: TestTsa, offset: int, covered: bool
) -> None:
    """The timestamp dates the signature to the second: a CRL issued one second before or in
    that very second leaves the revocation status open; one issued a second later proves it.

    Verifies: R7
    """
    cms_der = sign_detached(CONTENT, alice.signer)
    at = utc().replace(microsecond=0) + timedelta(minutes=5)  # a whole second, after enrolment
    stamp = request_timestamp(cms_der, [tsa.url], headers={FAKE_TIME_HEADER: at.isoformat()})
    assert stamp.gen_time == at
    issued = at + timedelta(seconds=offset)
    crl = build_crl(alice.ca, [], crl_number=1, this_update=issued)
    result = _verify(cms_der, alice, tsa, token=stamp.token, crl=crl)
    if covered:
        assert result.verdict is Verdict.VALID, result.problems
        return
    assert result.verdict is Verdict.INDETERMINATE
    assert result.codes == {"stale_revocation_info"}
    [problem] = result.problems
    # The message names both times, in UTC, in the right order.
    assert f"issued at {issued:%Y-%m-%d %H:%M:%S} UTC, not after" in problem.message
    assert f"timestamp time {at:%Y-%m-%d %H:%M:%S} UTC" in problem.message
    assert "before the signature" not in problem.message


def test_without_a_timestamp_the_crl_is_judged_at_the_verification_time(
    alice: Enrolled, tsa: TestTsa, signed
) -> None:  # noqa: ANN001
    """Nothing dates an untimestamped signature: the message says which time it compared.

    Verifies: R7
    """
    cms_der, _stamp = signed
    now = utc().replace(microsecond=0)
    earlier = build_crl(alice.ca, [], crl_number=1, this_update=now - timedelta(seconds=31))
    result = _verify(cms_der, alice, tsa, crl=earlier, now=now)
    assert result.codes == {"no_timestamp", "stale_revocation_info"}
    stale = next(p for p in result.problems if p.code == "stale_revocation_info")
    assert f"not after the verification time {now:%Y-%m-%d %H:%M:%S} UTC" in stale.message
    later = build_crl(alice.ca, [], crl_number=1, this_update=now + timedelta(seconds=1))
    result = _verify(cms_der, alice, tsa, crl=later, now=now)
    assert result.codes == {"no_timestamp"}
