"""Visit KPIs (SPEC §5): satisfaction, on-time rate, response time, spot-check pass rate."""

from __future__ import annotations

from datetime import timedelta
from fractions import Fraction

from analytics_builders import APRIL_10, MARCH, at, checked, delivered, due, logged, moved

from followup.analytics.domain.model import AnalyticsEvent, fold
from followup.analytics.domain.period import Percentiles, Period, Ratio, nearest_rank
from followup.analytics.domain.visits import (
    SATISFACTION_TARGET,
    on_time_rate,
    satisfaction_rate,
    spot_check_pass_rate,
    visit_response_time,
)
from followup.events import VisitDue


def routine(visit_id: str, day: int, agent: str = "A-1", customer: str = "C-1") -> VisitDue:
    """A routine visit due at 09:00 on `day` of March, deadline 7 days later at 23:59:59."""
    due_at = at(3, day)
    deadline = (due_at + timedelta(days=7)).replace(hour=23, minute=59, second=59)
    return due(visit_id, due_at, deadline, customer_id=customer, agent_id=agent)


def test_satisfaction_rate_counts_scores_of_four_and_up_over_scored_completions() -> None:
    facts = fold(
        [
            routine("V-1", 2),
            logged("V-1", at(3, 4, 10), satisfaction=5),
            routine("V-2", 3),
            logged("V-2", at(3, 4, 11), satisfaction=4),
            routine("V-3", 5),
            logged("V-3", at(3, 6, 10), satisfaction=3),
            routine("V-4", 6),  # never completed: not in the denominator
            routine("V-5", 6),
            logged("V-5", at(3, 7), outcome="unreachable"),
        ]
    )
    rate = satisfaction_rate(facts, MARCH, APRIL_10)["all"]
    assert rate == Ratio(2, 3)
    assert rate.value == Fraction(2, 3)


def test_satisfaction_of_0_9796_misses_the_0_98_target_unrounded() -> None:
    # 48 of 49 = 0.97959...: shown as 98% when rounded, it still misses the target.
    events: list[AnalyticsEvent] = []
    for n in range(49):
        events += [
            routine(f"V-{n}", 2),
            logged(f"V-{n}", at(3, 3), satisfaction=2 if n == 0 else 5),
        ]
    rate = satisfaction_rate(fold(events), MARCH, APRIL_10)["all"]
    assert rate == Ratio(48, 49)
    assert round(float(rate.value or 0), 2) == 0.98
    assert rate.meets(SATISFACTION_TARGET) is False
    events += [routine("V-49", 2), logged("V-49", at(3, 3), satisfaction=4)]
    assert satisfaction_rate(fold(events), MARCH, APRIL_10)["all"].meets(SATISFACTION_TARGET)


def test_empty_denominator_gives_none_not_zero() -> None:
    facts = fold([routine("V-1", 2)])  # due, never completed
    assert satisfaction_rate(facts, MARCH, APRIL_10) == {}
    assert Ratio(0, 0).value is None
    assert Ratio(0, 0).meets(SATISFACTION_TARGET) is None
    assert visit_response_time(facts, MARCH, APRIL_10) == {}


def test_on_time_rate_cohorts_by_deadline_and_counts_an_open_visit_past_it_as_late() -> None:
    facts = fold(
        [
            # due 2026-03-02 09:00, deadline 03-09 23:59:59, completed 03-04: on time
            routine("V-1", 2),
            logged("V-1", at(3, 4, 15)),
            # deadline 03-10, completed 03-11: late
            routine("V-2", 3),
            logged("V-2", at(3, 11, 9)),
            # deadline 03-12, still open at the end of March: late
            routine("V-3", 5),
            # due 03-28, deadline 04-04: in April's cohort, not March's
            routine("V-4", 28),
            # due in February, deadline 03-03, completed on time: in March's cohort
            due("V-5", at(2, 24), at(3, 3, 23, 59)),
            logged("V-5", at(3, 3, 12)),
        ]
    )
    assert on_time_rate(facts, MARCH, APRIL_10)["all"] == Ratio(2, 4)


def test_a_deadline_still_ahead_of_as_of_is_not_judged_yet() -> None:
    facts = fold([routine("V-1", 20)])  # deadline 03-27 23:59:59
    assert on_time_rate(facts, MARCH, at(3, 25)) == {}
    assert on_time_rate(facts, MARCH, at(3, 28))["all"] == Ratio(0, 1)


def test_a_moved_deadline_decides_on_time() -> None:
    facts = fold(
        [
            routine("V-1", 2),  # deadline 03-09
            moved("V-1", at(3, 12, 23, 59), at(3, 5)),
            logged("V-1", at(3, 11)),
        ]
    )
    assert on_time_rate(facts, MARCH, APRIL_10)["all"] == Ratio(1, 1)


def test_a_failed_spot_check_removes_the_completion_and_it_never_counts_on_time() -> None:
    events = [
        routine("V-1", 2, agent="A-1"),
        logged("V-1", at(3, 4), agent_id="A-1", satisfaction=5),
        checked("V-1", at(3, 6), "not_verified", agent_id="A-1"),
    ]
    facts = fold(events)
    assert on_time_rate(facts, MARCH, APRIL_10, "agent") == {"A-1": Ratio(0, 1)}
    assert satisfaction_rate(facts, MARCH, APRIL_10) == {}
    # Before the check was made, the completion stood.
    assert on_time_rate(facts, MARCH, at(3, 5, 23)) == {}
    assert satisfaction_rate(facts, MARCH, at(3, 5))["all"] == Ratio(1, 1)
    # Completed again within the deadline: done, but still not on time.
    again = fold([*events, logged("V-1", at(3, 7), agent_id="A-2", satisfaction=4)])
    assert on_time_rate(again, MARCH, APRIL_10, "agent") == {"A-2": Ratio(0, 1)}
    assert satisfaction_rate(again, MARCH, APRIL_10, "agent") == {"A-2": Ratio(1, 1)}


