"""Builds visits's I/O objects and serves it: `python -m followup.visits.main`."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from followup.core.service import ServiceParts, build_service, run
from followup.visits.settings import VisitsSettings

MIGRATIONS = Path(__file__).resolve().parents[3] / "migrations"


def build_app(settings: VisitsSettings | None = None) -> FastAPI:
    """The visits app, wired. Its domain arrives with its own issue; it already runs."""
    settings = settings or VisitsSettings()
    return build_service(settings, ServiceParts(
        name="visits",
        migrations_dir=MIGRATIONS,
        subscription=None,
        routers=lambda auth: [],
        description="The agents' queue of due visits, visit records and spot checks (SPEC §3).",
    ))


def main() -> None:
    settings = VisitsSettings()
    run(lambda: build_app(settings), settings)


if __name__ == "__main__":
    main()
