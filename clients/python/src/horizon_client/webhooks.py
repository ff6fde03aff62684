"""Checks a webhook delivery's Standard Webhooks signature and returns the typed event."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from typing import Mapping, Optional, Union

from .errors import WebhookVerificationError
from .models import Job, WebhookEvent, from_json

__all__ = ["verify"]

#: How far a delivery's timestamp may be from now (seconds), against replays.
TOLERANCE = 300


def _header(headers: Mapping[str, str], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    raise WebhookVerificationError(f"the {name} header is missing")


def verify(
    body: Union[bytes, str],
    headers: Mapping[str, str],
    secret: str,
    *,
    tolerance: int = TOLERANCE,
    now: Optional[float] = None,
) -> WebhookEvent:
    """Verifies a delivery as it arrived (the raw body, its headers, the subscription's
    `whsec_...` secret) and returns the event; raises `WebhookVerificationError` otherwise.
    During a secret's rotation a delivery carries two signatures: either verifies it."""
    raw = body.encode() if isinstance(body, str) else bytes(body)
    msg_id = _header(headers, "webhook-id")
    stamp = _header(headers, "webhook-timestamp")
    signatures = _header(headers, "webhook-signature")
    try:
        sent = int(stamp)
    except ValueError:
        raise WebhookVerificationError("webhook-timestamp is not a number") from None
    current = time.time() if now is None else now
    if abs(current - sent) > tolerance:
        raise WebhookVerificationError("the delivery's timestamp is too far from now")
    try:
        key = base64.b64decode(secret[len("whsec_") :] if secret.startswith("whsec_") else secret, validate=True)
    except (binascii.Error, ValueError):
        raise WebhookVerificationError("the secret is not whsec_ and base64") from None
    if not key:
        raise WebhookVerificationError("the secret is empty")
    expected = base64.b64encode(
        hmac.new(key, f"{msg_id}.{stamp}.".encode() + raw, hashlib.sha256).digest()
    ).decode()
    for candidate in signatures.split():
        version, _, signature = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(signature.encode(), expected.encode()):
            break
    else:
        raise WebhookVerificationError("no signature matches")
    try:
        event = json.loads(raw)
        return WebhookEvent(
            type=str(event["type"]), timestamp=str(event["timestamp"]), data=from_json(Job, event["data"])
        )
    except (ValueError, KeyError, TypeError) as e:
        raise WebhookVerificationError(f"the body is no Horizon event: {e}") from None
