"""Visits on the real broker: VisitDue in, a log over the API, VisitLogged out (issue 5)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import orjson

from followup.events import VisitDue, decode, encode, make_event, topics

from .conftest import TOKEN, poll, read_topic

AGENT_TOKENS = {
    "tok-agent-a": {"role": "agent", "agent_id": "A-1"},
    "tok-agent-b": {"role": "agent", "agent_id": "A-2"},
    "tok-sup": {"role": "supervisor", "name": "S-1"},
}


def visit_due(
    customer: str, visit_id: str, *, kinds: list[str] | None = None, agent: str = "A-1"
) -> bytes:
    data = VisitDue.model_validate_json(
        orjson.dumps(
            {
                "visit_id": visit_id,
                "customer_id": customer,
                "order_id": "O-1",
                "kinds": kinds or ["first_use"],
                "due_at": "2026-03-02T10:00:00+08:00",
                "deadline": "2099-03-09T23:59:59+08:00",
                "attempt": 1,
                "agent_id": agent,
                "reason": "first use",
            }
        )
    )
    from datetime import datetime

    event = make_event(
        data,
        id=f"due-{visit_id}",
        source="test/scheduling",
        subject=customer,
        time=datetime.fromisoformat("2026-03-02T10:00:00+08:00"),
    )
    return encode(event)


async def visits_logged(bootstrap: str, visit_id: str) -> list[Any]:
    records = await read_topic(bootstrap, topics.VISITS, rounds=6)
    return [r for r in records if visit_id.encode() in r.value]


async def test_a_due_visit_is_logged_by_its_agent_and_published_with_the_contract_fields(
    start_service: Any, producer: Any, contract_topics: Any
) -> None:
    svc = await start_service("visits", FOLLOWUP_TOKENS=json.dumps(AGENT_TOKENS))
    customer, visit_id = f"C-{uuid.uuid4().hex[:8]}", f"V-{uuid.uuid4().hex[:8]}"
    raw = visit_due(customer, visit_id)
    await producer.send_and_wait(topics.SCHEDULING, raw, key=customer.encode())
    await producer.send_and_wait(topics.SCHEDULING, raw, key=customer.encode())  # duplicate

    def client(token: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=svc.url, timeout=10, headers={"Authorization": f"Bearer {token}"}
        )

    async with client(TOKEN) as admin, client("tok-agent-a") as a, client("tok-agent-b") as b:

        async def queued() -> Any:
            r = await admin.get("/v1/visits", params={"customer_id": customer})
            return r.json()["items"] if r.status_code == 200 else None

        items = await poll(queued)
        assert [v["visit_id"] for v in items] == [visit_id]  # the duplicate created nothing
        assert items[0]["status"] == "due" and items[0]["agent_id"] == "A-1"

        body = {
            "channel": "phone",
            "outcome": "completed",
            "satisfaction": 5,
            "problems": [
                {"category": "fault", "severity": "general", "description": "subwoofer hums"}
            ],
        }
        assert (await b.post(f"/v1/visits/{visit_id}/log", json=body)).status_code == 403
        assert (await a.post("/v1/visits/V-nope/log", json=body)).status_code == 404
        bad = await a.post(
            f"/v1/visits/{visit_id}/log", json={"channel": "fax", "outcome": "completed"}
        )
        assert bad.status_code == 422
        assert bad.headers["content-type"].startswith("application/problem+json")
        assert {e["loc"] for e in bad.json()["errors"]} >= {"channel", "satisfaction"}

        key = {"Idempotency-Key": f"k-{visit_id}"}
        first = await a.post(f"/v1/visits/{visit_id}/log", json=body, headers=key)
        assert first.status_code == 202, first.text
        again = await a.post(f"/v1/visits/{visit_id}/log", json=body, headers=key)
        assert again.status_code == 202 and again.json() == first.json()
        other = await a.post(
            f"/v1/visits/{visit_id}/log", json={**body, "satisfaction": 4}, headers=key
        )
        assert other.status_code == 409
        done = await a.post(f"/v1/visits/{visit_id}/log", json=body)
        assert done.status_code == 409

        visit = (await a.get(f"/v1/visits/{visit_id}")).json()
        assert visit["status"] == "done"

    messages = await poll(lambda: visits_logged(contract_topics.kafka_bootstrap, visit_id))
    assert len(messages) == 1  # the idempotent replay published nothing new
    event = decode(messages[0].value)
    assert event.type == "VisitLogged" and event.id == first.json()["event_id"]
    assert messages[0].key == customer.encode()
    doc = orjson.loads(messages[0].value)["data"]
    assert set(doc) == {
        "visit_id",
        "customer_id",
        "agent_id",
        "channel",
        "outcome",
        "logged_at",
        "satisfaction",
        "problems",
    }
    assert doc["problems"][0]["category"] == "fault" and doc["problems"][0]["problem_id"]
