"""`followup notifications check|list|revive`: the channels file and dead notifications."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Any

import typer

app = typer.Typer(help="Notifications to people (SPEC §10).", no_args_is_help=True)

_Service = Annotated[str, typer.Option(help="the service whose database to read")]
_Dsn = Annotated[str | None, typer.Option(help="PostgreSQL DSN (default: settings)")]


@app.command("check")
def check(path: Annotated[Path, typer.Argument(help="a channels file (TOML)")]) -> None:
    """Validates a channels file: who is reachable how; every problem otherwise (exit 2)."""
    from followup.core.notify.config import load

    try:
        channels = load(path)
    except (ValueError, OSError) as exc:
        typer.echo(f"{path}: {exc}", err=True)
        raise typer.Exit(2) from None
    for person in channels.recipients.people.values():
        reach = ", ".join(person.channels()) or "no channel"
        typer.echo(f"{person.id} ({person.role}, {person.locale}): {reach}")


def _pool_for(service: str, dsn: str | None) -> str:
    from followup.core.cli_services import load_service

    return load_service(service, dsn).settings.pg_dsn


@app.command("list")
def list_rows(
    service: _Service,
    dsn: _Dsn = None,
    state: Annotated[str | None, typer.Option(help="pending, delivered or dead")] = "dead",
    limit: int = 100,
) -> None:
    """Lists notifications of a state (default: dead), newest first."""
    from rich.console import Console
    from rich.table import Table

    from followup.core.db import create_pool
    from followup.core.notify.store import listed

    async def run() -> list[dict[str, Any]]:
        pool = await create_pool(_pool_for(service, dsn), min_size=1, max_size=1)
        try:
            return await listed(pool, state, limit)
        finally:
            await pool.close()

    table = Table("delivery", "event", "to", "channel", "state", "tries", "error", "created")
    for r in asyncio.run(run()):
        table.add_row(
            r["delivery_id"],
            f"{r['event_type']} {r['event_id']}",
            r["person_id"],
            r["channel"],
            r["state"],
            str(r["attempts"]),
            (r["last_error"] or "")[:60],
            r["created_at"].isoformat(timespec="seconds"),
        )
    Console().print(table)


@app.command("revive")
def revive(
    service: _Service,
    id: Annotated[list[str] | None, typer.Option("--id", help="a delivery id")] = None,
    all_: Annotated[bool, typer.Option("--all", help="every dead one")] = False,
    dsn: _Dsn = None,
) -> None:
    """Makes dead notifications due again with fresh attempts, once the cause is fixed."""
    if not id and not all_:
        raise typer.BadParameter("give --id DELIVERY (repeatable) or --all")
    from followup.core.db import create_pool
    from followup.core.notify import store

    async def run() -> int:
        pool = await create_pool(_pool_for(service, dsn), min_size=1, max_size=1)
        try:
            return await store.revive(pool, None if all_ else id)
        finally:
            await pool.close()

    typer.echo(f"revived {asyncio.run(run())}")
