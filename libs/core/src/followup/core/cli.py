"""The `followup` command: migrations, dead letters, blue/green replay, clock, samples.

A service is found by name: `followup.<name>.main` (its `service_parts(settings)` or, for
migrations alone, its `MIGRATIONS` directory) and `followup.<name>.settings` (its settings
class, a CoreSettings subclass).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from followup.core.cli_calendar import app as _calendar_app
from followup.core.cli_customers import app as _customers_app
from followup.core.cli_keys import app as _keys_app
from followup.core.cli_notify import app as _notify_app
from followup.core.cli_policy import app as _policy_app
from followup.core.cli_services import ServiceHooks, load_service

if TYPE_CHECKING:
    pass

app = typer.Typer(
    name="followup",
    help="Operate the followup services.",
    no_args_is_help=True,
    add_completion=False,
)
dead_letters_app = typer.Typer(help="List and replay dead letters.", no_args_is_help=True)
clock_app = typer.Typer(help="The simulated clock (SPEC §9).", no_args_is_help=True)
app.add_typer(dead_letters_app, name="dead-letters")
app.add_typer(clock_app, name="clock")
app.add_typer(_policy_app, name="policy")
app.add_typer(_calendar_app, name="calendar")
app.add_typer(_keys_app, name="keys")
app.add_typer(_notify_app, name="notifications")
app.add_typer(_customers_app, name="customers")

try:  # the demo and the sample publisher are optional tooling of the local stack
    from followup.core.demo.cli import app as _demo_app

    app.add_typer(_demo_app, name="demo")
except ImportError:  # pragma: no cover
    pass

try:
    from followup.core.sample import app as _sample_app

    app.add_typer(_sample_app, name="sample")
except ImportError:  # pragma: no cover
    pass


def _require_subscription(hooks: ServiceHooks) -> Callable[[Any], Any]:
    if hooks.subscription is None:
        raise typer.BadParameter(
            f"followup.{hooks.name}.main must expose service_parts(settings) returning its "
            "ServiceParts (with a subscription) for dead-letter replay and rebuilds"
        )
    return hooks.subscription


@app.command()
def migrate(
    service: Annotated[str, typer.Argument(help="scheduling | visits | issues | analytics")],
    dsn: Annotated[str | None, typer.Option(help="PostgreSQL DSN (default: settings)")] = None,
) -> None:
    """Applies the core's and the service's migrations (safe to run concurrently)."""
    from followup.core.db import migrate as run_migrate

    hooks = load_service(service, dsn)
    applied = asyncio.run(
        run_migrate(hooks.settings.pg_dsn, service=service, migrations_dir=hooks.migrations_dir)
    )
    typer.echo(
        f"{service}: {len(applied)} migration(s) applied"
        + (": " + ", ".join(applied) if applied else "")
    )


@dead_letters_app.command("list")
def list_letters(
    service: Annotated[str, typer.Option(help="the service whose database to read")],
    dsn: Annotated[str | None, typer.Option(help="PostgreSQL DSN (default: settings)")] = None,
    consumer: Annotated[str | None, typer.Option(help="only this consumer")] = None,
    include_replayed: Annotated[bool, typer.Option("--all", help="replayed ones too")] = False,
    limit: int = 100,
) -> None:
    """Lists dead letters, oldest first."""
    from rich.console import Console
    from rich.table import Table

    from followup.core.db import create_pool
    from followup.core.deadletter import list_dead_letters

    hooks = load_service(service, dsn)

    async def run() -> list[dict[str, Any]]:
        pool = await create_pool(hooks.settings.pg_dsn, min_size=1, max_size=1)
        try:
            return await list_dead_letters(
                pool, consumer=consumer, include_replayed=include_replayed, limit=limit
            )
        finally:
            await pool.close()

    rows = asyncio.run(run())
    table = Table(
        "id",
        "consumer",
        "origin",
        "reason",
        "error",
        "event",
        "created",
        "replayed",
        title=f"{service}: dead letters",
    )
    for r in rows:
        table.add_row(
            str(r["id"]),
            r["consumer"],
            f"{r['topic']}[{r['partition']}]@{r['kafka_offset']}",
            r["reason"],
            (r["error"] or "")[:60],
            f"{r['event_type'] or ''} {r['event_id'] or ''}".strip(),
            r["created_at"].isoformat(timespec="seconds"),
            r["replayed_at"].isoformat(timespec="seconds") if r["replayed_at"] else "",
        )
    Console().print(table)


@dead_letters_app.command("replay")
def replay_letters(
    service: Annotated[str, typer.Option(help="the service whose dead letters to replay")],
    id: Annotated[list[int] | None, typer.Option("--id", help="a dead letter id")] = None,
    all_: Annotated[bool, typer.Option("--all", help="every open one of the consumer")] = False,
    dsn: Annotated[str | None, typer.Option(help="PostgreSQL DSN (default: settings)")] = None,
) -> None:
    """Replays dead letters through decode and the handler, once the cause is fixed."""
    if not id and not all_:
        raise typer.BadParameter("give --id N (repeatable) or --all")
    from followup.core.clock import clock_from_settings
    from followup.core.db import create_pool
    from followup.core.deadletter_replay import replay_dead_letters
    from followup.core.metrics import Metrics

    hooks = load_service(service, dsn, with_subscription=True)
    make_subscription = _require_subscription(hooks)

    async def run() -> Any:
        clock = clock_from_settings(hooks.settings)
        await clock.start()
        pool = await create_pool(hooks.settings.pg_dsn, min_size=1, max_size=2)
        if hooks.key_store is not None:
            await hooks.key_store.start()
        try:
            return await replay_dead_letters(
                pool,
                make_subscription(clock),
                settings=hooks.settings,
                clock=clock,
                metrics=Metrics(),
                ids=None if all_ else id,
                key_store=hooks.key_store,
            )
        finally:
            if hooks.key_store is not None:
                await hooks.key_store.stop()
            await pool.close()
            await clock.stop()

    report = asyncio.run(run())
    typer.echo(
        f"replayed {len(report.replayed)}, duplicates {len(report.duplicates)}, "
        f"skipped {len(report.skipped)}, still failing {len(report.failed)}"
    )
    for letter_id, error in report.failed.items():
        typer.echo(f"  {letter_id}: {error}")
    if report.failed:
        raise typer.Exit(1)


@app.command()
def replay(
    service: Annotated[str, typer.Argument(help="the service whose read model to rebuild")],
    dsn: Annotated[str | None, typer.Option(help="PostgreSQL DSN (default: settings)")] = None,
    keep_old: Annotated[bool, typer.Option(help="keep the old tables in a retired schema")] = False,
    swap: Annotated[bool, typer.Option(help="swap the rebuilt tables in when caught up")] = True,
) -> None:
    """Rebuilds the read model from offset 0 into new tables, then swaps them in atomically."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from followup.core.clock import clock_from_settings
    from followup.core.logging import configure_logging
    from followup.core.replay import ReplayProgress, rebuild

    hooks = load_service(service, dsn, with_subscription=True)
    make_subscription = _require_subscription(hooks)
    configure_logging(f"{service}-replay", "WARNING")

    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,.0f} events"),
        TextColumn("{task.fields[eps]:,.0f} events/s"),
        TextColumn("lag {task.fields[lag]:,}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns) as progress:
        task = progress.add_task(f"replay {service}", total=None, eps=0.0, lag=0)

        def show(p: ReplayProgress) -> None:
            progress.update(
                task, completed=p.events, total=p.events + p.lag, eps=p.events_per_s, lag=p.lag
            )

        async def run() -> Any:
            clock = clock_from_settings(hooks.settings)
            await clock.start()
            if hooks.key_store is not None:
                await hooks.key_store.start()
            try:
                return await rebuild(
                    make_subscription(clock),
                    settings=hooks.settings,
                    migrations_dir=hooks.migrations_dir,
                    clock=clock,
                    on_progress=show,
                    swap=swap,
                    keep_old=keep_old,
                    growing_tables=hooks.growing_tables,
                    key_store=hooks.key_store,
                )
            finally:
                if hooks.key_store is not None:
                    await hooks.key_store.stop()
                await clock.stop()

        result = asyncio.run(run())
    rate = result.events / result.elapsed_s if result.elapsed_s else 0.0
    typer.echo(
        f"{service}: {result.events:,} events in {result.elapsed_s:.1f} s "
        f"({rate:,.0f}/s); tables {', '.join(result.tables)}; "
        + ("swapped in" if result.swapped else "left in schema followup_rebuild")
        + (f"; old tables in {result.retired_schema}" if result.retired_schema else "")
    )


@clock_app.command("advance")
def advance(
    now: Annotated[str, typer.Argument(help="RFC 3339 time with offset")],
    bootstrap: Annotated[str | None, typer.Option(help="Kafka bootstrap")] = None,
    topic_prefix: Annotated[str, typer.Option(help="topic prefix")] = "",
) -> None:
    """Publishes a ClockAdvanced: simulated-mode services move their clock to `now`."""
    from followup.core.clock import publish_clock_advance
    from followup.events import topics

    when = datetime.fromisoformat(now)
    if when.tzinfo is None:
        raise typer.BadParameter("the time needs a UTC offset, e.g. 2026-03-01T09:00:00+08:00")
    servers = bootstrap or os.environ.get("FOLLOWUP_KAFKA_BOOTSTRAP", "127.0.0.1:19092")
    event_id = asyncio.run(
        publish_clock_advance(servers, when, topic=f"{topic_prefix}{topics.CLOCK}")
    )
    typer.echo(f"ClockAdvanced {when.isoformat()} ({event_id})")


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
