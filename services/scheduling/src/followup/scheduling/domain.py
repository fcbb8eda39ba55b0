"""Visit policy (SPEC §2) as pure rules: a customer's facts and `now` in, planned visits out.

No I/O and no clock reads. The whole plan of a customer is a function of their facts, so the
same facts in any order of arrival give the same visits with the same ids; the store only
reconciles what it has with what this module says.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from followup.calendar import (
    BusinessCalendar,
    add_months_clamped,
    add_months_to_date,
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
_KIND_RANK = {kind: rank for rank, kind in enumerate(KIND_ORDER)}
_END_OF_DAY = time(23, 59, 59)


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
    # The part of the rolling horizon kept as planned_visit rows: a fact stores the plan this
    # far past now (or past the first fact); the clock's tick extends plans stored less than
    # `extend_within` ahead to `extend_ahead` past now. What lies beyond is a pure function of
    # the facts, worked out when the clock comes near or when a reader asks (stored_horizon).
    store_ahead: timedelta = timedelta(days=28)
    extend_within: timedelta = timedelta(days=14)
    extend_ahead: timedelta = timedelta(days=91)


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


# Candidate and PlannedVisit are values (never changed after creation; `replace` makes a new
# one) but not frozen: planning creates them by the hundred thousand, and a frozen dataclass's
# __init__ costs three times a plain slotted one's.


@dataclass(slots=True)
class Candidate:
    """One kind of visit asked for by one rule, before merging."""

    kind: str
    due_at: datetime
    deadline: datetime
    provisional: bool
    order_id: str | None = None
    issue_id: str | None = None
    reason: str = ""
    # The due time as written in keys and ids; given by the rules that already have it (the
    # same instant is shared by every kind due then), else computed once here.
    due_iso: str = field(default="", compare=False, repr=False)
    key: str = field(default="", init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        # The key identifies the component across re-plans: one rule, one occasion.
        if not self.due_iso:
            self.due_iso = self.due_at.isoformat()
        self.key = f"{self.kind}|{self.order_id or ''}|{self.issue_id or ''}|{self.due_iso}"


@dataclass(slots=True)
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
    # due_at as the planner already wrote it (in the keys and the id), so storing the visit
    # does not format it again; "" when unknown. Whoever moves due_at must set it anew.
    due_iso: str = field(default="", compare=False, repr=False)


def visit_id_for(customer_id: str, anchor: Candidate) -> str:
    """Deterministic visit id from the customer and the visit's earliest component."""
    order, issue = anchor.order_id or "", anchor.issue_id or ""
    return derived_id("visit", customer_id, anchor.kind, order, issue, anchor.due_iso)


def _calendar_deadline(
    due_day: date, days: int, tz: ZoneInfo, cal: BusinessCalendar
) -> tuple[datetime, bool]:
    """end_of_calendar_days from the due time's local date (already known to the caller)."""
    landed = due_day + timedelta(days=days)
    day = cal.working_day_on_or_after(landed)
    # Provisional if the landing day or any day it moved over is.
    return datetime.combine(day, _END_OF_DAY, tz), cal.any_provisional(landed, day)


@dataclass(frozen=True, slots=True)
class _MonthVisits:
    """One month of a delivery's recurring schedule, in days: what any delivery on that local
    date asks for that month (the delivery's own wall time is added per customer)."""

    months: int
    due_day: date
    # (kind, deadline, provisional, reason up to the order id); quarterly apart, as it applies
    # only once the delivery is older than 12 months at the due time.
    kinds: tuple[tuple[str, datetime, bool, str], ...]
    quarterly: tuple[str, datetime, bool, str] | None


