"""Visits' read use cases: the queue, one visit's record, a customer's records, the spot-check
sample. Each takes a connection and the caller, and returns the answer's body or a Rejection
(never an HTTP status)."""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any

import asyncpg
import orjson

from followup.core.auth import Principal, Role
from followup.core.crypto import PersonalDataVault, mask_name, mask_phone
from followup.core.http import keyset_page
from followup.core.rejections import Rejection, forbidden, not_found
from followup.core.roster import Roster
from followup.visits.domain.spot_checks import month_bounds, sample_for_spot_check
from followup.visits.domain.views import VisitRow, visit_record
from followup.visits.projections import customers, queue, spot_checks, visit_events

_NOT_YOURS = forbidden("agents see only their own visits")


def _rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for r in rows:
        r["kinds"] = list(r["kinds"] or [])
    return rows


async def list_visits(
    conn: asyncpg.Connection,
    viewer: Principal,
    *,
    status: str | None,
    agent_id: str | None,
    customer_id: str | None,
    after: tuple[datetime, str] | None,
    limit: int,
    unassigned: bool = False,
    roster: Roster | None = None,
) -> dict[str, Any] | Rejection:
    """A page of visits by deadline (a `VisitPage`); agents see only their own, a supervisor
    on the roster its teams' queues and the unassigned one."""
    agent_ids: list[str] | None = None
    if viewer.role == Role.AGENT:
        if unassigned or agent_id not in (None, viewer.agent_id):
            return _NOT_YOURS
        agent_id = viewer.agent_id
    elif roster is not None and (teams := roster.teams_of(viewer)):
        members = roster.agents_of_teams(teams)
        if agent_id is not None and agent_id not in members:
            return forbidden(f"agent {agent_id} is not in your teams")
        if agent_id is None and not unassigned and customer_id is None:
            agent_ids = members
    rows = await queue.list_visits(
        conn,
        status=status,
        agent_id=agent_id,
        customer_id=customer_id,
        after=after,
        limit=limit + 1,
        unassigned=unassigned,
        agent_ids=agent_ids,
    )
    return keyset_page(_rows(rows), limit, "deadline", "visit_id")


def _sees_text(viewer: Principal, agent_id: str | None) -> bool:
    """Free text and contacts: supervisors and admins, and the agent the visit is assigned to."""
    return viewer.sees_personal_data or (viewer.role == Role.AGENT and agent_id == viewer.agent_id)


async def read_visit(
    conn: asyncpg.Connection, vault: PersonalDataVault, viewer: Principal, visit_id: str
) -> dict[str, Any] | Rejection:
    """One visit's record (a `VisitDetail`: every attempt with its logs, the spot checks) with
    its customer's contact, masked unless the caller may see it (SPEC §8)."""
    row = await queue.get_visit_row(conn, visit_id)
    if row is None:
        return not_found(f"no visit {visit_id}")
    if viewer.role == Role.AGENT and row["agent_id"] != viewer.agent_id:
        return _NOT_YOURS
    sees = _sees_text(viewer, row["agent_id"])
    folded = await visit_events.load_visit(conn, visit_id)
    visit = visit_record(VisitRow.model_validate(_rows([row])[0]), folded, sees_text=sees)
    body = visit.model_dump()
    if viewer.role == Role.ANALYST:
        return body
    if sees:
        body = await vault.open_texts(row["customer_id"], body)
    sealed = await customers.customer_contact(conn, row["customer_id"])
    plain = await vault.open(conn, row["customer_id"], sealed)
    if plain is not None:
        contact = orjson.loads(plain)
        if not sees:
            contact = {
                "name": mask_name(contact.get("name", "")),
                "phone": mask_phone(contact.get("phone", "")),
            }
        body["contact"] = contact
    return body


async def customer_visits(
    conn: asyncpg.Connection,
    viewer: Principal,
    vault: PersonalDataVault | None = None,
    *,
    customer_id: str,
    after: tuple[datetime, str] | None,
    limit: int,
) -> dict[str, Any]:
    """A page of a customer's visit records by deadline (a `VisitRecordPage`); an agent sees
    the visits assigned to them."""
    agent_id = viewer.agent_id if viewer.role == Role.AGENT else None
    rows = await queue.list_visits(
        conn, status=None, agent_id=agent_id, customer_id=customer_id, after=after, limit=limit + 1
    )
    page = keyset_page(_rows(rows), limit, "deadline", "visit_id")
    folded = {
        v.visit_id: v
        for v in await visit_events.load_visits(conn, [r["visit_id"] for r in page["items"]])
    }
    page["items"] = [
        visit_record(
            VisitRow.model_validate(r),
            folded.get(r["visit_id"]),
            sees_text=_sees_text(viewer, r["agent_id"]),
        ).model_dump()
        for r in page["items"]
    ]
    if vault is not None:
        page["items"] = await vault.open_texts(customer_id, page["items"])
    return page


async def spot_check_sample(
    conn: asyncpg.Connection, agent_id: str, month: str, tz: tzinfo
) -> dict[str, Any]:
    """The month's reproducible sample of min(3, n) of an agent's completed visits."""
    start, end = month_bounds(month, tz)
    ids = await spot_checks.completed_visit_ids(conn, agent_id, start, end)
    sample = sample_for_spot_check(ids, agent_id, month)
    rows = [await queue.get_visit_row(conn, v) for v in sample]
    return {
        "agent_id": agent_id,
        "month": month,
        "completed": len(ids),
        "sample": _rows([r for r in rows if r is not None]),
    }
