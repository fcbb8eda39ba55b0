"""Scheduling's HTTP API (SPEC §7): a customer's plan and the planned-visit list.

Each route parses, calls one use case of `queries` and maps the answer to HTTP.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo

import asyncpg
from fastapi import APIRouter, Depends, Query, Request

from followup.core.auth import Authenticate, Principal, Role, require_role
from followup.core.clock import Clock
from followup.core.http import keyset_after
from followup.core.instants import parse_instant
from followup.core.problems import Problem
from followup.events.scheduling import VisitKind
from followup.scheduling import queries
from followup.scheduling.deps import SchedulingDeps
from followup.scheduling.domain.views import CustomerPlan, PlannedVisitsPage, VisitStatus

# Who may read plans (SPEC §8). Supervisors and admins see all. Analysts too: scheduling keeps no
# personal data (no contact, only ids, tier, segment, zone and region), so a plan shows them
# nothing they may not see. Agents see only their own visits, and a plan is not theirs: visits
# are assigned in the visits service, where an agent's queue (`GET /v1/visits`) lives.
PLAN_READERS = (Role.SUPERVISOR, Role.ADMIN, Role.ANALYST)
_BOUND = (
    "Due time bound: an RFC 3339 instant; without an offset, or a date (YYYY-MM-DD), in the"
    " default zone (a date as `to` includes its day)"
)


def _pool(request: Request) -> asyncpg.Pool:
    pool: asyncpg.Pool = request.app.state.pool
    return pool


def _now(request: Request) -> datetime:
    clock: Clock = request.app.state.clock
    return clock.now()


def routers(auth: Authenticate, deps: SchedulingDeps) -> list[APIRouter]:
    """The /v1 routes, every one behind the bearer-token dependency and PLAN_READERS."""
    router = APIRouter(prefix="/v1", tags=["scheduling"], dependencies=[Depends(auth)])

    @router.get("/customers/{customer_id}/plan")
    async def get_customer_plan(
        customer_id: str, request: Request, principal: Principal = Depends(auth)
    ) -> CustomerPlan:
        """A customer's visit plan: every planned, due, done and missed visit."""
        require_role(principal, *PLAN_READERS)
        plan = await queries.read_customer_plan(_pool(request), deps, customer_id, _now(request))
        if plan is None:
            raise Problem(404, f"no plan for customer {customer_id}")
        return plan

    @router.get("/planned-visits")
    async def list_planned_visits(
        request: Request,
        principal: Principal = Depends(auth),
        from_: Annotated[str | None, Query(alias="from", description=_BOUND)] = None,
        to: Annotated[str | None, Query(description=_BOUND)] = None,
        kind: VisitKind | None = None,
        status: VisitStatus | None = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
        cursor: str | None = None,
    ) -> PlannedVisitsPage:
        """Planned visits by due time, filtered, paginated with `limit` and `cursor`."""
        require_role(principal, *PLAN_READERS)
        after = keyset_after(cursor)
        zone = ZoneInfo(deps.planner.default_timezone)
        which = queries.VisitFilter(
            start=parse_instant(from_, zone, end=False, name="from") if from_ else None,
            end=parse_instant(to, zone, end=True, name="to") if to else None,
            kind=kind,
            status=status,
        )
        return await queries.list_planned_visits(
            _pool(request), deps, which, _now(request), after=after, limit=limit
        )

    return [router]
