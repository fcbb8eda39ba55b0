"""Visit policy (SPEC §2) as pure rules: a customer's facts and `now` in, planned visits out.

No I/O and no clock reads. The whole plan of a customer is a function of their facts, so the
same facts in any order of arrival give the same visits with the same ids; the store only
reconciles what it has with what this module says.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from followup.calendar import (
    BusinessCalendar,
    add_months_clamped,
    end_of_calendar_days,
    end_of_day,
    end_of_working_days,
    holiday_care_deadline_date,
    mid_autumn,
    next_working_day_at,
    spring_festival,
)
from followup.events import derived_id

FIRST_USE = "first_use"
ROUTINE = "routine"
DEEP = "deep"
KEY_DEEP = "key_deep"
QUARTERLY = "quarterly"
HOLIDAY_CARE = "holiday_care"
INTENT_FOLLOW_UP = "intent_follow_up"
ISSUE_FOLLOW_UP = "issue_follow_up"
SPECIAL = "special"
RETRY = "retry"

# Kinds in the order a merged visit lists them.
KIND_ORDER = (
    FIRST_USE,
    SPECIAL,
    ROUTINE,
    DEEP,
    KEY_DEEP,
    QUARTERLY,
    HOLIDAY_CARE,
    INTENT_FOLLOW_UP,
    ISSUE_FOLLOW_UP,
    RETRY,
)


@dataclass(frozen=True)
class Policy:
    """SPEC §2 defaults, all configurable."""

    first_use_deadline_days: int = 7
    routine_months: tuple[int, ...] = (1, 3, 6, 12)
    routine_deadline_days: int = 7
    deep_every_months: int = 12
    deep_deadline_days: int = 14
    key_deep_every_months: int = 6
    key_deep_tiers: tuple[str, ...] = ("gold",)
    quarterly_every_months: int = 3
    quarterly_from_month: int = 15
    quarterly_deadline_days: int = 14
    holiday_care_days_before: int = 10
    holiday_care_at: time = time(9, 0)
    mature_after_months: int = 12
    intent_every_days: int = 10
    intent_deadline_working_days: int = 3
    issue_follow_up_working_days: int = 1
    special_deadline_days: int = 7
    retry_at: time = time(9, 0)
    max_attempts: int = 3
    merge_within: timedelta = timedelta(days=7)
    horizon_months: int = 24


DEFAULT_POLICY = Policy()


@dataclass(frozen=True)
class Delivery:
    """A CustomerDelivered fact, as the policy needs it."""

    customer_id: str
    order_id: str
    delivered_at: datetime
    tier: str
    timezone: str


@dataclass(frozen=True)
class ResolvedIssue:
    """An IssueResolved fact: the fix must be confirmed with the customer."""

    issue_id: str
    resolved_at: datetime


@dataclass(frozen=True)
class CustomerFacts:
    """Everything the policy knows about one customer."""

    customer_id: str
    tier: str
    timezone: str
    deliveries: tuple[Delivery, ...] = ()
    intent_signed_at: datetime | None = None
    project_started_at: datetime | None = None
    resolved_issues: tuple[ResolvedIssue, ...] = ()


@dataclass(frozen=True)
class Candidate:
    """One kind of visit asked for by one rule, before merging."""

    kind: str
    due_at: datetime
    deadline: datetime
    provisional: bool
    order_id: str | None = None
    issue_id: str | None = None
    reason: str = ""

    @property
    def key(self) -> str:
        """Identifies the component across re-plans: one rule, one occasion."""
        return "|".join(
            (self.kind, self.order_id or "", self.issue_id or "", self.due_at.isoformat())
        )


@dataclass(frozen=True)
class PlannedVisit:
    """One visit of the plan: possibly several kinds merged (SPEC §2)."""

    visit_id: str
    customer_id: str
    order_id: str | None
    kinds: tuple[str, ...]
    due_at: datetime
    deadline: datetime
    deadline_provisional: bool
    reason: str
    attempt: int = 1
    issue_id: str | None = None
    sources: tuple[str, ...] = field(default=(), compare=False)


def visit_id_for(customer_id: str, anchor: Candidate) -> str:
    """Deterministic visit id from the customer and the visit's earliest component."""
    return derived_id(
        "visit",
        customer_id,
        anchor.kind,
        anchor.order_id or "",
        anchor.issue_id or "",
        anchor.due_at.isoformat(),
    )


def _calendar_deadline(
    due: datetime, days: int, tz: ZoneInfo, cal: BusinessCalendar
) -> tuple[datetime, bool]:
    d = end_of_calendar_days(due, days, tz, cal)
    return d.at, d.provisional


def _months_after(delivery: Delivery, months: int, tz: ZoneInfo) -> datetime:
    return add_months_clamped(delivery.delivered_at, months, tz)


def _is_mature(first_delivered_at: datetime, at: datetime, tz: ZoneInfo, policy: Policy) -> bool:
    """ "Older than 12 months", judged at the visit's due date."""
    return at > add_months_clamped(first_delivered_at, policy.mature_after_months, tz)


