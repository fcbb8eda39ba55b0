"""Visit policy (SPEC §2) as pure rules: facts and `now` in, planned visits out. No I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from followup.calendar import BusinessCalendar, end_of_calendar_days
from followup.events import derived_id

FIRST_USE = "first_use"


@dataclass(frozen=True)
class Delivery:
    """A CustomerDelivered fact, as the policy needs it."""

    customer_id: str
    order_id: str
    delivered_at: datetime
    tier: str
    timezone: str


@dataclass(frozen=True)
class PlannedVisit:
    """One visit the policy asks for."""

    visit_id: str
    customer_id: str
    order_id: str | None
    kinds: tuple[str, ...]
    due_at: datetime
    deadline: datetime
    deadline_provisional: bool
    reason: str
    attempt: int = 1
    issue_id: str | None = None


def visit_id_for(customer_id: str, order_id: str | None, kind: str, due_at: datetime) -> str:
    """Deterministic visit id: the same plan always yields the same ids."""
    return derived_id("visit", customer_id, order_id or "", kind, due_at.isoformat())


def plan_first_use_visit(
    delivery: Delivery, calendar: BusinessCalendar, deadline_days: int = 7
) -> PlannedVisit:
    """first_use: due at delivery; deadline delivery + 7 calendar days, off non-working days."""
    tz = ZoneInfo(delivery.timezone)
    deadline = end_of_calendar_days(delivery.delivered_at, deadline_days, tz, calendar)
    return PlannedVisit(
        visit_id=visit_id_for(delivery.customer_id, delivery.order_id, FIRST_USE,
                              delivery.delivered_at),
        customer_id=delivery.customer_id,
        order_id=delivery.order_id,
        kinds=(FIRST_USE,),
        due_at=delivery.delivered_at,
        deadline=deadline.at,
        deadline_provisional=deadline.provisional,
        reason=f"first use after delivery of order {delivery.order_id}",
    )


def plan_visits_for_delivery(
    delivery: Delivery, calendar: BusinessCalendar, now: datetime
) -> list[PlannedVisit]:
    """The visits a delivery asks for; a backfilled delivery keeps only deadlines still ahead."""
    visits = [plan_first_use_visit(delivery, calendar)]
    return [v for v in visits if v.deadline > now]
