"""Standard Webhooks signatures: ``webhook-id``, ``webhook-timestamp``, ``webhook-signature``.

The signature is HMAC-SHA256 over ``id.timestamp.body``, written ``v1,<base64>``; during a
secret rotation each secret signs and the header holds both, space-separated, so a receiver
with either secret verifies. The ``standardwebhooks`` library signs (it has no dependencies
and is imported only by the deliverer).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from ..config.values import Secret


def signed_headers(
    message_id: str, body: bytes, secrets: Sequence[Secret], now: datetime
) -> dict[str, str]:
    """The Standard Webhooks headers of one attempt, signed at ``now`` with every secret."""
    from standardwebhooks.webhooks import Webhook

    moment = now.astimezone(UTC)
    text = body.decode()
    signatures = [Webhook(s.value).sign(message_id, moment, text) for s in secrets]
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(moment.timestamp())),
        "webhook-signature": " ".join(signatures),
    }
