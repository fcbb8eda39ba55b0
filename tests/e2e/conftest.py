"""e2e fixtures: the contract topics on the test broker and services run as real processes."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from followup.core.testing import Infra, create_database, create_topics
from followup.events import topics

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "e2e-admin"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class RunningService:
    name: str
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    env: dict[str, str]

    def log_tail(self, n: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
        )


@pytest.fixture(scope="session")
async def contract_topics(infra: Infra) -> Infra:
    """The SPEC §6 topics exist on the test broker."""
    await create_topics(infra.kafka_bootstrap, [t for t in topics.ALL_TOPICS if t != topics.CLOCK])
    await create_topics(infra.kafka_bootstrap, [topics.CLOCK], partitions=1)
    return infra


@pytest.fixture
def start_service(contract_topics: Infra, tmp_path: Path) -> Iterator[object]:
    """Starts `python -m followup.<name>.main` on a fresh database; stops it after the test."""
    started: list[RunningService] = []

    async def start(name: str, dsn: str | None = None, **env: str) -> RunningService:
        """Starts the service on `dsn` (default: a new database) with extra environment."""
        dsn = dsn or await create_database(contract_topics.pg_admin_dsn, prefix=name)
        port = free_port()
        log_path = tmp_path / f"{name}-{port}.log"
        run_env = {
            **os.environ,
            "FOLLOWUP_PG_DSN": dsn,
            "FOLLOWUP_KAFKA_BOOTSTRAP": contract_topics.kafka_bootstrap,
            "FOLLOWUP_PORT": str(port),
            "FOLLOWUP_DEV_TOKEN": TOKEN,
            # Each test is its own consumer group, so tests never split partitions between them.
            "FOLLOWUP_CONSUMER_GROUP_SUFFIX": f"-e2e-{uuid.uuid4().hex[:8]}",
            "FOLLOWUP_TICK_INTERVAL_S": "0.5",
            **env,
        }
        with log_path.open("wb") as log_file:
            proc = subprocess.Popen(  # noqa: ASYNC220 (starts at once; nothing to await)
                [sys.executable, "-m", f"followup.{name}.main"],
                cwd=ROOT,
                env=run_env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        svc = RunningService(name, f"http://127.0.0.1:{port}", proc, log_path, run_env)
        started.append(svc)
        deadline = time.monotonic() + 60
        async with httpx.AsyncClient(base_url=svc.url, timeout=2) as client:
            while True:
                if proc.poll() is not None:
                    pytest.fail(f"{name} exited with {proc.returncode}:\n{svc.log_tail()}")
                try:
                    if (await client.get("/readyz")).status_code == 200:
                        return svc
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    pytest.fail(f"{name} not ready in 60 s:\n{svc.log_tail()}")
                await asyncio.sleep(0.25)

    yield start
    for svc in started:
        svc.process.terminate()
    for svc in started:
        try:
            svc.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            svc.process.kill()


async def poll(fn: object, *, within: float = 30, every: float = 0.2) -> object:
    """Calls async `fn` until it returns something truthy; fails after `within` seconds."""
    deadline = time.monotonic() + within
    last = None
    while time.monotonic() < deadline:
        last = await fn()  # type: ignore[operator]
        if last:
            return last
        await asyncio.sleep(every)
    pytest.fail(f"condition not met in {within} s; last value: {last!r}")


async def read_topic(bootstrap: str, topic: str, rounds: int = 5) -> list[Any]:
    """Every record on the topic so far, read from the beginning by a throwaway group."""
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=f"probe-{uuid.uuid4().hex[:6]}",
    )
    await consumer.start()
    try:
        records: list[Any] = []
        for _ in range(rounds):
            for msgs in (await consumer.getmany(timeout_ms=400)).values():
                records += msgs
        return records
    finally:
        await consumer.stop()


async def prefixed_topics(bootstrap: str) -> str:
    """Creates the contract topics under a fresh prefix (so a test sees only its own records);
    returns the prefix."""
    prefix = f"e2e{uuid.uuid4().hex[:6]}."
    await create_topics(bootstrap, [prefix + t for t in topics.ALL_TOPICS if t != topics.CLOCK])
    await create_topics(bootstrap, [prefix + topics.CLOCK], partitions=1)
    return prefix


async def replay(service: str, env: dict[str, str]) -> None:
    """Runs `followup.core.cli replay <service>` with `env` and fails the test unless it
    succeeds."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "followup.core.cli",
        "replay",
        service,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(process.communicate(), 180)
    assert process.returncode == 0, stderr.decode()[-2000:]


@pytest.fixture
async def producer(contract_topics: Infra) -> AsyncIterator[object]:
    """A plain aiokafka producer, as an external system would use."""
    from aiokafka import AIOKafkaProducer

    p = AIOKafkaProducer(
        bootstrap_servers=contract_topics.kafka_bootstrap, acks="all", enable_idempotence=True
    )
    await p.start()
    yield p
    await p.stop()
