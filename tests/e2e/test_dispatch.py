"""Dispatch on the real broker (issue 14, SPEC §10): a due visit goes to its account manager,
another to the least-loaded agent of the team the policy routes it to, a supervisor reassigns
one (an agent may not), and each assignment is a VisitAssigned on followup.visits."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson

from followup.events import Contact, CustomerDelivered, VisitDue, encode, make_event, topics

from .conftest import TOKEN, poll, prefixed_topics, read_topic

# The generic preset: routine visits to sales, issue follow-ups to customer service.
ROSTER = """
[teams.sales]
[teams.customer-service]

# The account manager works in customer service: a routine visit (routed to sales) reaches it
# only as the customer's account manager.
[agents.AM-1]
team = "customer-service"
department = "customer_service"

[agents.S-1]
team = "sales"
department = "customer_service"

[agents.CS-1]
team = "customer-service"
department = "customer_service"

[agents.CS-2]
team = "customer-service"
department = "customer_service"

[supervisors.SUP-1]
department = "customer_service"
teams = ["sales", "customer-service"]
"""
TOKENS = {
    "tok-cs1": {"role": "agent", "agent_id": "CS-1", "department": "customer_service"},
    "tok-sup": {"role": "supervisor", "agent_id": "SUP-1", "department": "customer_service"},
}
AT = datetime.fromisoformat("2026-03-02T10:00:00+08:00")


def delivered(customer: str) -> bytes:
    data = CustomerDelivered(
        customer_id=customer,
        order_id=f"O-{customer}",
        delivered_at=AT,
        product="home cinema 7.1",
        tier="gold",
        segment="individual",
        region="CN",
        account_manager_id="AM-1",
        contact=Contact(name="Qian Hui", phone="+86 139 0000 0001"),
    )
    return encode(make_event(data, id=f"cd-{customer}", source="t", subject=customer, time=AT))


def due(customer: str, visit_id: str, kind: str) -> bytes:
    data = VisitDue(
        visit_id=visit_id,
        customer_id=customer,
        kinds=[kind],
        due_at=AT,
        deadline=datetime.fromisoformat("2099-03-09T23:59:59+08:00"),
        attempt=1,
        reason=kind,
    )
    return encode(make_event(data, id=f"due-{visit_id}", source="t", subject=customer, time=AT))


async def test_visits_are_routed_reassigned_by_a_supervisor_and_each_is_published(
    start_service: Any, producer: Any, contract_topics: Any, tmp_path: Path
) -> None:
    prefix = await prefixed_topics(contract_topics.kafka_bootstrap)
    roster = tmp_path / "roster.toml"
    roster.write_text(ROSTER)
    svc = await start_service(
        "visits",
        FOLLOWUP_TOPIC_PREFIX=prefix,
        FOLLOWUP_TOKENS=json.dumps(TOKENS),
        FOLLOWUP_ROSTER_FILE=str(roster),
        FOLLOWUP_POLICY="generic",
    )
    customer = f"C-{uuid.uuid4().hex[:8]}"
    # A customer without an account manager (known to visits from no CustomerDelivered).
    other = f"C-{uuid.uuid4().hex[:8]}"
    routine, follow_up, second = (f"V-{n}-{uuid.uuid4().hex[:6]}" for n in ("r", "f", "g"))
    key = customer.encode()
    await producer.send_and_wait(prefix + topics.CUSTOMERS_SEALED, delivered(customer), key=key)

    def client(token: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=svc.url, timeout=10, headers={"Authorization": f"Bearer {token}"}
        )

    async with client(TOKEN) as admin, client("tok-sup") as sup, client("tok-cs1") as agent:

        async def agent_of(visit_id: str) -> Any:
            r = await admin.get(f"/v1/visits/{visit_id}")
            return r.status_code == 200 and r.json().get("agent_id")

        # The customer is remembered before its visits come due (scheduling's order).
        await poll(lambda: _customer_known(svc.env["FOLLOWUP_PG_DSN"], customer))
        await producer.send_and_wait(
            prefix + topics.SCHEDULING, due(customer, routine, "routine"), key=key
        )
        # The routine visit: its active account manager.
        assert await poll(lambda: agent_of(routine)) == "AM-1"
        await producer.send_and_wait(
            prefix + topics.SCHEDULING, due(other, follow_up, "issue_follow_up"), key=other.encode()
        )
        await producer.send_and_wait(
            prefix + topics.SCHEDULING, due(other, second, "issue_follow_up"), key=other.encode()
        )
        # The other customer's follow-ups: customer service,
        # the least-loaded (AM-1 has one open visit: CS-1 by id, then CS-2 with none).
        assert await poll(lambda: agent_of(follow_up)) == "CS-1"
        assert await poll(lambda: agent_of(second)) == "CS-2"

        body = {"agent_id": "CS-1", "reason": "CS-2 is on leave"}
        assert (await agent.post(f"/v1/visits/{second}/assign", json=body)).status_code == 403
        moved = await sup.post(f"/v1/visits/{second}/assign", json=body)
        assert moved.status_code == 202, moved.text
        assert await poll(lambda: agent_of(second)) == "CS-1"
        bad = await sup.post(f"/v1/visits/{second}/assign", json={"agent_id": "NOBODY"})
        assert bad.status_code == 422

        # The supervisor sees its teams' queues; nothing waits unassigned.
        queue = (await sup.get("/v1/visits")).json()
        assert {v["visit_id"]: v["agent_id"] for v in queue["items"]} == {
            routine: "AM-1",
            follow_up: "CS-1",
            second: "CS-1",
        }
        unassigned = (await sup.get("/v1/visits", params={"assignee": "none"})).json()
        assert unassigned["items"] == []
        assert (await agent.get("/v1/visits", params={"assignee": "none"})).status_code == 403

    async def assignments() -> Any:
        records = await read_topic(contract_topics.kafka_bootstrap, prefix + topics.VISITS)
        docs = [orjson.loads(r.value) for r in records]
        found = [d for d in docs if d["type"] == "VisitAssigned"]
        return found if len(found) >= 4 else None

    published = await poll(assignments)
    got = [
        (d["data"]["visit_id"], d["data"]["agent_id"], d["data"]["assigned_by"]) for d in published
    ]
    assert sorted(got) == sorted(
        [
            (routine, "AM-1", "routing"),
            (follow_up, "CS-1", "routing"),
            (second, "CS-2", "routing"),
            (second, "CS-1", "SUP-1"),
        ]
    )
    reassigned = next(d["data"] for d in published if d["data"]["assigned_by"] == "SUP-1")
    # What the supervisor typed is sealed on the topic (SPEC §8), never plaintext.
    assert reassigned["reason"].startswith("sealed:") and "leave" not in reassigned["reason"]
    assert reassigned["team"] == "customer-service"
    assert {d["subject"] for d in published} == {customer, other}


async def _customer_known(dsn: str, customer: str) -> bool:
    """Whether visits has stored the customer's CustomerDelivered."""
    conn = await asyncpg.connect(dsn)
    try:
        return bool(await conn.fetchval("SELECT 1 FROM customer WHERE customer_id = $1", customer))
    finally:
        await conn.close()