def test_a_verified_spot_check_keeps_the_completion() -> None:
    facts = fold([routine("V-1", 2), logged("V-1", at(3, 4)), checked("V-1", at(3, 6), "verified")])
    assert on_time_rate(facts, MARCH, APRIL_10)["all"] == Ratio(1, 1)


def test_on_time_credit_stays_with_the_agent_who_completed_it() -> None:
    # Attempt 1 queued for A-1, who logged it unreachable; the retry went to A-2, who completed it.
    facts = fold(
        [
            routine("V-1", 2, agent="A-1"),
            logged("V-1", at(3, 3), agent_id="A-1", outcome="unreachable"),
            due("V-1", at(3, 4), at(3, 9, 23, 59), agent_id="A-2", kinds=("retry",), attempt=2),
            logged("V-1", at(3, 4, 10), agent_id="A-2"),
            routine("V-2", 2, agent="A-1"),
            logged("V-2", at(3, 3), agent_id="A-1"),
        ]
    )
    assert on_time_rate(facts, MARCH, APRIL_10, "agent") == {
        "A-2": Ratio(1, 1),
        "A-1": Ratio(1, 1),
    }


def test_visit_response_time_is_completion_minus_first_due_in_nearest_rank_hours() -> None:
    events: list[AnalyticsEvent] = []
    for n, hours in enumerate([1, 2, 3, 4, 5, 6, 7, 8, 9, 50]):
        events += [routine(f"V-{n}", 2), logged(f"V-{n}", at(3, 2) + timedelta(hours=hours))]
    # Due in February: another cohort.
    events += [due("V-x", at(2, 27), at(3, 6, 23, 59)), logged("V-x", at(3, 2))]
    times = visit_response_time(fold(events), MARCH, APRIL_10)
    assert times == {"all": Percentiles(10, 5.0, 9.0)}


def test_nearest_rank_picks_a_value_that_occurred() -> None:
    assert nearest_rank([10.0, 20.0, 30.0, 40.0], 50) == 20.0
    assert nearest_rank([10.0, 20.0, 30.0, 40.0], 90) == 40.0
    assert nearest_rank([7.0], 90) == 7.0
    assert nearest_rank([], 50) is None


def test_spot_check_pass_rate_per_agent_counts_each_visit_latest_check() -> None:
    facts = fold(
        [
            checked("V-1", at(3, 5), "verified", agent_id="A-1"),
            checked("V-2", at(3, 6), "not_verified", agent_id="A-1"),
            checked("V-3", at(3, 7), "verified", agent_id="A-1"),
            checked("V-4", at(3, 7), "not_verified", agent_id="A-2"),
            checked("V-4", at(3, 9), "verified", agent_id="A-2"),
            checked("V-5", at(4, 2), "not_verified", agent_id="A-2"),  # April
        ]
    )
    rates = spot_check_pass_rate(facts, MARCH, APRIL_10)
    assert rates == {"A-1": Ratio(2, 3), "A-2": Ratio(1, 1)}


def test_grouping_by_tier_region_and_month_uses_the_customer_at_the_time() -> None:
    facts = fold(
        [
            delivered("C-1", at(1, 5), tier="silver", region="east"),
            delivered("C-1", at(3, 10), tier="gold", region="north", order_id="O-2"),
            delivered("C-2", at(1, 5), tier="bronze", region=None),
            routine("V-1", 2),  # silver then
            logged("V-1", at(3, 3)),
            routine("V-2", 12),  # gold by then
            logged("V-2", at(3, 13), satisfaction=1),
            routine("V-3", 2, customer="C-2"),
            logged("V-3", at(3, 3), customer_id="C-2"),
        ]
    )
    assert satisfaction_rate(facts, MARCH, APRIL_10, "tier") == {
        "silver": Ratio(1, 1),
        "gold": Ratio(0, 1),
        "bronze": Ratio(1, 1),
    }
    assert satisfaction_rate(facts, MARCH, APRIL_10, "region") == {
        "east": Ratio(1, 1),
        "north": Ratio(0, 1),
        None: Ratio(1, 1),
    }
    # 2026-03-01 03:00 +08:00 is still February in UTC, but March in the customer's zone.
    early = fold([due("V-9", at(3, 1, 3), at(3, 8, 23, 59)), logged("V-9", at(3, 2))])
    assert satisfaction_rate(early, MARCH, APRIL_10, "month") == {"2026-03": Ratio(1, 1)}


def test_a_retry_overtaken_by_a_completion_does_not_move_the_deadline() -> None:
    # Unreachable on 03-03, a retry planned for 03-05 (deadline 03-06), but the customer was
    # reached on 03-04: the first attempt's deadline (03-09) stays in force, and it was met.
    facts = fold(
        [
            routine("V-1", 2),
            logged("V-1", at(3, 3), outcome="unreachable"),
            due("V-1", at(3, 5), at(3, 6, 23, 59), kinds=("retry",), attempt=2, agent_id="A-2"),
            logged("V-1", at(3, 4)),
        ]
    )
    assert on_time_rate(facts, MARCH, APRIL_10, "agent") == {"A-1": Ratio(1, 1)}
    assert on_time_rate(facts, Period(at(3, 9, 0), at(3, 10, 0)), APRIL_10)["all"] == Ratio(1, 1)
