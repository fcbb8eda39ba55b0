"""Builds issues's I/O objects and serves it: `python -m followup.issues.main`."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from followup.core.service import ServiceParts, build_service, run
from followup.issues.settings import IssuesSettings

MIGRATIONS = Path(__file__).resolve().parents[3] / "migrations"


def service_parts(settings: IssuesSettings) -> ServiceParts:
    """What issues is made of; its domain arrives with its own issue, it already runs."""
    return ServiceParts(
        name="issues",
        migrations_dir=MIGRATIONS,
        subscription=None,
        routers=lambda auth: [],
        description="The issue ledger with working-time SLA clocks and escalation (SPEC §4).",
    )


def build_app(settings: IssuesSettings | None = None) -> FastAPI:
    """The issues app, wired."""
    settings = settings or IssuesSettings()
    return build_service(settings, service_parts(settings))


def main() -> None:
    settings = IssuesSettings()
    run(lambda: build_app(settings), settings)


if __name__ == "__main__":
    main()
