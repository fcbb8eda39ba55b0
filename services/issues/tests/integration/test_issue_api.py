"""Issues' routes over a real database, in process: each maps one use case's result to HTTP
(201/202, problem+json 403/404/409/422), and who may act is decided per token's role and
department (SPEC §7, §10). What the routes publish goes to the outbox table."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from followup.calendar import default_calendar
from followup.core.auth import Principal, Role, TokenTable, bearer_auth
from followup.core.db import create_pool, migrate
from followup.core.problems import install_problem_handlers
from followup.core.testing import Infra, create_database
from followup.issues import api
from followup.issues.deps import issues_deps

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"
SH = ZoneInfo("Asia/Shanghai")
MANAGERS = {"after_sales": "M-AS", "technical": "M-T", "customer_service": "M-CS"}
TOKENS = TokenTable(
    {
        "admin": Principal(Role.ADMIN, None, "root"),
        "agent-as": Principal(Role.AGENT, "E-18", department="after_sales"),
        "owner": Principal(Role.AGENT, "E-17", department="after_sales"),
        "agent-tech": Principal(Role.AGENT, "T-3", department="technical"),
        "sup-as": Principal(Role.SUPERVISOR, None, "SUP-AS", "after_sales"),
        "sup-tech": Principal(Role.SUPERVISOR, None, "SUP-T", "technical"),
        "analyst": Principal(Role.ANALYST, None, "AN-1"),
    }
)
BODIES = {
    "assign": {"assignee_id": "E-17"},
    "respond": {"channel": "phone"},
    "pause": {"reason": "waiting for the customer"},
    "resume": {},
    "resolve": {"resolution": "replaced the board"},
}


# Each test client's pool, to read what its routes stored.
POOLS: dict[httpx.AsyncClient, asyncpg.Pool] = {}


class FixedClock:
    def __init__(self, now: datetime) -> None:
        self.at = now

    def now(self) -> datetime:
        return self.at


@pytest.fixture
async def client(infra: Infra) -> AsyncIterator[httpx.AsyncClient]:
    dsn = await create_database(infra.pg_admin_dsn, prefix="issues_api")
    await migrate(dsn, service="issues", migrations_dir=MIGRATIONS)
    pool = await create_pool(dsn, min_size=1, max_size=2)
    app = FastAPI()
    install_problem_handlers(app)
    for router in api.routers(bearer_auth(TOKENS), issues_deps(default_calendar(), MANAGERS)):
        app.include_router(router)
    app.state.pool = pool
    app.state.clock = FixedClock(datetime(2026, 3, 6, 19, 30, tzinfo=SH))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        POOLS[c] = pool
        yield c
        del POOLS[c]
    await pool.close()


def as_(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def raise_fault(client: httpx.AsyncClient, key: str = "k-1") -> str:
    complaint = {
        "customer_id": "C-1",
        "category": "fault",
        "severity": "general",
        "description": "no picture",
    }
    headers = {**as_("admin"), "Idempotency-Key": key}
    r = await client.post("/v1/issues", json=complaint, headers=headers)
    assert r.status_code == 201, r.text
    issue_id: str = r.json()["issue_id"]
    return issue_id


async def outbox_types(client: httpx.AsyncClient) -> list[str]:
    """The types of the events the routes published, in order (the outbox, not yet relayed)."""
    pool: asyncpg.Pool = POOLS[client]
    return [r["event_type"] for r in await pool.fetch("SELECT event_type FROM outbox ORDER BY id")]


async def test_a_complaint_is_created_once_per_idempotency_key_and_a_reused_key_conflicts(
    client: httpx.AsyncClient,
) -> None:
    first = await raise_fault(client, "k-1")
    again = await raise_fault(client, "k-1")
    other = {"customer_id": "C-2", "category": "fault", "severity": "general", "description": "x"}
    reused = await client.post(
        "/v1/issues", json=other, headers={**as_("admin"), "Idempotency-Key": "k-1"}
    )

    assert first == again
    assert reused.status_code == 409
    assert reused.json()["reason"] == "idempotency_key_reused"


@pytest.mark.parametrize("action", list(BODIES))
@pytest.mark.parametrize("token", ["agent-tech", "sup-tech"])
async def test_another_departments_agent_or_supervisor_gets_403_on_every_action(
    client: httpx.AsyncClient, token: str, action: str
) -> None:
    issue_id = await raise_fault(client)

    r = await client.post(
        f"/v1/issues/{issue_id}/{action}", json=BODIES[action], headers=as_(token)
    )

    assert r.status_code == 403, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["kind"] == "forbidden"


@pytest.mark.parametrize("action", list(BODIES))
async def test_an_analyst_may_not_act(client: httpx.AsyncClient, action: str) -> None:
    issue_id = await raise_fault(client)

    r = await client.post(
        f"/v1/issues/{issue_id}/{action}", json=BODIES[action], headers=as_("analyst")
    )

    assert r.status_code == 403


@pytest.mark.parametrize("action", list(BODIES))
async def test_an_agent_may_not_act_on_a_colleagues_issue(
    client: httpx.AsyncClient, action: str
) -> None:
    issue_id = await raise_fault(client)
    taken = await client.post(f"/v1/issues/{issue_id}/assign", json={}, headers=as_("owner"))
    assert taken.status_code == 202, taken.text

    r = await client.post(
        f"/v1/issues/{issue_id}/{action}", json=BODIES[action], headers=as_("agent-as")
    )

    assert r.status_code == 403
    assert r.json()["reason"] == "not_owner"


async def test_the_owner_and_the_departments_supervisor_act_and_each_is_the_recorded_actor(
    client: httpx.AsyncClient,
) -> None:
    issue_id = await raise_fault(client)
    base = f"/v1/issues/{issue_id}"

    steps = [
        ("respond", {"channel": "phone"}, "agent-as"),
        ("assign", {"assignee_id": "E-17"}, "sup-as"),
        ("pause", {"reason": "customer away"}, "owner"),
        ("resume", {}, "sup-as"),
        ("resolve", {"resolution": "replaced the board"}, "owner"),
    ]
    for action, body, token in steps:
        r = await client.post(f"{base}/{action}", json=body, headers=as_(token))
        assert r.status_code == 202, (action, r.text)
    view = (await client.get(base, headers=as_("admin"))).json()

    assert [(e["kind"], e["actor"]) for e in view["timeline"]] == [
        ("raised", None),
        ("responded", "E-18"),
        ("assigned", "SUP-AS"),
        ("paused", "E-17"),
        ("resumed", "SUP-AS"),
        ("resolved", "E-17"),
    ]
    assert await outbox_types(client) == [
        "IssueRaised",
        "IssueResponded",
        "IssueAssigned",
        "IssuePaused",
        "IssueResumed",
        "IssueResolved",
    ]


async def test_refusals_are_problem_documents_with_the_status_their_kind_names(
    client: httpx.AsyncClient,
) -> None:
    issue_id = await raise_fault(client)

    unknown = await client.post(
        "/v1/issues/nope/respond", json={"channel": "phone"}, headers=as_("admin")
    )
    invalid = await client.post(
        f"/v1/issues/{issue_id}/respond", json={"channel": "fax"}, headers=as_("admin")
    )
    early = await client.post(
        f"/v1/issues/{issue_id}/pause", json={"reason": "x"}, headers=as_("admin")
    )
    missing = await client.get("/v1/issues/nope", headers=as_("admin"))

    assert (unknown.status_code, unknown.json()["kind"]) == (404, "not_found")
    assert (invalid.status_code, invalid.json()["errors"][0]["loc"]) == (422, "channel")
    assert (early.status_code, early.json()["current_status"]) == (409, "raised")
    assert missing.status_code == 404
