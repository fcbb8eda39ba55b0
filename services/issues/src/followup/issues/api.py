"""Issues' HTTP API (SPEC §7): complaints, the lifecycle, the ledger with clocks and timeline."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict

from followup.core.auth import Authenticate, Principal, Role, require_role
from followup.core.commands import Accepted
from followup.core.http import json_response, keyset_after, keyset_page
from followup.core.problems import Problem, rejection_problem
from followup.core.rejections import Rejection
from followup.issues import domain, projections
from followup.issues.handlers import IssueHandlers

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


def _actor(principal: Principal) -> str:
    require_role(principal, *ACTORS)
    return principal.agent_id or principal.name or principal.role.value


def _answer(answer: Accepted | Rejection) -> JSONResponse:
    if isinstance(answer, Rejection):
        raise rejection_problem(answer)
    return JSONResponse(answer.body, status_code=answer.status_code)


def routers(auth: Authenticate) -> list[APIRouter]:
    """The /v1 routes behind the bearer-token dependency."""
    router = APIRouter(prefix="/v1", tags=["issues"])

    def handlers(request: Request) -> IssueHandlers:
        h: IssueHandlers = request.app.state.handlers
        return h

    async def run(request: Request, issue_id: str, decide: Any) -> JSONResponse:
        async with request.app.state.pool.acquire() as conn:
            answer = await handlers(request).command(
                conn, issue_id, decide, request.app.state.clock.now()
            )
        return _answer(answer)

    @router.post("/issues", status_code=201)
    async def raise_complaint(
        body: ComplaintBody,
        request: Request,
        principal: Principal = Depends(auth),
        idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
    ) -> JSONResponse:
        """A complaint or hotline report: publishes IssueRaised with its SLA deadlines."""
        _actor(principal)
        command = domain.RaiseComplaint(**body.model_dump())
        async with request.app.state.pool.acquire() as conn:
            answer = await handlers(request).raise_complaint(
                conn, command, idempotency_key, request.app.state.clock.now()
            )
        return _answer(answer)

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
        after = keyset_after(cursor)
        async with request.app.state.pool.acquire() as conn:
            rows = await projections.list_issues(
                conn,
                status=status,
                department=department,
                breached=breached,
                customer_id=customer_id,
                after=after,
                limit=limit + 1,
            )
        return json_response(keyset_page(rows, limit, "raised_at", "issue_id"))

    @router.get("/issues/{issue_id}")
    async def get_issue(
        issue_id: str, request: Request, principal: Principal = Depends(auth)
    ) -> dict[str, Any]:
        """One issue with each clock's deadline, remaining or overdue time, and its timeline."""
        async with request.app.state.pool.acquire() as conn:
            issue = await projections.load_issue(conn, issue_id)
        if issue is None:
            raise Problem(404, f"no issue {issue_id}")
        view = domain.view_issue(issue, request.app.state.clock.now(), handlers(request).calendar)
        if principal.role == Role.ANALYST:
            view = domain.without_free_text(view)
        return dataclasses.asdict(view)

    @router.post("/issues/{issue_id}/assign", status_code=202)
    async def assign(
        issue_id: str, body: AssignBody, request: Request, principal: Principal = Depends(auth)
    ) -> JSONResponse:
        """Assigns a named owner: publishes IssueAssigned."""
        _actor(principal)
        now = request.app.state.clock.now()
        cmd = domain.AssignIssue(**body.model_dump())
        return await run(request, issue_id, lambda i: domain.decide_assign(i, cmd, now))

    @router.post("/issues/{issue_id}/pause", status_code=202)
    async def pause(
        issue_id: str, body: PauseBody, request: Request, principal: Principal = Depends(auth)
    ) -> JSONResponse:
        """Pauses the resolution clock (waiting for the customer), with a reason."""
        actor = _actor(principal)
        now = request.app.state.clock.now()
        cmd = domain.PauseResolution(**body.model_dump())
        return await run(request, issue_id, lambda i: domain.decide_pause(i, cmd, actor, now))

    @router.post("/issues/{issue_id}/resume", status_code=202)
    async def resume(
        issue_id: str, body: ResumeBody, request: Request, principal: Principal = Depends(auth)
    ) -> JSONResponse:
        """Resumes the resolution clock."""
        actor = _actor(principal)
        now = request.app.state.clock.now()
        cmd = domain.ResumeResolution(**body.model_dump())
        return await run(request, issue_id, lambda i: domain.decide_resume(i, cmd, actor, now))

    @router.post("/issues/{issue_id}/resolve", status_code=202)
    async def resolve(
        issue_id: str, body: ResolveBody, request: Request, principal: Principal = Depends(auth)
    ) -> JSONResponse:
        """Resolves the issue: publishes IssueResolved with the deadline in force."""
        actor = _actor(principal)
        now = request.app.state.clock.now()
        cal = handlers(request).calendar
        cmd = domain.ResolveIssue(**body.model_dump())
        return await run(
            request, issue_id, lambda i: domain.decide_resolve(i, cmd, actor, now, cal)
        )

    return [router]
