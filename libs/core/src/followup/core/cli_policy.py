"""`followup policy check FILE...` and `followup policy activate FILE --effective-at` (SPEC §11)."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from followup.core.control import publish_control_event
from followup.core.policy import Policy, PolicyError, load_policy, policy_digest
from followup.core.policy.activation import policy_activated
from followup.core.policy.describe import describe

app = typer.Typer(help="Policy files (SPEC §11).", no_args_is_help=True)

INVALID = 2  # the exit status when any file does not load


def _load_or_report(file: Path) -> Policy | None:
    try:
        return load_policy(file)
    except PolicyError as e:
        typer.echo(f"{file}: INVALID, {len(e.problems)} problem(s)")
        for problem in e.problems:
            typer.echo(f"  {problem}")
        return None


@app.command("check")
def check(
    files: Annotated[list[Path], typer.Argument(help="policy TOML files")],
) -> None:
    """Loads each policy file and prints what it sets, or every problem with its key's path."""
    failed = 0
    for file in files:
        policy = _load_or_report(file)
        if policy is None:
            failed += 1
            continue
        typer.echo(f"{file}: OK (digest {policy_digest(policy)})")
        for line in describe(policy):
            typer.echo(f"  {line}")
    if failed:
        raise typer.Exit(INVALID)


@app.command("activate")
def activate(
    file: Annotated[Path, typer.Argument(help="the policy TOML file")],
    effective_at: Annotated[
        str, typer.Option(help="RFC 3339 time with offset from which the policy is in force")
    ],
    bootstrap: Annotated[str | None, typer.Option(help="Kafka bootstrap")] = None,
    topic_prefix: Annotated[str, typer.Option(help="topic prefix")] = "",
) -> None:
    """Publishes PolicyActivated on followup.control: services apply it from --effective-at."""
    when = datetime.fromisoformat(effective_at)
    if when.tzinfo is None:
        raise typer.BadParameter("the time needs a UTC offset, e.g. 2027-01-01T00:00:00+08:00")
    policy = _load_or_report(file)
    if policy is None:
        raise typer.Exit(INVALID)
    event = policy_activated(
        policy, effective_at=when, published_at=datetime.now(UTC).replace(microsecond=0)
    )
    servers = bootstrap or os.environ.get("FOLLOWUP_KAFKA_BOOTSTRAP", "127.0.0.1:19092")
    asyncio.run(publish_control_event(servers, event, topic_prefix=topic_prefix))
    typer.echo(
        f"PolicyActivated {policy.id} v{policy.version} (digest {event.data.digest}) "
        f"from {when.isoformat()} ({event.id})"
    )
