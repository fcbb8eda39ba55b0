"""Issue KPIs (SPEC §5): handover / first-response / resolution times, SLA met rates per clock,
resolution, closure and complaint / repair return-visit rates."""

from __future__ import annotations

from datetime import timedelta

from analytics_builders import (
    APRIL_10,
    MARCH,
    assigned,
    at,
    breached,
    closed,
    delivered,
    due,
    logged,
    paused,
    raised,
    reopened,
    resolved,
    resumed,
)

from followup.analytics.domain.issues import (
    CLOSURE_TARGET,
    closure_rate,
    first_response_time,
    handover_time,
    resolution_rate,
    resolution_time,
    return_visit_rate,
    sla_met_rate,
)
from followup.analytics.domain.model import fold
from followup.analytics.domain.period import Percentiles, Period, Ratio
from followup.analytics.domain.report import most_breaches, top_problem_categories
from followup.events import VisitDue


def test_handover_and_first_response_time_run_from_raise_to_first_assignment() -> None:
    facts = fold(
        [
            raised("I-1", at(3, 2, 9)),
            assigned("I-1", at(3, 2, 11)),  # 2 h
            assigned("I-1", at(3, 5, 9), assignee_id="A-2"),  # a reassignment: not a handover
            raised("I-2", at(3, 3, 9)),
            assigned("I-2", at(3, 3, 15)),  # 6 h
            raised("I-3", at(3, 4, 9)),  # never assigned
            raised("I-4", at(2, 27, 9)),  # February's cohort
            assigned("I-4", at(3, 2, 9)),
        ]
    )
    assert handover_time(facts, MARCH, APRIL_10) == {"all": Percentiles(2, 2.0, 6.0)}
    assert first_response_time(facts, MARCH, APRIL_10) == {"all": Percentiles(2, 2.0, 6.0)}
    # Credit goes to who took the issue first, whatever happened later.
    assert set(handover_time(facts, MARCH, APRIL_10, "agent")) == {"A-1"}


def test_resolution_time_is_to_the_last_resolution_less_wall_clock_paused_time() -> None:
    facts = fold(
        [
            raised("I-1", at(3, 2, 9)),
            # Paused 12:00-13:00 and 12:30-13:30: 1.5 h paused, overlaps once.
            paused("I-1", 1, at(3, 2, 12)),
            paused("I-1", 2, at(3, 2, 12, 30)),
            resumed("I-1", 1, at(3, 2, 13)),
            resumed("I-1", 2, at(3, 2, 13, 30)),
            # Paused again from 03-03 08:00 and resolved while paused: 1 h more.
            paused("I-1", 3, at(3, 3, 8)),
            resolved("I-1", at(3, 3, 9), at(3, 5, 23, 59), paused_seconds=5400),  # 21.5 h
            raised("I-2", at(3, 2, 9)),
            resolved("I-2", at(3, 2, 19), at(3, 5, 23, 59)),
            reopened("I-2", at(3, 4, 9), at(3, 9, 23, 59)),
            resolved("I-2", at(3, 6, 9), at(3, 9, 23, 59)),  # 96 h to the last resolution
            raised("I-3", at(3, 2, 9)),
            resolved("I-3", at(3, 2, 12), at(3, 5, 23, 59)),
            reopened("I-3", at(3, 3, 9), at(3, 8, 23, 59)),  # reopened, not resolved again
        ]
    )
    assert resolution_time(facts, MARCH, APRIL_10) == {"all": Percentiles(2, 21.5, 96.0)}


def test_sla_met_rate_per_clock_over_ended_or_breached() -> None:
    facts = fold(
        [
            # handover_by 03-03 23:59:59; respond_by 03-03 09:00; resolve_by 03-05 23:59:59
            raised("I-1", at(3, 2, 9)),
            assigned("I-1", at(3, 2, 10)),
            resolved("I-1", at(3, 4, 9), at(3, 5, 23, 59)),
            raised("I-2", at(3, 2, 9)),
            assigned("I-2", at(3, 3, 12)),  # handover met, first response late
            breached("I-2", "first_response", at(3, 3, 9)),
            raised("I-3", at(3, 2, 9)),  # nothing yet: handover breached, others running
            breached("I-3", "handover", at(3, 3, 23, 59)),
        ]
    )
    assert sla_met_rate(facts, "handover", MARCH, APRIL_10)["all"] == Ratio(2, 3)
    assert sla_met_rate(facts, "first_response", MARCH, APRIL_10)["all"] == Ratio(1, 2)
    assert sla_met_rate(facts, "resolution", MARCH, APRIL_10)["all"] == Ratio(1, 1)
    # Before any clock ended or breached: nothing to judge.
    assert sla_met_rate(facts, "resolution", MARCH, at(3, 2, 9, 30)) == {}


