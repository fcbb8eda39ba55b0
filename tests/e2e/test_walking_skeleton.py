"""The thinnest real slice: a delivery on Kafka becomes a plan served over HTTP."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer

from followup.events import topics

from .conftest import poll


def delivery_event(customer_id: str, delivered_at: str) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": "erp/deliveries",
        "type": "CustomerDelivered",
        "time": delivered_at,
        "subject": customer_id,
        "datacontenttype": "application/json",
        "dataversion": 1,
        "data": {
            "customer_id": customer_id,
            "order_id": f"O-{customer_id}",
            "delivered_at": delivered_at,
            "product": "home cinema 7.1",
            "tier": "gold",
            "segment": "individual",
            "timezone": "Asia/Shanghai",
            "contact": {"name": "Li Lei", "phone": "+86 138 0000 0000"},
        },
    }


async def send(producer: Any, customer_id: str, value: bytes) -> None:
    await producer.send_and_wait(
        topics.CUSTOMERS,
        value,
        key=customer_id.encode(),
        headers=[("content-type", b"application/cloudevents+json")],
    )


async def dead_letters_for(bootstrap: str, marker: str) -> list[Any]:
    """Every dead letter whose key (a customer id) or original bytes contain `marker`."""
    consumer = AIOKafkaConsumer(
        topics.DEAD_LETTER,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        found = []
        end = await consumer.end_offsets(list(consumer.assignment()) or await _partitions(consumer))
        while True:
            batch = await consumer.getmany(timeout_ms=500)
            for msgs in batch.values():
                found += [m for m in msgs if marker.encode() in (m.key or b"") + (m.value or b"")]
            positions = {tp: await consumer.position(tp) for tp in end}
            if all(positions[tp] >= end[tp] for tp in end):
                return found
    finally:
        await consumer.stop()


async def _partitions(consumer: AIOKafkaConsumer) -> list[Any]:
    from aiokafka import TopicPartition

    await consumer.getmany(timeout_ms=200)
    parts = consumer.partitions_for_topic(topics.DEAD_LETTER) or set()
    return [TopicPartition(topics.DEAD_LETTER, p) for p in parts]


async def test_a_delivery_published_to_kafka_becomes_a_first_use_visit_in_the_plan(
    start_service: Any, producer: Any, contract_topics: Any
) -> None:
    svc = await start_service("scheduling")
    marker = uuid.uuid4().hex[:10]
    customer = f"C-{marker}"
    # Delivered Mon 2027-03-01 (ahead of the wall clock): + 7 days = Mon 2027-03-08, a working
    # day of the provisional 2027 calendar.
    await send(producer, customer, b"{ this is not json " + marker.encode())
    unknown = delivery_event(f"C-x{marker}", "2027-03-01T10:00:00+08:00")
    unknown["type"] = "CustomerTeleported"
    await send(producer, f"C-x{marker}", orjson.dumps(unknown))
    await send(
        producer, customer, orjson.dumps(delivery_event(customer, "2027-03-01T10:00:00+08:00"))
    )

    async with svc.client() as client:

        async def plan() -> Any:
            r = await client.get(f"/v1/customers/{customer}/plan")
            return r.json() if r.status_code == 200 else None

        body = await poll(plan, within=30)
    assert body["customer_id"] == customer
    visit = body["visits"][0]
    assert visit["kinds"] == ["first_use"]
    assert visit["due_at"] == "2027-03-01T02:00:00Z"  # 10:00 +08:00
    assert visit["deadline"] == "2027-03-08T15:59:59Z"  # 23:59:59 +08:00
    assert visit["deadline_provisional"] is True
    assert visit["status"] == "planned"
    # Gold: month 6 merges routine with key_deep.
    assert [v["kinds"] for v in body["visits"][1:4]] == [
        ["routine"],
        ["routine"],
        ["routine", "key_deep"],
    ]

    async def scheduling_letters() -> list[Any]:
        # Other consumers of followup.customers (visits) dead-letter the same garbage.
        found = await dead_letters_for(contract_topics.kafka_bootstrap, marker)
        return [m for m in found if dict(m.headers)["consumer"].startswith(b"scheduling")]

    letters = await poll(scheduling_letters, within=30)
    reasons = {dict(m.headers).get("reason", b"").decode() for m in letters}  # type: ignore[union-attr]
    assert {"not_json", "unknown_type"} <= reasons, reasons
    for m in letters:  # type: ignore[union-attr]
        headers = dict(m.headers)
        assert headers["original_topic"] == topics.CUSTOMERS.encode()
        # Sealed with the customer's key: a dead letter may carry a contact (SPEC §8).
        assert headers["sealed"] == b"1" and m.value.startswith(b"sealed:")
        assert marker.encode() not in m.value


async def test_requests_without_a_bearer_token_get_401_problem_json(start_service: Any) -> None:
    svc = await start_service("scheduling")
    import httpx

    async with httpx.AsyncClient(base_url=svc.url) as client:
        r = await client.get("/v1/customers/C-1/plan")
        assert r.status_code == 401
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["status"] == 401
        assert (await client.get("/healthz")).status_code == 200
        metrics = await client.get("/metrics")
        assert "followup_" in metrics.text
        asyncapi = (await client.get("/asyncapi")).json()
        assert asyncapi["asyncapi"].startswith("3.")
