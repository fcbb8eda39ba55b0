"""`followup sample delivery`: publishes a sample CustomerDelivered, as an ERP would."""

from __future__ import annotations

import asyncio
import os
import uuid
from datetime import datetime, timedelta, timezone
from typing import cast

import typer

from followup.events import CONTENT_TYPE, encode, make_event, topics
from followup.events.customers import Contact, CustomerDelivered, Tier

app = typer.Typer(help="Publish sample events to the local stack.", no_args_is_help=True)

SHANGHAI = timezone(timedelta(hours=8))


@app.command("delivery")
def publish_sample_delivery(
    customer: str = typer.Option("C-000123", help="customer id (the Kafka key)"),
    order: str = typer.Option("", help="order id (default: O-<customer>)"),
    delivered_at: str = typer.Option("", help="RFC 3339 time (default: now, +08:00)"),
    tier: str = typer.Option("gold", help="gold | silver | bronze"),
    bootstrap: str = typer.Option(
        os.environ.get("FOLLOWUP_KAFKA_BOOTSTRAP", "127.0.0.1:19092"), help="Kafka bootstrap"
    ),
) -> None:
    """Publishes one CustomerDelivered CloudEvent to followup.customers."""
    when = (
        datetime.fromisoformat(delivered_at)
        if delivered_at
        else datetime.now(SHANGHAI).replace(microsecond=0)
    )
    data = CustomerDelivered(
        customer_id=customer,
        order_id=order or f"O-{customer}",
        delivered_at=when,
        product="home cinema 7.1.4",
        tier=cast(Tier, tier),
        segment="individual",
        timezone="Asia/Shanghai",
        region="CN-31",
        contact=Contact(name="Sample Customer", phone="+86 138 0000 0000"),
    )
    event = make_event(data, id=str(uuid.uuid4()), source="sample/erp", subject=customer, time=when)

    async def send() -> None:
        from aiokafka import AIOKafkaProducer

        producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap, acks="all", enable_idempotence=True
        )
        await producer.start()
        try:
            await producer.send_and_wait(
                topics.CUSTOMERS,
                encode(event),
                key=customer.encode(),
                headers=[("content-type", CONTENT_TYPE.encode())],
            )
        finally:
            await producer.stop()

    asyncio.run(send())
    typer.echo(f"published CustomerDelivered {event.id} for {customer} to {topics.CUSTOMERS}")
    typer.echo(
        f"plan: curl -s -H 'Authorization: Bearer dev-admin' "
        f"http://127.0.0.1:8001/v1/customers/{customer}/plan"
    )
