"""Analytics on the real broker: a month of deliveries, due visits, logs with scores and issues
(raised, assigned, breached, resolved, confirmed by a follow-up visit, closed) published by
the producers' topics; the KPIs, the monthly report and the churn list over HTTP have the
figures worked out by hand; then `followup replay analytics` rebuilds the read model from
offset 0 and every answer is the same."""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from followup.events import encode, make_event, topics
from followup.events.registry import model_for

from .conftest import TOKEN, poll, prefixed_topics, replay

SH = ZoneInfo("Asia/Shanghai")
TOKENS = {
    "tok-analyst": {"role": "analyst", "name": "N-1"},
    "tok-agent": {"role": "agent", "agent_id": "A-1"},
}


def t(month: int, day: int, hour: int = 9, minute: int = 0, year: int = 2026) -> str:
    return datetime(year, month, day, hour, minute, tzinfo=SH).isoformat()


def raise_(issue: str, customer: str, at: str, category: str, source: str, dep: str) -> Any:
    raised = datetime.fromisoformat(at)
    return (
        "IssueRaised",
        {
            "issue_id": issue,
            "customer_id": customer,
            "source": source,
            "category": category,
            "severity": "general",
            "description": "no sound from the rear speakers",
            "raised_at": at,
            "department": dep,
            "handover_by": (raised + timedelta(days=1)).replace(hour=23, minute=59).isoformat(),
            "respond_by": (raised + timedelta(hours=24)).isoformat(),
            "resolve_by": (raised + timedelta(days=3)).replace(hour=23, minute=59).isoformat(),
        },
    )


def due(visit: str, customer: str, at: str, deadline: str, agent: str, **extra: Any) -> Any:
    data = {
        "visit_id": visit,
        "customer_id": customer,
        "kinds": ["routine"],
        "due_at": at,
        "deadline": deadline,
        "attempt": 1,
        "agent_id": agent,
        "reason": "plan",
        **extra,
    }
    return "VisitDue", data


def log(visit: str, customer: str, at: str, agent: str, satisfaction: int) -> Any:
    data = {
        "visit_id": visit,
        "customer_id": customer,
        "agent_id": agent,
        "channel": "phone",
        "outcome": "completed",
        "logged_at": at,
        "satisfaction": satisfaction,
        "feedback": "call me back on 13800000000",
    }
    return "VisitLogged", data


def delivered(customer: str, at: str, tier: str, region: str) -> Any:
    data = {
        "customer_id": customer,
        "order_id": f"O-{customer}",
        "delivered_at": at,
        "product": "home cinema",
        "tier": tier,
        "segment": "individual",
        "region": region,
        "contact": {"name": "Li Lei", "phone": "13800000000"},
    }
    return "CustomerDelivered", data


# March 2026, worked out by hand (as services/analytics/tests/unit/analytics_march.py).
MARCH: list[Any] = [
    delivered("C-1", t(6, 1, year=2025), "gold", "east"),
    delivered("C-2", t(7, 1, year=2025), "silver", "west"),
    ("ProjectStarted", {"customer_id": "C-1", "started_at": t(3, 1)}),  # no KPI reads it
    due("V-1", "C-1", t(3, 2), t(3, 9, 23, 59), "A-1"),
    log("V-1", "C-1", t(3, 3), "A-1", 5),  # on time, 24 h, satisfied
    due("V-2", "C-2", t(3, 4), t(3, 11, 23, 59), "A-2"),
    log("V-2", "C-2", t(3, 13), "A-2", 3),  # late, 216 h, not satisfied
    due("V-3", "C-1", t(3, 10), t(3, 17, 23, 59), "A-1"),  # never logged: late
    raise_("I-1", "C-1", t(3, 5), "fault", "visit", "after_sales"),
    (
        "IssueAssigned",
        {
            "issue_id": "I-1",
            "customer_id": "C-1",
            "assignee_id": "A-1",
            "department": "after_sales",
            "assigned_at": t(3, 5, 11),
        },
    ),
    (
        "IssueResolved",
        {
            "issue_id": "I-1",
            "customer_id": "C-1",
            "resolved_at": t(3, 6),
            "resolved_by": "A-1",
            "resolution": "replaced the amplifier",
            "resolve_by": t(3, 8, 23, 59),
            "paused_seconds": 0,
        },
    ),
    due(
        "V-F1",
        "C-1",
        t(3, 6, 10),
        t(3, 7, 23, 59),
        "A-1",
        kinds=["issue_follow_up"],
        issue_id="I-1",
    ),
    log("V-F1", "C-1", t(3, 6, 15), "A-1", 5),
    (
        "IssueClosed",
        {
            "issue_id": "I-1",
            "customer_id": "C-1",
            "closed_at": t(3, 6, 15),
            "confirmed_by_visit_id": "V-F1",
        },
    ),
    raise_("I-2", "C-2", t(3, 20), "complaint", "complaint", "customer_service"),
    (
        "IssueSlaBreached",
        {
            "issue_id": "I-2",
            "customer_id": "C-2",
            "clock": "handover",
            "deadline": t(3, 21, 23, 59),
            "department": "customer_service",
            "round": 1,
        },
    ),
    raise_("I-3", "C-2", t(3, 25), "complaint", "complaint", "customer_service"),
]


