"""Who may read plans (SPEC §8): 401 without a valid bearer token; agents 403 (their work is the
visits queue); analysts, supervisors and admins read (scheduling keeps no personal data)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi import FastAPI

from followup.calendar import BusinessCalendar
from followup.core.auth import Principal, Role, TokenTable, bearer_auth
from followup.core.consumer import Tx
from followup.core.db import create_pool, migrate
from followup.core.problems import install_problem_handlers
from followup.events import Contact, CustomerDelivered, make_event
from followup.scheduling import api
from followup.scheduling.handlers import SchedulingHandlers
from followup.scheduling.main import MIGRATIONS

SH = ZoneInfo("Asia/Shanghai")
TOKENS = {
    "t-admin": Principal(Role.ADMIN),
    "t-supervisor": Principal(Role.SUPERVISOR, "S-1"),
    "t-analyst": Principal(Role.ANALYST),
    "t-agent": Principal(Role.AGENT, "A-7"),
}
PATHS = ("/v1/customers/C-1/plan", "/v1/planned-visits")


class FixedClock:
    """The service's clock, stopped."""

    def __init__(self, now: datetime) -> None:
        self._now = now

    def now(self) -> datetime:
        return self._now


@pytest.fixture
async def client(fresh_db: str) -> AsyncIterator[httpx.AsyncClient]:
    pool = await create_pool(fresh_db, min_size=1, max_size=2)
    await migrate(pool, service="scheduling", migrations_dir=MIGRATIONS)
    now = datetime(2026, 3, 1, tzinfo=SH)
    data = CustomerDelivered(
        customer_id="C-1",
        order_id="O-1",
        delivered_at=datetime(2026, 3, 2, 10, tzinfo=SH),
        product="p",
        tier="gold",
        segment="individual",
        contact=Contact(name="n", phone="p"),
    )
    delivered = make_event(data, id=str(uuid.uuid4()), source="t", subject="C-1", time=now)
    handlers = SchedulingHandlers(BusinessCalendar.load(), "Asia/Shanghai")
    async with pool.acquire() as conn, conn.transaction():
        tx = Tx(conn, now, "scheduling")
        await handlers.apply_customer_facts(tx, [delivered])
        await tx.flush()
    app = FastAPI()
    install_problem_handlers(app)
    for router in api.routers(bearer_auth(TokenTable(TOKENS)), handlers):
        app.include_router(router)
    app.state.pool = pool
    app.state.clock = FixedClock(now)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://scheduling"
    ) as c:
        yield c
    await pool.close()


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("header", [None, "Bearer nope", "Basic dGVzdA==", "Bearer "])
async def test_no_valid_bearer_token_is_401(
    client: httpx.AsyncClient, path: str, header: str | None
) -> None:
    headers = {"Authorization": header} if header else {}
    r = await client.get(path, headers=headers)
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    assert r.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize("path", PATHS)
async def test_agents_may_not_read_plans(client: httpx.AsyncClient, path: str) -> None:
    r = await client.get(path, headers={"Authorization": "Bearer t-agent"})
    assert r.status_code == 403
    assert r.json()["allowed_roles"] == ["supervisor", "admin", "analyst"]


@pytest.mark.parametrize("token", ["t-admin", "t-supervisor", "t-analyst"])
async def test_supervisors_admins_and_analysts_read_plans(
    client: httpx.AsyncClient, token: str
) -> None:
    auth = {"Authorization": f"Bearer {token}"}
    plan = await client.get("/v1/customers/C-1/plan", headers=auth)
    assert plan.status_code == 200
    body = plan.json()
    assert body["customer_id"] == "C-1"
    assert body["visits"][0]["kinds"] == ["first_use"]
    # No contact data is kept by scheduling, so none can be shown.
    assert "contact" not in body
    listed = await client.get("/v1/planned-visits", headers=auth, params={"kind": "key_deep"})
    assert listed.status_code == 200
    assert {v["customer_id"] for v in listed.json()["items"]} == {"C-1"}
    missing = await client.get("/v1/customers/C-404/plan", headers=auth)
    assert missing.status_code == 404
