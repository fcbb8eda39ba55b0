"""A customer's open plan: candidates merged into visits (SPEC §2), the rolling horizon, retries.

The whole plan is a function of the customer's facts and `now`, so the same facts in any
order of arrival give the same visits with the same ids; the store only reconciles what it
has with what this module says.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from zoneinfo import ZoneInfo

from followup.calendar import (
    BusinessCalendar,
    add_months_clamped,
    end_of_working_days,
    next_working_day_at,
)
from followup.events import derived_id
from followup.scheduling.domain.candidates import Candidate, all_candidates
from followup.scheduling.domain.model import CustomerFacts, first_fact_at
from followup.scheduling.domain.policy import DEFAULT_POLICY, KIND_RANK, RETRY, Policy
from followup.scheduling.domain.schedule import PlanMemo

# A value (`replace` makes a new one), not frozen for the cost of creating it (see Candidate).


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


def merge_candidates(
    customer_id: str, candidates: Iterable[Candidate], policy: Policy = DEFAULT_POLICY
) -> list[PlannedVisit]:
    """Visits due within 7 days of the group's first merge: earlier due, later deadline.

    Must equal `reference_plan.merge_candidates` (tests/unit/reference_plan.py).
    """
    rank, protected = KIND_RANK, policy.merge_protected_kinds
    if not isinstance(candidates, list):
        candidates = list(candidates)
    if len(candidates) == 1:  # one visit: nothing to order or merge
        return [_merge_group(customer_id, candidates, protected)]
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
    return [_merge_group(customer_id, g, protected) for g in groups]


def merged_deadline(
    group: Sequence[Candidate], protected: Collection[str]
) -> tuple[datetime, bool]:
    """A merged visit's deadline and its provisional flag: the later deadline, but never past
    the own deadline of a `protected` kind it carries (SPEC §2, amended 2026-12: a fix is
    confirmed within its working day and holiday care happens before the festival, merged or
    not)."""
    capped = [c for c in group if c.kind in protected]
    chosen = min(capped, key=_deadline) if capped else max(group, key=_deadline)
    return chosen.deadline, chosen.provisional


def _deadline(c: Candidate) -> datetime:
    return c.deadline


def _merge_group(
    customer_id: str, group: Sequence[Candidate], protected: Collection[str]
) -> PlannedVisit:
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
    kinds = tuple(sorted({c.kind for c in group}, key=KIND_RANK.__getitem__))
    deadline, provisional = merged_deadline(group, protected)
    return PlannedVisit(
        visit_id=visit_id_for(customer_id, anchor),
        customer_id=customer_id,
        order_id=next((c.order_id for c in group if c.order_id), None),
        kinds=kinds,
        due_at=anchor.due_at,
        deadline=deadline,
        deadline_provisional=provisional,
        reason="; ".join(dict.fromkeys(c.reason for c in group)),
        issue_id=next((c.issue_id for c in group if c.issue_id), None),
        sources=tuple(c.key for c in group),
        due_iso=anchor.due_iso,
    )


def horizon_end(
    facts: CustomerFacts, now: datetime, policy: Policy = DEFAULT_POLICY
) -> datetime | None:
    """How far ahead the plan reaches: 24 months past now (or past the first fact)."""
    first = first_fact_at(facts)
    if first is None:
        return None
    return add_months_clamped(max(now, first), policy.horizon_months, ZoneInfo(facts.timezone))


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
    memo: PlanMemo | None = None,
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

    Without `until` and `stored_until`, must equal `reference_plan.plan_customer`
    (tests/unit/reference_plan.py).
    """
    if until is None:
        until = horizon_end(facts, now, policy)
    candidates = all_candidates(facts, cal, until=until, policy=policy, memo=memo)
    open_ = [c for c in candidates if c.key not in fixed] if fixed else candidates
    if not open_:
        return []
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
    """After `unreachable`: 09:00 next working day, due by the end of the working day after,
    but never earlier than the deadline of the visit it retries (SPEC §2, amended 2026-12).

    None once the visit has had its 3 attempts.
    """
    if visit.attempt >= policy.max_attempts:
        return None
    tz = ZoneInfo(timezone)
    due = next_working_day_at(unreachable_at, policy.retry_at, tz, cal)
    deadline, provisional = retry_deadline(
        due, visit.deadline, visit.deadline_provisional, tz, cal, policy.retry_working_days
    )
    kinds = visit.kinds if RETRY in visit.kinds else (*visit.kinds, RETRY)
    return replace(
        visit,
        kinds=kinds,
        due_at=due,
        due_iso=due.isoformat(),
        deadline=deadline,
        deadline_provisional=provisional,
        attempt=visit.attempt + 1,
        reason=f"retry {visit.attempt + 1} of {policy.max_attempts} after unreachable",
    )


def retry_deadline(
    due: datetime,
    retried: datetime,
    retried_provisional: bool,
    tz: ZoneInfo,
    cal: BusinessCalendar,
    working_days: int = 1,
) -> tuple[datetime, bool]:
    """A retry due at `due`: the end of the working day after (or `working_days`), or the
    `retried` visit's deadline if later."""
    d = end_of_working_days(due, working_days, tz, cal)
    if retried > d.at:
        return retried, retried_provisional
    return d.at, d.provisional
