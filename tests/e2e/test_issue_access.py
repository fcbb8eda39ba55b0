"""Who may act on an issue, through the running service (issue 15 §3, SPEC §10): tokens carry a
department; an agent of another department gets 403 problem+json on every action and nothing
is published; an agent of the issue's department responds and takes it; the timeline names
each actor."""

from __future__ import annotations

import uuid
from typing import Any

import orjson

from followup.events import topics

from .conftest import TOKEN, poll, prefixed_topics, read_topic

TOKENS = {
    "t-agent-as": {"role": "agent", "agent_id": "E-18", "department": "after_sales"},
    "t-agent-tech": {"role": "agent", "agent_id": "T-3", "department": "technical"},
    "t-sup-tech": {"role": "supervisor", "name": "SUP-T", "department": "technical"},
    "t-sup-as": {"role": "supervisor", "name": "SUP-AS", "department": "after_sales"},
}
ACTIONS = {
    "assign": {"assignee_id": "T-3"},
    "respond": {"channel": "phone"},
    "pause": {"reason": "waiting for the customer"},
    "resume": {},
    "resolve": {"resolution": "replaced the board"},
}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_only_the_departments_people_act_and_each_action_names_its_caller(
    start_service: Any, contract_topics: Any
) -> None:
    infra = contract_topics
    prefix = await prefixed_topics(infra.kafka_bootstrap)
    svc = await start_service(
        "issues", FOLLOWUP_TOPIC_PREFIX=prefix, FOLLOWUP_TOKENS=orjson.dumps(TOKENS).decode()
    )
    complaint = {
        "customer_id": f"C-{uuid.uuid4().hex[:6]}",
        "category": "fault",
        "severity": "general",
        "description": "no picture",
    }
    async with svc.client() as api:
        r = await api.post("/v1/issues", json=complaint, headers=bearer(TOKEN))
        assert r.status_code == 201, r.text
        issue_id = r.json()["issue_id"]
        base = f"/v1/issues/{issue_id}"

        # Another department: 403 problem+json on every action, for agents and supervisors.
        for token in ("t-agent-tech", "t-sup-tech"):
            for action, body in ACTIONS.items():
                r = await api.post(f"{base}/{action}", json=body, headers=bearer(token))
                assert r.status_code == 403, (token, action, r.text)
                assert r.headers["content-type"] == "application/problem+json"
                assert r.json()["kind"] == "forbidden"

        # An agent of the department: responds to the unassigned issue, then takes it.
        agent = bearer("t-agent-as")
        r = await api.post(f"{base}/respond", json={"channel": "phone"}, headers=agent)
        assert r.status_code == 202, r.text
        r = await api.post(f"{base}/assign", json={"assignee_id": "E-99"}, headers=agent)
        assert r.status_code == 403 and r.json()["reason"] == "assign_others"
        r = await api.post(f"{base}/assign", json={}, headers=agent)
        assert r.status_code == 202, r.text
        r = await api.post(f"{base}/pause", json={"reason": "customer away"}, headers=agent)
        assert r.status_code == 202, r.text
        r = await api.post(f"{base}/resume", json={}, headers=bearer("t-sup-as"))
        assert r.status_code == 202, r.text
        named = {"resolution": "replaced the board", "resolved_by": "E-1"}
        r = await api.post(f"{base}/resolve", json=named, headers=agent)
        assert r.status_code == 403, r.text
        r = await api.post(f"{base}/resolve", json={"resolution": "replaced"}, headers=agent)
        assert r.status_code == 202, r.text

        view = (await api.get(base)).json()
    actors = [(e["kind"], e["actor"]) for e in view["timeline"]]
    assert actors == [
        ("raised", None),
        ("responded", "E-18"),
        ("assigned", "E-18"),
        ("paused", "E-18"),
        ("resumed", "SUP-AS"),
        ("resolved", "E-18"),
    ]
    first_response = next(c for c in view["clocks"] if c["clock"] == "first_response")
    assert first_response["state"] == "met"

    async def published() -> list[dict[str, Any]] | None:
        docs = [
            orjson.loads(r.value)
            for r in await read_topic(infra.kafka_bootstrap, prefix + topics.ISSUES)
        ]
        return docs if len(docs) >= 6 else None

    docs = await poll(published, within=30)
    assert [d["type"] for d in docs] == [
        "IssueRaised",
        "IssueResponded",
        "IssueAssigned",
        "IssuePaused",
        "IssueResumed",
        "IssueResolved",
    ]
    assigned = next(d["data"] for d in docs if d["type"] == "IssueAssigned")
    assert (assigned["assignee_id"], assigned["assigned_by"]) == ("E-18", "E-18")
