"""Builds visits' I/O objects and serves it: `python -m followup.visits.main`."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from zoneinfo import ZoneInfo

from fastapi import FastAPI

from followup.core.crypto import PersonalDataVault, master_key_from_env
from followup.core.keystore import KeyStore
from followup.core.service import ServiceParts, build_service, run
from followup.visits import api
from followup.visits.deps import VisitsDeps
from followup.visits.erasure import Erasure
from followup.visits.handlers import VisitHandlers
from followup.visits.settings import VisitsSettings
from followup.visits.staffing import staffing_from_env
from followup.visits.store import PostgresCommandStore
from followup.visits.subscriptions import CONSUMES, PUBLISHES, visits_subscription

MIGRATIONS = Path(__file__).resolve().parents[3] / "migrations"


def service_parts(settings: VisitsSettings) -> ServiceParts:
    """What visits is made of (the app and the CLI's replay both build from it)."""
    keys = master_key_from_env()
    key_store = KeyStore.from_settings(settings, keys.master)
    vault = PersonalDataVault(keys, key_store)
    staffing = staffing_from_env(settings.policy)
    handlers = VisitHandlers(vault, staffing)
    deps = VisitsDeps(
        vault=vault,
        timezone=ZoneInfo(settings.default_timezone),
        command_store=partial(
            PostgresCommandStore, topic_prefix=settings.topic_prefix, vault=vault
        ),
        staffing=staffing,
    )
    return ServiceParts(
        name="visits",
        migrations_dir=MIGRATIONS,
        subscription=lambda clock: visits_subscription(handlers),
        routers=partial(api.routers, deps=deps),
        publishes=PUBLISHES,
        consumes=CONSUMES,
        description="The agents' queue of due visits, visit records and spot checks (SPEC §3).",
        key_store=key_store,
        on_start=Erasure(vault).move_keys_to_store,
    )


def build_app(settings: VisitsSettings | None = None) -> FastAPI:
    """The visits app, wired."""
    settings = settings or VisitsSettings()
    return build_service(settings, service_parts(settings))


def main() -> None:
    settings = VisitsSettings()
    run(lambda: build_app(settings), settings)


if __name__ == "__main__":
    main()
