"""Webhook signatures: what verify accepts and everything it must refuse."""

from __future__ import annotations

import pytest

from integrations.webhook_signing import InvalidSignature, sign, verify

SECRET = "whsec_test"
BODY = b'{"id":"evt_1","type":"payment.succeeded"}'
NOW = 1_767_000_000


def test_signature_has_the_stripe_shape_and_verifies() -> None:
    header = sign(SECRET, BODY, NOW)

    assert header.startswith(f"t={NOW},v1=")
    assert len(header.split("v1=")[1]) == 64
    verify(SECRET, BODY, header, now=NOW)


def test_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    import hashlib
    import hmac

    expected = hmac.new(SECRET.encode(), f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()

    assert sign(SECRET, BODY, NOW) == f"t={NOW},v1={expected}"


def test_timestamp_within_tolerance_is_accepted_either_side() -> None:
    header = sign(SECRET, BODY, NOW)

    verify(SECRET, BODY, header, now=NOW + 300)
    verify(SECRET, BODY, header, now=NOW - 300)


def rejection(body: bytes, header: str | None, now: int = NOW, secret: str = SECRET) -> str:
    with pytest.raises(InvalidSignature) as caught:
        verify(secret, body, header, now=now)
    return caught.value.reason


def test_tampered_body_is_rejected() -> None:
    header = sign(SECRET, BODY, NOW)

    assert rejection(BODY.replace(b"evt_1", b"evt_2"), header) == "signature mismatch"


def test_wrong_secret_is_rejected() -> None:
    header = sign("whsec_attacker", BODY, NOW)

    assert rejection(BODY, header) == "signature mismatch"


def test_stale_timestamp_is_rejected_even_with_a_valid_mac() -> None:
    header = sign(SECRET, BODY, NOW - 301)

    assert rejection(BODY, header) == "timestamp outside tolerance"


def test_timestamp_from_the_future_is_rejected() -> None:
    header = sign(SECRET, BODY, NOW + 301)

    assert rejection(BODY, header) == "timestamp outside tolerance"


def test_timestamp_cannot_be_moved_without_breaking_the_mac() -> None:
    old = sign(SECRET, BODY, NOW - 3600)
    forged = old.replace(f"t={NOW - 3600}", f"t={NOW}")

    assert rejection(BODY, forged) == "signature mismatch"


@pytest.mark.parametrize("header", [None, ""])
def test_missing_header_is_rejected(header: str | None) -> None:
    assert rejection(BODY, header) == "missing signature header"


@pytest.mark.parametrize(
    "header",
    ["garbage", f"t={NOW}", "v1=abc", f"t=soon,v1={'0' * 64}", f"t={NOW},v0=abc"],
)
def test_malformed_header_is_rejected(header: str) -> None:
    assert rejection(BODY, header) == "malformed signature header"


def test_any_matching_v1_is_accepted_so_secrets_can_rotate() -> None:
    old = sign("whsec_old", BODY, NOW).split(",")[1]
    new = sign(SECRET, BODY, NOW).split(",")[1]

    verify(SECRET, BODY, f"t={NOW},{old},{new}", now=NOW)
