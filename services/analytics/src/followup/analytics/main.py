"""Builds analytics's I/O objects and serves it: `python -m followup.analytics.main`."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from prometheus_client import CollectorRegistry, Counter, Histogram

from followup.analytics import api, projections
from followup.analytics.cache import AnswerCache
from followup.analytics.handlers import AnalyticsHandlers
from followup.analytics.settings import AnalyticsSettings
from followup.analytics.subscriptions import CONSUMES, PUBLISHES, analytics_subscription
from followup.core.service import ServiceParts, build_service, run

MIGRATIONS = Path(__file__).resolve().parents[3] / "migrations"
_QUERY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


def service_parts(settings: AnalyticsSettings) -> ServiceParts:
    """What analytics is made of (the app and the CLI's replay both build from it)."""
    stored: list[Counter] = []
    queries: list[Histogram] = []

    def register_metrics(registry: CollectorRegistry) -> None:
        stored.append(
            Counter(
                "followup_analytics_facts_stored",
                "Fact rows written from consumed events (a batch rolled back and retried"
                " counts again)",
                registry=registry,
            )
        )
        queries.append(
            Histogram(
                "followup_analytics_query_seconds",
                "Time to answer a KPI, report or churn-list request; source: fold (facts loaded"
                " and folded) or kept (an earlier answer that still holds)",
                ["endpoint", "source"],
                buckets=_QUERY_BUCKETS,
                registry=registry,
            )
        )

    def count_stored(n: int) -> None:
        for counter in stored:
            counter.inc(n)

    def observe_query(endpoint: str, source: str, seconds: float) -> None:
        for histogram in queries:
            histogram.labels(endpoint, source).observe(seconds)

    handlers = AnalyticsHandlers(on_stored=count_stored)
    return ServiceParts(
        name="analytics",
        migrations_dir=MIGRATIONS,
        subscription=lambda clock: analytics_subscription(handlers),
        routers=api.routers,
        publishes=PUBLISHES,
        consumes=CONSUMES,
        description="KPIs, monthly reports and the churn-risk list (SPEC §5).",
        extra_state={
            "settings": settings,
            "observe_query": observe_query,
            "load_facts": projections.load_period,
            "answers": AnswerCache(settings.answers_kept),
        },
        register_metrics=register_metrics,
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
