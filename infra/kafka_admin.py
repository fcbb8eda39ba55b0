"""Waits for the local broker and creates the contract topics (SPEC §6); run by `make up`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
import time

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from followup.events import topics


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


async def ensure_topics(bootstrap: str, partitions: int, timeout_s: float) -> None:
    admin = await wait_ready(bootstrap, timeout_s)
    try:
        existing = set(await admin.list_topics())
        wanted = [
            NewTopic(
                name=t,
                num_partitions=1 if t == topics.CLOCK else partitions,
                replication_factor=1,
                # The event store keeps everything forever; the keys topic is compacted.
                topic_configs=topics.config_for(t),
            )
            for t in topics.ALL_TOPICS
            if t not in existing
        ]
        if wanted:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(wanted)
            print(f"created topics: {', '.join(t.name for t in wanted)}", file=sys.stderr)
    finally:
        await admin.close()


def main() -> None:
    # Connection refusals while the broker starts are expected; the timeout reports real trouble.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("command", choices=["wait", "ensure-topics"])
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--timeout", type=float, default=90)
    args = parser.parse_args()
    if args.command == "wait":

        async def _wait() -> None:
            await (await wait_ready(args.bootstrap, args.timeout)).close()

        asyncio.run(_wait())
    else:
        asyncio.run(ensure_topics(args.bootstrap, args.partitions, args.timeout))


if __name__ == "__main__":
    main()
