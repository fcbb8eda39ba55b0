"""`followup demo`: the roster's tokens, and a year of a department played on a running stack.

`make demo` starts its own stack on the simulated clock (infra/demo.sh) and runs both.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from followup.core.demo.company import make_company
from followup.core.demo.play import Player, PlayResult, Stack
from followup.core.demo.report import kpi_table

app = typer.Typer(help="A year of a department on the simulated clock.", no_args_is_help=True)
SERVICES = {"scheduling": 8001, "visits": 8002, "issues": 8003, "analytics": 8004}

Customers = Annotated[int, typer.Option(min=1, help="customers in the company")]
Months = Annotated[int, typer.Option(min=1, max=36, help="months to play")]
Seed = Annotated[int, typer.Option(help="the seed: the same seed plays the same year")]


@app.command("tokens")
def tokens(
    out: Annotated[Path, typer.Option(help="where to write the FOLLOWUP_TOKENS_FILE JSON")],
    customers: Customers = 2000,
    months: Months = 12,
    seed: Seed = 1,
) -> None:
    """Writes the tokens of the company's roster (agents and supervisors, with departments)."""
    company = make_company(customers, months, seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(company.tokens(), indent=1))
    typer.echo(f"{len(company.agents)} tokens written to {out}")


def _stack_from_env() -> Stack:
    urls = {
        name: f"http://127.0.0.1:{os.environ.get(f'FOLLOWUP_{name.upper()}_PORT', port)}"
        for name, port in SERVICES.items()
    }
    return Stack(
        urls=urls,
        bootstrap=os.environ.get("FOLLOWUP_KAFKA_BOOTSTRAP", "127.0.0.1:19092"),
        topic_prefix=os.environ.get("FOLLOWUP_TOPIC_PREFIX", ""),
        admin_token=os.environ.get("FOLLOWUP_DEV_TOKEN", "dev-admin"),
    )


@app.command("play")
def play(
    customers: Customers = 2000,
    months: Months = 12,
    seed: Seed = 1,
    policy: Annotated[str, typer.Option(help="the policy preset in force")] = "home-cinema",
    log_file: Annotated[Path, typer.Option(help="the demo's log")] = Path(".local/logs/demo.log"),
    bench_out: Annotated[Path, typer.Option(help="the figures, as JSON")] = Path(
        ".local/bench/demo.json"
    ),
    prometheus: Annotated[str, typer.Option(help="shown at the end")] = "http://127.0.0.1:19090",
) -> None:
    """Plays the year on the running stack (simulated clock), then prints the KPIs."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(log_file, mode="w")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    # Every request is not worth a line; refusals are (actors log them).
    logging.getLogger("httpx").setLevel(logging.WARNING)

    stack = _stack_from_env()
    company = make_company(customers, months, seed)
    player = Player(company, stack, seed=seed, months=months, policy=policy)
    console = Console(stderr=True)
    console.print(
        f"[bold]demo[/]: {customers:,} customers, {len(company.deliveries):,} deliveries over "
        f"{months + 6} months, {len(company.agents)} people; playing {player.days} days from "
        f"{company.start.date()} (seed {seed}, policy {policy}); log: {log_file}"
    )
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("days  {task.fields[date]}  {task.fields[events]:,} events"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("playing", total=player.days, date="", events=0)

        def on_day(day: int, now: Any, events: int) -> None:
            progress.update(task, completed=day + 1, date=now.date().isoformat(), events=events)
            if not console.is_terminal and (now + timedelta(days=1)).day == 1:
                # No live bar without a terminal (CI, a pipe): a line per played month instead.
                console.print(f"played {now:%Y-%m}: day {day + 1}/{player.days}, {events:,} events")

        result = asyncio.run(player.run(on_day))
    _report(console, result, stack, prometheus, bench_out, seed)


def _report(
    console: Console, result: PlayResult, stack: Stack, prometheus: str, bench_out: Path, seed: int
) -> None:
    console.print(kpi_table(result.kpis))
    rate = result.events / result.play_s if result.play_s else 0.0
    console.print(
        f"played {result.customers:,} customers x {result.months} months ({result.days} days) "
        f"in {result.play_s:.1f} s: {result.events:,} events on the topics ({rate:,.0f}/s), "
        f"{result.settle_s:.1f} s of it waiting for the consumers"
    )
    console.print(", ".join(f"{k} {v:,}" for k, v in sorted(result.counts.items())))
    w = result.settle
    console.print(
        f"waiting: {w.get('waits', 0)} settles, {w.get('tick_s', 0.0)} s of them for the clock "
        f"ticks, {w.get('rounds', 0)} extra looks at readiness"
    )
    month = result.kpis.get("from", "")[:7]
    report = f"{stack.urls['analytics']}/v1/reports/monthly/{month or 'YYYY-MM'}"
    console.print(
        f"monthly report: {report} (Accept: text/html; token {stack.admin_token})\n"
        f"Prometheus: {prometheus}   stop the demo stack: make demo-down"
    )
    bench_out.parent.mkdir(parents=True, exist_ok=True)
    figures = {
        "customers": result.customers,
        "months": result.months,
        "events": result.events,
        "play_s": round(result.play_s, 2),
        "kpis": result.kpis,
        "seed": seed,
        "days": result.days,
        "settle_s": round(result.settle_s, 2),
    }
    bench_out.write_text(json.dumps(figures, indent=1, default=str))
