"""`followup demo` on the real broker and databases: a short year (30 customers, 2 months) played
through the topics and the four services' APIs, on the simulated clock (issue 19 §1)."""

from __future__ import annotations

import json
from typing import Any

import httpx

from followup.core.demo.company import make_company
from followup.core.demo.play import Player, Stack
from followup.core.demo.report import kpi_rows

from .conftest import TOKEN, prefixed_topics


async def test_a_short_demo_plays_visits_and_issues_and_ends_with_a_kpi_table(
    start_service: Any, contract_topics: Any
) -> None:
    bootstrap = contract_topics.kafka_bootstrap
    prefix = await prefixed_topics(bootstrap)
    company = make_company(customers=30, months=2, seed=7)
    env = {
        "FOLLOWUP_CLOCK": "simulated",
        "FOLLOWUP_TOPIC_PREFIX": prefix,
        "FOLLOWUP_READINESS_MAX_LAG": "0",
        "FOLLOWUP_TOKENS": json.dumps(company.tokens()),
    }
    urls = {}
    for name in ("scheduling", "visits", "issues", "analytics"):
        urls[name] = (await start_service(name, **env)).url
    stack = Stack(urls=urls, bootstrap=bootstrap, topic_prefix=prefix, admin_token=TOKEN)

    result = await Player(company, stack, seed=7, months=2, policy="home-cinema").run()

    assert result.days == 59  # January and February 2026
    assert result.events > len(company.deliveries) + result.days
    assert result.counts["visits completed"] > 0
    assert result.counts["issues assigned"] > 0
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        issues = (await client.get(f"{urls['issues']}/v1/issues")).json()["items"]
        done = (await client.get(f"{urls['visits']}/v1/visits", params={"status": "done"})).json()
    assert issues, "the problems logged raised issues"
    assert {v["completed_by"] for v in done["items"]} <= {a.agent_id for a in company.agents}
    rows = {row[0]: row for row in kpi_rows(result.kpis)}
    assert rows["satisfaction_rate"][2].endswith("%")
    assert rows["satisfaction_rate"][1] != "0 / 0"
