"""Analytics' pure domain (SPEC §5): the facts a projection keeps, and the KPIs over them.

No I/O and no clock: the period, and `as_of` (the instant the answer is given for), are passed
in. Facts are sets of what the contract events said, so folding the same events in any order,
or twice, gives equal facts (topics are read in any interleaving on replay); every rule below
derives from them. Each fact keeps the agent and department named by its own event, so a later
reassignment never moves credit already earned.

Percentiles are nearest-rank: the p-th percentile of n values is the ceil(p/100 * n)-th
smallest (a value that occurred, never an interpolation). Ratios are exact `Fraction`s and are
compared with their targets unrounded; an empty denominator gives None.
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from fractions import Fraction
from typing import Literal
from zoneinfo import ZoneInfo

from followup.events import (
    CustomerDelivered,
    EventData,
    IntentSigned,
    IssueAssigned,
    IssueClosed,
    IssueDeadlinesRecomputed,
    IssuePaused,
    IssueRaised,
    IssueReopened,
    IssueResolved,
    IssueResumed,
    IssueSlaBreached,
    VisitDeadlineRecomputed,
    VisitDue,
    VisitLogged,
    VisitSpotChecked,
)

DEFAULT_ZONE = "Asia/Shanghai"
SATISFACTION_TARGET = Fraction(98, 100)
CLOSURE_TARGET = Fraction(1)
RETURN_VISIT_TARGET = Fraction(1)
SATISFIED_FROM = 4  # satisfaction >= 4 counts as satisfied (SPEC §5)
DISSATISFIED_UP_TO = 2  # satisfaction <= 2 is a dissatisfied visit for churn risk
COMPLAINT_WINDOW = timedelta(days=90)
REPAIR_CATEGORIES = frozenset({"fault", "maintenance"})

Grouping = Literal["all", "month", "tier", "agent", "department", "category", "region"]
GroupKey = str | None
Clock = Literal["handover", "first_response", "resolution"]
ChurnRule = Literal[
    "dissatisfied_twice", "unreachable_thrice", "complaints_within_90_days", "gold_sla_breach"
]

# The events each kind of fact folds: one alias serves the fold's dispatch and its narrowing.
CustomerEvent = CustomerDelivered | IntentSigned
VisitEvent = VisitDue | VisitDeadlineRecomputed | VisitLogged | VisitSpotChecked
IssueEvent = (
    IssueRaised
    | IssueAssigned
    | IssueResolved
    | IssueReopened
    | IssueClosed
    | IssueSlaBreached
    | IssueDeadlinesRecomputed
    | IssuePaused
    | IssueResumed
)
AnalyticsEvent = CustomerEvent | VisitEvent | IssueEvent


# --- facts ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Profile:
    """The customer's tier and region from one delivery or signed intent, from `at` on."""

    at: datetime
    tier: str
    region: str | None
    timezone: str | None


@dataclass(frozen=True, slots=True)
class CustomerFacts:
    customer_id: str
    profiles: frozenset[Profile] = frozenset()


@dataclass(frozen=True, slots=True)
class DueFact:
    attempt: int
    due_at: datetime
    deadline: datetime
    agent_id: str | None
    kinds: frozenset[str]
    issue_id: str | None


@dataclass(frozen=True, slots=True)
class DeadlineMove:
    recomputed_at: datetime
    deadline: datetime


@dataclass(frozen=True, slots=True)
class LogFact:
    logged_at: datetime
    agent_id: str
    outcome: str
    satisfaction: int | None


@dataclass(frozen=True, slots=True)
class CheckFact:
    checked_at: datetime
    agent_id: str
    result: str


@dataclass(frozen=True, slots=True)
class VisitFacts:
    visit_id: str
    customer_id: str
    dues: frozenset[DueFact] = frozenset()
    moves: frozenset[DeadlineMove] = frozenset()
    logs: frozenset[LogFact] = frozenset()
    checks: frozenset[CheckFact] = frozenset()


@dataclass(frozen=True, slots=True)
class RaisedFact:
    raised_at: datetime
    category: str
    severity: str
    source: str
    department: str
    handover_by: datetime
    respond_by: datetime
    resolve_by: datetime
    timezone: str | None


@dataclass(frozen=True, slots=True)
class AssignmentFact:
    assigned_at: datetime
    assignee_id: str
    department: str