async def publish(producer: Any, prefix: str, events: list[Any]) -> None:
    for n, (type_, doc) in enumerate(events):
        # The contract models are strict: their JSON mode is the one that reads RFC 3339 text.
        data = model_for(type_).model_validate_json(json.dumps(doc))
        customer = doc["customer_id"]
        at = datetime.fromisoformat(
            next((v for k, v in doc.items() if k.endswith("_at")), doc.get("deadline"))
        )
        event = make_event(data, id=f"e2e-analytics-{n}", source="test", subject=customer, time=at)
        raw = encode(event)
        # Analytics reads the intake's sealed copy of followup.customers (SPEC §8).
        topic = prefix + topics.topic_for(type_)
        if topics.topic_for(type_) == topics.CUSTOMERS:
            topic = prefix + topics.CUSTOMERS_SEALED
        await producer.send_and_wait(topic, raw, key=customer.encode())
        if n % 5 == 0:  # redelivered: counted once
            await producer.send_and_wait(topic, raw, key=customer.encode())


def ratio(body: dict[str, Any]) -> tuple[int, int]:
    return body["numerator"], body["denominator"]


def without_as_of(doc: dict[str, Any]) -> dict[str, Any]:
    """An answer without the instant it was given at (the wall clock moves on)."""
    return {k: v for k, v in doc.items() if k != "as_of"}


async def answers(url: str, token: str = TOKEN) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=url, timeout=20, headers=headers) as c:
        march = {"from": "2026-03-01", "to": "2026-03-31"}
        out = {"all": (await c.get("/v1/kpis", params=march)).json()}
        for g in ("agent", "tier", "month", "department", "category", "region"):
            out[g] = (await c.get("/v1/kpis", params={**march, "group_by": g})).json()
        out["report"] = (await c.get("/v1/reports/monthly/2026-03")).json()
        out["at_risk"] = (await c.get("/v1/customers/at-risk", params=march)).json()
    return {k: without_as_of(v) for k, v in out.items()}


async def test_analytics_figures_from_the_topics_survive_a_replay(
    start_service: Any, producer: Any, contract_topics: Any
) -> None:
    prefix = await prefixed_topics(contract_topics.kafka_bootstrap)
    env = {"FOLLOWUP_TOPIC_PREFIX": prefix, "FOLLOWUP_TOKENS": json.dumps(TOKENS)}
    svc = await start_service("analytics", **env)
    await publish(producer, prefix, MARCH)

    async with svc.client() as admin:

        async def caught_up() -> Any:
            march = {"from": "2026-03-01", "to": "2026-03-31"}
            group = (await admin.get("/v1/kpis", params=march)).json()["groups"][0]
            tiers = (await admin.get("/v1/kpis", params={**march, "group_by": "tier"})).json()
            # The last events of each topic: V-3's due, V-F1's log, I-3's raise, C-2's delivery.
            done = (
                ratio(group["visit_on_time_rate"]) == (2, 4)
                and ratio(group["satisfaction_rate"]) == (2, 3)
                and ratio(group["resolution_rate"]) == (1, 3)
                and {g["key"] for g in tiers["groups"]} == {"gold", "silver"}
            )
            return group if done else None

        group = await poll(caught_up, within=60)
        metrics = (await admin.get("/metrics")).text

    assert (
        ratio(group["satisfaction_rate"]) == (2, 3) and group["satisfaction_rate"]["met"] is False
    )
    assert group["visit_response_time"] == {"count": 3, "p50_hours": 24.0, "p90_hours": 216.0}
    assert group["handover_time"] == {"count": 1, "p50_hours": 2.0, "p90_hours": 2.0}
    assert group["resolution_time"] == {"count": 1, "p50_hours": 24.0, "p90_hours": 24.0}
    assert ratio(group["handover_sla_met_rate"]) == (1, 2)
    assert ratio(group["repair_return_visit_rate"]) == (1, 1)
    assert group["complaint_return_visit_rate"]["value"] is None
    assert 'followup_analytics_query_seconds_count{endpoint="kpis",source="aggregates"}' in metrics
    # 16 events carry facts (the ProjectStarted none), each stored once despite redelivery.
    assert "followup_analytics_facts_stored_total 16.0" in metrics

    before = await answers(svc.url, "tok-analyst")
    agents = {g["key"]: g for g in before["agent"]["groups"]}
    assert ratio(agents["A-1"]["satisfaction_rate"]) == (2, 2)
    assert ratio(agents["A-2"]["satisfaction_rate"]) == (0, 1)
    assert {g["key"] for g in before["tier"]["groups"]} == {"gold", "silver"}
    assert before["report"]["top_problem_categories"][0] == {"category": "complaint", "count": 2}
    assert [i["customer_id"] for i in before["at_risk"]["items"]] == ["C-2"]
    # No personal data reaches an analyst: no contact, no free text.
    for secret in ("13800000000", "Li Lei", "rear speakers", "amplifier"):
        assert secret not in json.dumps(before)
    async with httpx.AsyncClient(
        base_url=svc.url, headers={"Authorization": "Bearer tok-agent"}
    ) as agent:
        assert (await agent.get("/v1/kpis")).status_code == 403

    svc.process.terminate()
    svc.process.wait(timeout=30)
    await replay("analytics", {**os.environ, **svc.env})
    again = await start_service("analytics", dsn=svc.env["FOLLOWUP_PG_DSN"], **env)
    assert await answers(again.url, "tok-analyst") == before