def delivery_candidates(
    delivery: Delivery,
    *,
    repeat: bool,
    tier: str,
    until: datetime,
    cal: BusinessCalendar,
    policy: Policy = DEFAULT_POLICY,
) -> list[Candidate]:
    """first_use (+ special on a repeat purchase), routine, deep, key_deep and quarterly."""
    tz = ZoneInfo(delivery.timezone)
    order = delivery.order_id
    out: list[Candidate] = []
    at, prov = _calendar_deadline(delivery.delivered_at, policy.first_use_deadline_days, tz, cal)
    out.append(
        Candidate(
            FIRST_USE, delivery.delivered_at, at, prov, order, reason=f"first use of order {order}"
        )
    )
    if repeat:
        at, prov = _calendar_deadline(delivery.delivered_at, policy.special_deadline_days, tz, cal)
        out.append(
            Candidate(
                SPECIAL,
                delivery.delivered_at,
                at,
                prov,
                order,
                reason=f"repeat purchase, order {order}",
            )
        )
    months = 1
    while True:
        due = _months_after(delivery, months, tz)
        if due > until:
            break
        kinds: list[tuple[str, int]] = []
        is_deep = months % policy.deep_every_months == 0
        if is_deep:
            kinds.append((DEEP, policy.deep_deadline_days))  # replaces that date's routine
        elif months in policy.routine_months:
            kinds.append((ROUTINE, policy.routine_deadline_days))
        if tier in policy.key_deep_tiers and months % policy.key_deep_every_months == 0:
            kinds.append((KEY_DEEP, policy.deep_deadline_days))
        if (
            months >= policy.quarterly_from_month
            and (months - policy.quarterly_from_month) % policy.quarterly_every_months == 0
            and _is_mature(delivery.delivered_at, due, tz, policy)
        ):
            kinds.append((QUARTERLY, policy.quarterly_deadline_days))
        for kind, days in kinds:
            at, prov = _calendar_deadline(due, days, tz, cal)
            out.append(
                Candidate(
                    kind,
                    due,
                    at,
                    prov,
                    order,
                    reason=f"{kind} visit, month {months} after order {order}",
                )
            )
        months += 1
    return out


def holiday_care_candidates(
    facts: CustomerFacts,
    *,
    since: datetime,
    until: datetime,
    cal: BusinessCalendar,
    policy: Policy = DEFAULT_POLICY,
) -> list[Candidate]:
    """10 days before Spring Festival and Mid-Autumn, for customers delivered > 12 months ago."""
    if not facts.deliveries:
        return []
    tz = ZoneInfo(facts.timezone)
    first = min(d.delivered_at for d in facts.deliveries)
    out: list[Candidate] = []
    for year in range(since.astimezone(tz).year, until.astimezone(tz).year + 1):
        for name, festival in (
            ("Spring Festival", spring_festival(year)),
            ("Mid-Autumn", mid_autumn(year)),
        ):
            day = festival - timedelta(days=policy.holiday_care_days_before)
            due = datetime.combine(day, policy.holiday_care_at, tz)
            if not (since <= due <= until) or not _is_mature(first, due, tz, policy):
                continue
            deadline_day = holiday_care_deadline_date(festival, cal)
            deadline = end_of_day(max(deadline_day, day), tz)
            out.append(
                Candidate(
                    HOLIDAY_CARE,
                    due,
                    deadline,
                    cal.is_provisional(deadline_day),
                    reason=f"{name} {year} care",
                )
            )
    return out


def intent_candidates(
    facts: CustomerFacts, *, until: datetime, cal: BusinessCalendar, policy: Policy = DEFAULT_POLICY
) -> list[Candidate]:
    """At IntentSigned, then every 10 days from the signing date, until ProjectStarted."""
    if facts.intent_signed_at is None:
        return []
    tz = ZoneInfo(facts.timezone)
    stop = facts.project_started_at
    out: list[Candidate] = []
    n = 0
    while True:
        due = facts.intent_signed_at + timedelta(days=policy.intent_every_days * n)
        if due > until or (stop is not None and due >= stop):
            break
        d = end_of_working_days(due, policy.intent_deadline_working_days, tz, cal)
        out.append(
            Candidate(
                INTENT_FOLLOW_UP,
                due,
                d.at,
                d.provisional,
                reason=f"signed intent, follow-up {n + 1}",
            )
        )
        n += 1
    return out


def issue_follow_up_candidates(
    facts: CustomerFacts, *, cal: BusinessCalendar, policy: Policy = DEFAULT_POLICY
) -> list[Candidate]:
    """One visit per resolved issue, due at resolution, within 1 working day."""
    tz = ZoneInfo(facts.timezone)
    out = []
    for issue in facts.resolved_issues:
        d = end_of_working_days(issue.resolved_at, policy.issue_follow_up_working_days, tz, cal)
        out.append(
            Candidate(
                ISSUE_FOLLOW_UP,
                issue.resolved_at,
                d.at,
                d.provisional,
                issue_id=issue.issue_id,
                reason=f"confirm the fix of issue {issue.issue_id}",
            )
        )
    return out


