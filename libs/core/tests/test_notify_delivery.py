"""Delivery on real servers: a local HTTP receiver and an SMTP server (aiosmtpd), the rows in
real PostgreSQL. Content, signature, retries, dead letters, idempotency, what a role reads."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import orjson
import pytest
from prometheus_client import CollectorRegistry

from followup.core.db import create_pool
from followup.core.notify import store
from followup.core.notify.config import Channels
from followup.core.notify.metrics import NotifyMetrics
from followup.core.notify.notices import deliveries_for
from followup.core.notify.service import senders_for
from followup.core.notify.settings import NotifySettings
from followup.core.notify.testing import HttpReceiver, SmtpReceiver
from followup.core.notify.webhook import verify
from followup.core.notify.worker import DeliveryWorker
from followup.events import Event

from .conftest import wait_until
from .notify_builders import SECRET, assignment, breach, channels, escalation, warning

FAST = NotifySettings(
    retry_initial_s=0.01, retry_max_s=0.05, max_attempts=3, poll_interval_s=0.02, lease_s=30
)


@pytest.fixture
async def db(fresh_db: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(fresh_db, min_size=1, max_size=4)
    await store.migrate_store(pool)
    yield pool
    await pool.close()


class World:
    def __init__(self, pool: asyncpg.Pool, ch: Channels) -> None:
        self.pool = pool
        self.channels = ch
        self.registry = CollectorRegistry()
        self.metrics = NotifyMetrics(self.registry)
        self.worker = DeliveryWorker(pool, ch.recipients, senders_for(ch, FAST), FAST, self.metrics)

    async def stored(self, *events: Event[Any]) -> int:
        found, _ = deliveries_for(list(events), self.channels.recipients)
        async with self.pool.acquire() as conn, conn.transaction():
            return await store.store(conn, found)

    async def settled(self) -> dict[str, int]:
        async def done() -> dict[str, int] | None:
            c = await store.counts(self.pool)
            return c if c and "pending" not in c else None

        await self.worker.start()
        try:
            return await wait_until(done, every=0.02, what="every row settled")  # type: ignore[no-any-return]
        finally:
            await self.worker.stop()

    def count(self, channel: str, outcome: str) -> float:
        v = self.registry.get_sample_value(
            "followup_notifications_total", {"channel": channel, "outcome": outcome}
        )
        return float(v or 0)


async def test_a_warning_reaches_the_owner_by_a_signed_webhook_and_an_email(
    db: asyncpg.Pool,
) -> None:
    async with HttpReceiver() as http:
        with SmtpReceiver() as smtp:
            w = World(db, channels(http.url, smtp.port))
            assert await w.stored(warning()) == 2
            assert await w.settled() == {"delivered": 2}
    [req] = http.requests
    assert req.method == "POST" and req.path == "/hooks/followup"
    assert verify(SECRET.encode(), req.body, req.headers["x-followup-signature"])
    assert not verify(b"another secret", req.body, req.headers["x-followup-signature"])
    assert req.headers["x-followup-event-id"] == "ev-warn-1"
    body = orjson.loads(req.body)
    assert body["delivery_id"] == req.headers["x-followup-delivery-id"]
    assert body["recipient"] == {"id": "E-17", "role": "agent", "reason": "owner"}
    assert body["facts"]["deadline"] == "2026-12-09T18:00:00+08:00"
    assert body["subject"].startswith("[followup] 工单 I-4 的解决即将超时")
    [mail] = smtp.messages
    assert smtp.envelopes == [("followup@staff.example", ["e-17@staff.example"])]
    assert mail["Subject"].startswith("[followup] 工单 I-4")
    assert mail["X-Followup-Event-Id"] == "ev-warn-1"
    assert mail["Message-ID"] == f"<{mail['X-Followup-Delivery-Id']}@followup>"
    # One delivery per channel: the e-mail is not the webhook's delivery.
    assert mail["X-Followup-Delivery-Id"] != body["delivery_id"]
    text = mail.get_content()
    assert "截止时间：2026-12-09 18:00 (UTC+08:00)" in text and "客户：C-000127" in text
    assert w.count("webhook", "delivered") == 1 and w.count("email", "delivered") == 1
    assert (
        w.registry.get_sample_value(
            "followup_notification_delivery_seconds_count", {"channel": "webhook"}
        )
        == 1
    )


async def test_a_receiver_that_fails_twice_gets_the_notification_once(db: asyncpg.Pool) -> None:
    async with HttpReceiver(statuses=[500, 503]) as http:
        ch = channels(http.url, overrides={"M-T": {"email": None}, "E-17": {"email": None}})
        w = World(db, ch)
        await w.stored(escalation(to="M-T"))
        assert await w.settled() == {"delivered": 1}
    assert [r.status for r in http.requests] == [500, 503, 200]
    # Every try is the same delivery, signed alike: a receiver can deduplicate on it.
    assert len({r.headers["x-followup-delivery-id"] for r in http.requests}) == 1
    assert len({r.body for r in http.requests}) == 1
    assert len(http.ok()) == 1
    assert (w.count("webhook", "retried"), w.count("webhook", "delivered")) == (2, 1)
    row = await db.fetchrow("SELECT attempts, state, last_error FROM notification")
    assert dict(row) == {"attempts": 3, "state": "delivered", "last_error": None}


async def test_a_receiver_that_keeps_failing_dead_letters_it_after_the_last_try(
    db: asyncpg.Pool,
) -> None:
    async with HttpReceiver(then=500) as http:
        w = World(db, channels(http.url, overrides={"M-T": {"email": None}}))
        await w.stored(escalation(to="M-T"))
        assert await w.settled() == {"dead": 1}
    assert len(http.requests) == FAST.max_attempts
    row = await db.fetchrow("SELECT attempts, last_error FROM notification WHERE state = 'dead'")
    assert (row["attempts"], row["last_error"]) == (3, "ops: HTTP 500")
    assert (w.count("webhook", "retried"), w.count("webhook", "dead_letter")) == (2, 1)
    # Revived once the receiver is fixed, it goes out again with fresh attempts.
    async with HttpReceiver() as fixed:
        w2 = World(db, channels(fixed.url, overrides={"M-T": {"email": None}}))
        assert await store.revive(db) == 1
        assert await w2.settled() == {"delivered": 1}
    assert len(fixed.requests) == 1


async def test_a_refusal_is_dead_lettered_at_once(db: asyncpg.Pool) -> None:
    async with HttpReceiver(then=400) as http:
        w = World(db, channels(http.url, overrides={"M-T": {"email": None}}))
        await w.stored(escalation(to="M-T"))
        assert await w.settled() == {"dead": 1}
    assert len(http.requests) == 1


async def test_a_mail_server_that_defers_is_retried_and_one_that_rejects_is_not(
    db: asyncpg.Pool,
) -> None:
    with SmtpReceiver(replies=["451 4.3.0 try again later"]) as smtp:
        ch = channels(smtp_port=smtp.port, overrides={"E-17": {"webhook": None}})
        w = World(db, ch)
        await w.stored(assignment())
        assert await w.settled() == {"delivered": 1}
    assert (smtp.attempts, len(smtp.messages)) == (2, 1)
    assert smtp.messages[0]["Subject"] == "[followup] 工单 I-4 已分派给您"
    with SmtpReceiver(replies=["554 5.7.1 rejected"] * 5) as smtp:
        ch = channels(smtp_port=smtp.port, overrides={"E-17": {"webhook": None}})
        w = World(db, ch)
        await w.stored(assignment("ev-assign-2"))
        assert (await w.settled())["dead"] == 1
    assert smtp.attempts == 1


async def test_a_stored_delivery_is_stored_and_sent_once(db: asyncpg.Pool) -> None:
    async with HttpReceiver() as http:
        w = World(
            db, channels(http.url, overrides={"M-T": {"email": None}, "E-17": {"email": None}})
        )
        assert await w.stored(breach()) == 2
        # The same event again (a redelivery, a replay): nothing new to store or send.
        assert await w.stored(breach()) == 0
        assert await w.settled() == {"delivered": 2}
        assert await w.stored(breach()) == 0
    assert sorted(orjson.loads(r.body)["recipient"]["id"] for r in http.requests) == ["E-17", "M-T"]


async def test_an_analyst_gets_neither_the_customer_nor_any_free_text(db: asyncpg.Pool) -> None:
    async with HttpReceiver() as http:
        with SmtpReceiver() as smtp:
            w = World(db, channels(http.url, smtp.port))
            await w.stored(escalation(to="AN-1"), breach())
            await w.settled()
    to_analyst = [orjson.loads(r.body) for r in http.requests]
    analyst = next(b for b in to_analyst if b["recipient"]["id"] == "AN-1")
    manager = next(b for b in to_analyst if b["recipient"]["id"] == "M-T")
    assert "C-000127" not in orjson.dumps(analyst).decode()
    assert manager["facts"]["customer_id"] == "C-000127"
    [mail] = [m for m in smtp.messages if m["To"] == "an-1@staff.example"]
    assert "C-000127" not in mail.as_string()
    assert set(analyst["facts"]) == {
        "issue_id",
        "department",
        "level",
        "clock",
        "deadline",
        "escalated_at",
        "round",
        "owner_id",
    }


async def test_operators_list_dead_notifications_and_revive_them_from_the_command_line(
    db: asyncpg.Pool, fresh_db: str, tmp_path: Any
) -> None:
    from typer.testing import CliRunner

    from followup.core.cli import app

    async with HttpReceiver(then=400) as http:
        w = World(db, channels(http.url, overrides={"M-T": {"email": None}}))
        await w.stored(escalation(to="M-T"))
        await w.settled()
    runner = CliRunner()
    # The CLI runs its own event loop: in a thread, beside this test's.
    listed = await asyncio.to_thread(
        runner.invoke,
        app,
        ["notifications", "list", "--service", "issues", "--dsn", fresh_db],
        env={"COLUMNS": "250"},
    )
    assert listed.exit_code == 0, listed.output
    assert "IssueEscalated ev-esc-1" in listed.output and "HTTP 400" in listed.output
    revived = await asyncio.to_thread(
        runner.invoke,
        app,
        ["notifications", "revive", "--service", "issues", "--dsn", fresh_db, "--all"],
    )
    assert revived.output.strip() == "revived 1"
    assert await store.counts(db) == {"pending": 1}
    bad = tmp_path / "bad.toml"
    bad.write_text('[people.E-1]\nrole = "agent"\nwebhook = "chat"\n')
    checked = runner.invoke(app, ["notifications", "check", str(bad)])
    assert checked.exit_code == 2 and "no webhook named 'chat'" in checked.output
    good = tmp_path / "good.toml"
    good.write_text(
        '[webhooks.chat]\nurl = "http://x"\nsecret = "s"\n'
        '[people.E-1]\nrole = "agent"\nlocale = "en"\nwebhook = "chat"\n'
    )
    checked = runner.invoke(app, ["notifications", "check", str(good)])
    assert (checked.exit_code, checked.output) == (0, "E-1 (agent, en): webhook\n")
