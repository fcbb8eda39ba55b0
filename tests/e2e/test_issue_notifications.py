"""Issues' notifications on the running service (SPEC §10): a complaint nobody takes breaches
its clocks and the department manager hears of each breach by a signed webhook and an e-mail;
the agent it is then assigned to hears of that. Real broker, database, HTTP and SMTP servers."""

from __future__ import annotations

import uuid
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import orjson

from followup.core.clock import publish_clock_advance
from followup.core.notify.testing import HttpReceiver, SmtpReceiver
from followup.core.notify.webhook import verify
from followup.events import topics

from .conftest import poll, prefixed_topics

SH = ZoneInfo("Asia/Shanghai")
SECRET = "e2e-webhook-secret"
MANAGER = "manager-customer-service"  # issues' default escalation for customer service


def local(m: int, d: int, h: int) -> datetime:
    return datetime(2026, m, d, h, tzinfo=SH)


def channels_file(path: Path, url: str, smtp_port: int) -> Path:
    path.write_text(
        f"""
[smtp]
host = "127.0.0.1"
port = {smtp_port}
sender = "followup@staff.example"
starttls = false

[webhooks.ops]
url = "{url}"
secret_env = "FOLLOWUP_E2E_WEBHOOK_SECRET"

[people.{MANAGER}]
role = "supervisor"
department = "customer_service"
locale = "en"
email = "cs-manager@staff.example"
webhook = "ops"

[people.E-42]
role = "agent"
department = "customer_service"
locale = "zh-CN"
webhook = "ops"
"""
    )
    return path


async def test_breaches_reach_the_manager_and_an_assignment_the_agent(
    start_service: Any, contract_topics: Any, tmp_path: Path
) -> None:
    infra = contract_topics
    prefix = await prefixed_topics(infra.kafka_bootstrap)
    clock_topic = prefix + topics.CLOCK
    await publish_clock_advance(infra.kafka_bootstrap, local(3, 6, 18), topic=clock_topic)
    async with HttpReceiver(statuses=[500]) as http:
        with SmtpReceiver() as smtp:
            svc = await start_service(
                "issues",
                FOLLOWUP_CLOCK="simulated",
                FOLLOWUP_TOPIC_PREFIX=prefix,
                FOLLOWUP_NOTIFY_FILE=str(channels_file(tmp_path / "n.toml", http.url, smtp.port)),
                FOLLOWUP_E2E_WEBHOOK_SECRET=SECRET,
                FOLLOWUP_NOTIFY_RETRY_INITIAL_S="0.1",
            )
            customer = f"C-{uuid.uuid4().hex[:6]}"
            async with svc.client() as api:
                complaint = {
                    "customer_id": customer,
                    "category": "complaint",
                    "severity": "general",
                    "description": "installer late twice; call 138 0013 8000",
                }
                r = await api.post("/v1/issues", json=complaint)
                assert r.status_code == 201, r.text
                issue_id = r.json()["issue_id"]
                for day in (10, 11, 12):
                    await publish_clock_advance(
                        infra.kafka_bootstrap, local(3, day, 9), topic=clock_topic
                    )

                async def three_each() -> bool:
                    return len(http.ok()) >= 3 and len(smtp.messages) >= 3

                await poll(three_each, within=60)
                r = await api.post(f"/v1/issues/{issue_id}/assign", json={"assignee_id": "E-42"})
                assert r.status_code == 202, r.text
                await poll(lambda: _async(len(http.ok()) >= 4), within=60)
                metrics = (await httpx.AsyncClient(base_url=svc.url).get("/metrics")).text

    bodies = [orjson.loads(r.body) for r in http.ok()]
    for request in http.ok():
        assert verify(SECRET.encode(), request.body, request.headers["x-followup-signature"])
    breaches = sorted(b["facts"]["clock"] for b in bodies if b["type"] == "IssueSlaBreached")
    assert breaches == ["first_response", "handover", "resolution"]
    assert {b["recipient"]["id"] for b in bodies if b["type"] == "IssueSlaBreached"} == {MANAGER}
    [assigned] = [b for b in bodies if b["type"] == "IssueAssigned"]
    assert assigned["recipient"] == {"id": "E-42", "role": "agent", "reason": "assignee"}
    assert assigned["subject"] == f"[followup] 工单 {issue_id} 已分派给您"
    assert sorted(m["X-Followup-Event-Type"] for m in smtp.messages) == ["IssueSlaBreached"] * 3
    assert {m["To"] for m in smtp.messages} == {"cs-manager@staff.example"}
    sent = b"".join(r.body for r in http.requests) + b"".join(m.as_bytes() for m in smtp.messages)
    assert b"138 0013 8000" not in sent and b"installer" not in sent
    assert 'followup_notifications_total{channel="webhook",outcome="delivered"} 4.0' in metrics
    assert 'followup_notifications_total{channel="webhook",outcome="retried"} 1.0' in metrics
    assert 'followup_notifications_total{channel="email",outcome="delivered"} 3.0' in metrics


async def _async(value: bool) -> bool:
    return value
