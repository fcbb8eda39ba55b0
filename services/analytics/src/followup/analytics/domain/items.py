"""Each visit's and issue's contributions to the KPIs, one `Item` per measured thing, with its
group under every grouping: what the incremental aggregates store and sum (SPEC §5).

An item is what one KPI function of `visits` / `issues` counts for one entity, known at
`as_of`, with the cohort instant the period is compared with (`at`). Summing the items of a
period per group gives what those functions give; the pure fold stays the oracle
(tests/integration/test_aggregates_match_fold.py).

The items depend on `as_of` only through comparisons `x <= as_of` with the instants of
`settled_at`: for any `as_of` at or after it, the items are those computed at `FOREVER`
(the on-time rate's `deadline < as_of` is the reader's filter). Before it, the entity is
"unsettled" and its items are computed afresh at the asked `as_of`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from followup.analytics.domain.churn import churn_signals
from followup.analytics.domain.groups import Attribution, Grouping, GroupKey, group_key
from followup.analytics.domain.issues import (
    REPAIR_CATEGORIES,
    Clock,
    attribution,
    clock_end,
    first_assignment,
    is_resolved,
    paused_between,
    resolutions_by,
)
from followup.analytics.domain.model import Facts, IssueFacts, VisitFacts
from followup.analytics.domain.period import Period
from followup.analytics.domain.visits import (
    SATISFIED_FROM,
    completion,
    deadline_in_force,
    first_due,
    is_on_time,
    visit_agent,
)

# The instant after every fact: items "as of" it are those of everything known.
FOREVER = datetime(9999, 12, 31, tzinfo=UTC)
ALWAYS = Period(datetime(1, 1, 2, tzinfo=UTC), FOREVER)
# The groupings an item carries a key for, in `Item.keys` order ("all" needs none).
GROUPINGS: tuple[Grouping, ...] = ("month", "tier", "agent", "department", "category", "region")
CLOCKS: tuple[Clock, ...] = ("handover", "first_response", "resolution")


@dataclass(frozen=True, slots=True)
class Item:
    """One measured thing: a hit or miss (`hit`) or a duration, in the cohort of `at`.

    `detail` is the spot check's result (its order among a visit's checks) or the raised
    issue's severity."""

    kpi: str
    at: datetime
    keys: tuple[GroupKey, ...]
    hit: bool | None = None
    duration: timedelta | None = None
    detail: str | None = None


def _keys(facts: Facts, customer_id: str, who: Attribution) -> tuple[GroupKey, ...]:
    return tuple(group_key(facts, customer_id, who, g) for g in GROUPINGS)


def _issue_keys(facts: Facts, issue: IssueFacts, t: datetime) -> tuple[GroupKey, ...]:
    """Owner at `t`, but month, tier and region of the raise (issues._issue_key)."""
    raised = issue.raised
    assert raised is not None
    return _cohort_keys(facts, issue, attribution(issue, t))


def _cohort_keys(facts: Facts, issue: IssueFacts, who: Attribution) -> tuple[GroupKey, ...]:
    raised = issue.raised
    assert raised is not None
    at_raise = replace(who, at=raised.raised_at)
    return tuple(
        group_key(
            facts, issue.customer_id, at_raise if g in ("month", "tier", "region") else who, g
        )
        for g in GROUPINGS
    )


def visit_items(facts: Facts, visit: VisitFacts, as_of: datetime) -> list[Item]:
    """The visit's satisfaction, response time, on-time and spot-check items at `as_of`."""
    items: list[Item] = []
    due = first_due(visit)
    done = completion(visit, as_of)
    if due is not None and done is not None:
        keys = _keys(facts, visit.customer_id, Attribution(due.due_at, agent_id=done.agent_id))
        if done.satisfaction is not None:
            items.append(
                Item("satisfaction", due.due_at, keys, done.satisfaction >= SATISFIED_FROM)
            )
        items.append(Item("response", due.due_at, keys, duration=done.logged_at - due.due_at))
    deadline = deadline_in_force(visit, as_of)
    if deadline is not None:
        who = Attribution(deadline, agent_id=visit_agent(visit, as_of))
        keys = _keys(facts, visit.customer_id, who)
        items.append(Item("on_time", deadline, keys, is_on_time(visit, as_of)))
    for check in visit.checks:
        if check.checked_at <= as_of:
            who = Attribution(check.checked_at, agent_id=check.agent_id)
            keys = _keys(facts, visit.customer_id, who)
            hit = check.result == "verified"
            items.append(Item("check", check.checked_at, keys, hit, detail=check.result))
    return items