@dataclass(frozen=True, slots=True)
class ResolutionFact:
    resolved_at: datetime
    resolve_by: datetime
    paused_seconds: int


@dataclass(frozen=True, slots=True)
class BreachFact:
    clock: str
    round: int
    deadline: datetime
    department: str
    owner_id: str | None


@dataclass(frozen=True, slots=True)
class HandoverMove:
    recomputed_at: datetime
    handover_by: datetime


@dataclass(frozen=True, slots=True)
class IssueFacts:
    issue_id: str
    customer_id: str
    # One IssueRaised per issue on the topic; should two ever differ, the same one is picked
    # whatever their order.
    raises: frozenset[RaisedFact] = frozenset()
    assignments: frozenset[AssignmentFact] = frozenset()
    resolutions: frozenset[ResolutionFact] = frozenset()
    reopens: frozenset[datetime] = frozenset()
    closes: frozenset[datetime] = frozenset()
    breaches: frozenset[BreachFact] = frozenset()
    handover_moves: frozenset[HandoverMove] = frozenset()
    pauses: frozenset[tuple[int, datetime]] = frozenset()  # (pause_no, paused_at)
    resumes: frozenset[tuple[int, datetime]] = frozenset()  # (pause_no, resumed_at)

    @property
    def raised(self) -> RaisedFact | None:
        """The issue's raise; None while only later events are known."""
        if len(self.raises) == 1:  # the rule, and every KPI asks: skip the ordering
            return next(iter(self.raises))
        return min(self.raises, key=_raise_order, default=None)


@dataclass(frozen=True, slots=True)
class Facts:
    """Everything analytics knows: per customer, per visit and per issue."""

    customers: Mapping[str, CustomerFacts] = field(default_factory=dict)
    visits: Mapping[str, VisitFacts] = field(default_factory=dict)
    issues: Mapping[str, IssueFacts] = field(default_factory=dict)


# Total orders over each kind of fact: ties are broken by every field, so which fact a rule
# picks never depends on the order the events came in.


def _due_order(d: DueFact) -> tuple[object, ...]:
    return (d.attempt, d.due_at, d.deadline, d.agent_id or "", sorted(d.kinds), d.issue_id or "")


def _log_order(log: LogFact) -> tuple[object, ...]:
    return (log.logged_at, log.agent_id, log.outcome, log.satisfaction or 0)


def _check_order(c: CheckFact) -> tuple[object, ...]:
    return (c.checked_at, c.agent_id, c.result)


def _assignment_order(a: AssignmentFact) -> tuple[object, ...]:
    return (a.assigned_at, a.assignee_id, a.department)


def _raise_order(r: RaisedFact) -> tuple[object, ...]:
    return (
        r.raised_at,
        r.category,
        r.severity,
        r.source,
        r.department,
        r.handover_by,
        r.respond_by,
        r.resolve_by,
        r.timezone or "",
    )


def _resolution_order(r: ResolutionFact) -> tuple[object, ...]:
    return (r.resolved_at, r.resolve_by, r.paused_seconds)


# --- the fold ---------------------------------------------------------------------------------


def evolve_customer(customer: CustomerFacts | None, event: AnalyticsEvent) -> CustomerFacts:
    """A customer's facts after a CustomerDelivered or IntentSigned."""
    assert isinstance(event, CustomerEvent)
    base = customer or CustomerFacts(event.customer_id)
    at = event.delivered_at if isinstance(event, CustomerDelivered) else event.signed_at
    profile = Profile(at, event.tier, event.region, event.timezone)
    return replace(base, profiles=base.profiles | {profile})


def evolve_visit(visit: VisitFacts | None, event: AnalyticsEvent) -> VisitFacts:
    """A visit's facts after one of its events."""
    assert isinstance(event, VisitEvent)
    v = visit or VisitFacts(event.visit_id, event.customer_id)
    if isinstance(event, VisitDue):
        due = DueFact(
            event.attempt,
            event.due_at,
            event.deadline,
            event.agent_id,
            frozenset(event.kinds),
            event.issue_id,
        )
        return replace(v, dues=v.dues | {due})
    if isinstance(event, VisitDeadlineRecomputed):
        return replace(v, moves=v.moves | {DeadlineMove(event.recomputed_at, event.deadline)})
    if isinstance(event, VisitLogged):
        log = LogFact(event.logged_at, event.agent_id, event.outcome, event.satisfaction)
        return replace(v, logs=v.logs | {log})
    check = CheckFact(event.checked_at, event.agent_id, event.result)
    return replace(v, checks=v.checks | {check})


