"""Visit KPIs (SPEC §5): satisfaction, on-time rate, response time, spot-check pass rate.

Visits count by first due time (satisfaction, response time); the on-time rate by the deadline
in force falling in the period before `as_of` (one not completed by then counts late); spot
checks by check time. A `not_verified` check takes away every completion logged before it.
"""

from __future__ import annotations

from datetime import datetime
from fractions import Fraction

from followup.analytics.domain.facts import (
    CheckFact,
    DueFact,
    LogFact,
    check_order,
    due_order,
    log_order,
)
from followup.analytics.domain.groups import (
    Attribution,
    Grouping,
    GroupKey,
    group_key,
    tally_percentiles,
    tally_ratios,
)
from followup.analytics.domain.model import Facts, VisitFacts
from followup.analytics.domain.period import Percentiles, Period, Ratio

SATISFACTION_TARGET = Fraction(98, 100)
SATISFIED_FROM = 4  # satisfaction >= 4 counts as satisfied (SPEC §5)


def first_due(visit: VisitFacts) -> DueFact | None:
    """The first attempt known: its due time starts the visit's cohort."""
    if len(visit.dues) == 1:
        return next(iter(visit.dues))
    return min(visit.dues, key=due_order, default=None)


def failed_checks(visit: VisitFacts, as_of: datetime) -> list[CheckFact]:
    """The not_verified spot checks known at `as_of`, oldest first."""
    failed = [c for c in visit.checks if c.result == "not_verified" and c.checked_at <= as_of]
    return sorted(failed, key=check_order)


def completion(visit: VisitFacts, as_of: datetime) -> LogFact | None:
    """The completed log in force at `as_of`: a failed spot check takes away those before it."""
    failed = failed_checks(visit, as_of) if visit.checks else None
    after = failed[-1].checked_at if failed else None
    # min by log_order, written out: every visit KPI asks this of every visit.
    best: LogFact | None = None
    for log in visit.logs:
        if (
            log.outcome == "completed"
            and log.logged_at <= as_of
            and (after is None or log.logged_at > after)
            and (best is None or log_order(log) < log_order(best))
        ):
            best = log
    return best


def due_in_force(visit: VisitFacts, as_of: datetime) -> DueFact | None:
    """The latest attempt, unless the visit was completed before that attempt was due: a retry
    planned after an `unreachable` that a completion then overtook never ran (as visits does)."""
    done = completion(visit, as_of)
    for due in sorted(visit.dues, key=due_order, reverse=True):
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
    return tally_ratios(items)


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
    return tally_ratios(items)


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
    return tally_percentiles(items)


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
        latest = max(checks, key=check_order)
        who = Attribution(latest.checked_at, agent_id=latest.agent_id)
        key = group_key(facts, visit.customer_id, who, grouping)
        items.append((key, latest.result == "verified"))
    return tally_ratios(items)
