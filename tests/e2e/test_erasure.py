"""Issue 17's "Done when" on the real broker and databases, the four services as processes: a
customer with a distinctive name and phone is delivered, a visit logs feedback and a problem
repeating the phone, a complaint repeats it too; then an admin erases the customer. No table of
any service database, no topic (but the intake buffer followup.customers, whose short retention
is the point) and no log holds the name or the phone in plaintext, before and after a replay of
every service; the KPIs stay what they were."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson

from followup.events import topics

from .conftest import TOKEN, RunningService, poll, prefixed_topics, read_topic, replay
from .test_visits import visit_due
from .test_walking_skeleton import delivery_event

NAME = "Qiu Zhenxiang-Erasurewitness"
PHONE = "+86 139 0042 7315"
SECRETS = (NAME, PHONE)
TOKENS = {"tok-agent": {"role": "agent", "agent_id": "A-1"}}
SERVICES = ("scheduling", "visits", "issues", "analytics")
MARCH = {"from": "2026-03-01", "to": "2026-03-31"}


def _leaks_in(value: object) -> list[str]:
    if isinstance(value, (bytes, bytearray, memoryview)):
        raw = bytes(value)
        return [s for s in SECRETS if s.encode() in raw]
    text = str(value)
    return [s for s in SECRETS if s in text]


async def database_leaks(svc: RunningService) -> list[str]:
    """Every table of the service's database (every schema), every column, searched."""
    conn = await asyncpg.connect(svc.env["FOLLOWUP_PG_DSN"])
    try:
        tables = await conn.fetch(
            """SELECT table_schema, table_name FROM information_schema.tables
               WHERE table_schema NOT IN ('pg_catalog', 'information_schema')
                 AND table_type = 'BASE TABLE'"""
        )
        found = []
        for t in tables:
            name = f'"{t["table_schema"]}"."{t["table_name"]}"'
            for row in await conn.fetch(f"SELECT * FROM {name}"):
                for column, value in row.items():
                    found += [f"{svc.name}: {name}.{column}: {s}" for s in _leaks_in(value)]
        return found
    finally:
        await conn.close()


async def topic_leaks(bootstrap: str, prefix: str) -> list[str]:
    """Every record (key, value, headers) of every topic but the intake buffer."""
    found = []
    for topic in topics.ALL_TOPICS:
        if topic == topics.CUSTOMERS:
            continue
        for r in await read_topic(bootstrap, prefix + topic, rounds=4):
            parts = [r.key or b"", r.value or b"", *(v or b"" for _, v in r.headers)]
            found += [f"{topic}@{r.offset}: {s}" for p in parts for s in _leaks_in(p)]
    return found


def log_leaks(logs: list[Path]) -> list[str]:
    return [f"{p.name}: {s}" for p in logs for s in _leaks_in(p.read_text(errors="replace"))]


async def kpis(analytics: RunningService) -> dict[str, Any]:
    async with analytics.client() as c:
        body = dict((await c.get("/v1/kpis", params=MARCH)).json())
    body.pop("as_of", None)
    return body


