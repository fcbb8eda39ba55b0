"""Bounded growth of the core tables, run by the active outbox relay every few minutes.

- `processed_event`: ids older than `processed_event_retention_days` are forgotten. They only
  stop a producer re-sending an event after that long; a replay rebuilds into fresh tables
  and dedups its own input, so it does not depend on them.
- `outbox`: rows published more than `outbox_payload_retention_days` ago lose their payload but
  keep their event id, which is what stops a replay from publishing a derived event twice.
  Unpublished rows are never touched.
A retention of 0 keeps everything. Each run removes at most `prune_batch` rows per table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import asyncpg

from followup.core.db import Conn
from followup.core.metrics import Metrics
from followup.core.settings import CoreSettings


@dataclass(frozen=True)
class Pruned:
    """Rows pruned in one run."""

    processed_event: int
    outbox_payload: int


async def prune(
    conn: Conn | asyncpg.Connection, settings: CoreSettings, metrics: Metrics
) -> Pruned:
    """Forgets old processed ids and old published payloads, one bounded batch each."""
    processed = payloads = 0
    if settings.processed_event_retention_days > 0:
        status = await conn.execute(
            """DELETE FROM processed_event WHERE ctid = ANY(ARRAY(
                   SELECT ctid FROM processed_event
                   WHERE processed_at < now() - $1::interval LIMIT $2))""",
            timedelta(days=settings.processed_event_retention_days),
            settings.prune_batch,
        )
        processed = int(status.split()[-1])
    if settings.outbox_payload_retention_days > 0:
        status = await conn.execute(
            """UPDATE outbox SET value = ''::bytea WHERE id = ANY(ARRAY(
                   SELECT id FROM outbox
                   WHERE published_at < now() - $1::interval AND octet_length(value) > 0
                   LIMIT $2))""",
            timedelta(days=settings.outbox_payload_retention_days),
            settings.prune_batch,
        )
        payloads = int(status.split()[-1])
    if processed:
        metrics.pruned_rows.labels("processed_event").inc(processed)
    if payloads:
        metrics.pruned_rows.labels("outbox_payload").inc(payloads)
    return Pruned(processed, payloads)
