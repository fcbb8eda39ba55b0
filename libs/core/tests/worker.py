"""A consumer process for the crash tests: projects followup.customers until SIGTERM.

Run as `python worker.py --dsn ... --bootstrap ... --prefix ... --group-suffix ...`; the tests
kill it with SIGKILL mid-batch, stop it with SIGSTOP, or end it with SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from projection import project_started

from followup.core.clock import WallClock
from followup.core.consumer import EventConsumer
from followup.core.db import create_pool
from followup.core.deadletter import DeadLetterPublisher
from followup.core.logging import configure_logging
from followup.core.metrics import Metrics
from followup.core.settings import CoreSettings
from followup.core.subscription import Subscription, Tx
from followup.events import Event, topics


async def main(args: argparse.Namespace) -> None:
    settings = CoreSettings(
        service="worker",
        kafka_bootstrap=args.bootstrap,
        pg_dsn=args.dsn,
        topic_prefix=args.prefix,
        consumer_group_suffix=args.group_suffix,
        kafka_session_timeout_ms=args.session_timeout_ms,
        batch_max_records=args.batch,
        retry_initial_s=0.05,
        retry_max_s=1.0,
        max_handler_attempts=args.max_attempts,
        pipelined_claims=not args.plain,
        log_level="INFO",
    )
    stall = args.stall_ms / 1000

    async def handler(tx: Tx, events: list[Event[Any]]) -> None:
        await project_started(tx, events)
        if args.fail_on and any(e.id == args.fail_on for e in events):
            print(f"failing on {args.fail_on} in a run of {len(events)}", flush=True)
            raise ValueError("poison")
        if stall:
            # Work that takes a while inside the transaction: kills land mid-batch.
            await asyncio.sleep(stall)

    pool = await create_pool(
        args.dsn,
        min_size=1,
        max_size=3,
        idle_in_transaction_timeout_s=args.idle_timeout_s,
        server_settings={"application_name": args.app_name},
    )
    metrics = Metrics()
    sub = Subscription(
        consumer=args.consumer,
        topics=[topics.CUSTOMERS],
        batch_handlers={"ProjectStarted": handler},
    )
    consumer = EventConsumer(
        sub,
        pool=pool,
        settings=settings,
        clock=WallClock(),
        metrics=metrics,
        dead_letters=DeadLetterPublisher(settings, metrics),
    )
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await consumer.start()
    print("started", flush=True)
    await stop.wait()
    await consumer.stop()
    await pool.close()
    print(f"stopped after {consumer.events_committed} events", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--consumer", default="crashy")
    parser.add_argument("--group-suffix", required=True)
    parser.add_argument("--app-name", default="followup-worker")
    parser.add_argument("--session-timeout-ms", type=int, default=6000)
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--stall-ms", type=int, default=0)
    # The handler fails (ValueError) on this event id, saying so on stdout each time.
    parser.add_argument("--fail-on", default="")
    parser.add_argument("--max-attempts", type=int, default=5)
    # Without pipelined claims: one batch at a time, claim -> apply -> commit.
    parser.add_argument("--plain", action="store_true")
    parser.add_argument("--idle-timeout-s", type=float, default=30.0)
    configure_logging("worker", "INFO")
    asyncio.run(main(parser.parse_args()))
