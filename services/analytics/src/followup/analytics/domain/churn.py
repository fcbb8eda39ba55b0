"""Churn risk (SPEC §5): each rule fires at an instant and is reported in the period holding it.

- two standing, scored completions in a row scored <= 2 (unscored ones are skipped);
- three unreachable logs in a row (any other outcome breaks the run);
- two complaints (category or source) raised within 90 days;
- an SLA breach whose deadline fell while the customer's tier was gold.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from followup.analytics.domain.facts import LogFact, log_order
from followup.analytics.domain.groups import profile_at
from followup.analytics.domain.model import Facts, IssueFacts
from followup.analytics.domain.period import Period
from followup.analytics.domain.visits import completion

DISSATISFIED_UP_TO = 2  # satisfaction <= 2 is a dissatisfied visit for churn risk
COMPLAINT_WINDOW = timedelta(days=90)
ChurnRule = Literal[
    "dissatisfied_twice", "unreachable_thrice", "complaints_within_90_days", "gold_sla_breach"
]


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
        logs.sort(key=lambda lv: (lv[0].logged_at, lv[1], log_order(lv[0])))
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
