"""The visit policy as it stood before planning was made faster (commit 8c38ae3), frozen, with
SPEC §2's merge and retry rules of 2026-12 stated plainly (`_merge_group`, `plan_retry`).

The differential test plans thousands of random customers with this and with
`followup.scheduling.domain` and requires the same visits, ids and reasons. It is the plain
statement of the rules; do not optimise it.

Visit policy (SPEC §2) as pure rules: a customer's facts and `now` in, planned visits out.

No I/O and no clock reads. The whole plan of a customer is a function of their facts, so the
same facts in any order of arrival give the same visits with the same ids; the store only
reconciles what it has with what this module says.
"""

from __future__ import annotations

import hashlib
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
from followup.events.ids import NAMESPACE

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
    merge_protected_kinds: tuple[str, ...] = (ISSUE_FOLLOW_UP, HOLIDAY_CARE)
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


_ID_PREFIX = NAMESPACE.bytes
_ID_SEP = "\x1f"
_VARIANT = {f"{n:x}": f"{(n & 0x3) | 0x8:x}" for n in range(16)}


def fast_derived_id(*parts: str) -> str:
    """`followup.events.derived_id(*parts)`, without the uuid module's overhead.

    A plan names ~11 visits per delivery; uuid.uuid5 plus UUID() and str() cost more than the
    rest of a visit's planning. This is the same UUIDv5 (SHA-1 over the namespace and the
    parts joined by the unit separator, version and variant bits set), computed straight from
    hashlib; parts holding the separator characters, which need escaping, go to derived_id
    itself. A unit test pins it to derived_id.
    """
    name = _ID_SEP.join(parts)
    if "\x1e" in name or name.count(_ID_SEP) != len(parts) - 1:
        return derived_id(*parts)
    x = hashlib.sha1(_ID_PREFIX + name.encode()).hexdigest()
    # Version 5 in the 13th hex digit, the RFC 4122 variant (10xx) in the 17th.
    return f"{x[:8]}-{x[8:12]}-5{x[13:16]}-{_VARIANT[x[16]]}{x[17:20]}-{x[20:32]}"


def visit_id_for(customer_id: str, anchor: Candidate) -> str:
    """Deterministic visit id from the customer and the visit's earliest component."""
    return derived_id(
        "visit",
        customer_id,
        anchor.kind,
        anchor.order_id or "",
        anchor.issue_id or "",
        anchor.due_iso,
    )