async def test_an_erased_customer_leaves_no_plaintext_anywhere_even_after_every_replay(
    start_service: Any, producer: Any, contract_topics: Any
) -> None:
    bootstrap = contract_topics.kafka_bootstrap
    prefix = await prefixed_topics(bootstrap)
    env = {"FOLLOWUP_TOPIC_PREFIX": prefix, "FOLLOWUP_TOKENS": json.dumps(TOKENS)}
    running = {name: await start_service(name, **env) for name in SERVICES}
    logs = [svc.log_path for svc in running.values()]
    customer = f"C-{uuid.uuid4().hex[:8]}"
    visit_id = f"V-{uuid.uuid4().hex[:8]}"
    delivery = delivery_event(customer, "2026-03-01T10:00:00+08:00")
    delivery["data"]["contact"] = {"name": NAME, "phone": PHONE}
    delivery["data"]["account_manager_id"] = "A-1"
    key = customer.encode()
    await producer.send_and_wait(prefix + topics.CUSTOMERS, orjson.dumps(delivery), key=key)
    await producer.send_and_wait(prefix + topics.SCHEDULING, visit_due(customer, visit_id), key=key)

    def client(name: str, token: str = TOKEN) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {token}"}
        return httpx.AsyncClient(base_url=running[name].url, timeout=10, headers=headers)

    async with client("visits") as admin, client("visits", "tok-agent") as agent:

        async def contact() -> Any:
            r = await admin.get(f"/v1/visits/{visit_id}")
            return r.json().get("contact") if r.status_code == 200 else None

        # Before: the admin reads the contact, opened from what visits keeps sealed.
        assert (await poll(contact, within=60))["name"] == NAME
        r = await agent.post(
            f"/v1/visits/{visit_id}/log",
            json={
                "channel": "phone",
                "outcome": "completed",
                "satisfaction": 2,
                "feedback": f"call my daughter on {PHONE} after six",
                "problems": [
                    {
                        "category": "fault",
                        "severity": "general",
                        "description": f"subwoofer hums; ring {PHONE}",
                    }
                ],
            },
        )
        assert r.status_code == 202, r.text
        logged = (await admin.get(f"/v1/visits/{visit_id}")).json()["attempts"][0]["logs"][0]
        assert PHONE in logged["feedback"]

    async with client("issues") as issues:
        r = await issues.post(
            "/v1/issues",
            json={
                "customer_id": customer,
                "category": "fault",
                "severity": "general",
                "description": f"complaint: nobody called back on {PHONE}",
            },
        )
        assert r.status_code == 201, r.text
        complaint = r.json()["issue_id"]

        async def both_issues() -> Any:
            r = await issues.get("/v1/issues", params={"customer_id": customer})
            items = r.json()["items"] if r.status_code == 200 else []
            return items if len(items) == 2 else None

        await poll(both_issues, within=60)
        seen = (await issues.get(f"/v1/issues/{complaint}")).json()
        assert PHONE in seen["description"]

    async def settled_kpis() -> Any:
        first = await kpis(running["analytics"])
        return first if first == await kpis(running["analytics"]) and first.get("groups") else None

    before = await poll(settled_kpis, within=60)

    async with client("scheduling") as scheduling:
        r = await scheduling.post(f"/v1/customers/{customer}/erasure")
        assert r.status_code == 202, r.text
        assert (await scheduling.post(f"/v1/customers/{customer}/erasure")).status_code == 200

    async def erased_everywhere() -> bool:
        async with client("visits") as admin, client("issues") as issues:
            visit = (await admin.get(f"/v1/visits/{visit_id}")).json()
            issue = (await issues.get(f"/v1/issues/{complaint}")).json()
        log = visit["attempts"][0]["logs"][0]
        return (
            "contact" not in visit
            and log["feedback"] == "[erased]"
            and (issue["description"] == "[erased]")
        )

    await poll(erased_everywhere, within=60)

    async def no_leaks() -> list[str]:
        found = [s for svc in running.values() for s in await database_leaks(svc)]
        return found + await topic_leaks(bootstrap, prefix) + log_leaks(logs)

    assert await no_leaks() == []
    assert await poll(lambda: _same(before, running["analytics"]), within=60)

    # Every service rebuilt from offset 0: what it re-reads is sealed, its key is gone.
    for name in SERVICES:
        svc = running[name]
        svc.process.terminate()
        svc.process.wait(timeout=30)
        await replay(name, {**os.environ, **svc.env})
        running[name] = await start_service(name, dsn=svc.env["FOLLOWUP_PG_DSN"], **env)
        logs.append(running[name].log_path)
    await poll(erased_everywhere, within=60)
    assert await poll(lambda: _same(before, running["analytics"]), within=60)
    assert await no_leaks() == []


async def _same(before: dict[str, Any], analytics: RunningService) -> bool:
    return await kpis(analytics) == before