class _Schedule:
    """A delivery date's months, worked out once per calendar and reused by every customer
    delivered that day (planning asks the same dates the same questions again and again)."""

    __slots__ = ("deadlines", "key_deep", "months", "policy", "start_day", "tz", "worked_to")

    def __init__(self, start_day: date, key_deep: bool, tz: ZoneInfo, policy: Policy) -> None:
        self.start_day, self.key_deep, self.tz, self.policy = start_day, key_deep, tz, policy
        self.months: list[_MonthVisits] = []
        self.worked_to = 0  # the last month looked at
        # Calendar-day deadlines counted from the delivery day (first_use, special), by days.
        self.deadlines: dict[int, tuple[datetime, bool]] = {}

    def deadline(self, days: int, cal: BusinessCalendar) -> tuple[datetime, bool]:
        """_calendar_deadline from the delivery day, worked out once per schedule."""
        found = self.deadlines.get(days)
        if found is None:
            found = self.deadlines[days] = _calendar_deadline(self.start_day, days, self.tz, cal)
        return found

    def extend(self, cal: BusinessCalendar) -> None:
        """Works out the next year of months (the rule of the original month loop)."""
        policy, tz, start_day = self.policy, self.tz, self.start_day
        last = self.worked_to + 12
        for months in range(self.worked_to + 1, last + 1):
            is_deep = months % policy.deep_every_months == 0
            is_routine = not is_deep and months in policy.routine_months
            is_key_deep = self.key_deep and months % policy.key_deep_every_months == 0
            is_quarterly = (
                months >= policy.quarterly_from_month
                and (months - policy.quarterly_from_month) % policy.quarterly_every_months == 0
            )
            if not (is_deep or is_routine or is_key_deep or is_quarterly) and months % 12:
                # No rule asks for a visit this month: no date to work out. The yearly entry
                # (even without kinds) ends a customer's walk under a policy without
                # recurring visits.
                continue
            due_day = add_months_to_date(start_day, months)
            kinds: list[tuple[str, int]] = []
            if is_deep:
                kinds.append((DEEP, policy.deep_deadline_days))  # replaces that date's routine
            elif is_routine:
                kinds.append((ROUTINE, policy.routine_deadline_days))
            if is_key_deep:
                kinds.append((KEY_DEEP, policy.deep_deadline_days))
            if is_quarterly:
                kinds.append((QUARTERLY, policy.quarterly_deadline_days))
            deadlines: dict[int, tuple[datetime, bool]] = {}
            found: list[tuple[str, datetime, bool, str]] = []
            for kind, days in kinds:
                at = deadlines.get(days)
                if at is None:  # deep and key_deep share theirs
                    at = deadlines[days] = _calendar_deadline(due_day, days, tz, cal)
                found.append((kind, at[0], at[1], f"{kind} visit, month {months} after order "))
            quarterly = found.pop() if is_quarterly else None
            self.months.append(_MonthVisits(months, due_day, tuple(found), quarterly))
        self.worked_to = last


# A schedule holds a few kB (two to three years of months). Distinct delivery dates times
# zones times gold or not: a year of deliveries in one zone is ~730. The memo is dropped
# whole past this many (~30 MB); that only costs working them out again.
_SCHEDULES_KEPT = 5_000


def _schedule(
    start_day: date, key_deep: bool, tz: ZoneInfo, cal: BusinessCalendar, policy: Policy
) -> _Schedule:
    memo = cal.derived_memo()
    # The policy by identity (hashing a Policy costs more than the lookup); the entry keeps its
    # policy, so an id reused by another policy object is noticed and worked out again.
    key = ("followup.scheduling.delivery", start_day, key_deep, tz.key, id(policy))
    found = memo.get(key)
    if found is None or found.policy is not policy:
        if len(memo) > _SCHEDULES_KEPT:
            memo.clear()
        found = memo[key] = _Schedule(start_day, key_deep, tz, policy)
    schedule: _Schedule = found
    return schedule


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
    delivered = delivery.delivered_at
    # Months count from the delivery's local date and wall time (add_months_clamped's rule,
    # done here on the date so the zone conversion happens once per delivery, not per month).
    start = delivered.astimezone(tz)
    start_day, start_time = start.date(), start.time()
    # "Older than 12 months", judged at the visit's due date (add_months_clamped, on the date);
    # worked out at the first quarterly month (most plans, stored weeks ahead, have none).
    mature_at: datetime | None = None
    iso = delivered.isoformat()
    out: list[Candidate] = []
    schedule = _schedule(start_day, tier in policy.key_deep_tiers, tz, cal, policy)
    at, prov = schedule.deadline(policy.first_use_deadline_days, cal)
    out.append(
        Candidate(
            FIRST_USE, delivered, at, prov, order, reason=f"first use of order {order}", due_iso=iso
        )
    )
    if repeat:
        at, prov = schedule.deadline(policy.special_deadline_days, cal)
        out.append(
            Candidate(
                SPECIAL,
                delivered,
                at,
                prov,
                order,
                reason=f"repeat purchase, order {order}",
                due_iso=iso,
            )
        )
    months = schedule.months
    i = 0
    combine = datetime.combine
    while True:
        if i == len(months):
            schedule.extend(cal)
            continue
        month = months[i]
        i += 1
        due = combine(month.due_day, start_time, tz)
        if due > until:
            break
        kinds = month.kinds
        if month.quarterly is not None:
            if mature_at is None:
                mature_day = add_months_to_date(start_day, policy.mature_after_months)
                mature_at = combine(mature_day, start_time, tz)
            if due > mature_at:
                kinds = (*kinds, month.quarterly)
        if kinds:
            iso = due.isoformat()
            for kind, deadline, provisional, reason in kinds:
                out.append(
                    Candidate(kind, due, deadline, provisional, order, None, reason + order, iso)
                )
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
    first = min(d.delivered_at for d in facts.deliveries)
    if until - first < timedelta(days=28 * policy.mature_after_months - 1):
        # Nobody is 12 months a customer before the plan's end (a month has at least 28 days,
        # less a day for a change of the zone's offset): most plans, stored weeks ahead.
        return []
    tz = ZoneInfo(facts.timezone)
    # "Older than 12 months", judged at the visit's due date.
    mature_at = add_months_clamped(first, policy.mature_after_months, tz)
    out: list[Candidate] = []
    for year in range(since.astimezone(tz).year, until.astimezone(tz).year + 1):
        for due, deadline, provisional, reason, iso in _festival_visits(year, tz, cal, policy):
            if not (since <= due <= until) or not due > mature_at:
                continue
            out.append(
                Candidate(HOLIDAY_CARE, due, deadline, provisional, reason=reason, due_iso=iso)
            )
    return out