def evolve_issue(issue: IssueFacts | None, event: AnalyticsEvent) -> IssueFacts:
    """An issue's facts after one of its events."""
    assert isinstance(event, IssueEvent)
    i = issue or IssueFacts(event.issue_id, event.customer_id)
    if isinstance(event, IssueRaised):
        raised = RaisedFact(
            event.raised_at,
            event.category,
            event.severity,
            event.source,
            event.department,
            event.handover_by,
            event.respond_by,
            event.resolve_by,
            event.timezone,
        )
        return replace(i, raises=i.raises | {raised})
    if isinstance(event, IssueAssigned):
        a = AssignmentFact(event.assigned_at, event.assignee_id, event.department)
        return replace(i, assignments=i.assignments | {a})
    if isinstance(event, IssueResolved):
        r = ResolutionFact(event.resolved_at, event.resolve_by, event.paused_seconds)
        return replace(i, resolutions=i.resolutions | {r})
    if isinstance(event, IssueReopened):
        return replace(i, reopens=i.reopens | {event.reopened_at})
    if isinstance(event, IssueClosed):
        return replace(i, closes=i.closes | {event.closed_at})
    if isinstance(event, IssueSlaBreached):
        b = BreachFact(event.clock, event.round, event.deadline, event.department, event.owner_id)
        return replace(i, breaches=i.breaches | {b})
    if isinstance(event, IssuePaused):
        return replace(i, pauses=i.pauses | {(event.pause_no, event.paused_at)})
    if isinstance(event, IssueResumed):
        return replace(i, resumes=i.resumes | {(event.pause_no, event.resumed_at)})
    if event.handover_by is None:
        return i
    move = HandoverMove(event.recomputed_at, event.handover_by)
    return replace(i, handover_moves=i.handover_moves | {move})


def evolve(facts: Facts, event: EventData) -> Facts:
    """Facts after one contract event; folding a set of events in any order gives equal facts.

    Events no KPI reads (ProjectStarted, the clock's ticks) leave the facts as they are.
    """
    if isinstance(event, CustomerEvent):
        cid = event.customer_id
        customer = evolve_customer(facts.customers.get(cid), event)
        return replace(facts, customers={**facts.customers, cid: customer})
    if isinstance(event, VisitEvent):
        visit = evolve_visit(facts.visits.get(event.visit_id), event)
        return replace(facts, visits={**facts.visits, event.visit_id: visit})
    if isinstance(event, IssueEvent):
        issue = evolve_issue(facts.issues.get(event.issue_id), event)
        return replace(facts, issues={**facts.issues, event.issue_id: issue})
    return facts


def fold(events: Iterable[EventData], facts: Facts | None = None) -> Facts:
    """Facts after every event, from `facts` (empty by default)."""
    state = facts or Facts()
    for event in events:
        state = evolve(state, event)
    return state


# --- periods, ratios, percentiles ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Period:
    """The half-open interval [start, end)."""

    start: datetime
    end: datetime

    def holds(self, t: datetime) -> bool:
        """Whether `t` falls in the period."""
        return self.start <= t < self.end


@dataclass(frozen=True, slots=True)
class Ratio:
    """numerator / denominator, kept exact."""

    numerator: int
    denominator: int

    @property
    def value(self) -> Fraction | None:
        """The exact ratio; None when nothing is in the denominator."""
        return Fraction(self.numerator, self.denominator) if self.denominator else None

    def meets(self, target: Fraction) -> bool | None:
        """Whether the unrounded ratio reaches `target`; None without a denominator."""
        value = self.value
        return None if value is None else value >= target


@dataclass(frozen=True, slots=True)
class Percentiles:
    """Nearest-rank p50 and p90 of durations, in hours; None when there are none."""

    count: int
    p50_hours: float | None
    p90_hours: float | None


