"""Scheduling on the real broker with the simulated clock: 13 months of VisitDue, exactly once,
and a replay that emits nothing new (issue 4)."""

from __future__ import annotations

import asyncio
import os
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import orjson

from followup.core.clock import publish_clock_advance
from followup.events import topics

from .conftest import poll, prefixed_topics, read_topic, replay
from .test_walking_skeleton import delivery_event

SH = ZoneInfo("Asia/Shanghai")


def local(y: int, m: int, d: int, h: int = 10) -> datetime:
    return datetime(y, m, d, h, tzinfo=SH)


async def visit_dues(bootstrap: str, topic: str) -> list[dict[str, Any]]:
    """Every VisitDue on the topic."""
    return [orjson.loads(r.value) for r in await read_topic(bootstrap, topic, rounds=6)]


def summary(docs: list[dict[str, Any]], customer: str) -> list[tuple[str, list[str]]]:
    rows = [
        (d["data"]["due_at"], d["data"]["kinds"])
        for d in docs
        if d["data"]["customer_id"] == customer
    ]
    return [(datetime.fromisoformat(t).astimezone(SH).isoformat(), k) for t, k in sorted(rows)]


async def test_thirteen_simulated_months_publish_exactly_the_policys_visits_once(
    start_service: Any, producer: Any, contract_topics: Any
) -> None:
    infra = contract_topics
    prefix = await prefixed_topics(infra.kafka_bootstrap)
    clock_topic, out_topic = prefix + topics.CLOCK, prefix + topics.SCHEDULING
    await publish_clock_advance(infra.kafka_bootstrap, local(2026, 3, 1, 0), topic=clock_topic)
    svc = await start_service(
        "scheduling", FOLLOWUP_CLOCK="simulated", FOLLOWUP_TOPIC_PREFIX=prefix
    )

    gold, bronze, old = "C-gold", "C-bronze", "C-old"
    for customer, when, tier in (
        (gold, "2026-03-02T10:00:00+08:00", "gold"),
        (bronze, "2026-03-02T10:00:00+08:00", "bronze"),
        (old, "2025-01-10T10:00:00+08:00", "bronze"),
    ):
        event = delivery_event(customer, when)
        event["data"]["tier"] = tier
        await producer.send_and_wait(
            prefix + topics.CUSTOMERS, orjson.dumps(event), key=customer.encode()
        )

    async with svc.client() as client:

        async def planned() -> bool:
            codes = [
                (await client.get(f"/v1/customers/{c}/plan")).status_code
                for c in (gold, bronze, old)
            ]
            return codes == [200, 200, 200]

        await poll(planned)
    for month in range(3, 17):  # 2026-03 .. 2027-04, one tick per month
        y, m = 2026 + (month - 1) // 12, (month - 1) % 12 + 1
        await publish_clock_advance(infra.kafka_bootstrap, local(y, m, 1, 0), topic=clock_topic)
        await asyncio.sleep(0.3)

    expected_bronze = [
        ("2026-03-02T10:00:00+08:00", ["first_use"]),
        ("2026-04-02T10:00:00+08:00", ["routine"]),
        ("2026-06-02T10:00:00+08:00", ["routine"]),
        ("2026-09-02T10:00:00+08:00", ["routine"]),
        ("2027-03-02T10:00:00+08:00", ["deep"]),
    ]
    expected_gold = [
        ("2026-03-02T10:00:00+08:00", ["first_use"]),
        ("2026-04-02T10:00:00+08:00", ["routine"]),
        ("2026-06-02T10:00:00+08:00", ["routine"]),
        ("2026-09-02T10:00:00+08:00", ["routine", "key_deep"]),
        ("2027-03-02T10:00:00+08:00", ["deep", "key_deep"]),
    ]
    # Delivered 2025-01-10 and backfilled on 2026-03-01: only deadlines still ahead.
    expected_old = [
        ("2026-04-10T10:00:00+08:00", ["quarterly"]),
        ("2026-07-10T10:00:00+08:00", ["quarterly"]),
        ("2026-09-15T09:00:00+08:00", ["holiday_care"]),
        ("2026-10-10T10:00:00+08:00", ["quarterly"]),
        ("2027-01-10T10:00:00+08:00", ["deep", "quarterly"]),
        ("2027-01-27T09:00:00+08:00", ["holiday_care"]),
    ]

    async def all_published() -> list[dict[str, Any]] | None:
        docs = await visit_dues(infra.kafka_bootstrap, out_topic)
        return docs if len(docs) >= 16 else None

    docs = await poll(all_published, within=60)
    assert summary(docs, bronze) == expected_bronze
    assert summary(docs, gold) == expected_gold
    assert summary(docs, old) == expected_old
    assert len(docs) == 16
    assert len({d["id"] for d in docs}) == 16

    # Rebuild the read model from offset 0: nothing is published twice.
    svc.process.terminate()
    svc.process.wait(timeout=30)
    env = {
        **os.environ,
        "FOLLOWUP_PG_DSN": svc.env["FOLLOWUP_PG_DSN"],
        "FOLLOWUP_KAFKA_BOOTSTRAP": infra.kafka_bootstrap,
        "FOLLOWUP_CLOCK": "simulated",
        "FOLLOWUP_TOPIC_PREFIX": prefix,
    }
    conn = await asyncpg.connect(svc.env["FOLLOWUP_PG_DSN"])
    try:
        years = await conn.fetch("SELECT year, fingerprint FROM calendar_year ORDER BY year")
        await replay("scheduling", env)
        # The calendar years are kept: the first tick after the swap recomputes nothing.
        assert (
            years
            and await conn.fetch("SELECT year, fingerprint FROM calendar_year ORDER BY year")
            == years
        )
    finally:
        await conn.close()
    # The service comes back on the rebuilt tables; its relay and ticks publish nothing new.
    await start_service(
        "scheduling",
        dsn=svc.env["FOLLOWUP_PG_DSN"],
        FOLLOWUP_CLOCK="simulated",
        FOLLOWUP_TOPIC_PREFIX=prefix,
    )
    await asyncio.sleep(3)
    again = await visit_dues(infra.kafka_bootstrap, out_topic)
    assert len(again) == 16
