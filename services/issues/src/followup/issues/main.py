"""Builds issues' I/O objects and serves it: `python -m followup.issues.main`."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from followup.calendar import default_calendar
from followup.core.crypto import PersonalDataVault, VaultKeys
from followup.core.keystore import KeyStore
from followup.core.sealing import master_keys_from_env
from followup.core.service import ServiceParts, build_service, run
from followup.issues import api
from followup.issues.deps import IssuesDeps, issues_deps
from followup.issues.gauges import OpenIssues
from followup.issues.notifications import issues_notifier
from followup.issues.settings import IssuesSettings
from followup.issues.subscriptions import CONSUMES, PUBLISHES, issues_subscription

MIGRATIONS = Path(__file__).resolve().parents[3] / "migrations"


def build_deps(settings: IssuesSettings, key_store: KeyStore | None = None) -> IssuesDeps:
    """Issues' parts on the calendar data and the configured escalation map."""
    vault = None if key_store is None else PersonalDataVault(VaultKeys(key_store.master), key_store)
    return issues_deps(
        default_calendar(),
        settings.department_managers,
        topic_prefix=settings.topic_prefix,
        vault=vault,
    )


def service_parts(settings: IssuesSettings) -> ServiceParts:
    """What issues is made of (the app and the CLI's replay both build from it)."""
    key_store = KeyStore.from_settings(settings, master_keys_from_env())
    deps = build_deps(settings, key_store)
    notifier = issues_notifier()
    return ServiceParts(
        name="issues",
        migrations_dir=MIGRATIONS,
        subscription=lambda clock: issues_subscription(deps),
        routers=lambda auth: api.routers(auth, deps),
        publishes=PUBLISHES,
        consumes=CONSUMES,
        description="The issue ledger with working-time SLA clocks and escalation (SPEC §4).",
        register_metrics=deps.metrics.register,
        background=[OpenIssues(), *([notifier] if notifier is not None else [])],
        key_store=key_store,
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