def _sla_item(facts: Facts, issue: IssueFacts, clock: Clock, as_of: datetime) -> Item | None:
    raised = issue.raised
    assert raised is not None
    breach = next(
        (b for b in issue.breaches if b.clock == clock and b.round == 1 and b.deadline <= as_of),
        None,
    )
    kpi = f"sla_{clock}"
    if breach is not None:
        who = Attribution(
            breach.deadline, breach.owner_id, breach.department, raised.category, raised.timezone
        )
        return Item(kpi, raised.raised_at, _cohort_keys(facts, issue, who), False)
    end = clock_end(issue, clock, as_of)
    if end is None:
        return None
    ended_at, deadline = end
    return Item(kpi, raised.raised_at, _issue_keys(facts, issue, ended_at), ended_at <= deadline)


def issue_items(
    facts: Facts, issue: IssueFacts, follow_ups: Sequence[VisitFacts], as_of: datetime
) -> list[Item]:
    """The issue's items at `as_of`: times, SLA per clock, resolution, closure, return visits,
    its raise (category and severity) and its breaches (most breaches)."""
    items = [
        Item("breach", b.deadline, (None, None, b.owner_id, b.department, None, None))
        for b in issue.breaches
        if b.deadline <= as_of
    ]
    raised = issue.raised
    if raised is None or raised.raised_at > as_of:
        return items
    at = raised.raised_at
    no_keys = (None,) * len(GROUPINGS)
    items.append(Item("raised", at, (*no_keys[:4], raised.category, None), detail=raised.severity))
    first = first_assignment(issue, as_of)
    if first is not None:
        keys = _issue_keys(facts, issue, first.assigned_at)
        items.append(Item("handover", at, keys, duration=first.assigned_at - at))
    resolved = is_resolved(issue, as_of)
    resolutions = resolutions_by(issue, as_of)
    if resolved and resolutions:
        last = resolutions[-1]
        taken = last.resolved_at - at - paused_between(issue, at, last.resolved_at)
        items.append(
            Item("resolution_time", at, _issue_keys(facts, issue, last.resolved_at), duration=taken)
        )
    for clock in CLOCKS:
        if (sla := _sla_item(facts, issue, clock, as_of)) is not None:
            items.append(sla)
    resolved_at = resolutions[-1].resolved_at if resolved and resolutions else as_of
    items.append(Item("resolution", at, _issue_keys(facts, issue, resolved_at), resolved))
    closed = [c for c in issue.closes if c <= as_of]
    closed_at = min(closed) if closed else as_of
    items.append(Item("closure", at, _issue_keys(facts, issue, closed_at), bool(closed)))
    if resolutions and (raised.category == "complaint" or raised.category in REPAIR_CATEGORIES):
        kpi = "return_complaint" if raised.category == "complaint" else "return_repair"
        visited = any(completion(v, as_of) is not None for v in follow_ups)
        keys = _issue_keys(facts, issue, resolutions[0].resolved_at)
        items.append(Item(kpi, at, keys, visited))
    return items


def visit_settled_at(visit: VisitFacts) -> datetime | None:
    """The last instant the visit's items compare `as_of` with (None: none)."""
    instants = [log.logged_at for log in visit.logs]
    instants += [c.checked_at for c in visit.checks]
    instants += [m.recomputed_at for m in visit.moves]
    return max(instants, default=None)


def issue_settled_at(issue: IssueFacts, follow_ups: Iterable[VisitFacts]) -> datetime | None:
    """The last instant the issue's items compare `as_of` with, its follow-ups' included."""
    instants = [r.raised_at for r in issue.raises]
    instants += [a.assigned_at for a in issue.assignments]
    instants += [r.resolved_at for r in issue.resolutions]
    instants += [*issue.reopens, *issue.closes]
    instants += [b.deadline for b in issue.breaches]
    for visit in follow_ups:
        instants += [log.logged_at for log in visit.logs]
        instants += [c.checked_at for c in visit.checks]
    return max(instants, default=None)


def customer_settled_at(facts: Facts) -> datetime | None:
    """The last instant the churn rules compare `as_of` with, over the facts (one customer's)."""
    instants: list[datetime] = []
    for visit in facts.visits.values():
        instants += [log.logged_at for log in visit.logs]
        instants += [c.checked_at for c in visit.checks]
    for issue in facts.issues.values():
        instants += [r.raised_at for r in issue.raises]
        instants += [b.deadline for b in issue.breaches]
    return max(instants, default=None)


def signals_forever(facts: Facts) -> list[tuple[str, str, datetime, tuple[str, ...]]]:
    """Every churn signal of the facts, known at FOREVER: (customer, rule, at, evidence).

    For an `as_of` at or after the customer's `customer_settled_at`, the signals then are
    those of these fired at or before `as_of`."""
    return [
        (s.customer_id, s.rule, s.at, s.evidence) for s in churn_signals(facts, ALWAYS, FOREVER)
    ]
