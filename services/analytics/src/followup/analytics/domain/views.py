"""The API's documents over the pure domain's answers (no I/O): KPIs by group, the monthly
report, the churn-risk list. Nothing here names a person: ids of customers, agents, visits and
issues only (analytics keeps no contact and no free text)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

from followup.analytics.domain import churn, issues, report, visits
from followup.analytics.domain.groups import DEFAULT_ZONE, Grouping, GroupKey, profile_at
from followup.analytics.domain.model import CustomerFacts, Facts
from followup.analytics.domain.period import Percentiles, Period, Ratio

RatioKpi = Callable[[Facts, Period, datetime, Grouping], dict[GroupKey, Ratio]]
TimeKpi = Callable[[Facts, Period, datetime, Grouping], dict[GroupKey, Percentiles]]


def _sla(clock: issues.Clock) -> RatioKpi:
    return lambda f, p, a, g: issues.sla_met_rate(f, clock, p, a, g)


def _return_visits(of: issues.ReturnOf) -> RatioKpi:
    return lambda f, p, a, g: issues.return_visit_rate(f, of, p, a, g)


# SPEC §5's ratios, each with its target (None: SPEC sets none).
RATIOS: dict[str, tuple[RatioKpi, Fraction | None]] = {
    "satisfaction_rate": (visits.satisfaction_rate, visits.SATISFACTION_TARGET),
    "visit_on_time_rate": (visits.on_time_rate, None),
    "handover_sla_met_rate": (_sla("handover"), None),
    "first_response_sla_met_rate": (_sla("first_response"), None),
    "resolution_sla_met_rate": (_sla("resolution"), None),
    "resolution_rate": (issues.resolution_rate, None),
    "closure_rate": (issues.closure_rate, issues.CLOSURE_TARGET),
    "complaint_return_visit_rate": (_return_visits("complaint"), issues.RETURN_VISIT_TARGET),
    "repair_return_visit_rate": (_return_visits("repair"), issues.RETURN_VISIT_TARGET),
    "spot_check_pass_rate": (visits.spot_check_pass_rate, None),
}
TIMES: dict[str, TimeKpi] = {
    "visit_response_time": visits.visit_response_time,
    "handover_time": issues.handover_time,
    "first_response_time": issues.first_response_time,
    "resolution_time": issues.resolution_time,
}


def ratio_view(ratio: Ratio, target: Fraction | None) -> dict[str, Any]:
    """A ratio with its exact parts; `value` is the unrounded ratio as a float (null without a
    denominator); `met` compares the exact ratio with the target."""
    value = ratio.value
    return {
        "numerator": ratio.numerator,
        "denominator": ratio.denominator,
        "value": None if value is None else float(value),
        "target": None if target is None else float(target),
        "met": None if target is None else ratio.meets(target),
    }


def times_view(p: Percentiles) -> dict[str, Any]:
    """Nearest-rank p50/p90 in hours, with how many durations they are over."""
    return {"count": p.count, "p50_hours": p.p50_hours, "p90_hours": p.p90_hours}


def period_view(period: Period) -> dict[str, str]:
    """The period's bounds as RFC 3339 instants."""
    return {"from": period.start.isoformat(), "to": period.end.isoformat()}


def _utc(period: Period, as_of: datetime) -> tuple[Period, datetime]:
    """The period and `as_of` in UTC for the rules: the same instants, but compared with the
    stored facts (UTC, from the database) without a zone lookup per comparison."""
    return Period(period.start.astimezone(UTC), period.end.astimezone(UTC)), as_of.astimezone(UTC)


def _key_order(key: GroupKey) -> tuple[bool, str]:
    return (key is None, key or "")


# A KPI's answer per group, by the names of RATIOS and TIMES.
Ratios = Mapping[str, Mapping[GroupKey, Ratio]]
Times = Mapping[str, Mapping[GroupKey, Percentiles]]


def kpis(facts: Facts, period: Period, as_of: datetime, grouping: Grouping) -> dict[str, Any]:
    """Every KPI of the period per group (one group, "all", without grouping)."""
    p, t = _utc(period, as_of)
    ratios = {name: kpi(facts, p, t, grouping) for name, (kpi, _) in RATIOS.items()}
    times = {name: kpi(facts, p, t, grouping) for name, kpi in TIMES.items()}
    return kpis_document(period, as_of, grouping, ratios, times)


def kpis_document(
    period: Period, as_of: datetime, grouping: Grouping, ratios: Ratios, times: Times
) -> dict[str, Any]:
    """The KPIs document from each KPI's answer per group (a KPI without one has none)."""
    keys: set[GroupKey] = {"all"} if grouping == "all" else set()
    for ratio_keys in ratios.values():
        keys |= ratio_keys.keys()
    for time_keys in times.values():
        keys |= time_keys.keys()
    groups = []
    for key in sorted(keys, key=_key_order):
        group: dict[str, Any] = {"key": key}
        for name, (_, target) in RATIOS.items():
            group[name] = ratio_view(ratios.get(name, {}).get(key, Ratio(0, 0)), target)
        for name in TIMES:
            group[name] = times_view(times.get(name, {}).get(key, Percentiles(0, None, None)))
        groups.append(group)
    return {
        **period_view(period),
        "as_of": as_of.isoformat(),
        "group_by": None if grouping == "all" else grouping,
        "groups": groups,
    }