def _festival_visits(
    year: int, tz: ZoneInfo, cal: BusinessCalendar, policy: Policy
) -> tuple[tuple[datetime, datetime, bool, str, str], ...]:
    """A year's holiday-care visits in a zone (due, deadline, provisional, reason, due iso):
    the same for every customer, so worked out once per calendar."""
    memo = cal.derived_memo()
    key = ("followup.scheduling.festivals", year, tz.key, id(policy))
    found = memo.get(key)
    if found is None or found[0] is not policy:
        visits = []
        for name, festival in (
            ("Spring Festival", spring_festival(year)),
            ("Mid-Autumn", mid_autumn(year)),
        ):
            day = festival - timedelta(days=policy.holiday_care_days_before)
            due = datetime.combine(day, policy.holiday_care_at, tz)
            deadline_day = holiday_care_deadline_date(festival, cal)
            deadline = end_of_day(max(deadline_day, day), tz)
            visits.append(
                (
                    due,
                    deadline,
                    cal.is_provisional(deadline_day),
                    f"{name} {year} care",
                    due.isoformat(),
                )
            )
        found = memo[key] = (policy, tuple(visits))
    festivals: tuple[tuple[datetime, datetime, bool, str, str], ...] = found[1]
    return festivals


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
    rank = _KIND_RANK
    if not isinstance(candidates, list):
        candidates = list(candidates)
    if len(candidates) == 1:  # one visit: nothing to order or merge
        return [_merge_group(customer_id, candidates)]
    ordered = sorted(
        candidates,
        key=lambda c: (c.due_at, rank[c.kind], c.order_id or "", c.issue_id or ""),
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
    if len(group) == 1:  # most visits: nothing to merge
        return PlannedVisit(
            visit_id_for(customer_id, anchor),
            customer_id,
            anchor.order_id,
            (anchor.kind,),
            anchor.due_at,
            anchor.deadline,
            anchor.provisional,
            anchor.reason,
            1,
            anchor.issue_id,
            (anchor.key,),
            anchor.due_iso,
        )
    kinds = tuple(sorted({c.kind for c in group}, key=_KIND_RANK.__getitem__))
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
        due_iso=anchor.due_iso,
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


def stored_horizon(
    facts: CustomerFacts, now: datetime, policy: Policy = DEFAULT_POLICY
) -> datetime | None:
    """How far ahead the stored plan reaches: `store_ahead` past now (or past the first fact).

    Shorter than the rolling horizon (horizon_end): a delivery stores its first one or two
    visits, not two years of them. It must stay longer than `extend_within` plus the merge
    window, so that a visit's merge partners are stored before the visit can fall due.
    """
    starts = [d.delivered_at for d in facts.deliveries]
    if facts.intent_signed_at:
        starts.append(facts.intent_signed_at)
    starts += [i.resolved_at for i in facts.resolved_issues]
    if not starts:
        return None
    return max(now, min(starts)) + policy.store_ahead


def all_candidates(
    facts: CustomerFacts,
    cal: BusinessCalendar,
    now: datetime,
    policy: Policy = DEFAULT_POLICY,
    *,
    until: datetime | None = None,
) -> list[Candidate]:
    """Every component the rules ask for up to the horizon, before history and merging.

    `until` is horizon_end(facts, now, policy), when the caller has it already.
    """
    if until is None:
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
    return candidates


def plan_customer(
    facts: CustomerFacts,
    cal: BusinessCalendar,
    now: datetime,
    fixed: frozenset[str] = frozenset(),
    planned: frozenset[str] = frozenset(),
    policy: Policy = DEFAULT_POLICY,
    *,
    until: datetime | None = None,
    stored_until: datetime | None = None,
) -> list[PlannedVisit]:
    """The customer's open plan up to `until` (default: the rolling horizon); only deadlines
    still ahead.

    `fixed` holds the component keys of visits already published (due, done, missed): they
    are history, so they are neither planned again nor merged into new visits. `planned` holds
    those of visits already in the open plan: time passing never drops them (the due sweep
    publishes them); only visits new to the plan must still have their deadline ahead.
    `stored_until` is how far the stored plan reached before: visits due past it are kept
    whatever their deadline, as the full rolling horizon would have held them since before
    they fell due (a clock that jumps past a stored plan's end still gets every visit).
    """
    candidates = all_candidates(facts, cal, now, policy, until=until)
    open_ = [c for c in candidates if c.key not in fixed] if fixed else candidates
    visits = merge_candidates(facts.customer_id, open_, policy)
    # Backfill: history that arrives late plans only what can still be done on time.
    if stored_until is None:
        return [v for v in visits if v.deadline > now or planned.intersection(v.sources)]
    return [
        v
        for v in visits
        if v.deadline > now or v.due_at > stored_until or planned.intersection(v.sources)
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
        due_iso=due.isoformat(),
        deadline=d.at,
        deadline_provisional=d.provisional,
        attempt=visit.attempt + 1,
        reason=f"retry {visit.attempt + 1} of {policy.max_attempts} after unreachable",
    )


def local_date(at: datetime, timezone: str) -> date:
    """The calendar date of an instant in the customer's zone."""
    return at.astimezone(ZoneInfo(timezone)).date()


# -- Folding facts and reconciling the stored plan ---------------------------------------------


@dataclass(frozen=True)
class Profile:
    """What is kept about a customer besides their deliveries and issues (no personal data)."""

    tier: str | None = None
    segment: str | None = None
    timezone: str | None = None
    # The time of the fact that set tier, segment and zone.
    profile_at: datetime | None = None
    region: str | None = None
    account_manager_id: str | None = None
    intent_signed_at: datetime | None = None
    project_started_at: datetime | None = None


def with_profile_fact(
    p: Profile,
    *,
    tier: str,
    segment: str,
    timezone: str | None,
    region: str | None,
    account_manager_id: str | None,
    at: datetime,
) -> Profile:
    """Tier, segment and zone as of the latest fact (by its own time, whatever the arrival order).

    A fact without a zone keeps the known one; an older fact only fills a zone still unknown.
    Region and account manager: the latest arrival that names one.
    """
    newer = p.profile_at is None or at >= p.profile_at
    # Built directly, not with `replace` (which costs twice as much): once per fact ingested.
    return Profile(
        tier=tier if newer else p.tier,
        segment=segment if newer else p.segment,
        timezone=(timezone or p.timezone) if newer else (p.timezone or timezone),
        profile_at=at if p.profile_at is None else max(p.profile_at, at),
        region=region if region is not None else p.region,
        account_manager_id=(
            account_manager_id if account_manager_id is not None else p.account_manager_id
        ),
        intent_signed_at=p.intent_signed_at,
        project_started_at=p.project_started_at,
    )


def with_intent_signed(p: Profile, signed_at: datetime) -> Profile:
    """The first signing counts."""
    first = signed_at if p.intent_signed_at is None else min(p.intent_signed_at, signed_at)
    return replace(p, intent_signed_at=first)


def with_project_started(p: Profile, started_at: datetime) -> Profile:
    """The first start counts: intent follow-ups stop there."""
    first = started_at if p.project_started_at is None else min(p.project_started_at, started_at)
    return replace(p, project_started_at=first)


def customer_facts(
    customer_id: str,
    profile: Profile,
    deliveries: Iterable[tuple[str, datetime]],
    resolved_issues: Iterable[tuple[str, datetime]],
    default_timezone: str,
) -> CustomerFacts:
    """The policy's view of a customer: (order_id, delivered_at) and (issue_id, resolved_at)."""
    tz = profile.timezone or default_timezone
    tier = profile.tier or "bronze"
    return CustomerFacts(
        customer_id=customer_id,
        tier=tier,
        timezone=tz,
        deliveries=tuple(Delivery(customer_id, o, at, tier, tz) for o, at in deliveries),
        intent_signed_at=profile.intent_signed_at,
        project_started_at=profile.project_started_at,
        resolved_issues=tuple(ResolvedIssue(i, at) for i, at in resolved_issues),
    )


@dataclass(frozen=True)
class StoredVisit:
    """A visit as the store has it: the plan's fields and where it stands."""

    visit: PlannedVisit
    status: str


@dataclass
class PlanChanges:
    """What the store must do so a customer's open plan is exactly the policy's."""

    insert: list[PlannedVisit] = field(default_factory=list)
    update: list[PlannedVisit] = field(default_factory=list)
    delete: list[str] = field(default_factory=list)


def plan_components(stored: Iterable[StoredVisit]) -> tuple[frozenset[str], frozenset[str]]:
    """Components of published visits (history) and of the open plan (kept as time passes)."""
    fixed: set[str] = set()
    planned: set[str] = set()
    for s in stored:
        (planned if s.status == "planned" else fixed).update(s.visit.sources)
    return frozenset(fixed), frozenset(planned)


def _same_plan(a: PlannedVisit, b: PlannedVisit) -> bool:
    return (
        a.kinds == b.kinds
        and a.deadline == b.deadline
        and a.deadline_provisional == b.deadline_provisional
        and a.reason == b.reason
        and a.sources == b.sources
        and a.order_id == b.order_id
        and a.issue_id == b.issue_id
    )


def reconcile(stored: Iterable[StoredVisit], visits: Iterable[PlannedVisit]) -> PlanChanges:
    """Inserts, updates and deletes that make the stored open plan equal to `visits`.

    Published visits (due, done, missed) are history and never touched. A retried visit
    (attempt > 1) keeps the due time and deadline its retry gave it; it is only dropped when
    the policy no longer asks for it at all.
    """
    by_id = {s.visit.visit_id: s for s in stored}
    changes = PlanChanges()
    wanted: set[str] = set()
    for v in visits:
        wanted.add(v.visit_id)
        s = by_id.get(v.visit_id)
        if s is None:
            changes.insert.append(v)
        elif s.status == "planned" and s.visit.attempt == 1 and not _same_plan(s.visit, v):
            changes.update.append(v)
    changes.delete = [
        vid for vid, s in by_id.items() if s.status == "planned" and vid not in wanted
    ]
    return changes


# -- Official calendar data loaded later ---------------------------------------------------------


def recomputed_deadline(
    visit: PlannedVisit,
    components: Mapping[str, Candidate],
    timezone: str,
    cal: BusinessCalendar,
    policy: Policy = DEFAULT_POLICY,
) -> tuple[datetime, bool] | None:
    """An open visit's deadline on `cal` (SPEC §2: recomputed when official data is loaded).

    The latest deadline of its components as the rules now count them (a merge keeps the
    later deadline); a retry's, counted again from its due time. Due times never move. None
    when a component is no longer derivable from the facts (the stored deadline then stands).
    """
    if visit.attempt > 1:
        d = end_of_working_days(visit.due_at, 1, ZoneInfo(timezone), cal)
        return d.at, d.provisional
    found = [components[k] for k in visit.sources if k in components]
    if not found or len(found) != len(visit.sources):
        return None
    latest = max(found, key=lambda c: c.deadline)
    return latest.deadline, latest.provisional


def changed_calendar_years(stored: Mapping[int, str], current: Mapping[int, str]) -> set[int]:
    """Years made official, corrected or dropped since the stored deadlines were counted."""
    return {y for y in set(stored) | set(current) if stored.get(y) != current.get(y)}
