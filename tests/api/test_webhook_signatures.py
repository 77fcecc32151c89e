"""Signature verification: known vectors, and every way a header can be wrong."""

from __future__ import annotations

import pytest

from hajatek_mcp.api import InvalidSignatureError, WebhookEvent, sign, verify_signature

# RFC 4231-style well-known vector: HMAC-SHA256(key="key", "The quick brown fox jumps over the lazy dog").
FOX = b"The quick brown fox jumps over the lazy dog"
FOX_SIG = "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
PAYLOAD = (
    b'{"id":"evt_1234567890","type":"order.created","created_at":"2026-03-15T12:00:00Z","data":{"order_id":'
    b'"ord_abc123","store_id":"str_xyz789","total":299.99,"currency":"SAR","status":"pending","items":[]}}'
)


def test_sign_matches_the_known_vector() -> None:
    assert sign("key", FOX) == FOX_SIG
    assert sign(b"key", FOX) == FOX_SIG


def test_a_correct_signature_verifies() -> None:
    verify_signature("key", FOX, FOX_SIG)
    verify_signature("key", FOX, FOX_SIG.upper().replace("SHA256=", "sha256="))
    verify_signature("whsec_test", PAYLOAD, sign("whsec_test", PAYLOAD))


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (None, "missing"),
        ("", "missing"),
        ("f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8", "must start with"),
        ("sha1=f7bc83f430538424b13298e6aa6fb143ef4d59a1", "must start with"),
        ("sha256=zzbc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8", "64 hex digits"),
        ("sha256=f7bc83f4", "64 hex digits"),
        ("sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd800", "64 hex digits"),
        ("sha256=07bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8", "does not match"),
    ],
)
def test_bad_headers_are_rejected_with_the_reason(header: str | None, reason: str) -> None:
    with pytest.raises(InvalidSignatureError, match=reason):
        verify_signature("key", FOX, header)


def test_a_tampered_body_or_wrong_secret_is_rejected() -> None:
    header = sign("whsec_test", PAYLOAD)
    with pytest.raises(InvalidSignatureError, match="does not match"):
        verify_signature("whsec_test", PAYLOAD.replace(b"299.99", b"2.99"), header)
    with pytest.raises(InvalidSignatureError, match="does not match"):
        verify_signature("whsec_other", PAYLOAD, header)


def test_rejections_never_reveal_the_secret_or_the_expected_digest() -> None:
    with pytest.raises(InvalidSignatureError) as caught:
        verify_signature("whsec_test", PAYLOAD, "sha256=" + "0" * 64)
    assert "whsec_test" not in str(caught.value)
    assert sign("whsec_test", PAYLOAD)[7:] not in str(caught.value)


def test_an_empty_secret_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="HAJATEK_WEBHOOK_SECRET"):
        sign("", PAYLOAD)


def test_the_reference_payload_parses_as_a_webhook_event() -> None:
    event = WebhookEvent.model_validate_json(PAYLOAD)
    assert (event.id, event.type, event.data["order_id"]) == ("evt_1234567890", "order.created", "ord_abc123")
