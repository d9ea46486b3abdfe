"""Tests for services.pki_hsm against a real SoftHSM2 token."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pkcs11
import pytest
from pki_fixtures import SoftHsmToken, TestTsa, softhsm_token, start_tsa

from services.pki_cms import attach_timestamp, request_timestamp, sign_detached, verify_signature
from services.pki_errors import HsmPinError, HsmUnavailableError, PkiInputError
from services.pki_hsm import find_public_key, generate_key_pair, hsm_signer, open_token
from services.pki_keys import (
    KeyType,
    SignerIdentity,
    build_crl,
    generate_ca,
    generate_private_key,
    issue_signer_certificate,
    utc,
)

CONTENT = b'esign-snapshot/1\n{"fields":{"lot":"L1"}}'


@pytest.fixture(scope="module")
def token() -> SoftHsmToken:
    return softhsm_token()


@pytest.fixture
def session(token: SoftHsmToken) -> Iterator[Any]:
    opened = open_token(token.library, token.label, token.pin)
    try:
        yield opened
    finally:
        opened.close()


@pytest.mark.parametrize("key_type", list(KeyType))
def test_sign_on_the_token_and_verify(session: Any, key_type: KeyType) -> None:
    tsa: TestTsa = start_tsa()
    ca = generate_ca("ACME e-Signature CA")
    label = f"alice-{key_type.value}"
    public = generate_key_pair(session, label, key_type)
    cert = issue_signer_certificate(ca, SignerIdentity("Alice", "alice"), public)
    signer = hsm_signer(session, label, cert, ca.certificates)
    cms_der = sign_detached(CONTENT, signer)
    stamp = request_timestamp(cms_der, [tsa.url])
    crl = build_crl(ca, [], crl_number=1, this_update=utc() + timedelta(seconds=2))
    result = verify_signature(
        attach_timestamp(cms_der, stamp.token),
        CONTENT,
        trusted_ca=ca.certificate,
        tsa_roots=[tsa.root],
        crl=crl,
    )
    assert result.valid, result.problems

    private = session.get_key(object_class=pkcs11.ObjectClass.PRIVATE_KEY, label=label)
    assert private[pkcs11.Attribute.SENSITIVE] is True
    assert private[pkcs11.Attribute.EXTRACTABLE] is False
    assert find_public_key(session, label) == public


def test_duplicate_label_and_foreign_certificate(session: Any) -> None:
    ca = generate_ca("ACME e-Signature CA")
    generate_key_pair(session, "bob")
    with pytest.raises(PkiInputError, match="already holds"):
        generate_key_pair(session, "bob")
    foreign = issue_signer_certificate(
        ca, SignerIdentity("Bob", "bob"), generate_private_key().public_key()
    )
    with pytest.raises(PkiInputError, match="not for the token key"):
        hsm_signer(session, "bob", foreign)
    with pytest.raises(HsmUnavailableError, match="no key labelled"):
        hsm_signer(session, "nobody", foreign)


def test_wrong_pin(token: SoftHsmToken) -> None:
    with pytest.raises(HsmPinError, match="refused the PIN"):
        open_token(token.library, token.label, "9999")


def test_absent_token_and_library(token: SoftHsmToken) -> None:
    with pytest.raises(HsmUnavailableError, match="No PKCS#11 token"):
        open_token(token.library, "no-such-token", token.pin)
    with pytest.raises(HsmUnavailableError, match="does not exist"):
        open_token("/nonexistent/libpkcs11.so", token.label, token.pin)
