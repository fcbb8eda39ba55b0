"""Issues' notifications on the real broker and database, delivered to real local servers:
each event reaches its people once, on every channel they have, and a failing receiver holds
no partition."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import orjson
import pytest
from aiokafka import AIOKafkaProducer

from followup.core.clock import WallClock
from followup.core.db import create_pool
from followup.core.metrics import Metrics
from followup.core.notify.config import Channels, parse
from followup.core.notify.service import Notifier
from followup.core.notify.settings import NotifySettings
from followup.core.notify.testing import HttpReceiver, SmtpReceiver
from followup.core.notify.webhook import verify
from followup.core.runtime import Runtime
from followup.core.settings import CoreSettings
from followup.core.testing import Infra, create_database, create_topics
from followup.events import (
    Event,
    EventData,
    IssueAssigned,
    IssueEscalated,
    IssueRaised,
    IssueSlaBreached,
    IssueSlaWarning,
    encode,
    make_event,
    topics,
)
from followup.issues.main import service_parts
from followup.issues.settings import IssuesSettings

SECRET = "integration-secret"
FAST = NotifySettings(retry_initial_s=0.05, retry_max_s=0.2, max_attempts=4, poll_interval_s=0.05)


def channels(url: str, smtp_port: int) -> Channels:
    def person(role: str, locale: str = "zh-CN") -> dict[str, Any]:
        return {"role": role, "locale": locale, "webhook": "ops", "email": "x@staff.example"}

    people = {"E-17": person("agent"), "M-T": person("supervisor", "en"), "D-1": person("admin")}
    for pid, p in people.items():
        p["email"] = f"{pid.lower()}@staff.example"
    return parse(
        {
            "smtp": {"host": "127.0.0.1", "port": smtp_port, "sender": "f@x", "starttls": False},
            "webhooks": {"ops": {"url": url, "secret": SECRET}},
            "departments": {"technical": {"manager": "M-T", "director": "D-1"}},
            "people": people,
        }
    )


class World:
    """A prefix with the contract topics, a database, a producer; the notifier on them."""

    def __init__(self, infra: Infra, prefix: str, pool: asyncpg.Pool) -> None:
        self.settings = CoreSettings(
            service="issues",
            kafka_bootstrap=infra.kafka_bootstrap,
            pg_dsn="unused",
            topic_prefix=prefix,
            consumer_group_suffix=f"-{uuid.uuid4().hex[:8]}",
            batch_timeout_ms=20,
            fetch_max_wait_ms=20,
            retry_initial_s=0.05,
            stop_timeout_s=10.0,
        )
        self.pool = pool
        self.metrics = Metrics()
        self.runtime = Runtime(self.settings, pool, WallClock(0.2), self.metrics)

    def notifier(self, ch: Channels, settings: NotifySettings = FAST) -> Notifier:
        n = Notifier("issues", settings, ch)
        n.register_metrics(self.metrics.registry)
        return n


@pytest.fixture
async def world(infra: Infra) -> AsyncIterator[World]:
    prefix = f"n{uuid.uuid4().hex[:8]}."
    # Two partitions each: the test broker holds every test's topics open at once.
    names = [prefix + t for t in (topics.ISSUES, topics.VISITS, topics.DEAD_LETTER)]
    await create_topics(infra.kafka_bootstrap, names, partitions=2)
    dsn = await create_database(infra.pg_admin_dsn, prefix="notify")
    pool = await create_pool(dsn, min_size=1, max_size=6)
    yield World(infra, prefix, pool)
    await pool.close()


@pytest.fixture
async def producer(infra: Infra) -> AsyncIterator[AIOKafkaProducer]:
    p = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap, acks="all")
    await p.start()
    yield p
    await p.stop()


async def wait_until(fn: Callable[[], Awaitable[Any]], what: str, within: float = 60) -> Any:
    deadline = time.monotonic() + within
    last = None
    while time.monotonic() < deadline:
        last = await fn()
        if last:
            return last
        await asyncio.sleep(0.05)
    pytest.fail(f"{what} not met in {within} s; last: {last!r}")


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def event(data: EventData, eid: str, at: datetime) -> Event[Any]:
    return make_event(data, id=eid, source="followup/issues", subject="C-000127", time=at)


def issue_events(t: datetime) -> list[Event[Any]]:
    """Raised (not notified), assigned by M-T, warned, breached, escalated: one issue's day."""
    common = {"issue_id": "I-4", "customer_id": "C-000127", "department": "technical"}
    clock = {"clock": "resolution", "deadline": t + timedelta(hours=1), "round": 1}
    return [
        event(
            IssueRaised(
                **common,
                source="complaint",
                category="fault",
                severity="general",
                description="call me on 138 0013 8000",
                raised_at=t,
                handover_by=t,
                respond_by=t,
                resolve_by=t,
            ),
            "ev-raised",
            t,
        ),
        event(
            IssueAssigned(**common, assignee_id="E-17", assigned_at=t, assigned_by="M-T"), "ev-a", t
        ),
        event(
            IssueSlaWarning(**common, **clock, warned_at=t, escalate_to="E-17", owner_id="E-17"),
            "ev-w",
            t,
        ),
        event(IssueSlaBreached(**common, **clock, owner_id="E-17", escalate_to="M-T"), "ev-b", t),
        event(
            IssueEscalated(**common, **clock, level=2, escalated_at=t, owner_id="E-17"), "ev-e", t
        ),
    ]


