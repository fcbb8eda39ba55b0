"""Plays the company's year day by day through the real topics and APIs (issue 19 §1).

Each played day: the clock advances to 16:00 (Asia/Shanghai) and the services settle; the first
of a month, supervisors spot check the month before; agents log the visits they get to; owners
work the open issues; the next day's deliveries are published; the services settle again.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer

from followup.core.control import publish_control_event
from followup.core.demo.actors import Office
from followup.core.demo.company import Company, Delivery
from followup.core.demo.settle import Settler
from followup.core.policy.activation import policy_activated
from followup.core.policy.presets import load_preset
from followup.events import CONTENT_TYPE, ClockAdvanced, derived_id, encode, make_event, topics
from followup.events.customers import Contact, CustomerDelivered

log = logging.getLogger("followup.demo")
DAY_TIME = timedelta(hours=16)


@dataclass
class Stack:
    """Where the services run."""

    urls: dict[str, str]  # service name -> base URL
    bootstrap: str
    topic_prefix: str = ""
    admin_token: str = "dev-admin"


@dataclass
class PlayResult:
    customers: int
    months: int
    days: int
    events: int  # every record on the contract topics at the end (the stack starts empty)
    play_s: float
    kpis: dict[str, Any]
    counts: dict[str, int] = field(default_factory=dict)
    settle_s: float = 0.0
    settle: dict[str, Any] = field(default_factory=dict)


def delivery_event(d: Delivery) -> bytes:
    """The CustomerDelivered an ERP would publish for the delivery."""
    c = d.customer
    digits = c.customer_id[2:]
    data = CustomerDelivered(
        customer_id=c.customer_id,
        order_id=d.order_id,
        delivered_at=d.delivered_at,
        product=d.product,
        tier=c.tier,
        segment=c.segment,
        timezone=c.timezone,
        region=c.region,
        account_manager_id=c.account_manager_id,
        contact=Contact(name=f"Customer {digits}", phone=f"+86 138 00{digits}"),
    )
    event = make_event(
        data,
        id=derived_id("demo", d.order_id),
        source="demo/erp",
        subject=c.customer_id,
        time=d.delivered_at,
    )
    return encode(event)


class Player:
    """Plays `company` for `days` days on `stack`."""

    def __init__(
        self, company: Company, stack: Stack, *, seed: int, months: int, policy: str
    ) -> None:
        self.company = company
        self.stack = stack
        self.seed = seed
        self.months = months
        self.policy = policy
        start = company.start
        end_month = start.month - 1 + months
        self.end = start.replace(year=start.year + end_month // 12, month=end_month % 12 + 1)
        self.days = (self.end.date() - start.date()).days
        self.events = 0
        self._next_delivery = 0

    def day_instant(self, day: int) -> datetime:
        return self.company.start + timedelta(days=day) + DAY_TIME

    async def run(self, on_day: Callable[[int, datetime, int], None] | None = None) -> PlayResult:
        """Plays every day; `on_day(day, now, events)` after each."""
        # Idle connections go before the servers' 5 s keep-alive ends, not as they are reused.
        limits = httpx.Limits(
            max_connections=64, max_keepalive_connections=64, keepalive_expiry=4.0
        )
        self.producer = producer = AIOKafkaProducer(
            bootstrap_servers=self.stack.bootstrap,
            acks="all",
            enable_idempotence=True,
            linger_ms=5,
        )
        async with httpx.AsyncClient(timeout=60, limits=limits) as client:
            settler = Settler(
                client, self.stack.urls, self.stack.bootstrap, self.stack.topic_prefix
            )
            office = Office(
                client, self.stack.urls, self.company, self.seed, self.stack.admin_token
            )
            await producer.start()
            await settler.start()
            try:
                office.can_reassign = await self._has_route(
                    client, "visits", "/v1/visits/{visit_id}/assign"
                )
                started = time.monotonic()
                await self._prologue(producer, settler)
                for day in range(self.days):
                    await self._play_day(day, producer, settler, office)
                    if on_day:
                        on_day(day, self.day_instant(day), self.events + office.counts["commands"])
                await self._advance(settler, self.end)
                play_s = time.monotonic() - started
                events = sum((await settler.end_offsets()).values())
                kpis = await self._kpis(client)
            finally:
                await settler.stop()
                await producer.stop()
        return PlayResult(
            customers=len(self.company.customers),
            months=self.months,
            days=self.days,
            events=events,
            play_s=play_s,
            kpis=kpis,
            counts=dict(office.counts),
            settle_s=settler.waited_s,
            settle={
                "waits": settler.waits,
                "tick_s": round(settler.tick_s, 1),
                "rounds": settler.rounds,
            },
        )

    async def _has_route(self, client: httpx.AsyncClient, service: str, route: str) -> bool:
        spec = (await client.get(f"{self.stack.urls[service]}/openapi.json")).json()
        return route in spec.get("paths", {})

    async def _prologue(self, producer: AIOKafkaProducer, settler: Settler) -> None:
        """The policy in force, the clock the evening before, and the delivery history."""
        first = self.company.deliveries[0].delivered_at if self.company.deliveries else None
        policy = load_preset(self.policy)
        effective = min(first, self.company.start) if first else self.company.start
        event = policy_activated(policy, effective_at=effective, published_at=effective)
        await publish_control_event(
            self.stack.bootstrap, event, topic_prefix=self.stack.topic_prefix
        )
        self.events += 1
        await self._advance(settler, self.day_instant(-1))
        await self._publish_until(producer, self.day_instant(0))
        await settler.wait(None, None)

    async def _play_day(
        self, day: int, producer: AIOKafkaProducer, settler: Settler, office: Office
    ) -> None:
        now = self.day_instant(day)
        phases: dict[str, float] = {}
        mark = time.monotonic()

        def lap(name: str) -> None:
            nonlocal mark
            phases[name] = round(time.monotonic() - mark, 3)
            mark = time.monotonic()

        await self._advance(settler, now)
        lap("advance")
        logged = await office.work_visits(day, now)
        local = now.date()
        if (local + timedelta(days=1)).day == 1:  # the month's last day
            await office.spot_check(local.replace(day=1))
        lap("visits")
        # The problems just logged are issues once settled: owners see them the same day.
        await settler.wait(None, None)
        lap("settle")
        await office.work_issues(day)
        await self._publish_until(producer, self.day_instant(day + 1))
        lap("issues")
        await settler.wait(None, None)
        lap("settle2")
        log.info("%s: %d visits logged; seconds %s", local, logged, phases)

    async def _advance(self, settler: Settler, to: datetime) -> None:
        before = await settler.ticks()
        event = make_event(
            ClockAdvanced(now=to),
            id=str(uuid.uuid4()),
            source="demo/clock",
            subject="clock",
            time=to,
        )
        await self.producer.send_and_wait(
            self.stack.topic_prefix + topics.CLOCK,
            encode(event),
            key=b"clock",
            headers=[("content-type", CONTENT_TYPE.encode())],
        )
        self.events += 1
        await settler.wait(before, to)

    async def _publish_until(self, producer: AIOKafkaProducer, until: datetime) -> None:
        """Publishes, in one batch, the deliveries made before `until` not yet published."""
        deliveries = self.company.deliveries
        topic = self.stack.topic_prefix + topics.CUSTOMERS
        headers = [("content-type", CONTENT_TYPE.encode())]
        sent = []
        while self._next_delivery < len(deliveries):
            d = deliveries[self._next_delivery]
            if d.delivered_at >= until:
                break
            key = d.customer.customer_id.encode()
            sent.append(await producer.send(topic, delivery_event(d), key=key, headers=headers))
            self._next_delivery += 1
        for future in sent:
            await future
        self.events += len(sent)

    async def _kpis(self, client: httpx.AsyncClient) -> dict[str, Any]:
        """The played period's KPIs, as the analytics API answers them."""
        last = self.end.date() - timedelta(days=1)
        params = {"from": self.company.start.date().isoformat(), "to": last.isoformat()}
        r = await client.get(
            f"{self.stack.urls['analytics']}/v1/kpis",
            params=params,
            headers={"Authorization": f"Bearer {self.stack.admin_token}"},
        )
        r.raise_for_status()
        body: dict[str, Any] = r.json()
        return body


def played_months(start: date, months: int) -> list[str]:
    """The played months as YYYY-MM."""
    out = []
    y, m = start.year, start.month
    for _ in range(months):
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out
