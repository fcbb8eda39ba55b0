"""Events on followup.scheduling, published by the scheduling service."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from followup.events.base import EventData, Id, Instant, Text

VisitKind = Literal[
    "first_use",
    "routine",
    "deep",
    "key_deep",
    "quarterly",
    "holiday_care",
    "intent_follow_up",
    "issue_follow_up",
    "special",
    "retry",
]


class VisitDue(EventData):
    visit_id: Id
    customer_id: Id
    order_id: Id | None = None
    kinds: Annotated[list[VisitKind], Field(min_length=1)]
    due_at: Instant
    deadline: Instant
    attempt: Annotated[int, Field(ge=1, le=3)]
    issue_id: Id | None = None
    agent_id: Id | None = None
    reason: Text


class VisitDeadlineRecomputed(EventData):
    """Added later: official calendar data loaded after a visit was published moved its
    deadline (SPEC §2: open visits only). Holders of the visit (the agents' queue) update it."""

    visit_id: Id
    customer_id: Id
    deadline: Instant
    previous_deadline: Instant | None = None
    recomputed_at: Instant
