"""A service's PolicyHistory in its own database (SPEC §11): every PolicyActivated it consumed
on followup.control, read back as the policy in force at any instant."""

from __future__ import annotations

from typing import Any

import asyncpg
import orjson

from followup.core.policy import Policy, PolicyHistory
from followup.core.policy.history import Activation, activation_of
from followup.core.policy.loading import policy_from_document
from followup.events import Event, PolicyActivated


async def record_activation(conn: asyncpg.Connection, event: Event[PolicyActivated]) -> bool:
    """Stores the activation (PolicyError if its document is not the policy it names); False
    when it was stored already."""
    activation = activation_of(event.data)
    status: str = await conn.execute(
        """INSERT INTO policy_activation (event_id, effective_at, digest, document)
           VALUES ($1, $2, $3, $4::jsonb) ON CONFLICT (event_id) DO NOTHING""",
        event.id,
        activation.effective_at,
        activation.digest,
        orjson.dumps(event.data.document).decode(),
    )
    return status.endswith(" 1")


async def load_policy_history(conn: asyncpg.Connection, default: Policy) -> PolicyHistory:
    """The default policy, then every stored activation in the order they were seen."""
    rows = await conn.fetch(
        "SELECT effective_at, digest, document FROM policy_activation ORDER BY seen_at"
    )
    history = PolicyHistory(default)
    for r in rows:
        document: dict[str, Any] = orjson.loads(r["document"])
        policy = policy_from_document(document, f"policy_activation {r['digest']}")
        history = history.activated(Activation(r["effective_at"], policy, r["digest"]))
    return history
