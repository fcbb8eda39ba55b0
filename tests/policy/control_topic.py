"""Reading a test's control topic back from the real broker."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer


async def read_all(bootstrap: str, topic: str, count: int) -> list[tuple[bytes | None, bytes]]:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    try:
        found: list[tuple[bytes | None, bytes]] = []
        async with asyncio.timeout(60):
            while len(found) < count:
                batch = await consumer.getmany(timeout_ms=500)
                found += [(r.key, r.value) for records in batch.values() for r in records]
        return found
    finally:
        await consumer.stop()
