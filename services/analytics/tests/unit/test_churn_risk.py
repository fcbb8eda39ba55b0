"""Churn-risk rules (SPEC §5), each fired at a concrete instant and reported for the period."""

from __future__ import annotations

from analytics_builders import (
    APRIL_10,
    MARCH,
    at,
    breached,
    checked,
    delivered,
    due,
    logged,
    raised,
)

from followup.analytics.domain.churn import churn_signals, customers_at_risk
from followup.analytics.domain.model import fold
from followup.analytics.domain.period import Period


def test_two_dissatisfied_visits_in_a_row() -> None:
    facts = fold(
        [
            due("V-1", at(3, 2), at(3, 9, 23, 59)),
            logged("V-1", at(3, 3), satisfaction=2),
            due("V-2", at(3, 10), at(3, 17, 23, 59)),
            logged("V-2", at(3, 11), satisfaction=1),
        ]
    )
    [signal] = churn_signals(facts, MARCH, APRIL_10)
    assert (signal.customer_id, signal.rule, signal.at) == ("C-1", "dissatisfied_twice", at(3, 11))
    assert signal.evidence == ("V-1", "V-2")


def test_a_satisfied_visit_between_breaks_the_dissatisfied_run() -> None:
    facts = fold(
        [
            due("V-1", at(3, 2), at(3, 9, 23, 59)),
            logged("V-1", at(3, 3), satisfaction=2),
            due("V-2", at(3, 5), at(3, 12, 23, 59)),
            logged("V-2", at(3, 6), satisfaction=3),
            due("V-3", at(3, 10), at(3, 17, 23, 59)),
            logged("V-3", at(3, 11), satisfaction=1),
        ]
    )
    assert churn_signals(facts, MARCH, APRIL_10) == []


def test_a_dissatisfied_completion_taken_away_by_a_spot_check_does_not_count() -> None:
    events = [
        due("V-1", at(3, 2), at(3, 9, 23, 59)),
        logged("V-1", at(3, 3), satisfaction=1),
        due("V-2", at(3, 10), at(3, 17, 23, 59)),
        logged("V-2", at(3, 11), satisfaction=2),
    ]
    assert customers_at_risk(fold(events), MARCH, APRIL_10) == {"C-1": {"dissatisfied_twice"}}
    failed = [*events, checked("V-1", at(3, 12), "not_verified")]
    assert customers_at_risk(fold(failed), MARCH, APRIL_10) == {}


def test_three_unreachable_attempts_in_a_row() -> None:
    unreachable = [
        due("V-1", at(3, 2), at(3, 9, 23, 59)),
        logged("V-1", at(3, 2, 10), outcome="unreachable"),
        due("V-1", at(3, 3), at(3, 4, 23, 59), kinds=("retry",), attempt=2),
        logged("V-1", at(3, 3, 10), outcome="unreachable"),
    ]
    assert churn_signals(fold(unreachable), MARCH, APRIL_10) == []
    third = [
        *unreachable,
        due("V-1", at(3, 4), at(3, 5, 23, 59), kinds=("retry",), attempt=3),
        logged("V-1", at(3, 4, 10), outcome="unreachable"),
    ]
    [signal] = churn_signals(fold(third), MARCH, APRIL_10)
    assert (signal.rule, signal.at) == ("unreachable_thrice", at(3, 4, 10))
    # A reached contact in between breaks the run.
    broken = [*unreachable[:2], logged("V-1", at(3, 2, 12), outcome="declined"), *third[2:]]
    assert churn_signals(fold(broken), MARCH, APRIL_10) == []


def test_two_complaints_within_90_days() -> None:
    facts = fold(
        [
            raised("I-1", at(1, 5), category="complaint"),
            raised("I-2", at(3, 20), category="complaint", source="complaint"),  # 74 days later
            raised("I-3", at(3, 21), category="fault"),  # not a complaint
            raised("I-9", at(1, 5), customer_id="C-2", category="complaint"),
            raised("I-10", at(4, 6), customer_id="C-2", source="complaint", category="service"),
        ]
    )
    [signal] = churn_signals(facts, MARCH, APRIL_10)
    assert (signal.customer_id, signal.rule, signal.evidence) == (
        "C-1",
        "complaints_within_90_days",
        ("I-1", "I-2"),
    )
    # C-2's complaints are 91 days apart: no risk in April either.
    assert churn_signals(facts, Period(at(4, 1, 0), at(5, 1, 0)), at(5, 1)) == []


def test_a_breached_sla_while_gold() -> None:
    facts = fold(
        [
            delivered("C-1", at(1, 5), tier="silver"),
            delivered("C-1", at(3, 10), tier="gold", order_id="O-2"),
            raised("I-1", at(3, 2, 9)),
            breached("I-1", "handover", at(3, 3, 23, 59)),  # silver then: no risk
            raised("I-2", at(3, 12, 9)),
            breached("I-2", "first_response", at(3, 13, 9)),  # gold by then
        ]
    )
    [signal] = churn_signals(facts, MARCH, APRIL_10)
    assert (signal.rule, signal.at, signal.evidence) == ("gold_sla_breach", at(3, 13, 9), ("I-2",))


def test_signals_are_reported_for_the_period_they_fired_in() -> None:
    facts = fold(
        [
            due("V-1", at(2, 20), at(2, 27, 23, 59)),
            logged("V-1", at(2, 21), satisfaction=1),
            due("V-2", at(2, 25), at(3, 4, 23, 59)),
            logged("V-2", at(2, 28), satisfaction=2),
        ]
    )
    assert churn_signals(facts, MARCH, APRIL_10) == []
    february = Period(at(2, 1, 0), at(3, 1, 0))
    assert customers_at_risk(facts, february, APRIL_10) == {"C-1": {"dissatisfied_twice"}}
