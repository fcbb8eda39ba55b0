"""Visits rebuilt from the topics on the real broker: a VisitDue and a deadline move in, a log
and a spot check through the API, then `followup replay visits`. The rebuilt read model is the
one before (the visit, its log, its spot check, its moved deadline), a keyed retry still gets
its first answer, and nothing new appears on followup.visits."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import orjson

from followup.events import VisitDeadlineRecomputed, derived_id, encode, make_event, topics

from .conftest import TOKEN, poll, prefixed_topics, read_topic, replay
from .test_visits import visit_due

TOKENS = {
    "tok-agent-a": {"role": "agent", "agent_id": "A-1"},
    "tok-sup": {"role": "supervisor", "name": "S-1"},
}
MOVED_TO = "2099-03-16T23:59:59+08:00"


def deadline_moved(customer: str, visit_id: str, at: datetime) -> bytes:
    data = VisitDeadlineRecomputed.model_validate_json(
        orjson.dumps(
            {
                "visit_id": visit_id,
                "customer_id": customer,
                "deadline": MOVED_TO,
                "previous_deadline": "2099-03-09T23:59:59+08:00",
                "recomputed_at": at.isoformat(),
            }
        )
    )
    event = make_event(
        data,
        id=derived_id("VisitDeadlineRecomputed", visit_id, MOVED_TO),
        source="test/scheduling",
        subject=customer,
        time=at,
    )
    return encode(event)


async def read_model(dsn: str, visit_id: str) -> tuple[Any, ...]:
    """The visit's queue row and stored events, straight from the database."""
    conn = await asyncpg.connect(dsn)
    try:
        row = await conn.fetchrow(
            """SELECT visit_id, customer_id, order_id, kinds, status, agent_id, due_at, deadline,
                      attempt, issue_id, completed_at, completed_by, on_time, spot_check
               FROM visit WHERE visit_id = $1""",
            visit_id,
        )
        events = await conn.fetch(
            "SELECT event_id, type, data::text AS data FROM visit_event WHERE visit_id = $1",
            visit_id,
        )
        outbox = await conn.fetchval("SELECT count(*) FROM outbox")
    finally:
        await conn.close()
    stored = sorted((e["event_id"], e["type"], orjson.loads(e["data"])) for e in events)
    return dict(row) if row else None, stored, outbox


async def test_a_replayed_visits_read_model_equals_the_live_one_and_publishes_nothing(
    start_service: Any, producer: Any, contract_topics: Any
) -> None:
    infra = contract_topics
    prefix = await prefixed_topics(infra.kafka_bootstrap)
    env = {"FOLLOWUP_TOPIC_PREFIX": prefix, "FOLLOWUP_TOKENS": json.dumps(TOKENS)}
    visits = await start_service("visits", **env)
    dsn = visits.env["FOLLOWUP_PG_DSN"]

    customer, visit_id = f"C-{uuid.uuid4().hex[:8]}", f"V-{uuid.uuid4().hex[:8]}"
    key = customer.encode()
    await producer.send_and_wait(prefix + topics.SCHEDULING, visit_due(customer, visit_id), key=key)
    moved_at = datetime.now(UTC) - timedelta(minutes=1)
    await producer.send_and_wait(
        prefix + topics.SCHEDULING, deadline_moved(customer, visit_id, moved_at), key=key
    )

    def client(url: str, token: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=url, timeout=10, headers={"Authorization": f"Bearer {token}"}
        )

    month = datetime.now(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m")
    body = {
        "channel": "phone",
        "outcome": "completed",
        "satisfaction": 4,
        "needs": ["maintenance_plan"],
        "feedback": "happy with the install",
    }
    idempotency = {"Idempotency-Key": f"k-{visit_id}"}

    async def api_view(url: str) -> dict[str, Any]:
        async with client(url, TOKEN) as admin:
            return {
                "visit": (await admin.get(f"/v1/visits/{visit_id}")).json(),
                "customer": (await admin.get(f"/v1/customers/{customer}/visits")).json(),
                "sample": (
                    await admin.get("/v1/spot-checks", params={"agent_id": "A-1", "month": month})
                ).json(),
            }

    async with client(visits.url, "tok-agent-a") as agent, client(visits.url, "tok-sup") as sup:

        async def moved() -> Any:
            r = await agent.get(f"/v1/visits/{visit_id}")
            return r.status_code == 200 and r.json()["deadline"].startswith("2099-03-16")

        await poll(moved)
        logged = await agent.post(f"/v1/visits/{visit_id}/log", json=body, headers=idempotency)
        assert logged.status_code == 202, logged.text
        checked = await sup.post(f"/v1/spot-checks/{visit_id}", json={"result": "verified"})
        assert checked.status_code == 202, checked.text

    async def own_events() -> list[dict[str, Any]] | None:
        docs = [
            orjson.loads(r.value)
            for r in await read_topic(infra.kafka_bootstrap, prefix + topics.VISITS)
        ]
        return docs if len(docs) >= 2 else None

    published = await poll(own_events, within=30)
    assert [d["type"] for d in published] == ["VisitLogged", "VisitSpotChecked"]
    assert [d["id"] for d in published] == [logged.json()["event_id"], checked.json()["event_id"]]
    await asyncio.sleep(2)  # the live consumer reads its own events back (a no-op)
    before_db = await read_model(dsn, visit_id)
    before_api = await api_view(visits.url)
    row, stored, outbox_rows = before_db
    assert row is not None
    assert (row["status"], row["on_time"], row["spot_check"]) == ("done", True, "verified")
    assert row["deadline"] == datetime.fromisoformat(MOVED_TO)
    assert [t for _, t, _ in stored].count("VisitLogged") == 1
    assert sorted(t for _, t, _ in stored) == [
        "VisitDeadlineRecomputed",
        "VisitDue",
        "VisitLogged",
        "VisitSpotChecked",
    ]
    assert outbox_rows == 2
    assert before_api["visit"]["status"] == "done"
    assert [v["visit_id"] for v in before_api["sample"]["sample"]] == [visit_id]

    # Rebuild visits from offset 0; it comes back on the rebuilt tables.
    visits.process.terminate()
    visits.process.wait(timeout=30)
    await replay("visits", {**os.environ, **visits.env})
    again = await start_service("visits", dsn=dsn, **env)

    assert await read_model(dsn, visit_id) == before_db
    assert await api_view(again.url) == before_api
    async with client(again.url, "tok-agent-a") as agent:
        # The Idempotency-Key outlives the rebuild: the same answer, nothing run again.
        retried = await agent.post(f"/v1/visits/{visit_id}/log", json=body, headers=idempotency)
        assert retried.status_code == 202 and retried.json() == logged.json()
    await asyncio.sleep(2)  # ticks and the relay had their chance to publish
    after = [
        orjson.loads(r.value)
        for r in await read_topic(infra.kafka_bootstrap, prefix + topics.VISITS)
    ]
    assert [d["id"] for d in after] == [d["id"] for d in published]
    assert (await read_model(dsn, visit_id))[2] == 2  # no outbox row either
