"""Builds issues' I/O objects and serves it: `python -m followup.issues.main`."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from prometheus_client import CollectorRegistry, Counter

from followup.calendar import default_calendar
from followup.core.service import ServiceParts, build_service, run
from followup.issues import api
from followup.issues.domain import Breach
from followup.issues.handlers import IssueHandlers
from followup.issues.settings import IssuesSettings
from followup.issues.subscriptions import CONSUMES, PUBLISHES, issues_subscription

MIGRATIONS = Path(__file__).resolve().parents[3] / "migrations"


def service_parts(settings: IssuesSettings) -> ServiceParts:
    """What issues is made of (the app and the CLI's replay both build from it)."""
    breaches: list[Counter] = []

    def register_metrics(registry: CollectorRegistry) -> None:
        breaches.append(
            Counter(
                "followup_issue_sla_breaches",
                "SLA breaches, once per clock",
                ["clock", "department"],
                registry=registry,
            )
        )

    def count_breach(breach: Breach) -> None:
        for counter in breaches:
            counter.labels(breach.clock, breach.department).inc()

    handlers = IssueHandlers(
        default_calendar(),
        dict(settings.department_managers),
        on_breach=count_breach,
        topic_prefix=settings.topic_prefix,
    )
    return ServiceParts(
        name="issues",
        migrations_dir=MIGRATIONS,
        subscription=lambda clock: issues_subscription(handlers),
        routers=api.routers,
        publishes=PUBLISHES,
        consumes=CONSUMES,
        description="The issue ledger with working-time SLA clocks and escalation (SPEC §4).",
        extra_state={"handlers": handlers, "settings": settings},
        register_metrics=register_metrics,
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
