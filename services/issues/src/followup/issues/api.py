"""Issues' HTTP API (SPEC §7): complaints, the lifecycle, the ledger with clocks and timeline."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar

import asyncpg
from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict

from followup.core.auth import Authenticate, Principal, Role, require_role
from followup.core.http import json_response, keyset_after
from followup.core.problems import rejection_problem
from followup.core.rejections import Rejection
from followup.issues import reads
from followup.issues.commands import Raised, Recorded
from followup.issues.deps import IssuesDeps
from followup.issues.domain import lifecycle, raising
from followup.issues.domain.access import Actor, ActorRole

Status = Literal["raised", "assigned", "resolved", "reopened", "closed"]
Department = Literal["after_sales", "technical", "customer_service"]
ACTORS = (Role.AGENT, Role.SUPERVISOR, Role.ADMIN)


class ComplaintBody(BaseModel):
    """The body of `POST /v1/issues`: a complaint or hotline report."""

    model_config = ConfigDict(extra="forbid")

    customer_id: str | None = None
    category: str | None = None
    severity: str | None = None
    description: str | None = None
    source: str | None = "complaint"
    timezone: str | None = None


class AssignBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    assignee_id: str | None = None
    department: str | None = None


class RespondBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: str | None = None
    note: str | None = None


class PauseBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = None


class ResumeBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pause_no: int | None = None
    note: str | None = None


class ResolveBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    resolution: str | None = None
    resolved_by: str | None = None


def _actor(principal: Principal) -> Actor:
    require_role(principal, *ACTORS)
    return Actor(
        principal.agent_id or principal.name or principal.role.value,
        ActorRole(principal.role.value),
        principal.department,
    )


@asynccontextmanager
async def _connection(request: Request) -> AsyncIterator[asyncpg.Connection]:
    async with request.app.state.pool.acquire() as conn:
        yield conn


def _now(request: Request) -> datetime:
    now: datetime = request.app.state.clock.now()
    return now


C = TypeVar("C")
# A command of the service on one issue: (conn, issue_id, command, actor, now) -> its result.
IssueCommand = Callable[
    [asyncpg.Connection, str, C, Actor, datetime], Awaitable[Recorded | Rejection]
]


async def _run(
    request: Request, principal: Principal, issue_id: str, run: IssueCommand[C], command: C
) -> JSONResponse:
    """Runs one command as the caller; 202 with the event it published, or problem+json."""
    actor = _actor(principal)
    async with _connection(request) as conn:
        result = await run(conn, issue_id, command, actor, _now(request))
    if isinstance(result, Rejection):
        raise rejection_problem(result)
    body = {"issue_id": result.issue_id, "event": result.event, "event_id": result.event_id}
    return JSONResponse(body, status_code=202)


def routers(auth: Authenticate, deps: IssuesDeps) -> list[APIRouter]:
    """The /v1 routes behind the bearer-token dependency."""
    router = APIRouter(prefix="/v1", tags=["issues"])
    commands = deps.commands

    @router.post("/issues", status_code=201)
    async def raise_complaint(
        body: ComplaintBody,
        request: Request,
        principal: Principal = Depends(auth),
        idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
    ) -> JSONResponse:
        """A complaint or hotline report: publishes IssueRaised with its SLA deadlines."""
        _actor(principal)
        command = raising.RaiseComplaint(**body.model_dump())
        async with _connection(request) as conn:
            result = await commands.raise_complaint(conn, command, idempotency_key, _now(request))
        if isinstance(result, Rejection):
            raise rejection_problem(result)
        raised: Raised = result
        return JSONResponse(
            {"issue_id": raised.issue_id, "event_id": raised.event_id}, status_code=201
        )

    @router.get("/issues", response_model=dict[str, Any])
    async def list_issues(
        request: Request,
        principal: Principal = Depends(auth),
        status: Status | None = None,
        department: Department | None = None,
        breached: bool | None = None,
        customer_id: str | None = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
        cursor: str | None = None,
    ) -> Response:
        """The ledger, newest first, filtered and paginated."""
        query = reads.IssueQuery(
            status, department, breached, customer_id, limit, keyset_after(cursor)
        )
        async with _connection(request) as conn:
            page = await reads.list_issues(conn, query)
        return json_response(page)

    @router.get("/issues/{issue_id}")
    async def get_issue(
        issue_id: str, request: Request, principal: Principal = Depends(auth)
    ) -> dict[str, Any]:
        """One issue with each clock's deadline, remaining or overdue time, and its timeline."""
        async with _connection(request) as conn:
            view = await reads.read_issue(
                conn,
                issue_id,
                _now(request),
                deps.calendar,
                free_text=principal.role != Role.ANALYST,
            )
        if isinstance(view, Rejection):
            raise rejection_problem(view)
        body = dataclasses.asdict(view)
        # Free text is sealed with the customer's key (SPEC §8): opened for who may read it.
        return await deps.vault.open_texts(view.customer_id, body) if deps.vault else body

    @router.post("/issues/{issue_id}/assign", status_code=202)
    async def assign(
        issue_id: str, body: AssignBody, request: Request, principal: Principal = Depends(auth)
    ) -> JSONResponse:
        """Assigns a named owner: publishes IssueAssigned."""
        command = lifecycle.AssignIssue(**body.model_dump())
        return await _run(request, principal, issue_id, commands.assign_issue, command)

    @router.post("/issues/{issue_id}/respond", status_code=202)
    async def respond(
        issue_id: str, body: RespondBody, request: Request, principal: Principal = Depends(auth)
    ) -> JSONResponse:
        """Records a contact with the customer: publishes IssueResponded; the first one ends
        the first-response clock."""
        command = lifecycle.RespondToIssue(**body.model_dump())
        return await _run(request, principal, issue_id, commands.respond_to_issue, command)

    @router.post("/issues/{issue_id}/pause", status_code=202)
    async def pause(
        issue_id: str, body: PauseBody, request: Request, principal: Principal = Depends(auth)
    ) -> JSONResponse:
        """Pauses the resolution clock (waiting for the customer), with a reason."""
        command = lifecycle.PauseResolution(**body.model_dump())
        return await _run(request, principal, issue_id, commands.pause_resolution, command)

    @router.post("/issues/{issue_id}/resume", status_code=202)
    async def resume(
        issue_id: str, body: ResumeBody, request: Request, principal: Principal = Depends(auth)
    ) -> JSONResponse:
        """Resumes the resolution clock."""
        command = lifecycle.ResumeResolution(**body.model_dump())
        return await _run(request, principal, issue_id, commands.resume_resolution, command)

    @router.post("/issues/{issue_id}/resolve", status_code=202)
    async def resolve(
        issue_id: str, body: ResolveBody, request: Request, principal: Principal = Depends(auth)
    ) -> JSONResponse:
        """Resolves the issue: publishes IssueResolved with the deadline in force."""
        command = lifecycle.ResolveIssue(**body.model_dump())
        return await _run(request, principal, issue_id, commands.resolve_issue, command)

    return [router]
