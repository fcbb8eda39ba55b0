"""The fold commutes: topics are read in any interleaving on replay (SPEC §1), and redelivered
events arrive twice, so the same events in any order, with duplicates, give equal facts."""

from __future__ import annotations

from datetime import timedelta

from analytics_builders import (
    assigned,
    at,
    breached,
    checked,
    closed,
    delivered,
    due,
    logged,
    moved,
    raised,
    reopened,
    resolved,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from followup.analytics.domain import (
    AnalyticsEvent,
    Facts,
    Period,
    churn_signals,
    fold,
    on_time_rate,
    resolution_rate,
    sla_met_rate,
)

HISTORY: list[AnalyticsEvent] = [
    delivered("C-1", at(1, 5), tier="silver"),
    delivered("C-1", at(3, 10), tier="gold", order_id="O-2"),
    due("V-1", at(3, 2), at(3, 9, 23, 59)),
    logged("V-1", at(3, 2, 10), outcome="unreachable"),
    due("V-1", at(3, 3), at(3, 4, 23, 59), kinds=("retry",), attempt=2, agent_id="A-2"),
    moved("V-1", at(3, 6, 23, 59), at(3, 3, 12)),
    logged("V-1", at(3, 5, 10), agent_id="A-2", satisfaction=2),
    checked("V-1", at(3, 8), "not_verified", agent_id="A-2"),
    logged("V-1", at(3, 9), agent_id="A-1", satisfaction=1),
    raised("I-1", at(3, 2, 9), category="complaint"),
    assigned("I-1", at(3, 2, 12), department="customer_service"),
    assigned("I-1", at(3, 4, 12), assignee_id="A-3", department="customer_service"),
    resolved("I-1", at(3, 5, 9), at(3, 5, 23, 59)),
    reopened("I-1", at(3, 7, 9), at(3, 10, 23, 59)),
    breached("I-1", "resolution", at(3, 10, 23, 59), department="customer_service", round_=2),
    resolved("I-1", at(3, 12, 9), at(3, 10, 23, 59), paused_seconds=600),
    due("V-2", at(3, 13), at(3, 14, 23, 59), kinds=("issue_follow_up",), issue_id="I-1"),
    logged("V-2", at(3, 13, 15), satisfaction=5),
    closed("I-1", at(3, 13, 16), visit_id="V-2"),
    raised("I-2", at(3, 20, 9), category="complaint", source="complaint"),
    breached("I-2", "handover", at(3, 21, 23, 59), department="customer_service", owner_id=None),
]
MARCH = Period(at(3, 1, 0), at(4, 1, 0))


def summary(facts: Facts) -> tuple[object, ...]:
    as_of = at(4, 10)
    return (
        on_time_rate(facts, MARCH, as_of, "agent"),
        resolution_rate(facts, MARCH, as_of, "department"),
        sla_met_rate(facts, "resolution", MARCH, as_of),
        churn_signals(facts, MARCH, as_of),
    )


@settings(max_examples=200, deadline=timedelta(seconds=2))
@given(
    order=st.permutations(HISTORY),
    repeats=st.lists(st.sampled_from(HISTORY), max_size=6),
)
def test_any_order_with_redeliveries_folds_to_the_same_facts(
    order: list[AnalyticsEvent], repeats: list[AnalyticsEvent]
) -> None:
    expected = fold(HISTORY)
    shuffled = fold([*order, *repeats])
    assert shuffled == expected
    assert summary(shuffled) == summary(expected)


def test_the_reference_history_says_something() -> None:
    # Guards the property test against a history where every KPI is empty.
    on_time, resolution, sla, churn = summary(fold(HISTORY))
    assert on_time  # V-1 is judged (late: a failed spot check)
    assert resolution and sla
    assert {s.rule for s in churn} >= {"gold_sla_breach", "complaints_within_90_days"}  # type: ignore[attr-defined]
