"""Builds analytics's I/O objects and serves it: `python -m followup.analytics.main`."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from followup.analytics import api, projections
from followup.analytics.handlers import AnalyticsHandlers
from followup.analytics.metrics import AnalyticsMetrics
from followup.analytics.queries import Analytics
from followup.analytics.settings import AnalyticsSettings
from followup.analytics.subscriptions import CONSUMES, PUBLISHES, analytics_subscription
from followup.core.service import ServiceParts, build_service, run

MIGRATIONS = Path(__file__).resolve().parents[3] / "migrations"


def service_parts(settings: AnalyticsSettings) -> ServiceParts:
    """What analytics is made of (the app and the CLI's replay both build from it)."""
    metrics = AnalyticsMetrics()
    svc = Analytics(settings, metrics)
    handlers = AnalyticsHandlers(metrics)
    return ServiceParts(
        name="analytics",
        migrations_dir=MIGRATIONS,
        subscription=lambda clock: analytics_subscription(handlers),
        routers=lambda auth: api.routers(auth, svc),
        publishes=PUBLISHES,
        consumes=CONSUMES,
        description="KPIs, monthly reports and the churn-risk list (SPEC §5).",
        register_metrics=metrics.register,
        growing_tables=projections.GROWING_TABLES,
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
