"""Visits' HTTP API (SPEC §7): parse the request, call one use case, map its answer to HTTP."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from functools import partial
from typing import Annotated, Any, Literal, TypeVar

import asyncpg
import orjson
from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse, Response

from followup.core.auth import Authenticate, Principal, Role, require_role
from followup.core.http import answer_then_release, keyset_after
from followup.core.problems import rejection_problem
from followup.core.rejections import Rejection
from followup.visits import handlers, queries
from followup.visits.deps import VisitsDeps
from followup.visits.domain.assign import AssignVisit
from followup.visits.domain.log_visit import LogVisit
from followup.visits.domain.model import VisitStatus
from followup.visits.domain.spot_checks import SpotCheckBody
from followup.visits.domain.views import (
    CommandAccepted,
    SpotCheckSample,
    VisitDetail,
    VisitPage,
    VisitRecordPage,
)
from followup.visits.store import CommandStore

T = TypeVar("T")


def _answered(result: T | Rejection) -> T:
    if isinstance(result, Rejection):
        raise rejection_problem(result)
    return result


def _accepted(result: CommandAccepted | Rejection) -> Response:
    return JSONResponse(_answered(result).model_dump(), status_code=202)


def _json(result: dict[str, Any] | Rejection) -> Response:
    """A JSON answer encoded once by orjson, as FastAPI would encode it (UTC as `Z`), without
    its validate-then-serialize pass over every row of a page."""
    body = _answered(result)
    return Response(orjson.dumps(body, option=orjson.OPT_UTC_Z), media_type="application/json")


def _pool(request: Request) -> asyncpg.Pool:
    pool: asyncpg.Pool = request.app.state.pool
    return pool


def _now(request: Request) -> datetime:
    now: datetime = request.app.state.clock.now()
    return now


def _acting_agent(principal: Principal) -> str | None:
    """The agent an agent acts as; None for supervisors and admins (they act for anyone)."""
    if principal.role == Role.AGENT:
        return principal.agent_id
    require_role(principal, Role.SUPERVISOR, Role.ADMIN)
    return None


def routers(auth: Authenticate, deps: VisitsDeps) -> list[APIRouter]:
    """The /v1 routes behind the bearer-token dependency."""
    router = APIRouter(prefix="/v1", tags=["visits"])

    async def command(
        request: Request,
        use_case: Callable[[CommandStore], Awaitable[CommandAccepted | Rejection]],
    ) -> Response:
        """Runs a command on its own store; the connection goes back after the answer is sent."""

        async def run(conn: asyncpg.Connection) -> CommandAccepted | Rejection:
            return await use_case(deps.command_store(conn))

        return await answer_then_release(_pool(request), run, _accepted)

    async def page(request: Request, principal: Principal, **filters: Any) -> Response:
        # The agents' queue is read on every screen refresh: like a command, it answers before
        # its connection's reset round trip.
        read = partial(queries.list_visits, viewer=principal, **filters)
        return await answer_then_release(_pool(request), read, _json)

    @router.get("/visits", response_model=VisitPage)
    async def list_visits(
        request: Request,
        principal: Principal = Depends(auth),
        status: VisitStatus | None = None,
        agent_id: str | None = None,
        customer_id: str | None = None,
        assignee: Literal["none"] | None = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
        cursor: str | None = None,
    ) -> Response:
        """Visits by deadline; agents see only their own, a supervisor its teams' queues.
        `assignee=none` is the unassigned queue; `status=unreachable` the supervisors' list of
        visits that ended unreachable; `rescheduled` ones are out of the queue until their
        `rescheduled_to`."""
        return await page(
            request,
            principal,
            status=status,
            agent_id=agent_id,
            customer_id=customer_id,
            after=keyset_after(cursor),
            limit=limit,
            unassigned=assignee == "none",
            roster=deps.staffing.roster,
        )

    @router.get("/customers/{customer_id}/visits", response_model=VisitRecordPage)
    async def customer_visits(
        customer_id: str,
        request: Request,
        principal: Principal = Depends(auth),
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
        cursor: str | None = None,
    ) -> Response:
        """A customer's visit records, every attempt with its logs (an agent sees its own)."""
        read = partial(
            queries.customer_visits,
            viewer=principal,
            vault=deps.vault,
            customer_id=customer_id,
            after=keyset_after(cursor),
            limit=limit,
        )
        return await answer_then_release(_pool(request), read, _json)

    @router.get("/visits/{visit_id}", response_model=VisitDetail)
    async def get_visit(
        visit_id: str, request: Request, principal: Principal = Depends(auth)
    ) -> Response:
        """One visit's record: every attempt with its logs, the spot checks, the contact (free
        text and contact masked unless the caller may see them)."""
        read = partial(queries.read_visit, vault=deps.vault, viewer=principal, visit_id=visit_id)
        return await answer_then_release(_pool(request), read, _json)

    @router.post(
        "/visits/{visit_id}/log",
        status_code=202,
        response_model=CommandAccepted,
        response_class=JSONResponse,
    )
    async def log_visit(
        visit_id: str,
        body: LogVisit,
        request: Request,
        principal: Principal = Depends(auth),
        idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
    ) -> Response:
        """Logs a contact: publishes VisitLogged; repeat with the same Idempotency-Key is safe."""
        acting = _acting_agent(principal)
        return await command(
            request,
            partial(
                handlers.log_visit,
                visit_id=visit_id,
                command=body,
                acting_agent_id=acting,
                now=_now(request),
                idempotency_key=idempotency_key,
            ),
        )

    @router.post(
        "/visits/{visit_id}/assign",
        status_code=202,
        response_model=CommandAccepted,
        response_class=JSONResponse,
    )
    async def assign_visit(
        visit_id: str, body: AssignVisit, request: Request, principal: Principal = Depends(auth)
    ) -> Response:
        """Gives the visit to an agent (supervisors, admins): publishes VisitAssigned."""
        require_role(principal, Role.SUPERVISOR, Role.ADMIN)
        return await command(
            request,
            partial(
                handlers.assign_visit,
                visit_id=visit_id,
                command=body,
                caller=principal,
                roster=deps.staffing.roster,
                now=_now(request),
            ),
        )

    @router.get("/spot-checks", response_model=SpotCheckSample)
    async def spot_check_sample(
        request: Request,
        agent_id: str,
        month: Annotated[str, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")],
        principal: Principal = Depends(auth),
    ) -> Response:
        """The month's reproducible sample of min(3, n) of an agent's completed visits."""
        require_role(principal, Role.SUPERVISOR, Role.ADMIN)
        read = partial(queries.spot_check_sample, agent_id=agent_id, month=month, tz=deps.timezone)
        return await answer_then_release(_pool(request), read, _json)

    @router.post(
        "/spot-checks/{visit_id}",
        status_code=202,
        response_model=CommandAccepted,
        response_class=JSONResponse,
    )
    async def record_spot_check(
        visit_id: str, body: SpotCheckBody, request: Request, principal: Principal = Depends(auth)
    ) -> Response:
        """Records a supervisor's re-contact: publishes VisitSpotChecked."""
        require_role(principal, Role.SUPERVISOR, Role.ADMIN)
        return await command(
            request,
            partial(
                handlers.spot_check,
                visit_id=visit_id,
                supervisor_id=principal.agent_id or principal.name or principal.role.value,
                result=body.result,
                note=body.note,
                now=_now(request),
            ),
        )

    return [router]