def nearest_rank(values: list[float], p: int) -> float | None:
    """The nearest-rank p-th percentile: the ceil(p/100 * n)-th smallest value (1-based)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p * len(ordered) / 100))
    return ordered[rank - 1]


def percentiles(durations: Iterable[timedelta]) -> Percentiles:
    """p50/p90 of the durations, in hours."""
    hours = [d.total_seconds() / 3600 for d in durations]
    return Percentiles(len(hours), nearest_rank(hours, 50), nearest_rank(hours, 90))


def _ratios(items: Iterable[tuple[GroupKey, bool]]) -> dict[GroupKey, Ratio]:
    counts: dict[GroupKey, list[int]] = defaultdict(lambda: [0, 0])
    for key, hit in items:
        counts[key][0] += int(hit)
        counts[key][1] += 1
    return {key: Ratio(n, d) for key, (n, d) in counts.items()}


def _percentiles(items: Iterable[tuple[GroupKey, timedelta]]) -> dict[GroupKey, Percentiles]:
    by_key: dict[GroupKey, list[timedelta]] = defaultdict(list)
    for key, duration in items:
        by_key[key].append(duration)
    return {key: percentiles(ds) for key, ds in by_key.items()}


# --- customers --------------------------------------------------------------------------------


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


# --- visits -----------------------------------------------------------------------------------


def first_due(visit: VisitFacts) -> DueFact | None:
    """The first attempt known: its due time starts the visit's cohort."""
    if len(visit.dues) == 1:
        return next(iter(visit.dues))
    return min(visit.dues, key=_due_order, default=None)


def failed_checks(visit: VisitFacts, as_of: datetime) -> list[CheckFact]:
    """The not_verified spot checks known at `as_of`, oldest first."""
    failed = [c for c in visit.checks if c.result == "not_verified" and c.checked_at <= as_of]
    return sorted(failed, key=_check_order)


def completion(visit: VisitFacts, as_of: datetime) -> LogFact | None:
    """The completed log in force at `as_of`: a failed spot check takes away those before it."""
    failed = failed_checks(visit, as_of) if visit.checks else None
    after = failed[-1].checked_at if failed else None
    # min by _log_order, written out: every visit KPI asks this of every visit.
    best: LogFact | None = None
    for log in visit.logs:
        if (
            log.outcome == "completed"
            and log.logged_at <= as_of
            and (after is None or log.logged_at > after)
            and (best is None or _log_order(log) < _log_order(best))
        ):
            best = log
    return best


def due_in_force(visit: VisitFacts, as_of: datetime) -> DueFact | None:
    """The latest attempt, unless the visit was completed before that attempt was due: a retry
    planned after an `unreachable` that a completion then overtook never ran (as visits does)."""
    done = completion(visit, as_of)
    for due in sorted(visit.dues, key=_due_order, reverse=True):
        if due.attempt == 1 or done is None or done.logged_at >= due.due_at:
            return due
    return first_due(visit)


def deadline_in_force(visit: VisitFacts, as_of: datetime) -> datetime | None:
    """The deadline of the attempt in force, moved by a recompute made after that attempt was due
    and before the completion (a done visit keeps its deadline)."""
    due = due_in_force(visit, as_of)
    if due is None:
        return None
    done = completion(visit, as_of)
    moves = [
        m
        for m in visit.moves
        if due.due_at <= m.recomputed_at <= as_of
        and (done is None or m.recomputed_at < done.logged_at)
    ]
    if not moves:
        return due.deadline
    return max(moves, key=lambda m: (m.recomputed_at, m.deadline)).deadline


def is_on_time(visit: VisitFacts, as_of: datetime) -> bool:
    """Completed by its deadline, and never found not to have happened by a spot check."""
    done = completion(visit, as_of)
    deadline = deadline_in_force(visit, as_of)
    if done is None or deadline is None or failed_checks(visit, as_of):
        return False
    return done.logged_at <= deadline


def visit_agent(visit: VisitFacts, as_of: datetime) -> str | None:
    """Credited agent: who completed it; else whose completion a spot check failed; else the
    agent it was queued for."""
    done = completion(visit, as_of)
    if done is not None:
        return done.agent_id
    failed = failed_checks(visit, as_of)
    if failed:
        return failed[-1].agent_id
    due = due_in_force(visit, as_of)
    return due.agent_id if due else None


