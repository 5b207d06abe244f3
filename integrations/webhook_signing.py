"""Signatures on provider webhooks, in the Stripe scheme.

Header value: ``t={unix seconds},v1={hex HMAC-SHA256(secret, f"{t}.{raw body}")}``. The
timestamp is inside the MAC so a captured request cannot be replayed later than the
tolerance; the raw bytes are signed, so verify before parsing JSON. Several ``v1`` entries
are accepted (a provider rotating its secret signs with both).
"""

from __future__ import annotations

import hashlib
import hmac

SCHEME = "v1"


class InvalidSignature(Exception):
    """The webhook must be rejected; `reason` says why (safe to log, contains no secret)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _mac(secret: str, body: bytes, timestamp: int) -> str:
    signed = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The signature header value for `body` sent at `timestamp`."""
    return f"t={timestamp},{SCHEME}={_mac(secret, body, timestamp)}"


def verify(secret: str, body: bytes, header: str | None, now: int, tolerance_s: int = 300) -> None:
    """Return if `header` is a valid signature of `body` at about `now`, else raise."""
    if not header:
        raise InvalidSignature("missing signature header")
    timestamp: int | None = None
    candidates: list[str] = []
    for item in header.split(","):
        name, sep, value = item.strip().partition("=")
        if not sep:
            raise InvalidSignature("malformed signature header")
        if name == "t":
            try:
                timestamp = int(value)
            except ValueError:
                raise InvalidSignature("malformed signature header") from None
        elif name == SCHEME:
            candidates.append(value)
    if timestamp is None or not candidates:
        raise InvalidSignature("malformed signature header")
    if abs(now - timestamp) > tolerance_s:
        raise InvalidSignature("timestamp outside tolerance")
    expected = _mac(secret, body, timestamp)
    # Check every candidate without stopping early, so timing says nothing about which matched.
    matched = False
    for candidate in candidates:
        matched |= hmac.compare_digest(candidate.encode(), expected.encode())
    if not matched:
        raise InvalidSignature("signature mismatch")
