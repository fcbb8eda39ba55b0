"""The stored plan: every customer's planned_visit rows, read and written in bulk."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Sequence
from datetime import datetime

import asyncpg

from followup.core import pgcopy
from followup.scheduling.domain.plan import PlannedVisit
from followup.scheduling.domain.reconcile import StoredVisit


async def load_plans(
    conn: asyncpg.Connection, customer_ids: Sequence[str]
) -> dict[str, list[StoredVisit]]:
    """Every stored visit of these customers (the rows were locked with their customer)."""
    out: dict[str, list[StoredVisit]] = {}
    for r in await conn.fetch(
        """SELECT visit_id, customer_id, order_id, kinds, due_at, deadline,
                  deadline_provisional, attempt, issue_id, reason, sources, status
           FROM planned_visit WHERE customer_id = ANY($1::text[])""",
        customer_ids,
    ):
        out.setdefault(r["customer_id"], []).append(StoredVisit(stored_visit(r), r["status"]))
    return out


def stored_visit(row: asyncpg.Record) -> PlannedVisit:
    """A planned_visit row as the policy's PlannedVisit."""
    return PlannedVisit(
        visit_id=row["visit_id"],
        customer_id=row["customer_id"],
        order_id=row["order_id"],
        kinds=tuple(row["kinds"]),
        due_at=row["due_at"],
        deadline=row["deadline"],
        deadline_provisional=row["deadline_provisional"],
        reason=row["reason"],
        attempt=row["attempt"],
        issue_id=row["issue_id"],
        sources=tuple(row["sources"]),
    )


_PLAN_COLUMNS = (
    "visit_id",
    "customer_id",
    "order_id",
    "kinds",
    "due_at",
    "deadline",
    "deadline_provisional",
    "attempt",
    "issue_id",
    "reason",
    "sources",
    "created_at",
)


_COPY_CHUNK = 256  # lines sent to PostgreSQL at a time


def _copy_line(v: PlannedVisit, due: str, deadline: str, created: str) -> str:
    """One planned_visit row in COPY's text format (the columns of _PLAN_COLUMNS)."""
    order, issue, kinds, sources = v.order_id, v.issue_id, v.kinds, v.sources
    text = "".join(
        (v.visit_id, v.customer_id, order or "", issue or "", v.reason, *kinds, *sources)
    )
    if kinds and sources and not pgcopy.needs_escape(text):
        # Nearly always (ids, kinds, reasons and ISO times): nothing to escape.
        values = (
            v.visit_id,
            v.customer_id,
            pgcopy.NULL if order is None else order,
            pgcopy.plain_array(kinds),
            due,
            deadline,
            "t" if v.deadline_provisional else "f",
            str(v.attempt),
            pgcopy.NULL if issue is None else issue,
            v.reason,
            pgcopy.plain_array(sources),
            created,
        )
    else:
        values = (
            pgcopy.value(v.visit_id),
            pgcopy.value(v.customer_id),
            pgcopy.value(order),
            pgcopy.array(kinds),
            due,
            deadline,
            "t" if v.deadline_provisional else "f",
            str(v.attempt),
            pgcopy.value(issue),
            pgcopy.value(v.reason),
            pgcopy.array(sources),
            created,
        )
    return "\t".join(values) + "\n"


async def insert_visits(
    conn: asyncpg.Connection,
    visits: AsyncIterable[Sequence[PlannedVisit]],
    now: datetime,
) -> None:
    """Stores new visits, given a few at a time, with one COPY fed while they are planned.

    New visits are most of what a batch writes. Streaming them means PostgreSQL (on its own
    core) stores the first rows while Python still plans the next customers, instead of the
    two taking turns. Their ids are new: the customers are locked and their stored visits were
    read after the lock. The rows go in COPY's text format, written here from the ISO times
    the planner already has: asyncpg's binary encoding of the same rows (text arrays,
    zone-aware times) cost Python several times more than PostgreSQL's parsing of the text.
    """
    created = now.isoformat()
    # Visits share deadlines (same day, same zone): each one formatted once per batch. Keyed by
    # the instant, which is all that is stored.
    deadlines: dict[datetime, str] = {}

    async def chunks() -> AsyncIterator[bytes]:
        lines: list[str] = []
        async for some in visits:
            for v in some:
                deadline = deadlines.get(v.deadline)
                if deadline is None:
                    deadline = deadlines[v.deadline] = v.deadline.isoformat()
                lines.append(_copy_line(v, v.due_iso or v.due_at.isoformat(), deadline, created))
            if len(lines) >= _COPY_CHUNK:
                yield "".join(lines).encode()
                lines.clear()
        if lines:
            yield "".join(lines).encode()

    await pgcopy.copy_chunks(conn, "planned_visit", _PLAN_COLUMNS, chunks())


async def update_visits(conn: asyncpg.Connection, visits: Sequence[PlannedVisit]) -> None:
    """Re-planned open visits take their new kinds, deadline and reason (never a published one)."""
    if not visits:
        return
    await conn.executemany(
        """
        UPDATE planned_visit SET kinds = $2, deadline = $3, deadline_provisional = $4,
               reason = $5, sources = $6, order_id = $7, issue_id = $8
        WHERE visit_id = $1 AND status = 'planned'
        """,
        [
            (
                v.visit_id,
                list(v.kinds),
                v.deadline,
                v.deadline_provisional,
                v.reason,
                list(v.sources),
                v.order_id,
                v.issue_id,
            )
            for v in visits
        ],
    )


async def delete_visits(conn: asyncpg.Connection, visit_ids: Sequence[str]) -> None:
    """Drops open visits the policy no longer asks for (never a published one)."""
    if not visit_ids:
        return
    await conn.execute(
        "DELETE FROM planned_visit WHERE visit_id = ANY($1::text[]) AND status = 'planned'",
        visit_ids,
    )
