"""Webhook request signing, and how a receiver verifies it.

Every delivery is an HTTP POST with a JSON body and these headers:

    X-Duplex-Event:      the event type, e.g. "call.ended" ("ping" for a test delivery)
    X-Duplex-Delivery:   the delivery id (the same on every retry of one delivery)
    X-Duplex-Timestamp:  seconds since the Unix epoch when this attempt was signed
    X-Duplex-Signature:  "sha256=" + hex(HMAC-SHA256(secret, "<timestamp>.<raw body>"))

To verify a request (the webhook's secret was shown once, when the webhook was created):

1. Read the raw body bytes exactly as received (before any JSON parsing).
2. Build the signed message: `timestamp.encode() + b"." + body`.
3. Compute `hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()`.
4. Compare `"sha256=" + digest` with X-Duplex-Signature using a constant-time comparison
   (`hmac.compare_digest`).
5. Reject timestamps more than a few minutes from your clock (replay protection), and use
   X-Duplex-Delivery (or the event `id`) to ignore a delivery you already processed: a delivery may be
   retried after your 2xx was lost.

In Python, `verify_signature(secret, timestamp, body, signature, now=time.time())` does steps 2-5.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_PREFIX = "sha256="
DEFAULT_TOLERANCE_SECONDS = 300


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The X-Duplex-Signature header value for `body` signed at `timestamp` (decimal seconds)."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return SIGNATURE_PREFIX + digest


def verify_signature(
    secret: str,
    timestamp: str,
    body: bytes,
    header: str,
    *,
    now: float,
    tolerance: float = DEFAULT_TOLERANCE_SECONDS,
) -> bool:
    """True if `header` is the signature of `body` at `timestamp` and the timestamp is within
    `tolerance` seconds of `now`."""
    try:
        signed_at = int(timestamp)
    except ValueError:
        return False
    if abs(now - signed_at) > tolerance:
        return False
    return hmac.compare_digest(signature(secret, timestamp, body), header)
