"""Issue KPIs (SPEC §5): handover, first-response and resolution times, SLA met rates per
clock, resolution and closure rates, complaint and repair return-visit rates.

Issues count by raise time and are credited to the owner in charge when the measured thing
happened (the first assignment for handover and first response, the resolution for
resolution, the breach's own owner and department for a breach).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import datetime, timedelta
from fractions import Fraction
from typing import Literal

from followup.analytics.domain.facts import (
    AssignmentFact,
    ResolutionFact,
    assignment_order,
    resolution_order,
)
from followup.analytics.domain.groups import (
    Attribution,
    Grouping,
    GroupKey,
    group_key,
    tally_percentiles,
    tally_ratios,
)
from followup.analytics.domain.model import Facts, IssueFacts, VisitFacts
from followup.analytics.domain.period import Percentiles, Period, Ratio
from followup.analytics.domain.visits import completion

CLOSURE_TARGET = Fraction(1)
RETURN_VISIT_TARGET = Fraction(1)
REPAIR_CATEGORIES = frozenset({"fault", "maintenance"})
Clock = Literal["handover", "first_response", "resolution"]
ReturnOf = Literal["complaint", "repair"]


def owner_at(issue: IssueFacts, t: datetime) -> tuple[str | None, str | None]:
    """The assignee and department in charge at `t` (the raising department before any)."""
    before = [a for a in issue.assignments if a.assigned_at <= t]
    if before:
        a = max(before, key=assignment_order)
        return a.assignee_id, a.department
    return None, issue.raised.department if issue.raised else None


def attribution(issue: IssueFacts, t: datetime) -> Attribution:
    """The owner, department, category and zone of an issue at `t`."""
    raised = issue.raised
    assert raised is not None
    agent, department = owner_at(issue, t)
    return Attribution(t, agent, department, raised.category, raised.timezone)


def _issue_key(facts: Facts, issue: IssueFacts, t: datetime, grouping: Grouping) -> GroupKey:
    """Group by the owner at `t`, but month, tier and region of the raise (the cohort)."""
    if grouping == "all":  # every KPI asks this of every issue: skip the attribution
        return "all"
    raised = issue.raised
    assert raised is not None
    who = attribution(issue, t)
    if grouping in ("month", "tier", "region"):
        who = replace(who, at=raised.raised_at)
    return group_key(facts, issue.customer_id, who, grouping)


def raised_in(facts: Facts, period: Period, as_of: datetime) -> list[IssueFacts]:
    return [
        i
        for i in facts.issues.values()
        if (r := i.raised) is not None and period.holds(r.raised_at) and r.raised_at <= as_of
    ]


def first_assignment(issue: IssueFacts, as_of: datetime) -> AssignmentFact | None:
    """The first time a named owner took the issue: it ends handover and first response."""
    known = [a for a in issue.assignments if a.assigned_at <= as_of]
    return min(known, key=assignment_order, default=None)


def resolutions_by(issue: IssueFacts, as_of: datetime) -> list[ResolutionFact]:
    """The resolutions known at `as_of`, first first."""
    return sorted((r for r in issue.resolutions if r.resolved_at <= as_of), key=resolution_order)


def is_resolved(issue: IssueFacts, as_of: datetime) -> bool:
    """Resolved (or closed) at `as_of`: its last resolution is later than its last reopen."""
    if any(c <= as_of for c in issue.closes):
        return True
    resolutions = resolutions_by(issue, as_of)
    if not resolutions:
        return False
    reopens = [r for r in issue.reopens if r <= as_of]
    return not reopens or resolutions[-1].resolved_at > max(reopens)


def is_closed(issue: IssueFacts, as_of: datetime) -> bool:
    """Closed: the issue-follow-up visit confirmed the fix by `as_of`."""
    return any(c <= as_of for c in issue.closes)


def handover_time(
    facts: Facts, period: Period, as_of: datetime, grouping: Grouping = "all"
) -> dict[GroupKey, Percentiles]:
    """Raise to first assignment of the issues raised in the period, in hours."""
    items = []
    for issue in raised_in(facts, period, as_of):
        assert issue.raised is not None
        first = first_assignment(issue, as_of)
        if first is None:
            continue
        key = _issue_key(facts, issue, first.assigned_at, grouping)
        items.append((key, first.assigned_at - issue.raised.raised_at))
    return tally_percentiles(items)


def first_response_time(
    facts: Facts, period: Period, as_of: datetime, grouping: Grouping = "all"
) -> dict[GroupKey, Percentiles]:
    """Raise to first response, in hours; the issues service ends first response when a named
    owner first takes the issue, so it is measured at the first assignment too."""
    return handover_time(facts, period, as_of, grouping)


def paused_between(issue: IssueFacts, start: datetime, end: datetime) -> timedelta:
    """Wall-clock time within [start, end) with a pause open, overlapping pauses once (a pause
    not resumed by `end` runs to it)."""
    resumed: dict[int, datetime] = {}
    for no, at in sorted(issue.resumes):
        resumed.setdefault(no, at)  # the first resume of a pause ends it
    spans = sorted(
        (max(paused_at, start), min(resumed.get(no, end), end)) for no, paused_at in issue.pauses
    )
    total, reach = timedelta(0), start
    for lo, hi in spans:
        lo = max(lo, reach)
        if hi > lo:
            total += hi - lo
            reach = hi
    return total


def resolution_time(
    facts: Facts, period: Period, as_of: datetime, grouping: Grouping = "all"
) -> dict[GroupKey, Percentiles]:
    """Raise to the last resolution, less the wall-clock time paused, of the issues raised in
    the period and resolved at `as_of` (a reopened one counts once resolved again)."""
    items = []
    for issue in raised_in(facts, period, as_of):
        assert issue.raised is not None
        if not is_resolved(issue, as_of):
            continue
        resolutions = resolutions_by(issue, as_of)
        if not resolutions:
            continue
        last = resolutions[-1]
        taken = last.resolved_at - issue.raised.raised_at
        taken -= paused_between(issue, issue.raised.raised_at, last.resolved_at)
        items.append((_issue_key(facts, issue, last.resolved_at, grouping), taken))
    return tally_percentiles(items)


def clock_end(issue: IssueFacts, clock: Clock, as_of: datetime) -> tuple[datetime, datetime] | None:
    """When the clock's first run ended and its deadline then; None while it runs."""
    assert issue.raised is not None
    if clock == "resolution":
        resolutions = resolutions_by(issue, as_of)
        return (resolutions[0].resolved_at, resolutions[0].resolve_by) if resolutions else None
    first = first_assignment(issue, as_of)
    if first is None:
        return None
    if clock == "first_response":
        return first.assigned_at, issue.raised.respond_by
    moves = [m for m in issue.handover_moves if m.recomputed_at <= first.assigned_at]
    deadline = (
        max(moves, key=lambda m: (m.recomputed_at, m.handover_by)).handover_by
        if moves
        else issue.raised.handover_by
    )
    return first.assigned_at, deadline


