"""`followup policy check FILE...`: validates policy files (SPEC §11)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from followup.core.policy import PolicyError, load_policy, policy_digest
from followup.core.policy.describe import describe

app = typer.Typer(help="Policy files (SPEC §11).", no_args_is_help=True)

INVALID = 2  # the exit status when any file does not load


@app.command("check")
def check(
    files: Annotated[list[Path], typer.Argument(help="policy TOML files")],
) -> None:
    """Loads each policy file and prints what it sets, or every problem with its key's path."""
    failed = 0
    for file in files:
        try:
            policy = load_policy(file)
        except PolicyError as e:
            failed += 1
            typer.echo(f"{file}: INVALID, {len(e.problems)} problem(s)")
            for problem in e.problems:
                typer.echo(f"  {problem}")
            continue
        typer.echo(f"{file}: OK (digest {policy_digest(policy)})")
        for line in describe(policy):
            typer.echo(f"  {line}")
    if failed:
        raise typer.Exit(INVALID)
