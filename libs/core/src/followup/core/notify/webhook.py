"""Signed webhooks: the JSON body's HMAC-SHA256 in `X-Followup-Signature: sha256=<hex>`.

Receivers verify the signature over the exact body bytes with their shared secret and
deduplicate on `X-Followup-Delivery-Id` (the same on every retry of one delivery).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

import httpx
import orjson

from followup.core.notify.models import Channel, Person, Webhook
from followup.core.notify.render import Message
from followup.core.notify.senders import DELIVERED, Outcome, refused, retry
from followup.core.notify.store import Pending

SIGNATURE_HEADER = "X-Followup-Signature"
EVENT_ID_HEADER = "X-Followup-Event-Id"
DELIVERY_ID_HEADER = "X-Followup-Delivery-Id"
EVENT_TYPE_HEADER = "X-Followup-Event-Type"
# Statuses that say "later": timeouts, too early, too many requests; every 5xx too.
_RETRYABLE_4XX = frozenset({408, 425, 429})


def sign(secret: bytes, body: bytes) -> str:
    """The signature header's value for a body."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def verify(secret: bytes, body: bytes, header: str | None) -> bool:
    """Whether a signature header matches the body (constant-time; for receivers and tests)."""
    return header is not None and hmac.compare_digest(sign(secret, body), header)


def body_of(pending: Pending, person: Person, message: Message) -> bytes:
    """The JSON a receiver gets: ids, the recipient's role, the message and its facts."""
    doc = {
        "delivery_id": pending.delivery_id,
        "event_id": pending.event_id,
        "type": pending.event_type,
        "recipient": {"id": person.id, "role": pending.role, "reason": pending.reason},
        "locale": person.locale,
        "subject": message.subject,
        "text": message.body,
        "facts": pending.facts,
    }
    return orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)


class WebhookSender:
    """POSTs signed notifications to the endpoint each person's configuration names."""

    channel: Channel = "webhook"

    def __init__(
        self,
        webhooks: Mapping[str, Webhook],
        *,
        timeout_s: float = 10.0,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.webhooks = dict(webhooks)
        self._client = client or httpx.AsyncClient(timeout=timeout_s, follow_redirects=False)

    async def send(self, pending: Pending, person: Person, message: Message) -> Outcome:
        """One POST; 2xx is delivered, 408/425/429/5xx and network errors are retried."""
        hook = self.webhooks.get(person.webhook or "")
        if hook is None:
            return refused(f"no webhook configured for {person.id}")
        body = body_of(pending, person, message)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "followup-notify",
            SIGNATURE_HEADER: sign(hook.secret, body),
            EVENT_ID_HEADER: pending.event_id,
            DELIVERY_ID_HEADER: pending.delivery_id,
            EVENT_TYPE_HEADER: pending.event_type,
        }
        try:
            response = await self._client.post(hook.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return retry(f"{hook.name}: {type(exc).__name__}: {exc}")
        status = response.status_code
        if 200 <= status < 300:
            return DELIVERED
        error = f"{hook.name}: HTTP {status}"
        return retry(error) if status >= 500 or status in _RETRYABLE_4XX else refused(error)

    async def close(self) -> None:
        """Closes the HTTP connections."""
        await self._client.aclose()
