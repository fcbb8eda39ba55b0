"""Every visit each rule of SPEC §2 asks for, one `Candidate` per kind and occasion, before
history and merging."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from followup.calendar import (
    BusinessCalendar,
    add_months_clamped,
    add_months_to_date,
    end_of_working_days,
)
from followup.scheduling.domain.model import CustomerFacts, Delivery
from followup.scheduling.domain.policy import (
    DEFAULT_POLICY,
    FIRST_USE,
    HOLIDAY_CARE,
    INTENT_FOLLOW_UP,
    ISSUE_FOLLOW_UP,
    SPECIAL,
    Policy,
)
from followup.scheduling.domain.schedule import PlanMemo

# Candidate is a value (never changed after creation) but not frozen: planning creates them by
# the hundred thousand, and a frozen dataclass's __init__ costs three times a plain slotted one's.


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


def delivery_candidates(
    delivery: Delivery,
    *,
    repeat: bool,
    tier: str,
    until: datetime,
    cal: BusinessCalendar,
    policy: Policy = DEFAULT_POLICY,
    memo: PlanMemo | None = None,
    first: bool = True,
) -> list[Candidate]:
    """first_use (+ special on a repeat purchase), routine, deep, key_deep and quarterly
    (the customer's kinds only on their `first` delivery).

    Must equal `reference_plan.delivery_candidates` (tests/unit/reference_plan.py).
    """
    memo = PlanMemo.of(memo, cal, policy)
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
    schedule = memo.schedule(start_day, tier in policy.key_deep_tiers, tz, first)
    kinds = policy.kinds
    if FIRST_USE in kinds:
        if policy.first_use_working_days:
            d = end_of_working_days(delivered, policy.first_use_working_days, tz, cal)
            at, prov = d.at, d.provisional
        else:
            at, prov = schedule.deadline(policy.first_use_deadline_days)
        out.append(
            Candidate(
                FIRST_USE,
                delivered,
                at,
                prov,
                order,
                reason=f"first use of order {order}",
                due_iso=iso,
            )
        )
    if repeat and SPECIAL in kinds:
        at, prov = schedule.deadline(policy.special_deadline_days)
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
            schedule.extend()
            continue
        month = months[i]
        i += 1
        due = combine(month.due_day, start_time, tz)
        if due > until:
            break
        found = month.kinds
        if month.quarterly is not None:
            if mature_at is None:
                mature_day = add_months_to_date(start_day, policy.mature_after_months)
                mature_at = combine(mature_day, start_time, tz)
            if due > mature_at:
                found = (*found, month.quarterly)
        if found:
            iso = due.isoformat()
            for kind, deadline, provisional, reason in found:
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
    memo: PlanMemo | None = None,
) -> list[Candidate]:
    """10 days before Spring Festival and Mid-Autumn, for customers delivered > 12 months ago.

    Must equal `reference_plan.holiday_care_candidates` (tests/unit/reference_plan.py).
    """
    if not facts.deliveries or HOLIDAY_CARE not in policy.kinds:
        return []
    first = min(d.delivered_at for d in facts.deliveries)
    older_than = policy.holiday_care_older_than_months
    if until - first < timedelta(days=28 * older_than - 1):
        # Nobody is 12 months a customer before the plan's end (a month has at least 28 days,
        # less a day for a change of the zone's offset): most plans, stored weeks ahead.
        return []
    memo = PlanMemo.of(memo, cal, policy)
    tz = ZoneInfo(facts.timezone)
    # "Older than 12 months", judged at the visit's due date.
    mature_at = add_months_clamped(first, older_than, tz)
    out: list[Candidate] = []
    for year in range(since.astimezone(tz).year, until.astimezone(tz).year + 1):
        for due, deadline, provisional, reason, iso in memo.festival_visits(year, tz):
            if not (since <= due <= until) or not due > mature_at:
                continue
            out.append(
                Candidate(HOLIDAY_CARE, due, deadline, provisional, reason=reason, due_iso=iso)
            )
    return out


def intent_candidates(
    facts: CustomerFacts, *, until: datetime, cal: BusinessCalendar, policy: Policy = DEFAULT_POLICY
) -> list[Candidate]:
    """At IntentSigned, then every 10 days from the signing date, until ProjectStarted."""
    if facts.intent_signed_at is None or INTENT_FOLLOW_UP not in policy.kinds:
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
    if ISSUE_FOLLOW_UP not in policy.kinds:
        return []
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


def all_candidates(
    facts: CustomerFacts,
    cal: BusinessCalendar,
    *,
    until: datetime | None,
    policy: Policy = DEFAULT_POLICY,
    memo: PlanMemo | None = None,
) -> list[Candidate]:
    """Every component the rules ask for up to `until` (None: nothing to plan yet).

    With `until` = plan.horizon_end(facts, now), must equal `reference_plan.all_candidates`
    (tests/unit/reference_plan.py).
    """
    if until is None:
        return []
    memo = PlanMemo.of(memo, cal, policy)
    candidates: list[Candidate] = []
    deliveries = sorted(facts.deliveries, key=lambda d: (d.delivered_at, d.order_id))
    for i, delivery in enumerate(deliveries):
        candidates += delivery_candidates(
            delivery,
            repeat=i > 0,
            tier=facts.tier,
            until=until,
            cal=cal,
            policy=policy,
            memo=memo,
            first=i == 0,
        )
    if deliveries:
        candidates += holiday_care_candidates(
            facts,
            since=deliveries[0].delivered_at,
            until=until,
            cal=cal,
            policy=policy,
            memo=memo,
        )
    candidates += intent_candidates(facts, until=until, cal=cal, policy=policy)
    candidates += issue_follow_up_candidates(facts, cal=cal, policy=policy)
    return candidates
