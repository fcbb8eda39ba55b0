"""Each preset played on one customer's first 18 months (pure planner): the visit kinds, due
times and deadlines against a table written from the preset's seed (issue 16 §3).

The customer is delivered on Monday 2026-03-02 at 10:00 in Shanghai; the plan is what the
planner builds from the preset for that customer's tier, merged, up to 2027-09-02.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from followup.calendar import default_calendar
from followup.core.policy import Span, load_preset
from followup.scheduling.domain.candidates import all_candidates
from followup.scheduling.domain.model import CustomerFacts, Delivery, ResolvedIssue
from followup.scheduling.domain.plan import merge_candidates
from followup.scheduling.domain.rules import scheduling_policy

SH = ZoneInfo("Asia/Shanghai")
DELIVERED = datetime(2026, 3, 2, 10, 0, tzinfo=SH)
EIGHTEEN_MONTHS = datetime(2027, 9, 2, 10, 0, tzinfo=SH)
# (kinds, due local, deadline's local date)
Row = tuple[str, str, str]


def played(preset: str, tier: str, resolved: tuple[ResolvedIssue, ...] = ()) -> list[Row]:
    facts = CustomerFacts(
        "C-1",
        tier,
        "Asia/Shanghai",
        (Delivery("C-1", "O-1", DELIVERED, tier, "Asia/Shanghai"),),
        resolved_issues=resolved,
        segment="individual",
    )
    policy = scheduling_policy(load_preset(preset), tier=tier, segment="individual")
    found = all_candidates(facts, default_calendar(), until=EIGHTEEN_MONTHS, policy=policy)
    visits = merge_candidates("C-1", [c for c in found if c.due_at < EIGHTEEN_MONTHS], policy)
    return [
        (
            "+".join(v.kinds),
            v.due_at.astimezone(SH).strftime("%Y-%m-%d %H:%M"),
            v.deadline.astimezone(SH).date().isoformat(),
        )
        for v in visits
    ]


def test_home_cinema_plans_routine_deep_key_and_quarterly_visits_for_a_gold_customer() -> None:
    # Seed 000: first use within 7 days; routine at 1, 3, 6, 12 months, the 12th a deep one;
    # gold every half-year; quarterly once older than a year; holiday care only past a year
    # (Mid-Autumn 2027 falls after the 18 months).
    assert played("home-cinema", "gold") == [
        ("first_use", "2026-03-02 10:00", "2026-03-09"),
        ("routine", "2026-04-02 10:00", "2026-04-09"),
        ("routine", "2026-06-02 10:00", "2026-06-09"),
        ("routine+key_deep", "2026-09-02 10:00", "2026-09-16"),
        ("deep+key_deep", "2027-03-02 10:00", "2027-03-16"),
        ("quarterly", "2027-06-02 10:00", "2027-06-16"),
    ]


def test_generic_plans_key_customer_visits_once_per_customer() -> None:
    # Seed 001: no separate deep visit, so month 12 stays a routine visit.
    assert played("generic", "gold") == [
        ("first_use", "2026-03-02 10:00", "2026-03-09"),
        ("routine", "2026-04-02 10:00", "2026-04-09"),
        ("routine", "2026-06-02 10:00", "2026-06-09"),
        ("routine+key_deep", "2026-09-02 10:00", "2026-09-16"),
        ("routine+key_deep", "2027-03-02 10:00", "2027-03-16"),
        ("quarterly", "2027-06-02 10:00", "2027-06-16"),
    ]


def test_complaints_returns_to_every_resolved_issue_and_answers_complaints_in_ten_minutes() -> None:
    # Seed 002: "客户投诉的回访率为100%": each resolved issue gets its return visit within a
    # working day; routine contact every quarter from month 3; no holiday care.
    resolved = (
        ResolvedIssue("I-1", datetime(2026, 5, 6, 15, 0, tzinfo=SH)),
        ResolvedIssue("I-2", datetime(2026, 11, 18, 11, 0, tzinfo=SH)),
    )
    assert played("complaints", "silver", resolved) == [
        ("first_use", "2026-03-02 10:00", "2026-03-09"),
        ("issue_follow_up", "2026-05-06 15:00", "2026-05-07"),
        ("quarterly", "2026-06-02 10:00", "2026-06-16"),
        ("quarterly", "2026-09-02 10:00", "2026-09-16"),
        ("issue_follow_up", "2026-11-18 11:00", "2026-11-19"),
        ("quarterly", "2026-12-02 10:00", "2026-12-16"),
        ("quarterly", "2027-03-02 10:00", "2027-03-16"),
        ("quarterly", "2027-06-02 10:00", "2027-06-16"),
    ]
    sla = load_preset("complaints").sla
    complaint = sla.clocks_for(category="complaint", severity="general", tier="silver")
    assert complaint.first_response == Span(minutes=10)
    fault = sla.clocks_for(category="fault", severity="general", tier="silver")
    assert fault.first_response == Span(hours=24)


CABLE_TV = {
    # Seed 003: gold every quarter, silver every half-year, bronze yearly; holiday care a
    # week before Mid-Autumn and Spring Festival for everyone; first use in 3 working days.
    "gold": [
        ("first_use", "2026-03-02 10:00", "2026-03-05"),
        ("routine", "2026-04-02 10:00", "2026-04-09"),
        ("key_deep", "2026-06-02 10:00", "2026-06-16"),
        ("key_deep", "2026-09-02 10:00", "2026-09-16"),
        ("holiday_care", "2026-09-18 09:00", "2026-09-24"),
        ("key_deep", "2026-12-02 10:00", "2026-12-16"),
        ("holiday_care", "2027-01-30 09:00", "2027-02-05"),
        ("key_deep", "2027-03-02 10:00", "2027-03-16"),
        ("key_deep", "2027-06-02 10:00", "2027-06-16"),
    ],
    "silver": [
        ("first_use", "2026-03-02 10:00", "2026-03-05"),
        ("routine", "2026-04-02 10:00", "2026-04-09"),
        ("deep", "2026-09-02 10:00", "2026-09-16"),
        ("holiday_care", "2026-09-18 09:00", "2026-09-24"),
        ("holiday_care", "2027-01-30 09:00", "2027-02-05"),
        ("deep", "2027-03-02 10:00", "2027-03-16"),
    ],
    "bronze": [
        ("first_use", "2026-03-02 10:00", "2026-03-05"),
        ("routine", "2026-04-02 10:00", "2026-04-09"),
        ("holiday_care", "2026-09-18 09:00", "2026-09-24"),
        ("holiday_care", "2027-01-30 09:00", "2027-02-05"),
        ("deep", "2027-03-02 10:00", "2027-03-16"),
    ],
}


@pytest.mark.parametrize("tier", list(CABLE_TV))
def test_cable_tv_plans_each_tier_on_its_own_cadence(tier: str) -> None:
    assert played("cable-tv", tier) == CABLE_TV[tier]


def test_appliances_greets_before_three_festivals_from_the_first_year() -> None:
    # Seed 004: routine at 1 and 6 months, a yearly deep visit, and holiday greetings 3 days
    # before Dragon Boat, Mid-Autumn and Spring Festival whatever the customer's age.
    assert played("appliances", "bronze") == [
        ("first_use", "2026-03-02 10:00", "2026-03-09"),
        ("routine", "2026-04-02 10:00", "2026-04-09"),
        ("holiday_care", "2026-06-16 09:00", "2026-06-18"),
        ("routine", "2026-09-02 10:00", "2026-09-09"),
        ("holiday_care", "2026-09-22 09:00", "2026-09-24"),
        ("holiday_care", "2027-02-03 09:00", "2027-02-05"),
        ("deep", "2027-03-02 10:00", "2027-03-16"),
        ("holiday_care", "2027-06-06 09:00", "2027-06-08"),
    ]
    care = [due for kinds, due, _ in played("appliances", "bronze") if kinds == "holiday_care"]
    # Dragon Boat 2026-06-19, Mid-Autumn 2026-09-25, Spring Festival 2027-02-06,
    # Dragon Boat 2027-06-09: three days before each.
    festivals = ["2026-06-19", "2026-09-25", "2027-02-06", "2027-06-09"]
    assert care == [
        (datetime.fromisoformat(f) - timedelta(days=3)).strftime("%Y-%m-%d 09:00")
        for f in festivals
    ]