def _calendar_deadline(
    due_day: date, days: int, tz: ZoneInfo, cal: BusinessCalendar
) -> tuple[datetime, bool]:
    """end_of_calendar_days from the due time's local date (already known to the caller)."""
    landed = due_day + timedelta(days=days)
    day = cal.working_day_on_or_after(landed)
    # Provisional if the landing day or any day it moved over is.
    return datetime.combine(day, _END_OF_DAY, tz), cal.any_provisional(landed, day)


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
    # "Older than 12 months", judged at the visit's due date.
    mature_at = add_months_clamped(delivered, policy.mature_after_months, tz)
    iso = delivered.isoformat()
    out: list[Candidate] = []
    at, prov = _calendar_deadline(start_day, policy.first_use_deadline_days, tz, cal)
    out.append(
        Candidate(
            FIRST_USE, delivered, at, prov, order, reason=f"first use of order {order}", due_iso=iso
        )
    )
    if repeat:
        at, prov = _calendar_deadline(start_day, policy.special_deadline_days, tz, cal)
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
    key_deep = tier in policy.key_deep_tiers
    months = 0
    while True:
        months += 1
        is_deep = months % policy.deep_every_months == 0
        is_routine = not is_deep and months in policy.routine_months
        is_key_deep = key_deep and months % policy.key_deep_every_months == 0
        is_quarterly = (
            months >= policy.quarterly_from_month
            and (months - policy.quarterly_from_month) % policy.quarterly_every_months == 0
        )
        if not (is_deep or is_routine or is_key_deep or is_quarterly) and months % 12:
            # No rule asks for a visit this month: no date to work out. Due times only grow
            # with the months, so skipping one cannot pass the horizon unnoticed; the yearly
            # check ends the loop even under a policy without recurring visits.
            continue
        due_day = add_months_to_date(start_day, months)
        due = datetime.combine(due_day, start_time, tz)
        if due > until:
            break
        kinds: list[tuple[str, int]] = []
        if is_deep:
            kinds.append((DEEP, policy.deep_deadline_days))  # replaces that date's routine
        elif is_routine:
            kinds.append((ROUTINE, policy.routine_deadline_days))
        if is_key_deep:
            kinds.append((KEY_DEEP, policy.deep_deadline_days))
        if is_quarterly and due > mature_at:
            kinds.append((QUARTERLY, policy.quarterly_deadline_days))
        if kinds:
            iso = due.isoformat()
            deadlines: dict[int, tuple[datetime, bool]] = {}
            for kind, days in kinds:
                found = deadlines.get(days)
                if found is None:  # deep and key_deep share theirs
                    found = deadlines[days] = _calendar_deadline(due_day, days, tz, cal)
                out.append(
                    Candidate(
                        kind,
                        due,
                        found[0],
                        found[1],
                        order,
                        None,
                        f"{kind} visit, month {months} after order {order}",
                        iso,
                    )
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
    tz = ZoneInfo(facts.timezone)
    first = min(d.delivered_at for d in facts.deliveries)
    # "Older than 12 months", judged at the visit's due date.
    mature_at = add_months_clamped(first, policy.mature_after_months, tz)
    out: list[Candidate] = []
    for year in range(since.astimezone(tz).year, until.astimezone(tz).year + 1):
        for name, festival in (
            ("Spring Festival", spring_festival(year)),
            ("Mid-Autumn", mid_autumn(year)),
        ):
            day = festival - timedelta(days=policy.holiday_care_days_before)
            due = datetime.combine(day, policy.holiday_care_at, tz)
            if not (since <= due <= until) or not due > mature_at:
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
    rank = _KIND_RANK
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
    return [_merge_group(customer_id, g, policy) for g in groups]


def _merge_group(customer_id: str, group: Sequence[Candidate], policy: Policy) -> PlannedVisit:
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
        )
    kinds = tuple(sorted({c.kind for c in group}, key=_KIND_RANK.__getitem__))
    # The later deadline, but never past the own deadline of an issue_follow_up or a
    # holiday_care it carries (the earliest of them, if several).
    chosen = max(group, key=lambda c: c.deadline)
    for c in group:
        if c.kind in policy.merge_protected_kinds and c.deadline < chosen.deadline:
            chosen = c
    return PlannedVisit(
        visit_id=visit_id_for(customer_id, anchor),
        customer_id=customer_id,
        order_id=next((c.order_id for c in group if c.order_id), None),
        kinds=kinds,
        due_at=anchor.due_at,
        deadline=chosen.deadline,
        deadline_provisional=chosen.provisional,
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


def all_candidates(
    facts: CustomerFacts, cal: BusinessCalendar, now: datetime, policy: Policy = DEFAULT_POLICY
) -> list[Candidate]:
    """Every component the rules ask for up to the horizon, before history and merging."""
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
) -> list[PlannedVisit]:
    """The customer's open plan up to the rolling horizon; only deadlines still ahead.

    `fixed` holds the component keys of visits already published (due, done, missed): they
    are history, so they are neither planned again nor merged into new visits. `planned` holds
    those of visits already in the open plan: time passing never drops them (the due sweep
    publishes them); only visits new to the plan must still have their deadline ahead.
    """
    candidates = all_candidates(facts, cal, now, policy)
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
    """After `unreachable`: 09:00 next working day, due by the end of the working day after,
    but never earlier than the deadline of the visit it retries.

    None once the visit has had its 3 attempts.
    """
    if visit.attempt >= policy.max_attempts:
        return None
    tz = ZoneInfo(timezone)
    due = next_working_day_at(unreachable_at, policy.retry_at, tz, cal)
    d = end_of_working_days(due, 1, tz, cal)
    deadline, provisional = d.at, d.provisional
    if visit.deadline > deadline:
        deadline, provisional = visit.deadline, visit.deadline_provisional
    kinds = visit.kinds if RETRY in visit.kinds else (*visit.kinds, RETRY)
    return replace(
        visit,
        kinds=kinds,
        due_at=due,
        deadline=deadline,
        deadline_provisional=provisional,
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
    return replace(
        p,
        tier=tier if newer else p.tier,
        segment=segment if newer else p.segment,
        timezone=(timezone or p.timezone) if newer else (p.timezone or timezone),
        profile_at=at if p.profile_at is None else max(p.profile_at, at),
        region=region if region is not None else p.region,
        account_manager_id=(
            account_manager_id if account_manager_id is not None else p.account_manager_id
        ),
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

    Its components' deadlines as the rules now count them, merged as a merge does; a retry's
    counted again from its due time, never earlier than the visit it retries. Due times never
    move. None when a component is no longer derivable from the facts (the stored deadline then
    stands; a retry then keeps its own count).
    """
    found = [components[k] for k in visit.sources if k in components]
    merged = None
    if found and len(found) == len(visit.sources):
        chosen = max(found, key=lambda c: c.deadline)
        for c in found:
            if c.kind in policy.merge_protected_kinds and c.deadline < chosen.deadline:
                chosen = c
        merged = (chosen.deadline, chosen.provisional)
    if visit.attempt > 1:
        d = end_of_working_days(visit.due_at, 1, ZoneInfo(timezone), cal)
        if merged is not None and merged[0] > d.at:
            return merged
        return d.at, d.provisional
    return merged


def changed_calendar_years(stored: Mapping[int, str], current: Mapping[int, str]) -> set[int]:
    """Years made official, corrected or dropped since the stored deadlines were counted."""
    return {y for y in set(stored) | set(current) if stored.get(y) != current.get(y)}
