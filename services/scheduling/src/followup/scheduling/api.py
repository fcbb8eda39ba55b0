"""Scheduling's HTTP API (SPEC §7): a customer's plan and the planned-visit list."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request

from followup.core.auth import Authenticate, Principal, Role, require_role
from followup.core.http import keyset_after, keyset_page
from followup.core.problems import Problem
from followup.events.scheduling import VisitKind
from followup.scheduling import projections
from followup.scheduling.handlers import SchedulingHandlers

VisitStatus = Literal["planned", "due", "done", "missed", "cancelled"]

# Who may read plans (SPEC §8). Supervisors and admins see all. Analysts too: scheduling keeps no
# personal data (no contact, only ids, tier, segment, zone and region), so a plan shows them
# nothing they may not see. Agents see only their own visits, and a plan is not theirs: visits
# are assigned in the visits service, where an agent's queue (`GET /v1/visits`) lives.
PLAN_READERS = (Role.SUPERVISOR, Role.ADMIN, Role.ANALYST)


def _visit(row: Any) -> dict[str, Any]:
    v = dict(row)
    v["kinds"] = list(v["kinds"])
    return v


def routers(auth: Authenticate, handlers: SchedulingHandlers) -> list[APIRouter]:
    """The /v1 routes, every one behind the bearer-token dependency and PLAN_READERS.

    Plans are stored a few weeks ahead (domain.stored_horizon); a read that reaches further
    first stores the plans it needs up to where it reads (handlers.store_plans_until), so it
    answers with the whole rolling horizon, as if every plan were stored that far.
    """
    router = APIRouter(prefix="/v1", tags=["scheduling"], dependencies=[Depends(auth)])

    @router.get("/customers/{customer_id}/plan")
    async def get_customer_plan(
        customer_id: str, request: Request, principal: Principal = Depends(auth)
    ) -> dict[str, Any]:
        """A customer's visit plan: every planned, due, done and missed visit."""
        require_role(principal, *PLAN_READERS)
        now = request.app.state.clock.now()
        async with request.app.state.pool.acquire() as conn:
            # Read first, extend only a customer the read found: extending first raced the
            # consumer (unknown when extending, stored just before the read: a plan cut at the
            # stored horizon was answered).
            plan = await projections.customer_plan(conn, customer_id)
            if plan is not None and await handlers.store_plans_until(
                conn, now, handlers.read_horizon(now), customer_id=customer_id
            ):
                plan = await projections.customer_plan(conn, customer_id)
        if plan is None:
            raise Problem(404, f"no plan for customer {customer_id}")
        plan["visits"] = [_visit(v) for v in plan["visits"]]
        return plan

    @router.get("/planned-visits")
    async def list_planned_visits(
        request: Request,
        principal: Principal = Depends(auth),
        from_: Annotated[datetime | None, Query(alias="from")] = None,
        to: datetime | None = None,
        kind: VisitKind | None = None,
        status: VisitStatus | None = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
        cursor: str | None = None,
    ) -> dict[str, Any]:
        """Planned visits by due time, filtered, paginated with `limit` and `cursor`."""
        require_role(principal, *PLAN_READERS)
        after = keyset_after(cursor)
        now = request.app.state.clock.now()
        async with request.app.state.pool.acquire() as conn:
            while True:
                rows = await projections.list_planned_visits(
                    conn,
                    start=from_,
                    end=to,
                    kind=kind,
                    status=status,
                    after=after,
                    limit=limit + 1,
                )
                if status not in (None, "planned"):
                    break  # what is not stored yet is only ever planned
                # The page is whole once every plan is stored up to where it ends: `to`, else
                # the due time of the row after it (else the rolling horizon).
                reads_to = to or (rows[-1]["due_at"] if len(rows) > limit else None)
                horizon = handlers.read_horizon(now)
                if not await handlers.store_plans_until(
                    conn, now, min(reads_to or horizon, horizon)
                ):
                    break
        return keyset_page([_visit(r) for r in rows], limit, "due_at", "visit_id")

    return [router]
