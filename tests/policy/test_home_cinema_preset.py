"""The home-cinema preset is today's behaviour: each value against the constant the code uses.

When a service starts reading the policy, its constant goes and the comparison moves to what
the service derives from the preset; until then a preset edit that changes behaviour fails here.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from fractions import Fraction
from zoneinfo import ZoneInfo

from followup.analytics.domain.churn import COMPLAINT_WINDOW, DISSATISFIED_UP_TO
from followup.analytics.domain.issues import REPAIR_CATEGORIES
from followup.analytics.domain.views import RATIOS
from followup.analytics.domain.visits import SATISFIED_FROM
from followup.calendar import default_calendar, lunar_to_solar
from followup.calendar.calendar import DEFAULT_REGION
from followup.core.policy import Span, load_preset
from followup.issues.domain.model import DEFAULT_POLICY as SLA
from followup.issues.domain.model import DEFAULT_TIMEZONE
from followup.issues.domain.raising import DEPARTMENT_BY_CATEGORY
from followup.scheduling.domain.candidates import holiday_care_candidates
from followup.scheduling.domain.model import CustomerFacts, Delivery
from followup.scheduling.domain.policy import DEFAULT_POLICY, KEY_DEEP
from followup.scheduling.domain.rules import scheduling_policy
from followup.visits.domain.spot_checks import SAMPLE_SIZE

PRESET = load_preset("home-cinema")
# What the planner follows for a key customer under the preset.
PLANNER = scheduling_policy(PRESET, tier="gold", segment=None)
KINDS = PRESET.kinds
SHANGHAI = ZoneInfo("Asia/Shanghai")


def days(n: int) -> Span:
    return Span(calendar_days=n)


def working_days(n: int) -> Span:
    return Span(working_days=n)


def test_the_planner_builds_todays_policy_from_the_preset() -> None:
    assert PLANNER == DEFAULT_POLICY
    for tier in ("silver", "bronze"):
        for segment in (None, "individual", "enterprise", "institution"):
            built = scheduling_policy(PRESET, tier=tier, segment=segment)
            # Only key customers get key_deep visits; everything else is the same.
            assert built.kinds == DEFAULT_POLICY.kinds - {KEY_DEEP}
            assert replace(built, kinds=DEFAULT_POLICY.kinds) == PLANNER


def test_every_kind_the_planner_plans_has_exactly_one_rule() -> None:
    assert KINDS.planned() == [
        "first_use",
        "routine",
        "deep",
        "key_deep",
        "quarterly",
        "holiday_care",
        "intent_follow_up",
        "issue_follow_up",
        "special",
    ]
    assert all(len(KINDS.rules(kind)) == 1 for kind in KINDS.planned())


def test_delivery_visits_have_the_planners_cadences_and_deadlines() -> None:
    (first_use,), (special,) = KINDS.first_use, KINDS.special
    assert first_use.deadline == days(PLANNER.first_use_deadline_days)
    assert special.deadline == days(PLANNER.special_deadline_days)
    (routine,) = KINDS.routine
    assert routine.months == PLANNER.routine_months
    assert routine.deadline == days(PLANNER.routine_deadline_days)
    assert routine.per == "order"


def test_deep_and_key_deep_visits_are_the_planners() -> None:
    (deep,), (key_deep,) = KINDS.deep, KINDS.key_deep
    assert (deep.every_months, deep.from_month) == (PLANNER.deep_every_months,) * 2
    assert deep.replaces == ("routine",)
    assert deep.deadline == days(PLANNER.deep_deadline_days)
    assert (key_deep.every_months, key_deep.from_month) == (PLANNER.key_deep_every_months,) * 2
    assert key_deep.tiers == PLANNER.key_deep_tiers
    # The planner gives key_deep the deep visit's deadline.
    assert key_deep.deadline == days(PLANNER.deep_deadline_days)
    assert deep.per == key_deep.per == "order"
    assert deep.tiers is None and deep.older_than_months == key_deep.older_than_months == 0


def test_quarterly_visits_start_at_month_15_for_deliveries_older_than_12_months() -> None:
    (quarterly,) = KINDS.quarterly
    assert quarterly.every_months == PLANNER.quarterly_every_months
    assert quarterly.from_month == PLANNER.quarterly_from_month
    assert quarterly.older_than_months == PLANNER.mature_after_months
    assert quarterly.deadline == days(PLANNER.quarterly_deadline_days)


def test_intent_and_issue_follow_ups_are_the_planners() -> None:
    (intent,), (issue,) = KINDS.intent_follow_up, KINDS.issue_follow_up
    assert intent.every_days == PLANNER.intent_every_days
    assert intent.deadline == working_days(PLANNER.intent_deadline_working_days)
    assert issue.deadline == working_days(PLANNER.issue_follow_up_working_days)


def test_holiday_care_is_due_when_the_planner_plans_it_in_2027() -> None:
    (care,) = KINDS.holiday_care
    assert care.lead_days == PLANNER.holiday_care_days_before
    assert care.at == PLANNER.holiday_care_at
    assert care.older_than_months == PLANNER.mature_after_months
    delivered = datetime(2025, 3, 1, 10, 0, tzinfo=SHANGHAI)
    facts = CustomerFacts(
        "C-1",
        "silver",
        "Asia/Shanghai",
        (Delivery("C-1", "O-1", delivered, "silver", "Asia/Shanghai"),),
    )
    planned = holiday_care_candidates(
        facts,
        since=datetime(2027, 1, 1, tzinfo=SHANGHAI),
        until=datetime(2027, 12, 31, tzinfo=SHANGHAI),
        cal=default_calendar(),
        policy=PLANNER,
    )
    # Spring Festival 2027 is Feb 6 (lunar 1/1), Mid-Autumn Sep 15 (lunar 8/15).
    expected = [
        datetime.combine(
            lunar_to_solar(2027, f.lunar_month, f.lunar_day) - timedelta(days=care.lead_days),
            care.at,
            SHANGHAI,
        )
        for f in care.festivals
    ]
    assert [c.due_at for c in planned] == expected
    assert expected[0] == datetime(2027, 1, 27, 9, 0, tzinfo=SHANGHAI)
    assert [c.reason for c in planned] == [f"{f.name} 2027 care" for f in care.festivals]


def test_retries_merge_and_horizon_are_the_planners() -> None:
    retries = PRESET.retries
    assert retries.max_attempts == PLANNER.max_attempts
    assert retries.at == PLANNER.retry_at
    assert retries.deadline == working_days(1)  # plan_retry: end_of_working_days(due, 1)
    assert timedelta(days=PRESET.merge.window_days) == PLANNER.merge_within
    # SPEC §2 (amended 2026-12): a merge never passes these kinds' own deadlines.
    assert PRESET.merge.protected_kinds == PLANNER.merge_protected_kinds
    assert PRESET.planning.horizon_months == PLANNER.horizon_months


def test_sla_clocks_are_the_issue_services() -> None:
    sla = PRESET.sla
    assert sla.handover == working_days(SLA.handover_working_days)
    assert sla.first_response == Span(hours=SLA.first_response_hours)
    assert sla.resolution.general == working_days(SLA.general_resolution_working_days)
    assert sla.resolution.complex == working_days(SLA.complex_resolution_working_days)
    assert sla.rules == ()  # one set of clocks for every category and tier today
    assert Fraction(sla.warning_share) == Fraction(4, 5)  # SPEC §10's 80%
    assert sla.max_pauses is None


def test_departments_own_the_categories_the_issue_service_routes_to_them() -> None:
    owners = {c: PRESET.department_for(c) for c in DEPARTMENT_BY_CATEGORY}
    assert owners == DEPARTMENT_BY_CATEGORY


def test_kpi_targets_are_the_analytics_targets() -> None:
    preset = {name: Fraction(v) for name, v in PRESET.kpis.targets.set().items()}
    today = {name: target for name, (_, target) in RATIOS.items() if target is not None}
    assert preset == today
    assert set(type(PRESET.kpis.targets).model_fields) == set(RATIOS)


def test_counting_rules_of_analytics_and_visits_are_the_services() -> None:
    kpis = PRESET.kpis
    assert kpis.satisfied_from == SATISFIED_FROM
    assert frozenset(kpis.repair_categories) == REPAIR_CATEGORIES
    assert kpis.churn.dissatisfied_up_to == DISSATISFIED_UP_TO
    assert timedelta(days=kpis.churn.complaint_window_days) == COMPLAINT_WINDOW
    assert kpis.churn.breach_tiers == ("gold",)
    assert PRESET.visits.spot_checks_per_agent_month == SAMPLE_SIZE
    assert PRESET.visits.dissatisfied_at_or_below == 2  # SPEC §10; no service reads it yet


def test_the_default_zone_and_region_are_the_services() -> None:
    assert PRESET.planning.default_timezone == DEFAULT_TIMEZONE
    assert PRESET.planning.default_region == DEFAULT_REGION
