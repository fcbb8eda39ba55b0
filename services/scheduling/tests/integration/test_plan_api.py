"""Who may read plans (SPEC §8): 401 without a valid bearer token; agents 403 (their work is the
visits queue); analysts, supervisors and admins read (scheduling keeps no personal data)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi import FastAPI

from followup.calendar import BusinessCalendar, add_months_clamped
from followup.core.auth import Principal, Role, TokenTable, bearer_auth
from followup.core.db import create_pool, migrate
from followup.core.problems import install_problem_handlers
from followup.core.subscription import Tx
from followup.events import Contact, CustomerDelivered, make_event
from followup.scheduling import api
from followup.scheduling.deps import SchedulingDeps
from followup.scheduling.domain.model import CustomerFacts, Delivery
from followup.scheduling.domain.plan import plan_customer
from followup.scheduling.horizon import READ_MARGIN
from followup.scheduling.main import MIGRATIONS
from followup.scheduling.planning import Planner

SH = ZoneInfo("Asia/Shanghai")
TOKENS = {
    "t-admin": Principal(Role.ADMIN),
    "t-supervisor": Principal(Role.SUPERVISOR, "S-1"),
    "t-analyst": Principal(Role.ANALYST),
    "t-agent": Principal(Role.AGENT, "A-7"),
}
PATHS = ("/v1/customers/C-1/plan", "/v1/planned-visits")
NOW = datetime(2026, 3, 1, tzinfo=SH)
CAL = BusinessCalendar.load()
DELIVERIES = [
    ("C-1", "O-1", datetime(2026, 3, 2, 10, tzinfo=SH), "gold"),
    ("C-2", "O-2", datetime(2025, 1, 10, 10, tzinfo=SH), "silver"),  # backfilled
]


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
    now = NOW
    delivered = [
        make_event(
            CustomerDelivered(
                customer_id=customer,
                order_id=order,
                delivered_at=when,
                product="p",
                tier=tier,
                segment="individual",
                contact=Contact(name="n", phone="p"),
            ),
            id=str(uuid.uuid4()),
            source="t",
            subject=customer,
            time=now,
        )
        for customer, order, when, tier in DELIVERIES
    ]
    deps = SchedulingDeps.build(Planner(CAL, "Asia/Shanghai"))
    async with pool.acquire() as conn, conn.transaction():
        tx = Tx(conn, now, "scheduling")
        await deps.handlers.apply_customer_facts(tx, delivered)
        await tx.flush()
    app = FastAPI()
    install_problem_handlers(app)
    for router in api.routers(bearer_auth(TokenTable(TOKENS)), deps):
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


def pure_plan(customer: str) -> list[tuple[str, str, list[str]]]:
    """The policy's plan as readers have it stored: up to where they see it (the rolling
    horizon less a month), and a month further."""
    [(order, when, tier)] = [(o, w, t) for c, o, w, t in DELIVERIES if c == customer]
    facts = CustomerFacts(
        customer,
        tier,
        "Asia/Shanghai",
        deliveries=(Delivery(customer, order, when.astimezone(UTC), tier, "Asia/Shanghai"),),
    )
    until = add_months_clamped(NOW, 23, SH) + READ_MARGIN
    visits = plan_customer(facts, CAL, NOW, until=until)
    return sorted((v.due_at.isoformat(), v.visit_id, list(v.kinds)) for v in visits)


def as_utc(at: str) -> str:
    return datetime.fromisoformat(at).astimezone(UTC).isoformat()


async def test_reads_past_the_stored_horizon_answer_with_the_whole_rolling_horizon(
    client: httpx.AsyncClient,
) -> None:
    # Plans are stored 28 days ahead; a read reaching further stores what it reads first.
    auth = {"Authorization": "Bearer t-supervisor"}
    expected = [
        (as_utc(due), vid, kinds)
        for customer in ("C-1", "C-2")
        for due, vid, kinds in pure_plan(customer)
        if "2027-01-01T00:00:00+08:00" <= due < "2027-07-01T00:00:00+08:00"
    ]
    got: list[tuple[str, str, list[str]]] = []
    cursor = None
    while True:
        params = {"from": "2027-01-01T00:00:00+08:00", "to": "2027-07-01T00:00:00+08:00"}
        params |= {"limit": "2"} | ({"cursor": cursor} if cursor else {})
        page = (await client.get("/v1/planned-visits", headers=auth, params=params)).json()
        got += [(as_utc(v["due_at"]), v["visit_id"], v["kinds"]) for v in page["items"]]
        if not (cursor := page["next_cursor"]):
            break
    assert got == sorted(expected)
    assert len(got) == 5
    # Unbounded, one page at a time: the whole plans, in due order.
    listed = await client.get("/v1/planned-visits", headers=auth, params={"limit": "500"})
    every = [(as_utc(due), vid, kinds) for c in ("C-1", "C-2") for due, vid, kinds in pure_plan(c)]
    assert [
        (as_utc(v["due_at"]), v["visit_id"], v["kinds"]) for v in listed.json()["items"]
    ] == sorted(every)
    plan = (await client.get("/v1/customers/C-1/plan", headers=auth)).json()
    assert [(as_utc(v["due_at"]), v["visit_id"], v["kinds"]) for v in plan["visits"]] == [
        (as_utc(due), vid, kinds) for due, vid, kinds in pure_plan("C-1")
    ]
    assert plan["visits"][-1]["due_at"] > "2028-01"


async def test_a_customers_plan_reaches_the_rolling_horizon(client: httpx.AsyncClient) -> None:
    auth = {"Authorization": "Bearer t-analyst"}
    plan = (await client.get("/v1/customers/C-2/plan", headers=auth)).json()
    # Backfilled on 2026-03-01: from the quarterly visit of April 2026 to early 2028.
    assert [(as_utc(v["due_at"]), v["visit_id"], v["kinds"]) for v in plan["visits"]] == [
        (as_utc(due), vid, kinds) for due, vid, kinds in pure_plan("C-2")
    ]
    assert {v["status"] for v in plan["visits"]} == {"planned"}
    assert len(plan["visits"]) > 8


# C-2's deep visit is due Sun 2027-01-10 10:00 Shanghai (02:00 UTC), its Spring Festival care
# Wed 2027-01-27 09:00.
DEEP, CARE = "2027-01-10T02:00:00+00:00", "2027-01-27T01:00:00+00:00"


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        # A date is its day in the default zone; as `to` it includes that day.
        ({"from": "2026-12-01", "to": "2027-02-01"}, [DEEP, CARE]),
        ({"from": "2027-01-10", "to": "2027-01-10"}, [DEEP]),
        ({"from": "2027-01-11", "to": "2027-02-01"}, [CARE]),
        # Without an offset, in Shanghai: 10:00 there is the deep visit's due time (read as
        # UTC it would be 18:00 there, after it).
        ({"from": "2027-01-01T00:00:00", "to": "2027-01-10T10:00:00"}, []),
        ({"from": "2027-01-10T10:00:00", "to": "2027-01-27T09:00:00"}, [DEEP]),
        # With an offset, as given.
        ({"from": "2027-01-10T02:00:00Z", "to": "2027-01-27T09:00:01+08:00"}, [DEEP, CARE]),
    ],
)
async def test_planned_visits_read_dates_and_times_without_offset_in_the_default_zone(
    client: httpx.AsyncClient, params: dict[str, str], expected: list[str]
) -> None:
    auth = {"Authorization": "Bearer t-supervisor"}
    r = await client.get("/v1/planned-visits", headers=auth, params={"limit": "500"} | params)
    assert r.status_code == 200, r.text
    assert [as_utc(v["due_at"]) for v in r.json()["items"]] == expected


@pytest.mark.parametrize("bound", ["from", "to"])
@pytest.mark.parametrize("value", ["2027-02-30", "tomorrow", "2027-02-01T25:00"])
async def test_a_bound_that_is_no_date_or_time_is_422(
    client: httpx.AsyncClient, bound: str, value: str
) -> None:
    auth = {"Authorization": "Bearer t-supervisor"}
    r = await client.get("/v1/planned-visits", headers=auth, params={bound: value})
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["value"] == value


async def test_planned_visits_to_a_date_answers_the_visits_due_by_that_day(
    client: httpx.AsyncClient,
) -> None:
    # Answered 500 before: the date was read as a naive time and compared with aware ones.
    auth = {"Authorization": "Bearer t-supervisor"}
    r = await client.get("/v1/planned-visits", headers=auth, params={"to": "2027-02-01"})
    assert r.status_code == 200, r.text
    dues = [datetime.fromisoformat(v["due_at"]) for v in r.json()["items"]]
    assert dues and max(dues) == datetime(2027, 1, 27, 9, tzinfo=SH)
