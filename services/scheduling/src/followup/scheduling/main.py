"""Builds scheduling's I/O objects and serves it: `python -m followup.scheduling.main`."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from followup.calendar import default_calendar
from followup.core.keystore import KeyStore
from followup.core.sealing import master_keys_from_env
from followup.core.service import ServiceParts, build_service, run
from followup.events import topics
from followup.scheduling import api, erasure_api
from followup.scheduling.deps import SchedulingDeps
from followup.scheduling.intake import Intake, intake_subscription
from followup.scheduling.planning import Planner
from followup.scheduling.projections.growth import GROWING_TABLES
from followup.scheduling.settings import SchedulingSettings
from followup.scheduling.subscriptions import CONSUMES, PUBLISHES, scheduling_subscription

MIGRATIONS = Path(__file__).resolve().parents[3] / "migrations"


def service_parts(settings: SchedulingSettings) -> ServiceParts:
    """What scheduling is made of (the app and the CLI's replay both build from it)."""
    deps = SchedulingDeps.build(Planner(default_calendar(), settings.default_timezone))
    key_store = KeyStore.from_settings(settings, master_keys_from_env())
    intake = Intake(key_store, settings.topic(topics.CUSTOMERS_SEALED))
    return ServiceParts(
        name="scheduling",
        migrations_dir=MIGRATIONS,
        subscription=lambda clock: scheduling_subscription(deps.handlers),
        routers=lambda auth: [
            *api.routers(auth, deps),
            erasure_api.router(auth, settings.topic_prefix),
        ],
        publishes=PUBLISHES,
        consumes=CONSUMES,
        description="Visit plans: who must be visited, when and why (SPEC §2).",
        register_metrics=deps.metrics.register,
        growing_tables=GROWING_TABLES,
        key_store=key_store,
        extra_subscriptions=lambda clock: [intake_subscription(intake)],
    )


def build_app(settings: SchedulingSettings | None = None) -> FastAPI:
    """The scheduling app, wired."""
    settings = settings or SchedulingSettings()
    return build_service(settings, service_parts(settings))


def main() -> None:
    settings = SchedulingSettings()
    run(lambda: build_app(settings), settings)


if __name__ == "__main__":
    main()
