"""The test read model: one row per event plus a per-customer counter, and its pure fold.

Imported by the tests and by the worker processes the crash tests kill.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from followup.core.subscription import Subscription, Tx
from followup.events import Event, IssueAssigned, ProjectStarted, decode, make_event, topics

T0 = datetime(2026, 1, 1, tzinfo=UTC)

# A 1-row-per-event read model plus a per-customer counter: duplicates would show in both.
PROJECTION_SQL = """
CREATE TABLE started (
    event_id    text PRIMARY KEY,
    customer_id text NOT NULL,
    started_at  timestamptz NOT NULL
);
CREATE TABLE tally (
    customer_id text PRIMARY KEY,
    n           bigint NOT NULL,
    last_event  text NOT NULL
);
"""


def write_migrations(directory: Path, sql: str = PROJECTION_SQL) -> Path:
    """A service migrations dir holding one file."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "0001_projection.sql").write_text(sql)
    return directory


def started(customer: str, n: int = 0, *, event_id: str | None = None) -> Event[Any]:
    """A ProjectStarted event for a customer."""
    return make_event(
        ProjectStarted(customer_id=customer, started_at=T0 + timedelta(minutes=n)),
        id=event_id or str(uuid.uuid4()),
        source="test",
        subject=customer,
        time=T0 + timedelta(minutes=n),
    )


def assigned(customer: str, issue: str, *, event_id: str | None = None) -> Event[Any]:
    """An IssueAssigned event (a type the test projection skips)."""
    return make_event(
        IssueAssigned(
            issue_id=issue,
            customer_id=customer,
            assignee_id="A-1",
            department="technical",
            assigned_at=T0,
        ),
        id=event_id or str(uuid.uuid4()),
        source="test",
        subject=customer,
        time=T0,
    )


async def project_started(tx: Tx, events: list[Event[Any]]) -> None:
    """Batch handler: one row per event plus a per-customer counter."""
    await tx.conn.execute(
        """INSERT INTO started (event_id, customer_id, started_at)
           SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[])""",
        [e.id for e in events],
        [e.subject for e in events],
        [e.data.started_at for e in events],
    )
    counts: dict[str, list[Any]] = {}
    for e in events:
        c = counts.setdefault(e.subject, [0, ""])
        c[0] += 1
        c[1] = e.id
    await tx.conn.execute(
        """INSERT INTO tally (customer_id, n, last_event)
           SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[])
           ON CONFLICT (customer_id) DO UPDATE
           SET n = tally.n + excluded.n, last_event = excluded.last_event""",
        list(counts),
        [c[0] for c in counts.values()],
        [c[1] for c in counts.values()],
    )


def projection_subscription(consumer: str, **kw: Any) -> Subscription:
    """The test projection over followup.customers."""
    return Subscription(
        consumer=consumer,
        topics=[topics.CUSTOMERS],
        batch_handlers={"ProjectStarted": project_started},
        **kw,
    )


def fold(values: list[bytes]) -> tuple[set[str], dict[str, tuple[int, str]]]:
    """The read model the projection must equal: a pure fold of the messages in topic order.

    Returns the event ids applied and, per customer, (count, last event id). Undecodable
    messages and types other than ProjectStarted have no effect; an id seen again none either.
    """
    seen: set[str] = set()
    tally: dict[str, tuple[int, str]] = {}
    for value in values:
        try:
            event = decode(value)
        except Exception:
            continue
        if event.type != "ProjectStarted" or event.id in seen:
            continue
        seen.add(event.id)
        n, _ = tally.get(event.subject, (0, ""))
        tally[event.subject] = (n + 1, event.id)
    return seen, tally