def test_a_reopen_keeps_the_first_resolution_result() -> None:
    facts = fold(
        [
            raised("I-1", at(3, 2, 9)),
            resolved("I-1", at(3, 4, 9), at(3, 5, 23, 59)),  # met
            reopened("I-1", at(3, 6, 9), at(3, 11, 23, 59)),
            breached("I-1", "resolution", at(3, 11, 23, 59), round_=2),  # round 2 breached
        ]
    )
    assert sla_met_rate(facts, "resolution", MARCH, APRIL_10)["all"] == Ratio(1, 1)
    assert resolution_rate(facts, MARCH, APRIL_10)["all"] == Ratio(0, 1)


def test_a_breach_is_credited_to_the_department_and_owner_in_charge_then() -> None:
    facts = fold(
        [
            raised("I-1", at(3, 2, 9), category="technical"),
            breached("I-1", "handover", at(3, 3, 23, 59), department="technical", owner_id=None),
            # Later taken over by another department: the breach stays with technical.
            assigned("I-1", at(3, 6, 9), assignee_id="A-9", department="after_sales"),
        ]
    )
    assert sla_met_rate(facts, "handover", MARCH, APRIL_10, "department") == {
        "technical": Ratio(0, 1)
    }
    assert sla_met_rate(facts, "first_response", MARCH, APRIL_10, "department") == {
        "after_sales": Ratio(0, 1)  # ended 03-06, two days past respond_by, breach not yet seen
    }


def test_resolution_and_closure_rates_over_raised_issues_of_the_period() -> None:
    facts = fold(
        [
            raised("I-1", at(3, 2, 9)),
            resolved("I-1", at(3, 3, 9), at(3, 5, 23, 59)),
            closed("I-1", at(3, 4, 9)),
            raised("I-2", at(3, 10, 9)),
            resolved("I-2", at(3, 11, 9), at(3, 13, 23, 59)),
            raised("I-3", at(3, 20, 9)),
            raised("I-4", at(4, 1, 0)),  # April's cohort: the period is half-open
        ]
    )
    assert resolution_rate(facts, MARCH, APRIL_10)["all"] == Ratio(2, 3)
    closure = closure_rate(facts, MARCH, APRIL_10)["all"]
    assert closure == Ratio(1, 3)
    assert closure.meets(CLOSURE_TARGET) is False
    assert closure_rate(facts, Period(at(3, 1, 0), at(3, 3, 0)), APRIL_10)["all"].meets(
        CLOSURE_TARGET
    )


def test_issue_rates_grouped_by_category_and_department() -> None:
    facts = fold(
        [
            raised("I-1", at(3, 2, 9), category="complaint"),
            resolved("I-1", at(3, 3, 9), at(3, 5, 23, 59)),
            raised("I-2", at(3, 2, 9), category="fault"),
        ]
    )
    assert resolution_rate(facts, MARCH, APRIL_10, "category") == {
        "complaint": Ratio(1, 1),
        "fault": Ratio(0, 1),
    }
    assert resolution_rate(facts, MARCH, APRIL_10, "department") == {
        "customer_service": Ratio(1, 1),
        "after_sales": Ratio(0, 1),
    }


