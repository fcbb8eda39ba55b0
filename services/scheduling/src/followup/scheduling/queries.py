"""Scheduling's read use cases, callable from a route, the CLI or a test alike.

Plans are stored a few weeks ahead (see `horizon`); a read that reaches further first stores
the plans it needs up to where it reads (Planner.store_plans_until), so it answers with the
whole rolling horizon, as if every plan were stored that far.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import cast

import asyncpg

from followup.core.http import keyset_page
from followup.scheduling.deps import SchedulingDeps
from followup.scheduling.domain import views
from followup.scheduling.projections import reads


@dataclass(frozen=True)
class VisitFilter:
    """Which planned visits a list asks for: due in [start, end), of a kind, in a status."""

    start: datetime | None = None
    end: datetime | None = None
    kind: str | None = None
    status: str | None = None


async def read_customer_plan(
    pool: asyncpg.Pool, deps: SchedulingDeps, customer_id: str, now: datetime
) -> views.CustomerPlan | None:
    """A customer's plan up to the read horizon: every planned, due, done and missed visit
    (None: no such customer)."""
    async with pool.acquire() as conn:
        return await _read_customer_plan(cast(asyncpg.Connection, conn), deps, customer_id, now)


async def _read_customer_plan(
    conn: asyncpg.Connection, deps: SchedulingDeps, customer_id: str, now: datetime
) -> views.CustomerPlan | None:
    planner = deps.planner
    # Read first, extend only a customer the read found: extending first raced the consumer
    # (unknown when extending, stored just before the read: a plan cut at the stored horizon
    # was answered).
    found = await reads.customer_plan(conn, customer_id)
    if found is not None:
        extended = await planner.store_plans_until(
            conn, now, planner.read_horizon(now), customer_id=customer_id
        )
        if extended:
            deps.metrics.plans_extended.labels("reader").inc(extended)
            found = await reads.customer_plan(conn, customer_id)
    if found is None:
        return None
    customer, visits = found
    return views.customer_plan(dict(customer), [dict(v) for v in visits])


async def list_planned_visits(
    pool: asyncpg.Pool,
    deps: SchedulingDeps,
    which: VisitFilter,
    now: datetime,
    *,
    after: tuple[datetime, str] | None = None,
    limit: int = 100,
) -> views.PlannedVisitsPage:
    """Planned visits by due time, `limit` a page, resuming `after` a (due_at, visit_id)."""
    async with pool.acquire() as conn:
        return await _list_planned_visits(
            cast(asyncpg.Connection, conn), deps, which, now, after, limit
        )


async def _list_planned_visits(
    conn: asyncpg.Connection,
    deps: SchedulingDeps,
    which: VisitFilter,
    now: datetime,
    after: tuple[datetime, str] | None,
    limit: int,
) -> views.PlannedVisitsPage:
    planner = deps.planner
    while True:
        rows = await reads.list_planned_visits(
            conn,
            start=which.start,
            end=which.end,
            kind=which.kind,
            status=which.status,
            after=after,
            limit=limit + 1,
        )
        if which.status not in (None, "planned"):
            break  # what is not stored yet is only ever planned
        # The page is whole once every plan is stored up to where it ends: `end`, else the
        # due time of the row after it (else the rolling horizon).
        reads_to = which.end or (rows[-1]["due_at"] if len(rows) > limit else None)
        read_horizon = planner.read_horizon(now)
        extended = await planner.store_plans_until(
            conn, now, min(reads_to or read_horizon, read_horizon)
        )
        if not extended:
            break
        deps.metrics.plans_extended.labels("reader").inc(extended)
    page = keyset_page([dict(r) for r in rows], limit, "due_at", "visit_id")
    return views.PlannedVisitsPage(
        items=[views.listed_visit(r) for r in page["items"]], next_cursor=page["next_cursor"]
    )
