"""Issues on the real broker with the simulated clock (issue 6): a problem on a visit raises an
issue; assign, resolve; the follow-up visit reopens then closes it; a deadline passing on the
clock breaches once."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import orjson

from followup.core.clock import publish_clock_advance
from followup.events import VisitLogged, encode, make_event, topics

from .conftest import poll, prefixed_topics, read_topic

SH = ZoneInfo("Asia/Shanghai")


def local(y: int, m: int, d: int, h: int = 10) -> datetime:
    return datetime(y, m, d, h, tzinfo=SH)


def visit_logged(customer: str, visit_id: str, at: datetime, **extra: Any) -> bytes:
    data = VisitLogged.model_validate_json(
        orjson.dumps(
            {
                "visit_id": visit_id,
                "customer_id": customer,
                "agent_id": "A-1",
                "channel": "phone",
                "outcome": "completed",
                "logged_at": at.isoformat(),
                "satisfaction": 3,
                **extra,
            }
        )
    )
    return encode(
        make_event(data, id=str(uuid.uuid4()), source="test/visits", subject=customer, time=at)
    )


async def issue_events(bootstrap: str, topic: str) -> list[dict[str, Any]]:
    return [orjson.loads(r.value) for r in await read_topic(bootstrap, topic)]


async def test_an_issue_from_a_visit_problem_goes_round_the_closed_loop_and_breaches_once(
    start_service: Any, producer: Any, contract_topics: Any
) -> None:
    infra = contract_topics
    prefix = await prefixed_topics(infra.kafka_bootstrap)
    clock_topic = prefix + topics.CLOCK
    # Fri 2026-03-06 18:00: a Friday-evening report.
    await publish_clock_advance(infra.kafka_bootstrap, local(2026, 3, 6, 18), topic=clock_topic)
    svc = await start_service("issues", FOLLOWUP_CLOCK="simulated", FOLLOWUP_TOPIC_PREFIX=prefix)
    customer = f"C-{uuid.uuid4().hex[:6]}"
    problem = {
        "problem_id": "P-1",
        "category": "fault",
        "severity": "general",
        "description": "remote control pairing drops",
    }
    raw = visit_logged(customer, "V-1", local(2026, 3, 6, 18), problems=[problem])
    await producer.send_and_wait(prefix + topics.VISITS, raw, key=customer.encode())
    await producer.send_and_wait(prefix + topics.VISITS, raw, key=customer.encode())  # twice

    async def events_of(type_: str, n: int = 1) -> list[dict[str, Any]] | None:
        docs = [
            d
            for d in await issue_events(infra.kafka_bootstrap, prefix + topics.ISSUES)
            if d["type"] == type_
        ]
        return docs if len(docs) >= n else None

    [raised] = await poll(lambda: events_of("IssueRaised"), within=30)
    issue_id = raised["data"]["issue_id"]
    assert raised["data"]["department"] == "after_sales"
    # Handover by the end of the next working day (Mon 03-09); resolution in 3 working days.
    assert raised["data"]["handover_by"] == "2026-03-09T23:59:59+08:00"
    assert raised["data"]["resolve_by"] == "2026-03-11T23:59:59+08:00"
    assert raised["data"]["respond_by"] == "2026-03-07T18:00:00+08:00"

    async with svc.client() as api:
        r = await api.post(f"/v1/issues/{issue_id}/resolve", json={"resolution": "x"})
        assert r.status_code == 409 and r.json()["current_status"] == "raised"
        assert (
            await api.post("/v1/issues/nope/assign", json={"assignee_id": "E-1"})
        ).status_code == 404
        assert (await api.post(f"/v1/issues/{issue_id}/assign", json={})).status_code == 422
        assert (
            await api.post(f"/v1/issues/{issue_id}/assign", json={"assignee_id": "E-42"})
        ).status_code == 202
        r = await api.post(f"/v1/issues/{issue_id}/resolve", json={"resolution": "re-paired"})
        assert r.status_code == 202, r.text
        [resolved] = await poll(lambda: events_of("IssueResolved"))
        assert resolved["data"]["resolve_by"] == "2026-03-11T23:59:59+08:00"

        # The customer does not confirm the fix: reopened with a new resolution deadline.
        await producer.send_and_wait(
            prefix + topics.VISITS,
            visit_logged(
                customer, "V-2", local(2026, 3, 7, 10), issue_id=issue_id, issue_confirmed=False
            ),
            key=customer.encode(),
        )
        [reopened] = await poll(lambda: events_of("IssueReopened"))
        assert reopened["data"]["issue_id"] == issue_id
        r = await api.post(f"/v1/issues/{issue_id}/resolve", json={"resolution": "new remote"})
        assert r.status_code == 202, r.text
        await poll(lambda: events_of("IssueResolved", 2))
        await producer.send_and_wait(
            prefix + topics.VISITS,
            visit_logged(
                customer, "V-3", local(2026, 3, 7, 11), issue_id=issue_id, issue_confirmed=True
            ),
            key=customer.encode(),
        )
        [closed] = await poll(lambda: events_of("IssueClosed"))
        assert closed["data"]["confirmed_by_visit_id"] == "V-3"

        # A complaint nobody takes: the clock passes its handover deadline, one breach.
        complaint = {
            "customer_id": customer,
            "category": "complaint",
            "severity": "general",
            "description": "installer late twice",
        }
        r = await api.post("/v1/issues", json=complaint, headers={"Idempotency-Key": "k1"})
        assert r.status_code == 201, r.text
        again = await api.post("/v1/issues", json=complaint, headers={"Idempotency-Key": "k1"})
        assert again.json() == r.json()
        late_id = r.json()["issue_id"]
        for day in (10, 11, 12):
            await publish_clock_advance(
                infra.kafka_bootstrap, local(2026, 3, day, 9), topic=clock_topic
            )

        def breached_clocks(view: dict[str, Any]) -> list[str]:
            return [e["details"]["clock"] for e in view["timeline"] if e["kind"] == "breached"]

        async def all_three_breached() -> dict[str, Any] | None:
            body = (await api.get(f"/v1/issues/{late_id}")).json()
            return body if len(breached_clocks(body)) >= 3 else None

        # By Thu 03-12 09:00 the 24 h response, the handover (Mon 03-09) and the resolution
        # (Wed 03-11) deadlines have all passed.
        view = await poll(all_three_breached, within=30)
        await publish_clock_advance(infra.kafka_bootstrap, local(2026, 3, 13, 9), topic=clock_topic)
        await asyncio.sleep(1.5)  # more ticks: still one breach per clock
        view = (await api.get(f"/v1/issues/{late_id}")).json()
        assert view["breached"] is True
        assert sorted(breached_clocks(view)) == ["first_response", "handover", "resolution"]
        listed = (
            await api.get("/v1/issues", params={"breached": "true", "customer_id": customer})
        ).json()
        assert [i["issue_id"] for i in listed["items"]] == [late_id]
        metrics = (await httpx.AsyncClient(base_url=svc.url).get("/metrics")).text
        assert (
            'followup_issue_sla_breaches_total{clock="handover",department="customer_service"} 1.0'
            in metrics
        )
