"""Visits' HTTP API (SPEC §7): the queue, logging a contact, spot checks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

import asyncpg
import orjson
from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from followup.core.auth import Authenticate, Principal, Role, require_role
from followup.core.commands import Accepted, CommandRejected
from followup.core.crypto import mask_name, mask_phone
from followup.core.http import answer_then_release, keyset_after, keyset_page
from followup.core.problems import Problem
from followup.visits import domain, projections
from followup.visits.handlers import VisitHandlers

Status = Literal["due", "missed", "done"]


class SpotCheckBody(BaseModel):
    """The body of `POST /v1/spot-checks/{visit_id}`."""

    model_config = ConfigDict(extra="forbid")

    result: Literal["verified", "not_verified"]
    note: str | None = Field(None, max_length=domain.NOTE_MAX_CHARS)


def _rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for r in rows:
        r["kinds"] = list(r["kinds"] or [])
    return rows


def _acting_agent(principal: Principal) -> str | None:
    """The agent an agent acts as; None for supervisors and admins (they act for anyone)."""
    if principal.role == Role.AGENT:
        return principal.agent_id
    require_role(principal, Role.SUPERVISOR, Role.ADMIN)
    return None


def _json(body: dict[str, Any]) -> Response:
    """A JSON answer encoded once by orjson, as FastAPI would encode it (UTC as `Z`), without
    its validate-then-serialize pass over every row of a page."""
    return Response(orjson.dumps(body, option=orjson.OPT_UTC_Z), media_type="application/json")


def _problem(exc: CommandRejected) -> Problem:
    return Problem(exc.status, exc.detail, errors=exc.errors, **exc.extra)


def _accepted(answer: Accepted) -> Response:
    return JSONResponse(answer.body, status_code=answer.status_code)


async def command(
    request: Request, run: Callable[[asyncpg.Connection], Awaitable[Accepted]]
) -> Response:
    """A command's answer; its connection goes back to the pool after the answer is sent."""
    try:
        return await answer_then_release(request.app.state.pool, run, _accepted)
    except CommandRejected as exc:
        raise _problem(exc) from None


def routers(auth: Authenticate) -> list[APIRouter]:
    """The /v1 routes behind the bearer-token dependency."""
    router = APIRouter(prefix="/v1", tags=["visits"])

    def handlers(request: Request) -> VisitHandlers:
        h: VisitHandlers = request.app.state.handlers
        return h

    async def page(
        request: Request,
        principal: Principal,
        *,
        status: str | None,
        agent_id: str | None,
        customer_id: str | None,
        limit: int,
        cursor: str | None,
    ) -> Response:
        if principal.role == Role.AGENT:
            if agent_id not in (None, principal.agent_id):
                raise Problem(403, "agents see only their own visits")
            agent_id = principal.agent_id
        after = keyset_after(cursor)
        # The agents' queue is read on every screen refresh: like a command, it answers before
        # its connection's reset round trip.
        return await answer_then_release(
            request.app.state.pool,
            lambda conn: projections.list_visits(
                conn,
                status=status,
                agent_id=agent_id,
                customer_id=customer_id,
                after=after,
                limit=limit + 1,
            ),
            lambda rows: _json(keyset_page(_rows(rows), limit, "deadline", "visit_id")),
        )

    @router.get("/visits", response_model=dict[str, Any])
    async def list_visits(
        request: Request,
        principal: Principal = Depends(auth),
        status: Status | None = None,
        agent_id: str | None = None,
        customer_id: str | None = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
        cursor: str | None = None,
    ) -> Response:
        """Visits by deadline; agents see only their own."""
        return await page(
            request,
            principal,
            status=status,
            agent_id=agent_id,
            customer_id=customer_id,
            limit=limit,
            cursor=cursor,
        )

    @router.get("/customers/{customer_id}/visits", response_model=dict[str, Any])
    async def customer_visits(
        customer_id: str,
        request: Request,
        principal: Principal = Depends(auth),
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
        cursor: str | None = None,
    ) -> Response:
        """A customer's visit history (an agent sees the visits assigned to them)."""
        return await page(
            request,
            principal,
            status=None,
            agent_id=None,
            customer_id=customer_id,
            limit=limit,
            cursor=cursor,
        )

    @router.get("/visits/{visit_id}")
    async def get_visit(
        visit_id: str, request: Request, principal: Principal = Depends(auth)
    ) -> dict[str, Any]:
        """One visit with its customer's contact (masked unless the caller may see it)."""
        async with request.app.state.pool.acquire() as conn:
            row = await projections.get_visit_row(conn, visit_id)
            if row is None:
                raise Problem(404, f"no visit {visit_id}")
            if principal.role == Role.AGENT and row["agent_id"] != principal.agent_id:
                raise Problem(403, "agents see only their own visits")
            if principal.role == Role.ANALYST:
                return _rows([row])[0]
            sealed = await projections.customer_contact(conn, row["customer_id"])
            plain = await request.app.state.vault.open(conn, row["customer_id"], sealed)
        visit = _rows([row])[0]
        if plain is not None:
            contact = orjson.loads(plain)
            # The assigned agent must call the customer; supervisors see all.
            if not (principal.sees_personal_data or row["agent_id"] == principal.agent_id):
                contact = {
                    "name": mask_name(contact.get("name", "")),
                    "phone": mask_phone(contact.get("phone", "")),
                }
            visit["contact"] = contact
        return visit

    @router.post("/visits/{visit_id}/log", status_code=202)
    async def log_visit(
        visit_id: str,
        body: domain.LogVisit,
        request: Request,
        principal: Principal = Depends(auth),
        idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
    ) -> Response:
        """Logs a contact: publishes VisitLogged; repeat with the same Idempotency-Key is safe."""
        acting = _acting_agent(principal)
        now = request.app.state.clock.now()
        return await command(
            request,
            lambda conn: handlers(request).log_visit(
                conn, visit_id, body, acting, now, idempotency_key
            ),
        )

    @router.get("/spot-checks")
    async def spot_check_sample(
        request: Request,
        agent_id: str,
        month: Annotated[str, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")],
        principal: Principal = Depends(auth),
    ) -> dict[str, Any]:
        """The month's reproducible sample of min(3, n) of an agent's completed visits."""
        require_role(principal, Role.SUPERVISOR, Role.ADMIN)
        tz = ZoneInfo(request.app.state.settings.default_timezone)
        start, end = domain.month_bounds(month, tz)
        async with request.app.state.pool.acquire() as conn:
            ids = await projections.completed_visit_ids(conn, agent_id, start, end)
            sample = domain.sample_for_spot_check(ids, agent_id, month)
            rows = [await projections.get_visit_row(conn, v) for v in sample]
        return {
            "agent_id": agent_id,
            "month": month,
            "completed": len(ids),
            "sample": _rows([r for r in rows if r is not None]),
        }

    @router.post("/spot-checks/{visit_id}", status_code=202)
    async def record_spot_check(
        visit_id: str, body: SpotCheckBody, request: Request, principal: Principal = Depends(auth)
    ) -> Response:
        """Records a supervisor's re-contact: publishes VisitSpotChecked."""
        require_role(principal, Role.SUPERVISOR, Role.ADMIN)
        supervisor = principal.agent_id or principal.name or principal.role.value
        now = request.app.state.clock.now()
        return await command(
            request,
            lambda conn: handlers(request).spot_check(
                conn, visit_id, supervisor, body.result, body.note, now
            ),
        )

    return [router]
