"""The shapes the API shows (SPEC §7): a customer's plan and a page of planned visits.

Scheduling keeps no personal data (no contact, only ids, tier, segment, zone and region), so
nothing here is masked per role.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel

from followup.events.scheduling import VisitKind

VisitStatus = Literal["planned", "due", "done", "missed", "cancelled"]


class PlanVisit(BaseModel):
    """One visit of a customer's plan."""

    visit_id: str
    order_id: str | None
    kinds: list[VisitKind]
    due_at: datetime
    deadline: datetime
    deadline_provisional: bool
    attempt: int
    issue_id: str | None
    status: VisitStatus
    reason: str


class CustomerPlan(BaseModel):
    """A customer and every visit of their plan, by due time."""

    customer_id: str
    tier: str | None
    segment: str | None
    timezone: str | None
    region: str | None
    visits: list[PlanVisit]


class ListedVisit(PlanVisit):
    """A planned visit in the cross-customer list."""

    customer_id: str


class PlannedVisitsPage(BaseModel):
    """A page of planned visits by due time; `next_cursor` resumes after its last one."""

    items: list[ListedVisit]
    next_cursor: str | None


def plan_visit(row: Mapping[str, Any]) -> PlanVisit:
    """A stored visit row as the plan shows it."""
    return PlanVisit(**{**row, "kinds": list(row["kinds"])})


def listed_visit(row: Mapping[str, Any]) -> ListedVisit:
    """A stored visit row (with its customer) as the list shows it."""
    return ListedVisit(**{**row, "kinds": list(row["kinds"])})


def customer_plan(customer: Mapping[str, Any], visits: Sequence[Mapping[str, Any]]) -> CustomerPlan:
    """The customer row and their visit rows as the plan shows them."""
    return CustomerPlan(**customer, visits=[plan_visit(v) for v in visits])
