"""The HTTP API over an in-memory fold (the service loads the same facts from PostgreSQL, see
the integration tests): exact figures of a hand-worked month, groups, the report page, the
churn list's pages, 422s for bad periods and months, and who may read what (SPEC §8)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from analytics_builders import at
from analytics_fold_readings import FoldReadings
from analytics_march import APRIL_10, MARCH_EVENTS
from fastapi import FastAPI

from followup.analytics import api
from followup.analytics.domain.model import fold
from followup.analytics.domain.period import month_period
from followup.analytics.metrics import AnalyticsMetrics
from followup.analytics.queries import Analytics
from followup.analytics.settings import AnalyticsSettings
from followup.core.auth import Principal, Role, TokenTable, bearer_auth
from followup.core.problems import install_problem_handlers

TOKENS = {
    "tok-analyst": Principal(Role.ANALYST, None, "an"),
    "tok-agent": Principal(Role.AGENT, "A-1", "ag"),
    "tok-admin": Principal(Role.ADMIN, None, "ad"),
}


class FixedClock:
    def __init__(self, now: datetime) -> None:
        self._now = now

    def now(self) -> datetime:
        return self._now


def app_over(memory: FoldReadings, now: datetime) -> FastAPI:
    """The analytics routes with their dependencies, answers folded from memory."""
    app = FastAPI()
    install_problem_handlers(app)
    svc = Analytics(AnalyticsSettings(), AnalyticsMetrics(), memory)
    for router in api.routers(bearer_auth(TokenTable(TOKENS)), svc):
        app.include_router(router)
    app.state.clock = FixedClock(now)
    app.state.pool = None
    return app


@pytest.fixture
def memory() -> FoldReadings:
    return FoldReadings(fold(MARCH_EVENTS))


@pytest.fixture
async def client(memory: FoldReadings) -> AsyncIterator[httpx.AsyncClient]:
    async with client_of(app_over(memory, APRIL_10)) as c:
        yield c


def client_of(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://analytics",
        headers={"Authorization": "Bearer tok-analyst"},
    )


def ratio(n: int, d: int, target: float | None = None) -> dict[str, Any]:
    met = None if target is None or not d else n / d >= target
    return {
        "numerator": n,
        "denominator": d,
        "value": n / d if d else None,
        "target": target,
        "met": met,
    }


async def test_march_kpis_for_the_whole_company(
    client: httpx.AsyncClient, memory: FoldReadings
) -> None:
    r = await client.get("/v1/kpis", params={"from": "2026-03-01", "to": "2026-03-31"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["from"], body["to"]) == ("2026-03-01T00:00:00+08:00", "2026-04-01T00:00:00+08:00")
    assert [kind for kind, _, _ in memory.asked] == ["kpis"]
    [group] = body["groups"]
    assert group["key"] == "all"
    assert group["satisfaction_rate"] == ratio(2, 3, 0.98)
    assert group["visit_on_time_rate"] == ratio(2, 4)
    assert group["visit_response_time"] == {"count": 3, "p50_hours": 24.0, "p90_hours": 216.0}
    assert group["handover_time"] == {"count": 1, "p50_hours": 2.0, "p90_hours": 2.0}
    assert group["resolution_time"] == {"count": 1, "p50_hours": 24.0, "p90_hours": 24.0}
    assert group["handover_sla_met_rate"] == ratio(1, 2)
    assert group["first_response_sla_met_rate"] == ratio(1, 1)
    assert group["resolution_sla_met_rate"] == ratio(1, 1)
    assert group["resolution_rate"] == ratio(1, 3)
    assert group["closure_rate"] == ratio(1, 3, 1.0)
    assert group["repair_return_visit_rate"] == ratio(1, 1, 1.0)
    # No complaint resolved yet: no verdict, neither 0 % nor 100 %.
    assert group["complaint_return_visit_rate"] == ratio(0, 0, 1.0)
    assert group["spot_check_pass_rate"] == ratio(0, 0)


async def test_kpis_by_agent_and_by_tier_credit_who_and_what_at_the_time(
    client: httpx.AsyncClient,
) -> None:
    body = (await client.get("/v1/kpis?from=2026-03-01&to=2026-03-31&group_by=agent")).json()
    by_agent = {g["key"]: g for g in body["groups"]}
    assert body["group_by"] == "agent"
    assert by_agent["A-1"]["satisfaction_rate"] == ratio(2, 2, 0.98)
    assert by_agent["A-2"]["satisfaction_rate"] == ratio(0, 1, 0.98)
    assert by_agent["A-1"]["visit_on_time_rate"] == ratio(2, 3)
    # I-2 and I-3 have no owner: their group is null, listed last.
    assert list(by_agent)[-1] is None
    tiers = (await client.get("/v1/kpis?from=2026-03-01&to=2026-03-31&group_by=tier")).json()
    by_tier = {g["key"]: g for g in tiers["groups"]}
    assert set(by_tier) == {"gold", "silver"}
    assert by_tier["silver"]["resolution_rate"] == ratio(0, 2)


async def test_the_monthly_report_in_json_and_as_a_page_with_charts(
    client: httpx.AsyncClient, memory: FoldReadings
) -> None:
    r = await client.get("/v1/reports/monthly/2026-03")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    report = r.json()
    assert memory.asked[-1][0] == "at_risk"  # the report lists the customers at risk
    assert report["kpis"]["satisfaction_rate"] == ratio(2, 3, 0.98)
    assert report["top_problem_categories"] == [
        {"category": "complaint", "count": 2},
        {"category": "fault", "count": 1},
    ]
    assert report["most_frequent_problems"] == [
        {"category": "complaint", "severity": "general", "count": 2},
        {"category": "fault", "severity": "general", "count": 1},
    ]
    assert report["departments_most_breaches"] == [{"department": "customer_service", "count": 1}]
    assert report["agents_most_breaches"] == []
    [risk] = report["customers_at_risk"]
    assert (risk["customer_id"], risk["rules"]) == ("C-2", ["complaints_within_90_days"])
    assert risk["signals"][0]["evidence"] == ["I-2", "I-3"]
    page = await client.get("/v1/reports/monthly/2026-03", headers={"Accept": "text/html"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    assert html.count("<svg") >= 4 and "66.67%" in html and "C-2" in html
    assert "complaint (general)" in html
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "<script" not in html and "https://" not in html


async def test_the_churn_list_pages_by_customer(client: httpx.AsyncClient) -> None:
    params = {"from": "2026-03-01", "to": "2026-03-31", "limit": "1"}
    first = (await client.get("/v1/customers/at-risk", params=params)).json()
    assert [i["customer_id"] for i in first["items"]] == ["C-2"]
    assert first["items"][0]["tier"] == "silver" and first["next_cursor"] is None
    empty = await client.get("/v1/customers/at-risk", params={**params, "from": "2026-03-26"})
    assert empty.json()["items"] == []


async def test_bad_periods_and_months_are_422_problems(client: httpx.AsyncClient) -> None:
    backwards = await client.get("/v1/kpis", params={"from": "2026-04-01", "to": "2026-03-01"})
    assert backwards.status_code == 422
    assert backwards.headers["content-type"] == "application/problem+json"
    assert backwards.json()["detail"] == "from is after to"
    for bad in ("2026-13", "2026-3", "march"):
        r = await client.get(f"/v1/reports/monthly/{bad}")
        assert r.status_code == 422, bad
        assert r.headers["content-type"] == "application/problem+json"
    assert (await client.get("/v1/kpis", params={"from": "yesterday"})).status_code == 422
    assert (await client.get("/v1/kpis", params={"group_by": "colour"})).status_code == 422
    assert (await client.get("/v1/customers/at-risk", params={"cursor": "!!"})).status_code == 400


async def test_analysts_supervisors_and_admins_read_agents_and_strangers_do_not(
    client: httpx.AsyncClient,
) -> None:
    for path in ("/v1/kpis", "/v1/reports/monthly/2026-03", "/v1/customers/at-risk"):
        assert (
            await client.get(path, headers={"Authorization": "Bearer tok-agent"})
        ).status_code == 403
        assert (await client.get(path, headers={"Authorization": "Bearer nope"})).status_code == 401
        assert (
            await client.get(path, headers={"Authorization": "Bearer tok-admin"})
        ).status_code == 200


def test_from_and_to_read_dates_as_local_days_and_instants_as_given() -> None:
    zone = ZoneInfo("Asia/Shanghai")
    assert api.parse_instant("2026-03-31", zone, end=True, name="to").isoformat() == (
        "2026-04-01T00:00:00+08:00"
    )
    assert api.parse_instant("2026-03-01T12:00:00Z", zone, end=False, name="from").isoformat() == (
        "2026-03-01T12:00:00+00:00"
    )
    assert api.parse_month("2026-12") == (2026, 12)
    december = month_period(2026, 12, zone)
    assert (december.start.month, december.end.year, december.end.month) == (12, 2027, 1)
    assert api._wants_html("text/html,application/xhtml+xml;q=0.9,*/*;q=0.8")
    assert not api._wants_html("application/json") and not api._wants_html("")


async def test_each_question_is_answered_as_of_now_against_the_deadlines_passed(
    memory: FoldReadings,
) -> None:
    march = {"from": "2026-03-01", "to": "2026-03-31"}
    app = app_over(memory, at(3, 15))
    async with client_of(app) as client:

        async def on_time() -> tuple[int, int, str]:
            body = (await client.get("/v1/kpis", params=march)).json()
            rate = body["groups"][0]["visit_on_time_rate"]
            return rate["numerator"], rate["denominator"], body["as_of"]

        # Mid-March: the deadlines of V-F1, V-1 (both on time) and V-2 (logged late) passed.
        assert await on_time() == (2, 3, "2026-03-15T09:00:00+08:00")
        app.state.clock = FixedClock(at(3, 16))
        assert await on_time() == (2, 3, "2026-03-16T09:00:00+08:00")
        # V-3's deadline (Mar 17 23:59) passes unlogged: it counts late from then on.
        app.state.clock = FixedClock(at(3, 18))
        assert await on_time() == (2, 4, "2026-03-18T09:00:00+08:00")
        assert [as_of for _, _, as_of in memory.asked] == [at(3, 15), at(3, 16), at(3, 18)]


async def test_without_bounds_the_periods_are_whole_local_days_and_months(
    memory: FoldReadings,
) -> None:
    app = app_over(memory, at(3, 20, 10))
    async with client_of(app) as client:
        kpis = (await client.get("/v1/kpis")).json()
        assert (kpis["from"], kpis["to"]) == (
            "2026-03-01T00:00:00+08:00",
            "2026-04-01T00:00:00+08:00",
        )
        risk = (await client.get("/v1/customers/at-risk")).json()
        assert (risk["from"], risk["to"]) == (
            "2025-12-21T00:00:00+08:00",
            "2026-03-21T00:00:00+08:00",
        )
        # Later that day the same question is the same period (whole local days and months).
        app.state.clock = FixedClock(at(3, 20, 18))
        again = (await client.get("/v1/kpis")).json()
        assert memory.asked[-1][1] == memory.asked[0][1]
        assert {**again, "as_of": None} == {**kpis, "as_of": None}
        assert again["as_of"] == "2026-03-20T18:00:00+08:00"
        # With `from` only, the period runs to now.
        upto = (await client.get("/v1/kpis", params={"from": "2026-03-19"})).json()
        assert upto["to"] == "2026-03-20T18:00:00+08:00"
