"""SPEC §5's monthly report: every KPI of the period against its target, the times, the top
problems, who breached most and the customers at risk."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from typing import Any, Literal

from followup.analytics.domain.churn import ChurnRule, ChurnSignal, customers_at_risk
from followup.analytics.domain.groups import GroupKey
from followup.analytics.domain.issues import (
    CLOSURE_TARGET,
    RETURN_VISIT_TARGET,
    Clock,
    closure_rate,
    first_response_time,
    handover_time,
    raised_in,
    resolution_rate,
    resolution_time,
    return_visit_rate,
    sla_met_rate,
)
from followup.analytics.domain.model import Facts
from followup.analytics.domain.period import Percentiles, Period, Ratio
from followup.analytics.domain.visits import (
    SATISFACTION_TARGET,
    on_time_rate,
    satisfaction_rate,
    visit_response_time,
)


def top_problem_categories(
    facts: Facts, period: Period, as_of: datetime, limit: int = 5
) -> list[tuple[str, int]]:
    """Issue categories by issues raised in the period, most first (ties by name)."""
    counts: dict[str, int] = defaultdict(int)
    for issue in raised_in(facts, period, as_of):
        assert issue.raised is not None
        counts[issue.raised.category] += 1
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]


def most_frequent_problems(
    facts: Facts, period: Period, as_of: datetime, limit: int = 5
) -> list[tuple[str, str, int]]:
    """Problems (category and severity) by issues raised in the period, most first (ties by
    name). What the customer described is free text, which analytics does not keep."""
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for issue in raised_in(facts, period, as_of):
        assert issue.raised is not None
        counts[issue.raised.category, issue.raised.severity] += 1
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
    return [(category, severity, n) for (category, severity), n in ranked]


def most_breaches(
    facts: Facts,
    by: Literal["agent", "department"],
    period: Period,
    as_of: datetime,
    limit: int = 5,
) -> list[tuple[str, int]]:
    """Owners (agents) or departments by SLA breaches whose deadline fell in the period, most
    first; each breach counts for whoever was in charge at its deadline, unowned ones not for
    an agent."""
    counts: dict[str, int] = defaultdict(int)
    for issue in facts.issues.values():
        for breach in issue.breaches:
            if not period.holds(breach.deadline) or breach.deadline > as_of:
                continue
            who = breach.owner_id if by == "agent" else breach.department
            if who is not None:
                counts[who] += 1
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]


@dataclass(frozen=True, slots=True)
class Kpi:
    """A ratio KPI against its target (None: SPEC sets no target); `met` is None without data."""

    ratio: Ratio
    target: Fraction | None

    @property
    def met(self) -> bool | None:
        """Whether the unrounded ratio reaches the target."""
        return None if self.target is None else self.ratio.meets(self.target)


@dataclass(frozen=True, slots=True)
class MonthlyReport:
    """SPEC §5's monthly report over the whole company, for one period."""

    period: Period
    satisfaction: Kpi
    on_time: Kpi
    resolution: Kpi
    closure: Kpi
    complaint_return_visits: Kpi
    repair_return_visits: Kpi
    sla_met: Mapping[Clock, Kpi]
    visit_response: Percentiles
    handover: Percentiles
    first_response: Percentiles
    resolution_time: Percentiles
    top_categories: list[tuple[str, int]]
    top_problems: list[tuple[str, str, int]]
    agents_most_breaches: list[tuple[str, int]]
    departments_most_breaches: list[tuple[str, int]]
    at_risk: Mapping[str, set[ChurnRule]]


def _overall(ratios: Mapping[GroupKey, Ratio], target: Fraction | None = None) -> Kpi:
    return Kpi(ratios.get("all", Ratio(0, 0)), target)


def _overall_times(times: Mapping[GroupKey, Percentiles]) -> Percentiles:
    return times.get("all", Percentiles(0, None, None))


