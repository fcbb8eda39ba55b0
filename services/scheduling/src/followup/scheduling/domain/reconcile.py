"""The stored plan made equal to the policy's, and open deadlines recomputed when official
calendar data is loaded later (SPEC §2)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from followup.calendar import BusinessCalendar, end_of_working_days
from followup.scheduling.domain.candidates import Candidate
from followup.scheduling.domain.plan import PlannedVisit, merged_deadline, retry_deadline
from followup.scheduling.domain.policy import DEFAULT_POLICY, Policy


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


def same_plan(a: PlannedVisit, b: PlannedVisit) -> bool:
    """Whether a re-plan leaves the stored visit `a` as it is (its due time never moves)."""
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
        elif s.status == "planned" and s.visit.attempt == 1 and not same_plan(s.visit, v):
            changes.update.append(v)
    changes.delete = [
        vid for vid, s in by_id.items() if s.status == "planned" and vid not in wanted
    ]
    return changes


def advance(
    stored: Iterable[StoredVisit], changes: PlanChanges, now: datetime
) -> list[StoredVisit]:
    """The stored plan once `changes` are written and the due sweep has published what is
    due by `now` (planned visits due by then become `due`)."""
    by_id = {s.visit.visit_id: s for s in stored}
    for vid in changes.delete:
        del by_id[vid]
    for v in (*changes.update, *changes.insert):
        by_id[v.visit_id] = StoredVisit(v, "planned")
    return [
        StoredVisit(s.visit, "due") if s.status == "planned" and s.visit.due_at <= now else s
        for s in by_id.values()
    ]


def changes_between(stored: Iterable[StoredVisit], later: Iterable[StoredVisit]) -> PlanChanges:
    """The inserts, updates and deletes that turn the stored plan into `later` (statuses are
    the due sweep's: a visit `due` in `later` and planned in the store is published by it)."""
    before = {s.visit.visit_id: s.visit for s in stored}
    changes = PlanChanges()
    kept: set[str] = set()
    for s in later:
        vid = s.visit.visit_id
        kept.add(vid)
        old = before.get(vid)
        if old is None:
            changes.insert.append(s.visit)
        elif not same_plan(old, s.visit):
            changes.update.append(s.visit)
    changes.delete = [vid for vid in before if vid not in kept]
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

    Its components' deadlines as the rules now count them, merged as a merge does
    (plan.merged_deadline); a retry's counted again from its due time, never earlier than the
    merged deadline of the visit it retries. Due times never move. None when a component is no
    longer derivable from the facts (the stored deadline then stands; a retry then keeps only
    its own count).
    """
    found = [components[k] for k in visit.sources if k in components]
    merged = None
    if found and len(found) == len(visit.sources):
        merged = merged_deadline(found, policy.merge_protected_kinds)
    if visit.attempt > 1:
        tz = ZoneInfo(timezone)
        if merged is None:
            d = end_of_working_days(visit.due_at, policy.retry_working_days, tz, cal)
            return d.at, d.provisional
        return retry_deadline(visit.due_at, *merged, tz, cal, policy.retry_working_days)
    return merged


def changed_calendar_years(stored: Mapping[int, str], current: Mapping[int, str]) -> set[int]:
    """Years made official, corrected or dropped since the stored deadlines were counted."""
    return {y for y in set(stored) | set(current) if stored.get(y) != current.get(y)}
