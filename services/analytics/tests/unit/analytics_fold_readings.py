"""The service's Readings folded from facts in memory: the pure fold as the answers' source,
for the API's tests (the service reads the same answers from its aggregates)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from followup.analytics.domain import views
from followup.analytics.domain.churn import ChurnSignal, churn_signals
from followup.analytics.domain.groups import Grouping
from followup.analytics.domain.issues import raised_in
from followup.analytics.domain.model import CustomerFacts, Facts
from followup.analytics.domain.period import Period
from followup.analytics.domain.visits import spot_check_pass_rate
from followup.analytics.readings import ReportReading


class FoldReadings:
    """Answers folded from `facts`; `asked` records each question (kind, period, as_of)."""

    def __init__(self, facts: Facts) -> None:
        self.facts = facts
        self.asked: list[tuple[str, Period, datetime]] = []

    async def kpis(
        self, pool: object, period: Period, as_of: datetime, grouping: Grouping
    ) -> tuple[views.Ratios, views.Times]:
        self.asked.append(("kpis", period, as_of))
        f = self.facts
        ratios = {n: kpi(f, period, as_of, grouping) for n, (kpi, _) in views.RATIOS.items()}
        times = {n: kpi(f, period, as_of, grouping) for n, kpi in views.TIMES.items()}
        return ratios, times

    async def report(self, pool: object, period: Period, as_of: datetime) -> ReportReading:
        self.asked.append(("report", period, as_of))
        ratios, times = await self.kpis(pool, period, as_of, "all")
        problems: dict[tuple[str, str], int] = defaultdict(int)
        for issue in raised_in(self.facts, period, as_of):
            assert issue.raised is not None
            problems[issue.raised.category, issue.raised.severity] += 1
        breaches: dict[tuple[str | None, str | None], int] = defaultdict(int)
        for issue in self.facts.issues.values():
            for b in issue.breaches:
                if period.holds(b.deadline) and b.deadline <= as_of:
                    breaches[b.owner_id, b.department] += 1
        signals, customers = await self.at_risk(pool, period, as_of)
        checks = spot_check_pass_rate(self.facts, period, as_of, "agent")
        return ReportReading(
            ratios, times, checks, dict(problems), dict(breaches), signals, customers
        )

    async def at_risk(
        self, pool: object, period: Period, as_of: datetime
    ) -> tuple[list[ChurnSignal], dict[str, CustomerFacts]]:
        self.asked.append(("at_risk", period, as_of))
        return churn_signals(self.facts, period, as_of), dict(self.facts.customers)