def test_complaint_and_repair_return_visit_rates() -> None:
    def follow_up(visit_id: str, issue_id: str, day: int) -> VisitDue:
        return due(
            visit_id,
            at(3, day),
            at(3, day + 1, 23, 59),
            kinds=("issue_follow_up",),
            issue_id=issue_id,
        )

    facts = fold(
        [
            delivered("C-1"),
            raised("I-1", at(3, 2, 9), category="complaint"),
            resolved("I-1", at(3, 3, 9), at(3, 5, 23, 59)),
            follow_up("V-1", "I-1", 3),
            logged("V-1", at(3, 4, 10)),
            raised("I-2", at(3, 2, 9), category="complaint"),
            resolved("I-2", at(3, 3, 9), at(3, 5, 23, 59)),
            follow_up("V-2", "I-2", 3),
            logged("V-2", at(3, 4, 10), outcome="unreachable"),
            raised("I-3", at(3, 2, 9), category="complaint"),  # not resolved: not counted
            raised("I-4", at(3, 2, 9), category="maintenance"),
            resolved("I-4", at(3, 3, 9), at(3, 5, 23, 59)),
            follow_up("V-4", "I-4", 3),
            logged("V-4", at(3, 4, 10)),
            raised("I-5", at(3, 2, 9), category="technical"),  # neither
            resolved("I-5", at(3, 3, 9), at(3, 5, 23, 59)),
        ]
    )
    assert return_visit_rate(facts, "complaint", MARCH, APRIL_10)["all"] == Ratio(1, 2)
    assert return_visit_rate(facts, "repair", MARCH, APRIL_10)["all"] == Ratio(1, 1)
    assert return_visit_rate(facts, "repair", MARCH, at(3, 4, 9))["all"] == Ratio(0, 1)


def test_issue_month_is_the_raise_month_in_the_customers_zone() -> None:
    facts = fold([raised("I-1", at(3, 1, 2)), assigned("I-1", at(3, 1, 4))])
    assert handover_time(facts, MARCH, APRIL_10, "month") == {"2026-03": Percentiles(1, 2.0, 2.0)}
    assert handover_time(facts, MARCH, APRIL_10, "month")["2026-03"].p50_hours == (
        timedelta(hours=2).total_seconds() / 3600
    )


def test_report_lists_top_categories_and_who_breached_most() -> None:
    facts = fold(
        [
            raised("I-1", at(3, 2, 9), category="fault"),
            raised("I-2", at(3, 3, 9), category="fault"),
            raised("I-3", at(3, 4, 9), category="complaint"),
            raised("I-4", at(2, 4, 9), category="complaint"),  # February
            breached("I-1", "handover", at(3, 3, 23, 59), department="after_sales", owner_id=None),
            breached("I-1", "resolution", at(3, 5, 23, 59), owner_id="A-1"),
            breached("I-2", "resolution", at(3, 6, 23, 59), owner_id="A-2"),
            breached("I-3", "first_response", at(3, 5, 9), "customer_service", owner_id="A-2"),
            breached("I-4", "resolution", at(2, 7, 23, 59), owner_id="A-1"),  # February
        ]
    )
    assert top_problem_categories(facts, MARCH, APRIL_10) == [("fault", 2), ("complaint", 1)]
    assert most_breaches(facts, "agent", MARCH, APRIL_10) == [("A-2", 2), ("A-1", 1)]
    assert most_breaches(facts, "department", MARCH, APRIL_10) == [
        ("after_sales", 3),
        ("customer_service", 1),
    ]


def test_a_later_reassignment_does_not_move_the_credit() -> None:
    events = [
        raised("I-1", at(3, 2, 9)),
        assigned("I-1", at(3, 2, 10), assignee_id="A-1"),
        resolved("I-1", at(3, 3, 9), at(3, 5, 23, 59)),
        # Reassigned after the fix (a reopen is coming): A-1 keeps the resolution it made.
        assigned("I-1", at(3, 6, 9), assignee_id="A-2"),
    ]
    facts = fold(events)
    assert resolution_rate(facts, MARCH, APRIL_10, "agent") == {"A-1": Ratio(1, 1)}
    assert sla_met_rate(facts, "resolution", MARCH, APRIL_10, "agent") == {"A-1": Ratio(1, 1)}
    assert resolution_time(facts, MARCH, APRIL_10, "agent") == {"A-1": Percentiles(1, 24.0, 24.0)}
    # Reopened and still open at as_of: the open issue is now A-2's, the SLA result stays A-1's.
    reopened_facts = fold([*events, reopened("I-1", at(3, 7, 9), at(3, 10, 23, 59))])
    assert resolution_rate(reopened_facts, MARCH, APRIL_10, "agent") == {"A-2": Ratio(0, 1)}
    assert sla_met_rate(reopened_facts, "resolution", MARCH, APRIL_10, "agent") == {
        "A-1": Ratio(1, 1)
    }
