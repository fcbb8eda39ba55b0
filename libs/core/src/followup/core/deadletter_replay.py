"""Replaying dead letters once their cause is fixed, with the consumer's own dedup."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import asyncpg
import structlog

from followup.core.applier import Applier, decode_event
from followup.core.deadletter import MAX_ERROR
from followup.core.deadletter_sealing import open_letter_value
from followup.core.subscription import Subscription
from followup.events import RejectedMessage

if TYPE_CHECKING:
    from followup.core.clock import Clock
    from followup.core.keystore import KeyStore
    from followup.core.metrics import Metrics
    from followup.core.settings import CoreSettings

log = structlog.get_logger(__name__)


@dataclass
class ReplayReport:
    """What a dead-letter replay did."""

    replayed: list[int] = field(default_factory=list)
    duplicates: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)


async def replay_dead_letters(
    pool: asyncpg.Pool,
    subscription: Subscription,
    *,
    settings: CoreSettings,
    clock: Clock,
    metrics: Metrics,
    ids: Sequence[int] | None = None,
    key_store: KeyStore | None = None,
) -> ReplayReport:
    """Replays open dead letters of a consumer (all, or those ids) through decode + handler.

    Each one goes in its own transaction with the same dedup as the consumer, so replaying
    twice, or replaying an event the consumer has since seen, has no second effect.
    """
    applier = Applier(subscription, settings=settings, clock=clock, metrics=metrics)
    report = ReplayReport()
    rows = await pool.fetch(
        """SELECT id, key, value FROM dead_letter
           WHERE consumer = $1 AND replayed_at IS NULL
             AND ($2::bigint[] IS NULL OR id = ANY($2::bigint[]))
           ORDER BY id""",
        subscription.consumer,
        list(ids) if ids is not None else None,
    )
    for row in rows:
        letter_id = row["id"]
        try:
            value = await open_letter_value(key_store, row["key"], row["value"] or b"")
            event = decode_event(value)
        except RejectedMessage as exc:
            await pool.execute(
                """UPDATE dead_letter SET replay_attempts = replay_attempts + 1,
                          last_replay_error = $2 WHERE id = $1""",
                letter_id,
                f"{exc.reason.value}: {exc.detail}"[:MAX_ERROR],
            )
            report.failed[letter_id] = exc.reason.value
            continue
        async with pool.acquire() as conn, conn.transaction():
            outcome = "skipped"
            error: str | None = None
            if applier.handles(event.type):
                if not await applier.dedup(conn, [event]):
                    outcome = "duplicate"
                else:
                    tx = applier.new_tx(conn, clock.now())
                    failed = await applier.run_isolated(tx, [event])
                    if failed:
                        outcome, error = "failed", repr(failed[0][1])[:MAX_ERROR]
                    else:
                        outcome = "replayed"
            if outcome == "failed":
                await conn.execute(
                    """UPDATE dead_letter SET replay_attempts = replay_attempts + 1,
                              last_replay_error = $2 WHERE id = $1""",
                    letter_id,
                    error,
                )
                report.failed[letter_id] = error or ""
            else:
                await conn.execute(
                    """UPDATE dead_letter SET replayed_at = now(),
                              replay_attempts = replay_attempts + 1,
                              last_replay_error = $2 WHERE id = $1""",
                    letter_id,
                    None if outcome == "replayed" else outcome,
                )
                getattr(report, outcome).append(letter_id)
        log.info(
            "dead letter replayed",
            dead_letter_id=letter_id,
            outcome=outcome,
            event_id=event.id,
            event_type=event.type,
        )
    return report
