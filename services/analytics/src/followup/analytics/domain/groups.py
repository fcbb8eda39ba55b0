"""The groups an answer is split by, and whom a measured thing is credited to.

Credit goes to whoever the measured thing's own event named; tier and region are the
customer's at the cohort instant, month is that instant's month in the customer's (or the
issue's) zone.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from followup.analytics.domain.facts import Profile
from followup.analytics.domain.model import CustomerFacts, Facts
from followup.analytics.domain.period import Percentiles, Ratio, percentiles

DEFAULT_ZONE = "Asia/Shanghai"
Grouping = Literal["all", "month", "tier", "agent", "department", "category", "region"]
GroupKey = str | None


def profile_at(customer: CustomerFacts | None, t: datetime) -> Profile | None:
    """The customer's profile in force at `t`: the latest one from before it, else the first."""
    if customer is None or not customer.profiles:
        return None
    ordered = sorted(
        customer.profiles, key=lambda p: (p.at, p.tier, p.region or "", p.timezone or "")
    )
    before = [p for p in ordered if p.at <= t]
    return before[-1] if before else ordered[0]


def month_of(t: datetime, zone: str | None) -> str:
    """The month (YYYY-MM) of `t` in the zone (Asia/Shanghai when unknown)."""
    try:
        tz = ZoneInfo(zone or DEFAULT_ZONE)
    except (ValueError, KeyError, OSError):
        tz = ZoneInfo(DEFAULT_ZONE)
    return t.astimezone(tz).strftime("%Y-%m")


@dataclass(frozen=True, slots=True)
class Attribution:
    """Who and what a measured thing is credited to, at the time it happened."""

    at: datetime
    agent_id: str | None = None
    department: str | None = None
    category: str | None = None
    zone: str | None = None


def group_key(facts: Facts, customer_id: str, who: Attribution, grouping: Grouping) -> GroupKey:
    """The group a measured thing falls in; tier and region are the customer's at `who.at`."""
    if grouping == "all":
        return "all"
    if grouping == "agent":
        return who.agent_id
    if grouping == "department":
        return who.department
    if grouping == "category":
        return who.category
    profile = profile_at(facts.customers.get(customer_id), who.at)
    if grouping == "month":
        return month_of(who.at, who.zone or (profile.timezone if profile else None))
    if grouping == "tier":
        return profile.tier if profile else None
    return profile.region if profile else None


def tally_ratios(items: Iterable[tuple[GroupKey, bool]]) -> dict[GroupKey, Ratio]:
    """Per group, the hits over the items."""
    counts: dict[GroupKey, list[int]] = defaultdict(lambda: [0, 0])
    for key, hit in items:
        counts[key][0] += int(hit)
        counts[key][1] += 1
    return {key: Ratio(n, d) for key, (n, d) in counts.items()}


def tally_percentiles(items: Iterable[tuple[GroupKey, timedelta]]) -> dict[GroupKey, Percentiles]:
    """Per group, p50/p90 of the durations."""
    by_key: dict[GroupKey, list[timedelta]] = defaultdict(list)
    for key, duration in items:
        by_key[key].append(duration)
    return {key: percentiles(ds) for key, ds in by_key.items()}