def on_time_rate(
    facts: Facts, period: Period, as_of: datetime, grouping: Grouping = "all"
) -> dict[GroupKey, Ratio]:
    """Visits completed by their deadline / visits whose deadline fell in the period (before
    `as_of`); one still open after its deadline counts as late."""
    items = []
    for visit in facts.visits.values():
        deadline = deadline_in_force(visit, as_of)
        if deadline is None or not period.holds(deadline) or deadline >= as_of:
            continue
        who = Attribution(deadline, agent_id=visit_agent(visit, as_of))
        items.append((group_key(facts, visit.customer_id, who, grouping), is_on_time(visit, as_of)))
    return _ratios(items)


def _due_in(visit: VisitFacts, period: Period) -> DueFact | None:
    due = first_due(visit)
    return due if due is not None and period.holds(due.due_at) else None


def satisfaction_rate(
    facts: Facts, period: Period, as_of: datetime, grouping: Grouping = "all"
) -> dict[GroupKey, Ratio]:
    """Completed visits scored >= 4 / completed visits with a score, visits due in the period."""
    items = []
    for visit in facts.visits.values():
        due = _due_in(visit, period)
        done = completion(visit, as_of)
        if due is None or done is None or done.satisfaction is None:
            continue
        who = Attribution(due.due_at, agent_id=done.agent_id)
        key = group_key(facts, visit.customer_id, who, grouping)
        items.append((key, done.satisfaction >= SATISFIED_FROM))
    return _ratios(items)


def visit_response_time(
    facts: Facts, period: Period, as_of: datetime, grouping: Grouping = "all"
) -> dict[GroupKey, Percentiles]:
    """Completion time − due time of the visits due in the period and completed by `as_of`."""
    items = []
    for visit in facts.visits.values():
        due = _due_in(visit, period)
        done = completion(visit, as_of)
        if due is None or done is None:
            continue
        who = Attribution(due.due_at, agent_id=done.agent_id)
        items.append(
            (group_key(facts, visit.customer_id, who, grouping), done.logged_at - due.due_at)
        )
    return _percentiles(items)


def spot_check_pass_rate(
    facts: Facts, period: Period, as_of: datetime, grouping: Grouping = "agent"
) -> dict[GroupKey, Ratio]:
    """Verified / checked, per visit its latest check made in the period, credited to the agent
    whose completion was checked."""
    items = []
    for visit in facts.visits.values():
        checks = [c for c in visit.checks if period.holds(c.checked_at) and c.checked_at <= as_of]
        if not checks:
            continue
        latest = max(checks, key=_check_order)
        who = Attribution(latest.checked_at, agent_id=latest.agent_id)
        key = group_key(facts, visit.customer_id, who, grouping)
        items.append((key, latest.result == "verified"))
    return _ratios(items)


# --- issues -----------------------------------------------------------------------------------


def owner_at(issue: IssueFacts, t: datetime) -> tuple[str | None, str | None]:
    """The assignee and department in charge at `t` (the raising department before any)."""
    before = [a for a in issue.assignments if a.assigned_at <= t]
    if before:
        a = max(before, key=_assignment_order)
        return a.assignee_id, a.department
    return None, issue.raised.department if issue.raised else None


def _attribution(issue: IssueFacts, t: datetime) -> Attribution:
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
    who = _attribution(issue, t)
    if grouping in ("month", "tier", "region"):
        who = replace(who, at=raised.raised_at)
    return group_key(facts, issue.customer_id, who, grouping)


def _raised_in(facts: Facts, period: Period, as_of: datetime) -> list[IssueFacts]:
    return [
        i
        for i in facts.issues.values()
        if (r := i.raised) is not None and period.holds(r.raised_at) and r.raised_at <= as_of
    ]


def first_assignment(issue: IssueFacts, as_of: datetime) -> AssignmentFact | None:
    """The first time a named owner took the issue: it ends handover and first response."""
    known = [a for a in issue.assignments if a.assigned_at <= as_of]
    return min(known, key=_assignment_order, default=None)


def _resolutions(issue: IssueFacts, as_of: datetime) -> list[ResolutionFact]:
    return sorted((r for r in issue.resolutions if r.resolved_at <= as_of), key=_resolution_order)


