"""`followup keys new-master-key` and `followup keys rewrap` (master key rotation, SPEC §8)."""

from __future__ import annotations

import asyncio
import os
from typing import Annotated

import typer

from followup.core.keystore import KeyStore
from followup.core.sealing import MasterKeyMissing, master_keys_from_env, new_master_key
from followup.events import topics

app = typer.Typer(help="Customer keys and master keys (SPEC §8).", no_args_is_help=True)


@app.command("new-master-key")
def new_master() -> None:
    """Prints a fresh master key, for FOLLOWUP_MASTER_KEYS as VERSION=KEY."""
    typer.echo(new_master_key())


@app.command("rewrap")
def rewrap(
    bootstrap: Annotated[str | None, typer.Option(help="Kafka bootstrap")] = None,
    topic_prefix: Annotated[str, typer.Option(help="topic prefix")] = "",
) -> None:
    """Rewraps every customer key wrapped by an older master key with the current one."""
    try:
        master = master_keys_from_env()
    except (MasterKeyMissing, ValueError) as exc:
        raise typer.BadParameter(str(exc)) from None
    servers = bootstrap or os.environ.get("FOLLOWUP_KAFKA_BOOTSTRAP", "127.0.0.1:19092")
    store = KeyStore(servers, master, topic=f"{topic_prefix}{topics.KEYS}")

    async def run() -> tuple[int, int]:
        await store.start()
        try:
            return await store.rewrap_all(), store.stats()["keys"]
        finally:
            await store.stop()

    rewrapped, keys = asyncio.run(run())
    typer.echo(f"{rewrapped:,} of {keys:,} keys rewrapped with master key {master.current}")
