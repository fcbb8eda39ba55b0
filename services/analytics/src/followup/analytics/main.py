"""Builds analytics's I/O objects and serves it: `python -m followup.analytics.main`."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from followup.analytics.settings import AnalyticsSettings
from followup.core.service import ServiceParts, build_service, run

MIGRATIONS = Path(__file__).resolve().parents[3] / "migrations"


def service_parts(settings: AnalyticsSettings) -> ServiceParts:
    """What analytics is made of; its domain arrives with its own issue, it already runs."""
    return ServiceParts(
        name="analytics",
        migrations_dir=MIGRATIONS,
        subscription=None,
        routers=lambda auth: [],
        description="KPIs, monthly reports and the churn-risk list (SPEC §5).",
    )


def build_app(settings: AnalyticsSettings | None = None) -> FastAPI:
    """The analytics app, wired."""
    settings = settings or AnalyticsSettings()
    return build_service(settings, service_parts(settings))


def main() -> None:
    settings = AnalyticsSettings()
    run(lambda: build_app(settings), settings)


if __name__ == "__main__":
    main()