def is_resolved(issue: IssueFacts, as_of: datetime) -> bool:
    """Resolved (or closed) at `as_of`: its last resolution is later than its last reopen."""
    if any(c <= as_of for c in issue.closes):
        return True
    resolutions = _resolutions(issue, as_of)
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
    for issue in _raised_in(facts, period, as_of):
        assert issue.raised is not None
        first = first_assignment(issue, as_of)
        if first is None:
            continue
        key = _issue_key(facts, issue, first.assigned_at, grouping)
        items.append((key, first.assigned_at - issue.raised.raised_at))
    return _percentiles(items)


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
    for issue in _raised_in(facts, period, as_of):
        assert issue.raised is not None
        if not is_resolved(issue, as_of):
            continue
        resolutions = _resolutions(issue, as_of)
        if not resolutions:
            continue
        last = resolutions[-1]
        taken = last.resolved_at - issue.raised.raised_at
        taken -= paused_between(issue, issue.raised.raised_at, last.resolved_at)
        items.append((_issue_key(facts, issue, last.resolved_at, grouping), taken))
    return _percentiles(items)


def _clock_end(
    issue: IssueFacts, clock: Clock, as_of: datetime
) -> tuple[datetime, datetime] | None:
    """When the clock's first run ended and its deadline then; None while it runs."""
    assert issue.raised is not None
    if clock == "resolution":
        resolutions = _resolutions(issue, as_of)
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
    for issue in _raised_in(facts, period, as_of):
        breach = next(
            (
                b
                for b in issue.breaches
                if b.clock == clock and b.round == 1 and b.deadline <= as_of
            ),
            None,
        )
        end = _clock_end(issue, clock, as_of)
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
    return _ratios(items)


def resolution_rate(
    facts: Facts, period: Period, as_of: datetime, grouping: Grouping = "all"
) -> dict[GroupKey, Ratio]:
    """Issues resolved (or closed) at `as_of` / issues raised in the period."""
    items = []
    for issue in _raised_in(facts, period, as_of):
        resolved = is_resolved(issue, as_of)
        resolutions = _resolutions(issue, as_of)
        at = resolutions[-1].resolved_at if resolved and resolutions else as_of
        items.append((_issue_key(facts, issue, at, grouping), resolved))
    return _ratios(items)


def closure_rate(
    facts: Facts, period: Period, as_of: datetime, grouping: Grouping = "all"
) -> dict[GroupKey, Ratio]:
    """Issues closed (fix confirmed by the customer) / issues raised in the period."""
    items = []
    for issue in _raised_in(facts, period, as_of):
        closed = [c for c in issue.closes if c <= as_of]
        at = min(closed) if closed else as_of
        items.append((_issue_key(facts, issue, at, grouping), bool(closed)))
    return _ratios(items)


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
    of: Literal["complaint", "repair"],
    period: Period,
    as_of: datetime,
    grouping: Grouping = "all",
) -> dict[GroupKey, Ratio]:
    """Resolved complaints (repairs: fault, maintenance) whose issue-follow-up visit was completed
    / resolved complaints (repairs), of those raised in the period."""
    categories = frozenset({"complaint"}) if of == "complaint" else REPAIR_CATEGORIES
    visits = follow_up_visits(facts)
    items = []
    for issue in _raised_in(facts, period, as_of):
        assert issue.raised is not None
        resolutions = _resolutions(issue, as_of)
        if issue.raised.category not in categories or not resolutions:
            continue
        visited = any(completion(v, as_of) is not None for v in visits.get(issue.issue_id, []))
        items.append((_issue_key(facts, issue, resolutions[0].resolved_at, grouping), visited))
    return _ratios(items)


# --- churn risk -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChurnSignal:
    """A churn-risk rule that fired for a customer at `at`, with the visits or issues behind it."""

    customer_id: str
    rule: ChurnRule
    at: datetime
    evidence: tuple[str, ...]


def _customer_logs(facts: Facts, as_of: datetime) -> dict[str, list[tuple[LogFact, str]]]:
    by_customer: dict[str, list[tuple[LogFact, str]]] = defaultdict(list)
    for visit in facts.visits.values():
        for log in visit.logs:
            if log.logged_at <= as_of:
                by_customer[visit.customer_id].append((log, visit.visit_id))
    for logs in by_customer.values():
        logs.sort(key=lambda lv: (lv[0].logged_at, lv[1], _log_order(lv[0])))
    return by_customer