def merge_candidates(
    customer_id: str, candidates: Iterable[Candidate], policy: Policy = DEFAULT_POLICY
) -> list[PlannedVisit]:
    """Visits due within 7 days of the group's first merge: earlier due, later deadline."""
    ordered = sorted(
        candidates,
        key=lambda c: (c.due_at, KIND_ORDER.index(c.kind), c.order_id or "", c.issue_id or ""),
    )
    groups: list[list[Candidate]] = []
    for c in ordered:
        if groups and c.due_at - groups[-1][0].due_at <= policy.merge_within:
            groups[-1].append(c)
        else:
            groups.append([c])
    return [_merge_group(customer_id, g) for g in groups]


def _merge_group(customer_id: str, group: Sequence[Candidate]) -> PlannedVisit:
    anchor = group[0]
    kinds = tuple(sorted({c.kind for c in group}, key=KIND_ORDER.index))
    latest = max(group, key=lambda c: c.deadline)
    return PlannedVisit(
        visit_id=visit_id_for(customer_id, anchor),
        customer_id=customer_id,
        order_id=next((c.order_id for c in group if c.order_id), None),
        kinds=kinds,
        due_at=anchor.due_at,
        deadline=latest.deadline,
        deadline_provisional=latest.provisional,
        reason="; ".join(dict.fromkeys(c.reason for c in group)),
        issue_id=next((c.issue_id for c in group if c.issue_id), None),
        sources=tuple(c.key for c in group),
    )


def horizon_end(
    facts: CustomerFacts, now: datetime, policy: Policy = DEFAULT_POLICY
) -> datetime | None:
    """How far ahead the plan reaches: 24 months past now (or past the first fact)."""
    starts = [d.delivered_at for d in facts.deliveries]
    if facts.intent_signed_at:
        starts.append(facts.intent_signed_at)
    starts += [i.resolved_at for i in facts.resolved_issues]
    if not starts:
        return None
    return add_months_clamped(
        max(now, min(starts)), policy.horizon_months, ZoneInfo(facts.timezone)
    )


def plan_customer(
    facts: CustomerFacts,
    cal: BusinessCalendar,
    now: datetime,
    fixed: frozenset[str] = frozenset(),
    planned: frozenset[str] = frozenset(),
    policy: Policy = DEFAULT_POLICY,
) -> list[PlannedVisit]:
    """The customer's open plan up to the rolling horizon; only deadlines still ahead.

    `fixed` holds the component keys of visits already published (due, done, missed): they
    are history, so they are neither planned again nor merged into new visits. `planned` holds
    those of visits already in the open plan: time passing never drops them (the due sweep
    publishes them); only visits new to the plan must still have their deadline ahead.
    """
    until = horizon_end(facts, now, policy)
    if until is None:
        return []
    candidates: list[Candidate] = []
    deliveries = sorted(facts.deliveries, key=lambda d: (d.delivered_at, d.order_id))
    for i, delivery in enumerate(deliveries):
        candidates += delivery_candidates(
            delivery, repeat=i > 0, tier=facts.tier, until=until, cal=cal, policy=policy
        )
    if deliveries:
        candidates += holiday_care_candidates(
            facts, since=deliveries[0].delivered_at, until=until, cal=cal, policy=policy
        )
    candidates += intent_candidates(facts, until=until, cal=cal, policy=policy)
    candidates += issue_follow_up_candidates(facts, cal=cal, policy=policy)
    open_ = [c for c in candidates if c.key not in fixed]
    # Backfill: history that arrives late plans only what can still be done on time.
    return [
        v
        for v in merge_candidates(facts.customer_id, open_, policy)
        if v.deadline > now or planned.intersection(v.sources)
    ]


def plan_retry(
    visit: PlannedVisit,
    unreachable_at: datetime,
    timezone: str,
    cal: BusinessCalendar,
    policy: Policy = DEFAULT_POLICY,
) -> PlannedVisit | None:
    """After `unreachable`: 09:00 next working day, due by the end of the working day after.

    None once the visit has had its 3 attempts.
    """
    if visit.attempt >= policy.max_attempts:
        return None
    tz = ZoneInfo(timezone)
    due = next_working_day_at(unreachable_at, policy.retry_at, tz, cal)
    d = end_of_working_days(due, 1, tz, cal)
    kinds = visit.kinds if RETRY in visit.kinds else (*visit.kinds, RETRY)
    return replace(
        visit,
        kinds=kinds,
        due_at=due,
        deadline=d.at,
        deadline_provisional=d.provisional,
        attempt=visit.attempt + 1,
        reason=f"retry {visit.attempt + 1} of {policy.max_attempts} after unreachable",
    )


def local_date(at: datetime, timezone: str) -> date:
    """The calendar date of an instant in the customer's zone."""
    return at.astimezone(ZoneInfo(timezone)).date()
