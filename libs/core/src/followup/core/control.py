"""Operators' control events on followup.control (SPEC §11): publishing one from the CLI."""

from __future__ import annotations

from typing import Any

from followup.events import CONTENT_TYPE, Event, encode, topics


async def publish_control_event(
    bootstrap: str, event: Event[Any], *, topic_prefix: str = ""
) -> None:
    """Publishes `event` on followup.control, keyed by its subject (what it configures)."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        await producer.send_and_wait(
            f"{topic_prefix}{topics.CONTROL}",
            encode(event),
            key=event.subject.encode(),
            headers=[("content-type", CONTENT_TYPE.encode())],
        )
    finally:
        await producer.stop()