async def publish(producer: AIOKafkaProducer, topic: str, events: list[Event[Any]]) -> None:
    for e in events:
        await producer.send_and_wait(topic, encode(e), key=e.subject.encode())


async def test_each_event_reaches_its_people_once_on_every_channel_and_stale_ones_nobody(
    world: World, producer: AIOKafkaProducer
) -> None:
    t = now()
    events = issue_events(t)
    stale = event(
        IssueSlaWarning(
            issue_id="I-OLD",
            customer_id="C-000127",
            department="technical",
            clock="handover",
            deadline=t,
            warned_at=t - timedelta(days=3),
            escalate_to="E-17",
            round=1,
        ),
        "ev-stale",
        t - timedelta(days=3),
    )
    topic = world.settings.topic(topics.ISSUES)
    async with HttpReceiver(statuses=[500]) as http:
        with SmtpReceiver() as smtp:
            notifier = world.notifier(channels(http.url, smtp.port))
            await notifier.start(world.runtime)
            try:
                # The same events twice, at other offsets: a producer's retry, say.
                # Three days on the broker before this consumer reads it: nobody hears of it.
                three_days_ago = (time.time() - 3 * 86400) * 1000
                await producer.send_and_wait(
                    topic, encode(stale), key=b"C-000127", timestamp_ms=int(three_days_ago)
                )
                await publish(producer, topic, [*events, *events])
                await wait_until(lambda: _all_delivered(world.pool, 10), "10 deliveries")
            finally:
                await notifier.stop()
    ok = [(orjson.loads(r.body), r) for r in http.ok()]
    got = sorted((b["type"], b["recipient"]["id"]) for b, _ in ok)
    assert got == [
        ("IssueAssigned", "E-17"),
        ("IssueEscalated", "D-1"),
        ("IssueSlaBreached", "E-17"),
        ("IssueSlaBreached", "M-T"),
        ("IssueSlaWarning", "E-17"),
    ]
    for body, request in ok:
        assert verify(SECRET.encode(), request.body, request.headers["x-followup-signature"])
        assert request.headers["x-followup-event-id"] == body["event_id"]
    # The first try failed (500) and was retried: still one delivery each.
    assert len(http.requests) == 6
    assert sorted((m["X-Followup-Event-Type"], m["To"]) for m in smtp.messages) == [
        ("IssueAssigned", "e-17@staff.example"),
        ("IssueEscalated", "d-1@staff.example"),
        ("IssueSlaBreached", "e-17@staff.example"),
        ("IssueSlaBreached", "m-t@staff.example"),
        ("IssueSlaWarning", "e-17@staff.example"),
    ]
    everything = b"".join(r.body for r in http.requests) + b"".join(
        m.as_bytes() for m in smtp.messages
    )
    assert b"138 0013 8000" not in everything and b"I-OLD" not in everything
    registry = world.metrics.registry
    delivered = registry.get_sample_value(
        "followup_notifications_total", {"channel": "webhook", "outcome": "delivered"}
    )
    assert delivered == 5


async def _all_delivered(pool: asyncpg.Pool, n: int) -> bool:
    rows = await pool.fetch("SELECT state FROM notification")
    return len(rows) == n and all(r["state"] == "delivered" for r in rows)


async def test_a_receiver_that_keeps_failing_holds_no_partition(
    world: World, producer: AIOKafkaProducer
) -> None:
    t = now()
    warnings = [
        event(
            IssueSlaWarning(
                issue_id=f"I-{n}",
                customer_id="C-000127",
                department="technical",
                clock="handover",
                deadline=t,
                warned_at=t,
                escalate_to="M-T",
                round=1,
            ),
            f"ev-w-{n}",
            t,
        )
        for n in range(5)
    ]
    slow = NotifySettings(retry_initial_s=3600, max_attempts=4, poll_interval_s=0.05)
    async with HttpReceiver(then=500) as http:
        with SmtpReceiver(replies=["451 later"] * 10) as smtp:
            notifier = world.notifier(channels(http.url, smtp.port), slow)
            await notifier.start(world.runtime)
            try:
                await publish(producer, world.settings.topic(topics.ISSUES), warnings)

                async def consumed_all() -> bool:
                    stored = await world.pool.fetchval("SELECT count(*) FROM notification")
                    offsets = await world.pool.fetchval(
                        "SELECT coalesce(sum(next_offset), 0) FROM consumer_offset"
                        " WHERE consumer = 'issues-notify'"
                    )
                    return stored == 10 and offsets == 5

                await wait_until(consumed_all, "every warning consumed and stored")
                await wait_until(lambda: _tried(world.pool, 10), "a first try of each")
            finally:
                await notifier.stop()
    states = await world.pool.fetch("SELECT state, attempts FROM notification")
    assert {(r["state"], r["attempts"]) for r in states} == {("pending", 1)}
    assert len(http.requests) == 5


async def _tried(pool: asyncpg.Pool, n: int) -> bool:
    return bool(await pool.fetchval("SELECT count(*) FROM notification WHERE attempts = 1") == n)


def test_issues_runs_its_notifier_when_a_channels_file_is_configured(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("FOLLOWUP_NOTIFY_FILE", raising=False)
    assert not any(isinstance(p, Notifier) for p in service_parts(IssuesSettings()).background)
    monkeypatch.setenv("FOLLOWUP_NOTIFY_FILE", str(tmp_path / "notify.toml"))
    [notifier] = [p for p in service_parts(IssuesSettings()).background if isinstance(p, Notifier)]
    assert isinstance(notifier, Notifier) and notifier.consumer_name == "issues-notify"
