"""The stored horizon: how much of the 24-month plan is kept as `planned_visit` rows.

The plan reaches the rolling horizon (SPEC §2, `plan.horizon_end`), but a fact stores only
its first weeks: up to STORE_AHEAD past now or past the customer's first fact, never less
than before (`customer.planned_until` only grows). What lies beyond is a pure function of the
stored facts, stored when needed: the tick extends every plan ending less than EXTEND_WITHIN
ahead to EXTEND_AHEAD past now; a reader reaching further first stores the plans it reads up
to READ_MARGIN past where it reads (`planning.Planner`). Tick and readers extend under
EXTENSION_LOCK, as they lock customers in another order than the batches' id order.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg

from followup.calendar import add_months_clamped
from followup.scheduling.domain.model import CustomerFacts, first_fact_at
from followup.scheduling.domain.policy import Policy

# Longer than EXTEND_WITHIN plus the merge window (7 days), so that a visit's merge partners
# are stored before the visit can fall due.
STORE_AHEAD = timedelta(days=28)
EXTEND_WITHIN = timedelta(days=14)
# Further than a fact stores: each extension costs a whole re-plan of the customer, whatever
# it adds, so it should come seldom.
EXTEND_AHEAD = timedelta(days=91)
# How much further than they read readers store plans: a month, so the read horizon (which
# moves with the clock) is never passed by the next reads.
READ_MARGIN = timedelta(days=30)
# Transaction advisory lock held by whoever extends stored plans by the customer.
EXTENSION_LOCK = 0x5C4ED01E
# Customers extended per statement (and, for readers, per transaction).
EXTEND_BATCH = 500


def stored_horizon(facts: CustomerFacts, now: datetime) -> datetime | None:
    """How far ahead a fact stores the plan: STORE_AHEAD past now (or past the first fact)."""
    first = first_fact_at(facts)
    return None if first is None else max(now, first) + STORE_AHEAD


def plan_reach(
    horizon: datetime | None, before: datetime | None, extend_to: datetime | None
) -> datetime | None:
    """How far a re-planned customer's stored plan reaches: `horizon`, never less than it
    reached `before`, and at least `extend_to` when extending (None: nothing to plan)."""
    if horizon is None:
        return None
    if before is not None and before > horizon:
        horizon = before
    if extend_to is not None and extend_to > horizon:
        horizon = extend_to
    return horizon


def is_short(reach: datetime | None, now: datetime) -> bool:
    """Whether a stored plan ends less than EXTEND_WITHIN ahead (the tick extends it)."""
    return reach is not None and reach < now + EXTEND_WITHIN


def read_horizon(now: datetime, default_timezone: str, policy: Policy) -> datetime:
    """How far ahead readers see the plan: the rolling horizon, less the month it may lag (as
    a stored plan is extended when it falls below it). Every customer's rolling horizon
    reaches at least this far."""
    return add_months_clamped(now, policy.horizon_months - 1, ZoneInfo(default_timezone))


async def lock_extension(conn: asyncpg.Connection) -> None:
    """EXTENSION_LOCK, until the transaction ends."""
    await conn.execute("SELECT pg_advisory_xact_lock($1)", EXTENSION_LOCK)
