"""pytest plugin: real Kafka and PostgreSQL for integration and e2e tests.

Where they come from, in order: the environment (`FOLLOWUP_TEST_KAFKA_BOOTSTRAP`,
`FOLLOWUP_TEST_PG_DSN`, set by `make test`), else testcontainers when a Docker engine answers,
else the tests that need them fail when `CI` is set and are skipped (loudly) otherwise.
They are never replaced by fakes.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import pytest


@dataclass(frozen=True)
class Infra:
    kafka_bootstrap: str
    pg_admin_dsn: str  # a superuser DSN; tests create their own databases


def _docker_answers() -> bool:
    try:
        import docker

        docker.from_env().ping()
        return True
    except Exception:
        return False


def _unavailable(why: str) -> None:
    msg = (
        f"real Kafka/PostgreSQL unavailable: {why}. Run `make test` (it starts them), or set "
        "FOLLOWUP_TEST_KAFKA_BOOTSTRAP and FOLLOWUP_TEST_PG_DSN."
    )
    if os.environ.get("CI"):
        pytest.fail(msg, pytrace=False)
    pytest.skip(msg)


@pytest.fixture(scope="session")
def infra() -> Iterator[Infra]:
    """Real Kafka and PostgreSQL for the whole test session."""
    kafka = os.environ.get("FOLLOWUP_TEST_KAFKA_BOOTSTRAP")
    pg = os.environ.get("FOLLOWUP_TEST_PG_DSN")
    if kafka and pg:
        yield Infra(kafka, pg)
        return
    if not _docker_answers():
        _unavailable("no FOLLOWUP_TEST_* environment and no Docker engine")
    from testcontainers.community.kafka import KafkaContainer
    from testcontainers.community.postgres import (
        PostgresContainer,
    )

    with (
        KafkaContainer("apache/kafka:4.1.1").with_kraft() as k,
        PostgresContainer("postgres:15", driver=None) as p,
    ):
        yield Infra(k.get_bootstrap_server(), p.get_connection_url())


def dsn_for(admin_dsn: str, database: str) -> str:
    """The admin DSN pointed at another database."""
    parts = urlsplit(admin_dsn)
    return urlunsplit(parts._replace(path=f"/{database}"))


async def create_database(admin_dsn: str, prefix: str = "t") -> str:
    """Creates a fresh, uniquely named database and returns its DSN."""
    import asyncpg

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return dsn_for(admin_dsn, name)


@pytest.fixture
async def fresh_db(infra: Infra) -> AsyncIterator[str]:
    """DSN of a new empty database, dropped after the test."""
    import asyncpg

    dsn = await create_database(infra.pg_admin_dsn)
    yield dsn
    name = dsn.rsplit("/", 1)[-1].split("?")[0]
    conn = await asyncpg.connect(infra.pg_admin_dsn)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture
def unique_topic() -> Iterator[str]:
    """A topic name no other test uses (create it with `create_topics`)."""
    yield f"test.{uuid.uuid4().hex[:10]}"


async def create_topics(bootstrap: str, names: list[str], partitions: int = 6) -> None:
    """Creates topics as the stack does (kept forever; keys compacted), ignoring ones that exist."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic
    from aiokafka.errors import TopicAlreadyExistsError

    from followup.events.topics import config_for

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        new = [
            NewTopic(n, partitions, 1, topic_configs=config_for(n))
            for n in names
            if n not in existing
        ]
        if new:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(new)
            # Created is not yet known to every client: under load a producer or consumer
            # started at once failed with "topic not found in cluster metadata".
            deadline = asyncio.get_running_loop().time() + 30
            missing = {t.name for t in new}
            while missing:
                missing -= set(await admin.list_topics())
                if missing and asyncio.get_running_loop().time() > deadline:
                    raise TimeoutError(f"topics not in the cluster metadata: {sorted(missing)}")
                if missing:
                    await asyncio.sleep(0.1)
    finally:
        await admin.close()


def pytest_configure(config: pytest.Config) -> None:
    """Tests run in development mode: a derived master key, never a real one (SPEC §8)."""
    os.environ.setdefault("FOLLOWUP_ENV", "development")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Marks every test that uses real infrastructure `infra`, so `-m "not infra"` leaves it out."""
    for item in items:
        if "infra" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.infra)