def _local(t: datetime, zone: str | None) -> str:
    """An instant in the customer's zone (Asia/Shanghai when unknown): the same text whether it
    came from an event or back from the database (which keeps instants in UTC)."""
    try:
        tz = ZoneInfo(zone or DEFAULT_ZONE)
    except (ValueError, KeyError, OSError):
        tz = ZoneInfo(DEFAULT_ZONE)
    return t.astimezone(tz).isoformat()


def _ranked(pairs: list[tuple[str, int]], name: str) -> list[dict[str, Any]]:
    return [{name: key, "count": n} for key, n in pairs]


def at_risk_items(facts: Facts, period: Period, as_of: datetime) -> list[dict[str, Any]]:
    """The customers a churn-risk rule fired for in the period, by customer id, each with its
    rules, the signals (rule, instant, the visits or issues behind it) and the tier and region
    in force at `as_of`."""
    signals = churn.churn_signals(facts, *_utc(period, as_of))
    return at_risk_document(signals, facts.customers, as_of)


def at_risk_document(
    signals: Iterable[churn.ChurnSignal], customers: Mapping[str, CustomerFacts], as_of: datetime
) -> list[dict[str, Any]]:
    """The churn-risk list from its signals (by customer, then time) and the customers' facts."""
    by_customer: dict[str, list[churn.ChurnSignal]] = {}
    for signal in signals:
        by_customer.setdefault(signal.customer_id, []).append(signal)
    items = []
    for customer_id in sorted(by_customer):
        fired = by_customer[customer_id]
        profile = profile_at(customers.get(customer_id), as_of)
        items.append(
            {
                "customer_id": customer_id,
                "rules": sorted({s.rule for s in fired}),
                "tier": profile.tier if profile else None,
                "region": profile.region if profile else None,
                "signals": [
                    {
                        "rule": s.rule,
                        "at": _local(s.at, profile.timezone if profile else None),
                        "evidence": list(s.evidence),
                    }
                    for s in fired
                ],
            }
        )
    return items


def monthly_report(facts: Facts, month: str, period: Period, as_of: datetime) -> dict[str, Any]:
    """SPEC §5's monthly report: every KPI against its target, times, the top problem
    categories, who breached most and the customers at risk."""
    p, t = _utc(period, as_of)
    spot_checks = visits.spot_check_pass_rate(facts, p, t, "agent")
    at_risk = at_risk_items(facts, period, as_of)
    return report_document(
        month, period, as_of, report.monthly_report(facts, p, t), spot_checks, at_risk
    )


def report_document(
    month: str,
    period: Period,
    as_of: datetime,
    r: report.MonthlyReport,
    spot_checks: Mapping[GroupKey, Ratio],
    at_risk: list[dict[str, Any]],
) -> dict[str, Any]:
    """The monthly report document from the domain's report, the spot checks per agent and the
    churn-risk list."""

    def kpi(k: report.Kpi) -> dict[str, Any]:
        return ratio_view(k.ratio, k.target)

    sla: Mapping[issues.Clock, report.Kpi] = r.sla_met
    return {
        "month": month,
        **period_view(period),
        "as_of": as_of.isoformat(),
        "kpis": {
            "satisfaction_rate": kpi(r.satisfaction),
            "visit_on_time_rate": kpi(r.on_time),
            "handover_sla_met_rate": kpi(sla["handover"]),
            "first_response_sla_met_rate": kpi(sla["first_response"]),
            "resolution_sla_met_rate": kpi(sla["resolution"]),
            "resolution_rate": kpi(r.resolution),
            "closure_rate": kpi(r.closure),
            "complaint_return_visit_rate": kpi(r.complaint_return_visits),
            "repair_return_visit_rate": kpi(r.repair_return_visits),
        },
        "times": {
            "visit_response_time": times_view(r.visit_response),
            "handover_time": times_view(r.handover),
            "first_response_time": times_view(r.first_response),
            "resolution_time": times_view(r.resolution_time),
        },
        "spot_check_pass_rate_by_agent": [
            {"agent_id": key, **ratio_view(ratio, None)}
            for key, ratio in sorted(
                spot_checks.items(),
                key=lambda kv: _key_order(kv[0]),
            )
        ],
        "top_problem_categories": _ranked(r.top_categories, "category"),
        "most_frequent_problems": [
            {"category": c, "severity": sev, "count": n} for c, sev, n in r.top_problems
        ],
        "agents_most_breaches": _ranked(r.agents_most_breaches, "agent_id"),
        "departments_most_breaches": _ranked(r.departments_most_breaches, "department"),
        "customers_at_risk": at_risk,
    }
