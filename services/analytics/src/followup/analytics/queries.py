"""Analytics' read use cases: the KPIs of a period, the monthly report, the churn-risk list.

Callable alike from a route, the CLI or a test: each takes the service's dependencies, the
pool and the instant it answers for (`as_of`), and returns the document the API shows. The
answers are read from the incremental aggregates (readings.py); the time each took goes to
`followup_analytics_query_seconds`.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import asyncpg

from followup.analytics import readings
from followup.analytics.domain import views
from followup.analytics.domain.churn import ChurnSignal
from followup.analytics.domain.groups import Grouping
from followup.analytics.domain.model import CustomerFacts
from followup.analytics.domain.period import Period, month_period
from followup.analytics.domain.report import assemble_report
from followup.analytics.metrics import AnalyticsMetrics
from followup.analytics.readings import ReportReading
from followup.analytics.settings import AnalyticsSettings


class Readings(Protocol):
    """Where answers are read from: the aggregates (readings.py), or a fold in tests."""

    def kpis(
        self, pool: asyncpg.Pool, period: Period, as_of: datetime, grouping: Grouping
    ) -> Awaitable[tuple[views.Ratios, views.Times]]: ...

    def report(
        self, pool: asyncpg.Pool, period: Period, as_of: datetime
    ) -> Awaitable[ReportReading]: ...

    def at_risk(
        self, pool: asyncpg.Pool, period: Period, as_of: datetime
    ) -> Awaitable[tuple[list[ChurnSignal], dict[str, CustomerFacts]]]: ...


class AggregateReadings:
    """Answers read from the incremental aggregates."""

    def kpis(
        self, pool: asyncpg.Pool, period: Period, as_of: datetime, grouping: Grouping
    ) -> Awaitable[tuple[views.Ratios, views.Times]]:
        """Every KPI of the period per group."""
        return readings.read_kpis(pool, period, as_of, grouping)

    def report(
        self, pool: asyncpg.Pool, period: Period, as_of: datetime
    ) -> Awaitable[ReportReading]:
        """What the month's report is made of."""
        return readings.read_report(pool, period, as_of)

    def at_risk(
        self, pool: asyncpg.Pool, period: Period, as_of: datetime
    ) -> Awaitable[tuple[list[ChurnSignal], dict[str, CustomerFacts]]]:
        """The churn signals fired in the period, with their customers."""
        return readings.read_at_risk(pool, period, as_of)


@dataclass(frozen=True)
class Analytics:
    """What the read use cases depend on, built once in main.py."""

    settings: AnalyticsSettings
    metrics: AnalyticsMetrics
    readings: Readings = field(default_factory=AggregateReadings)

    @property
    def zone(self) -> ZoneInfo:
        """The zone `from`/`to` dates and report months are read in."""
        return ZoneInfo(self.settings.default_timezone)


@dataclass(frozen=True)
class AtRiskPage:
    """One page of the churn-risk list; `more` when customers follow the last one."""

    period: Period
    as_of: datetime
    items: list[dict[str, Any]]
    more: bool


def _utc(period: Period, as_of: datetime) -> tuple[Period, datetime]:
    """The same instants in UTC, as the stored ones come back from the database."""
    return Period(period.start.astimezone(UTC), period.end.astimezone(UTC)), as_of.astimezone(UTC)


def _observe(svc: Analytics, endpoint: str, started: float) -> None:
    svc.metrics.query_seconds.labels(endpoint, "aggregates").observe(time.perf_counter() - started)


async def answer_kpis(
    svc: Analytics, pool: asyncpg.Pool, period: Period, as_of: datetime, grouping: Grouping
) -> dict[str, Any]:
    """Every SPEC §5 KPI of the period per group, as of `as_of`."""
    started = time.perf_counter()
    ratios, times = await svc.readings.kpis(pool, *_utc(period, as_of), grouping)
    body = views.kpis_document(period, as_of, grouping, ratios, times)
    _observe(svc, "kpis", started)
    return body


async def answer_monthly_report(
    svc: Analytics, pool: asyncpg.Pool, year: int, month: int, as_of: datetime
) -> dict[str, Any]:
    """The month's report (a calendar month in the service's zone), as of `as_of`."""
    started = time.perf_counter()
    period = month_period(year, month, svc.zone)
    utc_period, utc_as_of = _utc(period, as_of)
    r = await svc.readings.report(pool, utc_period, utc_as_of)
    report = assemble_report(utc_period, r.ratios, r.times, r.problems, r.breaches, r.signals)
    at_risk = views.at_risk_document(r.signals, r.customers, as_of)
    label = f"{year:04d}-{month:02d}"
    body = views.report_document(label, period, as_of, report, r.spot_checks, at_risk)
    _observe(svc, "monthly_report", started)
    return body


async def answer_customers_at_risk(
    svc: Analytics,
    pool: asyncpg.Pool,
    period: Period,
    as_of: datetime,
    *,
    after: str | None = None,
    limit: int = 100,
) -> AtRiskPage:
    """The customers a churn rule fired for in the period, by id, from after `after`."""
    started = time.perf_counter()
    signals, customers = await svc.readings.at_risk(pool, *_utc(period, as_of))
    items = views.at_risk_document(signals, customers, as_of)
    if after is not None:
        items = [i for i in items if i["customer_id"] > after]
    _observe(svc, "customers_at_risk", started)
    return AtRiskPage(period, as_of, items[:limit], len(items) > limit)