def monthly_report(facts: Facts, period: Period, as_of: datetime) -> MonthlyReport:
    """Every KPI of the period against its target, the top categories, who breached most and
    the customers at risk."""
    clocks: tuple[Clock, ...] = ("handover", "first_response", "resolution")
    return MonthlyReport(
        period=period,
        satisfaction=_overall(satisfaction_rate(facts, period, as_of), SATISFACTION_TARGET),
        on_time=_overall(on_time_rate(facts, period, as_of)),
        resolution=_overall(resolution_rate(facts, period, as_of)),
        closure=_overall(closure_rate(facts, period, as_of), CLOSURE_TARGET),
        complaint_return_visits=_overall(
            return_visit_rate(facts, "complaint", period, as_of), RETURN_VISIT_TARGET
        ),
        repair_return_visits=_overall(
            return_visit_rate(facts, "repair", period, as_of), RETURN_VISIT_TARGET
        ),
        sla_met={c: _overall(sla_met_rate(facts, c, period, as_of)) for c in clocks},
        visit_response=_overall_times(visit_response_time(facts, period, as_of)),
        handover=_overall_times(handover_time(facts, period, as_of)),
        first_response=_overall_times(first_response_time(facts, period, as_of)),
        resolution_time=_overall_times(resolution_time(facts, period, as_of)),
        top_categories=top_problem_categories(facts, period, as_of),
        top_problems=most_frequent_problems(facts, period, as_of),
        agents_most_breaches=most_breaches(facts, "agent", period, as_of),
        departments_most_breaches=most_breaches(facts, "department", period, as_of),
        at_risk=customers_at_risk(facts, period, as_of),
    )


def _top(counts: Mapping[Any, int], limit: int = 5) -> list[tuple[Any, int]]:
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]


def assemble_report(
    period: Period,
    ratios: Mapping[str, Mapping[GroupKey, Ratio]],
    times: Mapping[str, Mapping[GroupKey, Percentiles]],
    problems: Mapping[tuple[str, str], int],
    breaches: Mapping[tuple[str | None, str | None], int],
    signals: Iterable[ChurnSignal],
) -> MonthlyReport:
    """The report from the period's overall KPIs (by views' names), issues raised per
    (category, severity), breaches per (owner, department) and churn signals: what
    `monthly_report` folds, summed elsewhere."""
    categories: dict[str, int] = defaultdict(int)
    for (category, _), n in problems.items():
        categories[category] += n
    agents: dict[str, int] = defaultdict(int)
    departments: dict[str, int] = defaultdict(int)
    for (owner, department), n in breaches.items():
        if owner is not None:
            agents[owner] += n
        if department is not None:
            departments[department] += n
    at_risk: dict[str, set[ChurnRule]] = defaultdict(set)
    for signal in signals:
        at_risk[signal.customer_id].add(signal.rule)

    def kpi(name: str, target: Fraction | None = None) -> Kpi:
        return _overall(ratios.get(name, {}), target)

    def took(name: str) -> Percentiles:
        return _overall_times(times.get(name, {}))

    return MonthlyReport(
        period=period,
        satisfaction=kpi("satisfaction_rate", SATISFACTION_TARGET),
        on_time=kpi("visit_on_time_rate"),
        resolution=kpi("resolution_rate"),
        closure=kpi("closure_rate", CLOSURE_TARGET),
        complaint_return_visits=kpi("complaint_return_visit_rate", RETURN_VISIT_TARGET),
        repair_return_visits=kpi("repair_return_visit_rate", RETURN_VISIT_TARGET),
        sla_met={c: kpi(f"{c}_sla_met_rate") for c in ("handover", "first_response", "resolution")},
        visit_response=took("visit_response_time"),
        handover=took("handover_time"),
        first_response=took("first_response_time"),
        resolution_time=took("resolution_time"),
        top_categories=_top(categories),
        top_problems=[(c, s, n) for (c, s), n in _top(problems)],
        agents_most_breaches=_top(agents),
        departments_most_breaches=_top(departments),
        at_risk=dict(at_risk),
    )