def sla_met_rate(
    facts: Facts, clock: Clock, period: Period, as_of: datetime, grouping: Grouping = "all"
) -> dict[GroupKey, Ratio]:
    """Issues that met the clock / issues whose clock ended or breached, of those raised in the
    period. Resolution is its first round: a reopen keeps the first-resolution result."""
    items = []
    for issue in raised_in(facts, period, as_of):
        breach = next(
            (
                b
                for b in issue.breaches
                if b.clock == clock and b.round == 1 and b.deadline <= as_of
            ),
            None,
        )
        end = clock_end(issue, clock, as_of)
        if breach is not None:
            who = Attribution(breach.deadline, breach.owner_id, breach.department)
            assert issue.raised is not None
            who = replace(who, category=issue.raised.category, zone=issue.raised.timezone)
            if grouping in ("month", "tier", "region"):
                who = replace(who, at=issue.raised.raised_at)
            items.append((group_key(facts, issue.customer_id, who, grouping), False))
        elif end is not None:
            ended_at, deadline = end
            items.append((_issue_key(facts, issue, ended_at, grouping), ended_at <= deadline))
    return tally_ratios(items)


def resolution_rate(
    facts: Facts, period: Period, as_of: datetime, grouping: Grouping = "all"
) -> dict[GroupKey, Ratio]:
    """Issues resolved (or closed) at `as_of` / issues raised in the period."""
    items = []
    for issue in raised_in(facts, period, as_of):
        resolved = is_resolved(issue, as_of)
        resolutions = resolutions_by(issue, as_of)
        at = resolutions[-1].resolved_at if resolved and resolutions else as_of
        items.append((_issue_key(facts, issue, at, grouping), resolved))
    return tally_ratios(items)


def closure_rate(
    facts: Facts, period: Period, as_of: datetime, grouping: Grouping = "all"
) -> dict[GroupKey, Ratio]:
    """Issues closed (fix confirmed by the customer) / issues raised in the period."""
    items = []
    for issue in raised_in(facts, period, as_of):
        closed = [c for c in issue.closes if c <= as_of]
        at = min(closed) if closed else as_of
        items.append((_issue_key(facts, issue, at, grouping), bool(closed)))
    return tally_ratios(items)


def follow_up_visits(facts: Facts) -> dict[str, list[VisitFacts]]:
    """The issue-follow-up visits of each issue."""
    by_issue: dict[str, list[VisitFacts]] = defaultdict(list)
    for visit in facts.visits.values():
        for due in visit.dues:
            if "issue_follow_up" in due.kinds and due.issue_id is not None:
                by_issue[due.issue_id].append(visit)
                break
    return by_issue


def return_visit_rate(
    facts: Facts,
    of: ReturnOf,
    period: Period,
    as_of: datetime,
    grouping: Grouping = "all",
) -> dict[GroupKey, Ratio]:
    """Resolved complaints (repairs: fault, maintenance) whose issue-follow-up visit was completed
    / resolved complaints (repairs), of those raised in the period."""
    categories = frozenset({"complaint"}) if of == "complaint" else REPAIR_CATEGORIES
    visits = follow_up_visits(facts)
    items = []
    for issue in raised_in(facts, period, as_of):
        assert issue.raised is not None
        resolutions = resolutions_by(issue, as_of)
        if issue.raised.category not in categories or not resolutions:
            continue
        visited = any(completion(v, as_of) is not None for v in visits.get(issue.issue_id, []))
        items.append((_issue_key(facts, issue, resolutions[0].resolved_at, grouping), visited))
    return tally_ratios(items)
