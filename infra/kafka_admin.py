"""Waits for the local broker and creates the contract topics (SPEC §6); run by `make up`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys
import time

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from followup.events import topics

# scheduling's intake (followup.scheduling.intake) reads followup.customers in this group.
INTAKE_GROUP = "scheduling-intake"


async def wait_ready(bootstrap: str, timeout_s: float) -> AIOKafkaAdminClient:
    deadline = time.monotonic() + timeout_s
    last: Exception | None = None
    while time.monotonic() < deadline:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
        try:
            await admin.start()
            await admin.list_topics()
            return admin
        except (KafkaError, OSError) as exc:  # broker still starting
            last = exc
            await admin.close()
            await asyncio.sleep(0.5)
    raise SystemExit(f"Kafka at {bootstrap} not ready after {timeout_s:.0f} s: {last!r}")


async def ensure_topics(
    bootstrap: str, partitions: int, timeout_s: float, customers_retention_ms: int
) -> None:
    admin = await wait_ready(bootstrap, timeout_s)
    try:
        existing = set(await admin.list_topics())
        wanted = [
            NewTopic(
                name=t,
                num_partitions=1 if t == topics.CLOCK else partitions,
                replication_factor=1,
                # The event store keeps everything forever but the intake buffer; keys compacted.
                topic_configs=topics.config_for(t, customers_retention_ms),
            )
            for t in topics.ALL_TOPICS
            if t not in existing
        ]
        if wanted:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(wanted)
            print(f"created topics: {', '.join(t.name for t in wanted)}", file=sys.stderr)
        if topics.CUSTOMERS in existing:
            await _bound_intake_buffer(bootstrap, admin, customers_retention_ms)
    finally:
        await admin.close()


async def _bound_intake_buffer(
    bootstrap: str, admin: AIOKafkaAdminClient, retention_ms: int
) -> None:
    """A stack created before the intake kept producers' plaintext forever (SPEC §8): bounded
    once scheduling's intake has read (and sealed) all of it, never before, so nothing is lost."""
    reader = AIOKafkaConsumer(
        topics.CUSTOMERS, bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False
    )
    await reader.start()
    try:
        partitions = reader.partitions_for_topic(topics.CUSTOMERS) or set()
        tps = [TopicPartition(topics.CUSTOMERS, p) for p in sorted(partitions)]
        end = await reader.end_offsets(tps)
    finally:
        await reader.stop()
    committed = None
    for _ in range(30):  # the group coordinator comes up a little after a restarted broker
        try:
            committed = await admin.list_consumer_group_offsets(INTAKE_GROUP, partitions=tps)
            break
        except KafkaError:
            await asyncio.sleep(1)
    if committed is None:
        print(
            f"{topics.CUSTOMERS}: retention unchanged (no group coordinator yet)", file=sys.stderr
        )
        return
    behind = [tp for tp in tps if end[tp] > (committed[tp].offset if tp in committed else 0)]
    if behind or not tps:
        print(
            f"{topics.CUSTOMERS}: retention unchanged until the intake ({INTAKE_GROUP}) has "
            "read it; run this again then",
            file=sys.stderr,
        )
        return
    config = topics.config_for(topics.CUSTOMERS, retention_ms)
    await admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topics.CUSTOMERS, config)])


def main() -> None:
    # Connection refusals while the broker starts are expected; the timeout reports real trouble.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("command", choices=["wait", "ensure-topics"])
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--timeout", type=float, default=90)
    parser.add_argument(
        "--customers-retention-ms",
        type=int,
        default=int(
            os.environ.get("FOLLOWUP_CUSTOMERS_RETENTION_MS", topics.CUSTOMERS_RETENTION_MS)
        ),
        help="retention of the intake buffer followup.customers (default 7 days)",
    )
    args = parser.parse_args()
    if args.command == "wait":

        async def _wait() -> None:
            await (await wait_ready(args.bootstrap, args.timeout)).close()

        asyncio.run(_wait())
    else:
        asyncio.run(
            ensure_topics(
                args.bootstrap, args.partitions, args.timeout, args.customers_retention_ms
            )
        )


if __name__ == "__main__":
    main()
