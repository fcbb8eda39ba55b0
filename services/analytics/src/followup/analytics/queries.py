"""Analytics' read use cases: the KPIs of a period, the monthly report, the churn-risk list.

Callable alike from a route, the CLI or a test: each takes the service's dependencies, the
pool and the instant it answers for (`as_of`), and returns the document the API shows. An
answer is the one kept from an earlier question while it still holds (cache.py), else the
period's facts loaded in one snapshot and folded off the event loop (the consumer shares it).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Protocol, TypeVar
from zoneinfo import ZoneInfo

import asyncpg

from followup.analytics import projections
from followup.analytics.cache import AnswerCache, Cached, next_instant
from followup.analytics.domain import views
from followup.analytics.domain.groups import Grouping
from followup.analytics.domain.model import Facts
from followup.analytics.domain.period import Period, month_period
from followup.analytics.metrics import AnalyticsMetrics
from followup.analytics.projections import Snapshot
from followup.analytics.settings import AnalyticsSettings

T = TypeVar("T")


class FactsLoader(Protocol):
    """Loads a period's facts in one snapshot (projections.load_period)."""

    def __call__(
        self,
        pool: asyncpg.Pool,
        period: Period,
        *,
        churn: bool = False,
        unless: tuple[str, str] | None = None,
    ) -> Awaitable[Snapshot]: ...


@dataclass(frozen=True)
class Analytics:
    """What the read use cases depend on, built once in main.py."""

    settings: AnalyticsSettings
    metrics: AnalyticsMetrics
    answers: AnswerCache
    load_facts: FactsLoader = field(default=projections.load_period)

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


async def _answer(
    svc: Analytics,
    pool: asyncpg.Pool,
    endpoint: str,
    variant: str,
    period: Period,
    as_of: datetime,
    churn: bool,
    compute: Callable[[Facts], T],
) -> T:
    """The answer at `as_of`: a kept one while it holds, else folded from a fresh snapshot."""
    started = time.perf_counter()
    key = (endpoint, variant, period.start.isoformat(), period.end.isoformat())
    held = svc.answers.lookup(key, as_of)
    unless = (held.stored, held.version) if held else None
    snapshot = await svc.load_facts(pool, period, churn=churn, unless=unless)
    facts = snapshot.facts
    if facts is None:
        assert held is not None
        answer: T = held.body
        if snapshot.stored != held.stored:  # facts stored elsewhere: next time, one row says so
            svc.answers.store(key, replace(held, stored=snapshot.stored))
    else:
        answer, until = await asyncio.to_thread(_fold, compute, facts, as_of)
        svc.answers.store(key, Cached(snapshot.stored, snapshot.version, as_of, until, answer))
    source = "fold" if facts is not None else "kept"
    svc.metrics.query_seconds.labels(endpoint, source).observe(time.perf_counter() - started)
    return answer


def _fold(
    compute: Callable[[Facts], T], facts: Facts, as_of: datetime
) -> tuple[T, datetime | None]:
    return compute(facts), next_instant(facts, as_of)


async def answer_kpis(
    svc: Analytics, pool: asyncpg.Pool, period: Period, as_of: datetime, grouping: Grouping
) -> dict[str, Any]:
    """Every SPEC §5 KPI of the period per group, as of `as_of`."""

    def compute(facts: Facts) -> dict[str, Any]:
        return views.kpis(facts, period, as_of, grouping)

    body = await _answer(svc, pool, "kpis", grouping, period, as_of, False, compute)
    return {**body, "as_of": as_of.isoformat()}


async def answer_monthly_report(
    svc: Analytics, pool: asyncpg.Pool, year: int, month: int, as_of: datetime
) -> dict[str, Any]:
    """The month's report (a calendar month in the service's zone), as of `as_of`."""
    label = f"{year:04d}-{month:02d}"
    period = month_period(year, month, svc.zone)

    def compute(facts: Facts) -> dict[str, Any]:
        return views.monthly_report(facts, label, period, as_of)

    body = await _answer(svc, pool, "monthly_report", label, period, as_of, True, compute)
    return {**body, "as_of": as_of.isoformat()}


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

    def compute(facts: Facts) -> list[dict[str, Any]]:
        return views.at_risk_items(facts, period, as_of)

    items = await _answer(svc, pool, "customers_at_risk", "", period, as_of, True, compute)
    if after is not None:
        items = [i for i in items if i["customer_id"] > after]
    return AtRiskPage(period, as_of, items[:limit], len(items) > limit)
