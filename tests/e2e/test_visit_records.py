"""Visit records and outcomes without dead ends on the real broker (issue 14 §2, §3; SPEC
§10): a logged visit reads back whole (free text masked for analysts), declined and the third
unreachable end the visit, rescheduled takes it out of the queue with its time on the event."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import orjson

from followup.events import decode, topics

from .conftest import TOKEN, poll, read_topic
from .test_visits import visit_due

TOKENS = {
    "tok-agent": {"role": "agent", "agent_id": "A-1"},
    "tok-sup": {"role": "supervisor", "name": "S-1"},
    "tok-analyst": {"role": "analyst", "name": "N-1"},
}
LATER = "2099-01-04T09:30:00+08:00"


async def test_logs_read_back_whole_and_each_outcome_ends_or_puts_off_its_visit(
    start_service: Any, producer: Any, contract_topics: Any
) -> None:
    svc = await start_service("visits", FOLLOWUP_TOKENS=json.dumps(TOKENS))
    customer = f"C-{uuid.uuid4().hex[:8]}"
    done, declined, put_off, unreachable = (f"V-{uuid.uuid4().hex[:8]}" for _ in range(4))
    for visit_id in (done, declined, put_off, unreachable):
        await producer.send_and_wait(
            topics.SCHEDULING, visit_due(customer, visit_id), key=customer.encode()
        )

    def client(token: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=svc.url, timeout=10, headers={"Authorization": f"Bearer {token}"}
        )

    async with (
        client(TOKEN) as admin,
        client("tok-agent") as agent,
        client("tok-sup") as sup,
        client("tok-analyst") as analyst,
    ):

        async def statuses(**params: str) -> dict[str, str] | None:
            r = await admin.get("/v1/visits", params={"customer_id": customer, **params})
            items = r.json()["items"] if r.status_code == 200 else []
            return {v["visit_id"]: v["status"] for v in items} or None

        assert len(await poll(statuses) or {}) == 4

        async def log(visit_id: str, **body: Any) -> httpx.Response:
            return await agent.post(f"/v1/visits/{visit_id}/log", json={"channel": "phone", **body})

        full = {
            "outcome": "completed",
            "satisfaction": 2,
            "checklist": {"equipment": 4, "acoustics": 2},
            "needs": ["maintenance_plan"],
            "feedback": "call my wife on 138 0000 1234",
            "problems": [
                {"category": "fault", "severity": "general", "description": "left speaker hums"}
            ],
        }
        assert (await log(done, **full)).status_code == 202
        assert (await log(declined, outcome="declined")).status_code == 202
        missing_time = await log(put_off, outcome="rescheduled")
        assert missing_time.status_code == 422
        assert [e["loc"] for e in missing_time.json()["errors"]] == ["rescheduled_to"]
        assert (await log(put_off, outcome="rescheduled", rescheduled_to=LATER)).status_code == 202
        for _ in range(3):
            assert (await log(unreachable, outcome="unreachable")).status_code == 202

        ended = await log(declined, outcome="completed", satisfaction=5)
        assert ended.status_code == 409 and ended.json()["reason"] == "visit_ended"
        assert await statuses() == {
            done: "done",
            declined: "declined",
            put_off: "rescheduled",
            unreachable: "unreachable",
        }
        assert await statuses(status="due") is None  # the rescheduled one left the queue
        supervisors_list = await sup.get("/v1/visits", params={"status": "unreachable"})
        assert unreachable in [v["visit_id"] for v in supervisors_list.json()["items"]]

        record = (await sup.get(f"/v1/visits/{done}")).json()
        [attempt] = record["attempts"]
        [entry] = attempt["logs"]
        assert {k: entry[k] for k in ("outcome", "satisfaction", "checklist", "needs")} == {
            "outcome": "completed",
            "satisfaction": 2,
            "checklist": {"equipment": 4, "acoustics": 2},
            "needs": ["maintenance_plan"],
        }
        assert entry["feedback"] == full["feedback"]
        assert entry["problems"][0]["description"] == "left speaker hums"
        assert entry["problems"][0]["issue_id"]
        masked = (await analyst.get(f"/v1/visits/{done}")).json()["attempts"][0]["logs"][0]
        assert (masked["feedback"], masked["problems"][0]["description"]) == ("***", "***")
        assert "contact" not in (await analyst.get(f"/v1/visits/{done}")).json()

        history = (await agent.get(f"/v1/customers/{customer}/visits")).json()["items"]
        by_id = {v["visit_id"]: v for v in history}
        assert len(by_id[unreachable]["attempts"][0]["logs"]) == 3
        assert by_id[put_off]["rescheduled_to"] is not None
        assert by_id[done]["attempts"][0]["logs"][0]["feedback"] == full["feedback"]

        schema = (await admin.get("/openapi.json")).json()
        answer = schema["paths"]["/v1/visits/{visit_id}"]["get"]["responses"]["200"]
        assert answer["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/VisitDetail"
        }

    async def rescheduled_on_the_topic() -> list[Any]:
        records = await read_topic(contract_topics.kafka_bootstrap, topics.VISITS, rounds=6)
        return [r for r in records if put_off.encode() in r.value]

    [message] = await poll(rescheduled_on_the_topic)
    event = decode(message.value)
    assert event.type == "VisitLogged" and orjson.loads(message.value)["dataversion"] == 2
    assert orjson.loads(message.value)["data"]["rescheduled_to"] == "2099-01-04T09:30:00+08:00"