def _runs(
    customer_id: str,
    rule: ChurnRule,
    entries: list[tuple[LogFact, str]],
    counts: Callable[[LogFact], bool | None],
    length: int,
) -> list[ChurnSignal]:
    """A signal each time `length` entries in a row count (True); False breaks the run, None is
    skipped."""
    signals: list[ChurnSignal] = []
    run: list[str] = []
    for log, visit_id in entries:
        verdict = counts(log)
        if verdict is None:
            continue
        run = [*run, visit_id][-length:] if verdict else []
        if verdict and len(run) == length:
            signals.append(ChurnSignal(customer_id, rule, log.logged_at, tuple(run)))
    return signals


def churn_signals(facts: Facts, period: Period, as_of: datetime) -> list[ChurnSignal]:
    """Every churn-risk rule that fired in the period (known at `as_of`), by customer and time.

    - two completed, scored visits in a row scored <= 2 (unscored visits are skipped; a
      completion a failed spot check took away does not count);
    - three unreachable attempts in a row (any other outcome breaks the run);
    - two complaints (category or source complaint) raised within 90 days;
    - an SLA breach while the customer's tier was gold.
    """
    signals: list[ChurnSignal] = []
    valid_logs = {v.visit_id: completion(v, as_of) for v in facts.visits.values()}
    for customer_id, entries in _customer_logs(facts, as_of).items():
        scored = [
            (log, vid)
            for log, vid in entries
            if log.outcome == "completed"
            and log.satisfaction is not None
            and valid_logs[vid] == log
        ]
        signals += _runs(
            customer_id,
            "dissatisfied_twice",
            scored,
            lambda log: log.satisfaction is not None and log.satisfaction <= DISSATISFIED_UP_TO,
            2,
        )
        signals += _runs(
            customer_id, "unreachable_thrice", entries, lambda log: log.outcome == "unreachable", 3
        )
    complaints: dict[str, list[IssueFacts]] = defaultdict(list)
    for issue in facts.issues.values():
        raised = issue.raised
        if raised is None or raised.raised_at > as_of:
            continue
        if "complaint" in (raised.category, raised.source):
            complaints[issue.customer_id].append(issue)
        for breach in issue.breaches:
            profile = profile_at(facts.customers.get(issue.customer_id), breach.deadline)
            if breach.deadline <= as_of and profile is not None and profile.tier == "gold":
                signals.append(
                    ChurnSignal(
                        issue.customer_id, "gold_sla_breach", breach.deadline, (issue.issue_id,)
                    )
                )
    for customer_id, issues in complaints.items():
        ordered = sorted(
            issues, key=lambda i: (i.raised.raised_at if i.raised else as_of, i.issue_id)
        )
        for earlier, later in itertools.pairwise(ordered):
            assert earlier.raised is not None and later.raised is not None
            if later.raised.raised_at - earlier.raised.raised_at <= COMPLAINT_WINDOW:
                evidence = (earlier.issue_id, later.issue_id)
                signals.append(
                    ChurnSignal(
                        customer_id, "complaints_within_90_days", later.raised.raised_at, evidence
                    )
                )
    fired = [s for s in signals if period.holds(s.at)]
    return sorted(fired, key=lambda s: (s.customer_id, s.at, s.rule, s.evidence))


def customers_at_risk(facts: Facts, period: Period, as_of: datetime) -> dict[str, set[ChurnRule]]:
    """The customers for whom a churn-risk rule fired in the period, with the rules."""
    at_risk: dict[str, set[ChurnRule]] = defaultdict(set)
    for signal in churn_signals(facts, period, as_of):
        at_risk[signal.customer_id].add(signal.rule)
    return dict(at_risk)


# --- monthly report pieces --------------------------------------------------------------------


def top_problem_categories(
    facts: Facts, period: Period, as_of: datetime, limit: int = 5
) -> list[tuple[str, int]]:
    """Issue categories by issues raised in the period, most first (ties by name)."""
    counts: dict[str, int] = defaultdict(int)
    for issue in _raised_in(facts, period, as_of):
        assert issue.raised is not None
        counts[issue.raised.category] += 1
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]


def most_frequent_problems(
    facts: Facts, period: Period, as_of: datetime, limit: int = 5
) -> list[tuple[str, str, int]]:
    """Problems (category and severity) by issues raised in the period, most first (ties by
    name). What the customer described is free text, which analytics does not keep."""
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for issue in _raised_in(facts, period, as_of):
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
