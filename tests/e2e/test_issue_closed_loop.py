"""The closed loop across three services on the real broker with the simulated clock (issue 6):
a visit's problem raises an issue; resolved, it makes scheduling plan an issue_follow_up visit;
the agent logs it through the visits API; not confirmed reopens the issue, confirmed closes it.
Then issues is replayed from offset 0: the same ledger, nothing new on followup.issues."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import orjson

from followup.core.clock import publish_clock_advance
from followup.core.sealing import is_sealed
from followup.events import topics

from .conftest import TOKEN, poll, prefixed_topics, read_topic, replay
from .test_issues import visit_logged
from .test_walking_skeleton import delivery_event

SH = ZoneInfo("Asia/Shanghai")
TOKENS = {"tok-agent-a": {"role": "agent", "agent_id": "A-1"}}
ANALYST = {"tok-analyst": {"role": "analyst", "name": "N-1"}}


def local(y: int, m: int, d: int, h: int = 10, mi: int = 0) -> datetime:
    return datetime(y, m, d, h, mi, tzinfo=SH)


async def documents(bootstrap: str, topic: str) -> list[dict[str, Any]]:
    return [orjson.loads(r.value) for r in await read_topic(bootstrap, topic)]


async def test_resolved_issue_is_confirmed_on_a_scheduled_follow_up_visit_and_replays_the_same(
    start_service: Any, producer: Any, contract_topics: Any
) -> None:
    infra = contract_topics
    prefix = await prefixed_topics(infra.kafka_bootstrap)
    clock_topic = prefix + topics.CLOCK
    now = local(2026, 3, 6, 18)  # a Friday evening

    async def advance(to: datetime) -> None:
        await publish_clock_advance(infra.kafka_bootstrap, to, topic=clock_topic)

    await advance(now)
    env = {"FOLLOWUP_CLOCK": "simulated", "FOLLOWUP_TOPIC_PREFIX": prefix}
    await start_service("scheduling", **env)
    visits = await start_service("visits", FOLLOWUP_TOKENS=json.dumps(TOKENS), **env)
    issues = await start_service("issues", FOLLOWUP_TOKENS=json.dumps(ANALYST), **env)

    customer = f"C-{uuid.uuid4().hex[:6]}"
    delivery = delivery_event(customer, "2026-03-01T10:00:00+08:00")
    delivery["data"]["account_manager_id"] = "A-1"
    await producer.send_and_wait(
        prefix + topics.CUSTOMERS, orjson.dumps(delivery), key=customer.encode()
    )
    problem = {
        "problem_id": f"P-{customer}",
        "category": "fault",
        "severity": "general",
        "description": "rear speakers crackle",
    }
    await producer.send_and_wait(
        prefix + topics.VISITS,
        visit_logged(customer, f"V-first-{customer}", now, problems=[problem]),
        key=customer.encode(),
    )

    async def issue_events(type_: str, n: int = 1) -> list[dict[str, Any]] | None:
        docs = [
            d
            for d in await documents(infra.kafka_bootstrap, prefix + topics.ISSUES)
            if d["type"] == type_ and d["subject"] == customer
        ]
        return docs if len(docs) >= n else None

    async def follow_up_visits(n: int) -> list[dict[str, Any]] | None:
        docs = [
            d
            for d in await documents(infra.kafka_bootstrap, prefix + topics.SCHEDULING)
            if d["subject"] == customer and "issue_follow_up" in d["data"]["kinds"]
        ]
        return docs if len(docs) >= n else None

    [raised] = await poll(lambda: issue_events("IssueRaised"), within=30)
    issue_id = raised["data"]["issue_id"]

    admin_headers = {"Authorization": f"Bearer {TOKEN}"}
    agent_headers = {"Authorization": "Bearer tok-agent-a"}
    async with (
        httpx.AsyncClient(base_url=issues.url, timeout=10, headers=admin_headers) as issues_api,
        httpx.AsyncClient(base_url=visits.url, timeout=10, headers=agent_headers) as agent,
    ):

        async def resolve_and_log_follow_up(n: int, confirmed: bool) -> dict[str, Any]:
            nonlocal now
            r = await issues_api.post(
                f"/v1/issues/{issue_id}/resolve", json={"resolution": f"fix {n}"}
            )
            assert r.status_code == 202, r.text
            await poll(lambda: issue_events("IssueResolved", n))
            now += timedelta(minutes=5)
            await advance(now)  # the follow-up falls due at the resolution
            due = (await poll(lambda: follow_up_visits(n), within=30))[n - 1]
            assert due["data"]["issue_id"] == issue_id
            visit_id = due["data"]["visit_id"]

            async def queued() -> Any:
                r = await agent.get(f"/v1/visits/{visit_id}")
                return r.json() if r.status_code == 200 else None

            assert (await poll(queued, within=30))["agent_id"] == "A-1"
            body = {
                "channel": "phone",
                "outcome": "completed",
                "satisfaction": 5 if confirmed else 2,
                "issue_confirmed": confirmed,
            }
            r = await agent.post(f"/v1/visits/{visit_id}/log", json=body)
            assert r.status_code == 202, r.text
            return dict(due)

        r = await issues_api.post(f"/v1/issues/{issue_id}/assign", json={"assignee_id": "E-9"})
        assert r.status_code == 202, r.text
        first = await resolve_and_log_follow_up(1, confirmed=False)
        [reopened] = await poll(lambda: issue_events("IssueReopened"), within=30)
        # Free text is sealed on the topic (SPEC §8); the API opens it for an admin.
        assert is_sealed(reopened["data"]["reason"])
        timeline = (await issues_api.get(f"/v1/issues/{issue_id}")).json()["timeline"]
        reason = next(e for e in timeline if e["kind"] == "reopened")["details"]["reason"]
        assert reason.endswith(first["data"]["visit_id"])
        second = await resolve_and_log_follow_up(2, confirmed=True)
        assert second["data"]["visit_id"] != first["data"]["visit_id"]
        [closed] = await poll(lambda: issue_events("IssueClosed"), within=30)
        assert closed["data"]["confirmed_by_visit_id"] == second["data"]["visit_id"]
        before = (await issues_api.get(f"/v1/issues/{issue_id}")).json()
        assert before["status"] == "closed"
        kinds = [e["kind"] for e in before["timeline"]]
        assert kinds == [
            "raised",
            "assigned",
            "resolved",
            "reopened",
            "resolved",
            "closed",
        ], kinds

    published = await documents(infra.kafka_bootstrap, prefix + topics.ISSUES)

    # Rebuild issues from offset 0; it comes back on the rebuilt tables.
    issues.process.terminate()
    issues.process.wait(timeout=30)
    await replay("issues", {**os.environ, **issues.env})
    again = await start_service(
        "issues", dsn=issues.env["FOLLOWUP_PG_DSN"], FOLLOWUP_TOKENS=json.dumps(ANALYST), **env
    )
    async with httpx.AsyncClient(base_url=again.url, timeout=10, headers=admin_headers) as api:
        after = (await api.get(f"/v1/issues/{issue_id}")).json()
        # An analyst sees the states and numbers, not what anyone wrote (SPEC §8), and acts on
        # nothing.
        analyst = {"Authorization": "Bearer tok-analyst"}
        seen = (await api.get(f"/v1/issues/{issue_id}", headers=analyst)).json()
        assert seen["description"] is None and seen["status"] == "closed"
        assert [e["kind"] for e in seen["timeline"]] == kinds
        assert not any("resolution" in e["details"] for e in seen["timeline"])
        r = await api.post(
            f"/v1/issues/{issue_id}/assign", json={"assignee_id": "E-1"}, headers=analyst
        )
        assert r.status_code == 403
    await asyncio.sleep(2)  # ticks and the relay had their chance to publish
    assert after["timeline"] == before["timeline"]
    assert after["status"] == "closed"
    republished = await documents(infra.kafka_bootstrap, prefix + topics.ISSUES)
    assert [d["id"] for d in republished] == [d["id"] for d in published]
