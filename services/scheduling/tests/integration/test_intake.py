"""The intake on the real broker (SPEC §8): scheduling reads followup.customers and republishes
each event on followup.customers.sealed, its personal data sealed with the customer's key and
everything else unchanged; planning reads the sealed copy."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from followup.core.sealing import is_sealed, unseal_text
from followup.core.testing import Infra, create_topics
from followup.events import (
    Contact,
    CustomerDelivered,
    CustomerTierChanged,
    ProjectStarted,
    encode,
    make_event,
    topics,
)
from followup.scheduling.main import build_app
from followup.scheduling.settings import SchedulingSettings

NAME, PHONE = "Zhao Intake-Witness", "+86 139 5550 4321"
AT = datetime(2027, 3, 1, 2, tzinfo=UTC)


async def _sealed_records(bootstrap: str, topic: str, want: int) -> list[Any]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        out: list[Any] = []
        deadline = time.monotonic() + 60
        while len(out) < want and time.monotonic() < deadline:
            for recs in (await consumer.getmany(timeout_ms=500)).values():
                out.extend(recs)
        return out
    finally:
        await consumer.stop()


def _events(customer: str) -> list[Any]:
    delivered = CustomerDelivered(
        customer_id=customer,
        order_id="O-1",
        delivered_at=AT,
        product="Home cinema HC-9",
        tier="gold",
        segment="individual",
        contact=Contact(name=NAME, phone=PHONE),
    )
    changed = CustomerTierChanged(
        customer_id=customer, tier="silver", changed_at=AT, reason=f"asked on {PHONE}"
    )
    started = ProjectStarted(customer_id=customer, started_at=AT)
    return [
        make_event(data, id=str(uuid.uuid4()), source="erp", subject=customer, time=AT)
        for data in (delivered, changed, started)
    ]


async def test_the_intake_republishes_each_event_sealed_and_otherwise_unchanged(
    infra: Infra, fresh_db: str
) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}."
    await create_topics(infra.kafka_bootstrap, [prefix + t for t in topics.ALL_TOPICS])
    settings = SchedulingSettings(
        kafka_bootstrap=infra.kafka_bootstrap, pg_dsn=fresh_db, topic_prefix=prefix
    )
    app = build_app(settings)
    customer = "C-intake-1"
    events = _events(customer)
    async with app.router.lifespan_context(app):
        producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap)
        await producer.start()
        try:
            for event in events:
                await producer.send_and_wait(
                    prefix + topics.CUSTOMERS, encode(event), key=customer.encode()
                )
        finally:
            await producer.stop()
        records = await _sealed_records(
            infra.kafka_bootstrap, prefix + topics.CUSTOMERS_SEALED, len(events)
        )
        key = await app.state.key_store.key(customer)

        # Planning reads the sealed copy: the delivery is planned.
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://test",
            headers={"Authorization": "Bearer dev-admin"},
        ) as client:
            deadline = time.monotonic() + 30
            while (r := await client.get(f"/v1/customers/{customer}/plan")).status_code != 200:
                assert time.monotonic() < deadline, r.text
                await asyncio.sleep(0.3)

    assert [r.key for r in records] == [customer.encode()] * 3
    for raw in records:
        assert NAME.encode() not in raw.value and PHONE.encode() not in raw.value
    docs = [orjson.loads(r.value) for r in records]
    originals = [orjson.loads(encode(e)) for e in events]
    for doc, original in zip(docs, originals, strict=True):
        assert {k: v for k, v in doc.items() if k != "data"} == {
            k: v for k, v in original.items() if k != "data"
        }
    delivered, changed, started = docs
    contact = delivered["data"]["contact"]
    assert is_sealed(contact["name"]) and is_sealed(contact["phone"])
    assert unseal_text(key, contact["name"]) == NAME
    assert unseal_text(key, contact["phone"]) == PHONE
    assert delivered["data"]["product"] == "Home cinema HC-9"
    assert unseal_text(key, changed["data"]["reason"]) == f"asked on {PHONE}"
    assert started == originals[2]


async def test_an_admin_erases_a_customer_once_and_later_events_come_in_without_personal_data(
    infra: Infra, fresh_db: str, monkeypatch: Any
) -> None:
    monkeypatch.setenv(
        "FOLLOWUP_TOKENS", '{"t-sup": {"role": "supervisor"}, "t-admin": {"role": "admin"}}'
    )
    prefix = f"t{uuid.uuid4().hex[:8]}."
    await create_topics(infra.kafka_bootstrap, [prefix + t for t in topics.ALL_TOPICS])
    settings = SchedulingSettings(
        kafka_bootstrap=infra.kafka_bootstrap, pg_dsn=fresh_db, topic_prefix=prefix
    )
    app = build_app(settings)
    customer = "C-erased-1"
    delivered, *_ = _events(customer)
    route = f"/v1/customers/{customer}/erasure"
    async with app.router.lifespan_context(app):
        await app.state.key_store.key_for_sealing(customer)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://test"
        ) as client:
            denied = await client.post(route, headers={"Authorization": "Bearer t-sup"})
            admin = {"Authorization": "Bearer t-admin"}
            first = await client.post(route, headers=admin)
            again = await client.post(route, headers=admin)
        producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap)
        await producer.start()
        try:  # a producer resends the delivery after the erasure
            await producer.send_and_wait(
                prefix + topics.CUSTOMERS, encode(delivered), key=customer.encode()
            )
        finally:
            await producer.stop()
        [sealed] = await _sealed_records(infra.kafka_bootstrap, prefix + topics.CUSTOMERS_SEALED, 1)
        control = await _sealed_records(infra.kafka_bootstrap, prefix + topics.CONTROL, 1)
        keys = await _sealed_records(infra.kafka_bootstrap, prefix + topics.KEYS, 3)

    assert denied.status_code == 403
    assert first.status_code == 202 and first.json()["already_erased"] is False
    assert again.status_code == 200 and again.json()["already_erased"] is True
    assert again.json()["event_id"] == first.json()["event_id"]
    [erased] = [orjson.loads(r.value) for r in control]  # asked twice, published once
    assert erased["type"] == "CustomerErased" and erased["subject"] == customer
    assert erased["data"]["customer_id"] == customer
    assert erased["data"]["requested_by"] == "admin"
    assert [r.value is None for r in keys if r.key == customer.encode()][-1]
    contact = orjson.loads(sealed.value)["data"]["contact"]
    assert contact == {"name": "[erased]", "phone": "[erased]"}
