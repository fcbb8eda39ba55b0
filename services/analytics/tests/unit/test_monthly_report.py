"""The monthly report puts every KPI of a period against its SPEC target."""

from __future__ import annotations

from analytics_builders import MARCH, at, breached, closed, delivered, due, logged, raised, resolved

from followup.analytics.domain.model import fold
from followup.analytics.domain.period import Percentiles, Ratio
from followup.analytics.domain.report import monthly_report


def test_a_month_of_a_gold_customer_against_the_targets() -> None:
    facts = fold(
        [
            delivered("C-1", at(1, 5), tier="gold"),
            due("V-1", at(3, 2), at(3, 9, 23, 59)),
            logged("V-1", at(3, 4, 9), satisfaction=5),
            raised("I-1", at(3, 4, 9), category="complaint"),
            resolved("I-1", at(3, 6, 9), at(3, 7, 23, 59)),
            breached("I-1", "handover", at(3, 5, 23, 59), "customer_service", owner_id=None),
            due("V-2", at(3, 6, 10), at(3, 9, 23, 59), kinds=("issue_follow_up",), issue_id="I-1"),
            logged("V-2", at(3, 7, 10), satisfaction=4),
            closed("I-1", at(3, 7, 10), visit_id="V-2"),
        ]
    )
    report = monthly_report(facts, MARCH, at(4, 2))
    assert report.satisfaction.ratio == Ratio(2, 2) and report.satisfaction.met is True
    assert report.on_time.ratio == Ratio(2, 2) and report.on_time.met is None  # no target
    assert report.closure.met is True
    assert report.complaint_return_visits.ratio == Ratio(1, 1)
    assert report.repair_return_visits.ratio == Ratio(0, 0)
    assert report.repair_return_visits.met is None  # no repairs: no verdict, not 0 %
    assert report.sla_met["handover"].ratio == Ratio(0, 1)
    assert report.sla_met["first_response"].ratio == Ratio(0, 0)
    assert report.resolution_time == Percentiles(1, 48.0, 48.0)
    assert report.visit_response == Percentiles(2, 24.0, 48.0)
    assert report.top_categories == [("complaint", 1)]
    assert report.top_problems == [("complaint", "general", 1)]
    assert report.departments_most_breaches == [("customer_service", 1)]
    assert report.agents_most_breaches == []
    assert report.at_risk == {"C-1": {"gold_sla_breach"}}
