"""`followup customers erase ID`: forget a customer (SPEC §8), as the erasure route does."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime
from typing import Annotated

import typer

from followup.core.control import publish_control_event
from followup.core.erasure import erasure_event, tombstone
from followup.core.keystore import KeyStore
from followup.core.sealing import MasterKeyMissing, master_keys_from_env
from followup.events import topics

app = typer.Typer(help="Customers' personal data (SPEC §8).", no_args_is_help=True)


@app.command("erase")
def erase(
    customer_id: Annotated[str, typer.Argument(help="the customer id")],
    requested_by: Annotated[str, typer.Option(help="who asks, for the audit trail")] = "cli",
    bootstrap: Annotated[str | None, typer.Option(help="Kafka bootstrap")] = None,
    topic_prefix: Annotated[str, typer.Option(help="topic prefix")] = "",
) -> None:
    """Tombstones the customer's key and publishes CustomerErased; asking twice is harmless."""
    try:
        master = master_keys_from_env()
    except (MasterKeyMissing, ValueError) as exc:
        raise typer.BadParameter(str(exc)) from None
    servers = bootstrap or os.environ.get("FOLLOWUP_KAFKA_BOOTSTRAP", "127.0.0.1:19092")
    store = KeyStore(servers, master, topic=f"{topic_prefix}{topics.KEYS}")
    event = erasure_event(customer_id, requested_by, datetime.now(UTC), source="followup/cli")

    async def run() -> bool:
        await store.start()
        try:
            already = await tombstone(store, customer_id, requested_by)
        finally:
            await store.stop()
        await publish_control_event(servers, event, topic_prefix=topic_prefix)
        return already

    already = asyncio.run(run())
    typer.echo(f"customer {customer_id} {'was already erased' if already else 'erased'}")
