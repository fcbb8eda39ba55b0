"""SPEC §2 visit policy, one rule per test, with concrete dates (mainland China calendar)."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from followup.calendar import BusinessCalendar, default_calendar
from followup.scheduling.domain.model import CustomerFacts, Delivery, ResolvedIssue
from followup.scheduling.domain.plan import PlannedVisit, plan_customer, plan_retry

SH = ZoneInfo("Asia/Shanghai")
NY = ZoneInfo("America/New_York")


@pytest.fixture(scope="module")
def cal() -> BusinessCalendar:
    return default_calendar()


def at(y: int, m: int, d: int, h: int = 10, mi: int = 0, s: int = 0, tz: ZoneInfo = SH) -> datetime:
    return datetime(y, m, d, h, mi, s, tzinfo=tz)


def eod(y: int, m: int, d: int, tz: ZoneInfo = SH) -> datetime:
    return datetime(y, m, d, 23, 59, 59, tzinfo=tz)


def customer(
    *deliveries: tuple[str, datetime], tier: str = "bronze", tz: str = "Asia/Shanghai", **kw: object
) -> CustomerFacts:
    return CustomerFacts(
        customer_id="C-1",
        tier=tier,
        timezone=tz,
        deliveries=tuple(Delivery("C-1", o, when, tier, tz) for o, when in deliveries),
        **kw,
    )  # type: ignore[arg-type]


def by_kind(plan: list[PlannedVisit], kind: str) -> list[PlannedVisit]:
    return [v for v in plan if kind in v.kinds]


def test_first_use_deadline_that_falls_in_spring_festival_2026_moves_to_the_next_working_day(
    cal: BusinessCalendar,
) -> None:
    # Delivered Tue 2026-02-10; +7 days = Tue 02-17, inside the 02-15..02-23 holiday.
    plan = plan_customer(customer(("O-1", at(2026, 2, 10))), cal, at(2026, 2, 10))
    [first] = by_kind(plan, "first_use")
    assert first.due_at == at(2026, 2, 10)
    assert first.deadline == eod(2026, 2, 24)


def test_first_use_deadline_on_a_make_up_working_saturday_stays_there(
    cal: BusinessCalendar,
) -> None:
    # Delivered Sat 2026-02-07; +7 days = Sat 02-14, an official make-up working day.
    plan = plan_customer(customer(("O-1", at(2026, 2, 7))), cal, at(2026, 2, 7))
    [first] = by_kind(plan, "first_use")
    assert first.deadline == eod(2026, 2, 14)


def test_months_are_anchored_to_a_jan_31_delivery_and_clamp_to_month_end(
    cal: BusinessCalendar,
) -> None:
    plan = plan_customer(customer(("O-1", at(2026, 1, 31))), cal, at(2026, 1, 31))
    routine_dues = [v.due_at for v in by_kind(plan, "routine")]
    assert routine_dues == [at(2026, 2, 28), at(2026, 4, 30), at(2026, 7, 31)]
    # Month 12 is the deep visit, which replaces that date's routine visit.
    deep = by_kind(plan, "deep")
    assert deep[0].due_at == at(2027, 1, 31)
    assert "routine" not in deep[0].kinds
    # Routine month 1: Sat 02-28 + 7 = Sat 03-07, a weekend: end of Mon 03-09.
    assert by_kind(plan, "routine")[0].deadline == eod(2026, 3, 9)


def test_gold_customers_get_key_deep_every_6_months_merged_with_that_dates_visit(
    cal: BusinessCalendar,
) -> None:
    plan = plan_customer(customer(("O-1", at(2026, 1, 31)), tier="gold"), cal, at(2026, 1, 31))
    key_deep = by_kind(plan, "key_deep")
    assert [v.due_at for v in key_deep][:3] == [at(2026, 7, 31), at(2027, 1, 31), at(2027, 7, 31)]
    assert key_deep[0].kinds == ("routine", "key_deep")
    # The merged visit keeps the later deadline: Fri 07-31 + 14 = Fri 08-14.
    assert key_deep[0].deadline == eod(2026, 8, 14)
    assert key_deep[1].kinds == ("deep", "key_deep")
    assert not by_kind(
        plan_customer(customer(("O-1", at(2026, 1, 31))), cal, at(2026, 1, 31)), "key_deep"
    )


def test_quarterly_visits_start_at_month_15(cal: BusinessCalendar) -> None:
    plan = plan_customer(customer(("O-1", at(2025, 1, 15))), cal, at(2026, 3, 1))
    assert [v.due_at for v in by_kind(plan, "quarterly")][:3] == [
        at(2026, 4, 15),
        at(2026, 7, 15),
        at(2026, 10, 15),
    ]
    month_24 = next(v for v in plan if v.due_at == at(2027, 1, 15))
    assert month_24.kinds == ("deep", "quarterly")


def test_holiday_care_10_days_before_spring_festival_due_by_the_make_up_saturday(
    cal: BusinessCalendar,
) -> None:
    # Spring Festival 2026 is 02-17; its holiday begins Sun 02-15; the last working day
    # before it is the make-up Saturday 02-14.
    plan = plan_customer(customer(("O-1", at(2025, 1, 10))), cal, at(2026, 1, 20))
    care = by_kind(plan, "holiday_care")
    assert care[0].due_at == at(2026, 2, 7, 9)
    assert care[0].deadline == eod(2026, 2, 14)
    # Mid-Autumn 2026 is 09-25 and its holiday starts that Friday: due 09-15, by Thu 09-24.
    assert care[1].due_at == at(2026, 9, 15, 9)
    assert care[1].deadline == eod(2026, 9, 24)


def test_no_holiday_care_or_quarterly_for_a_delivery_younger_than_12_months(
    cal: BusinessCalendar,
) -> None:
    # Delivered 2025-03-01: Spring Festival care due 2026-02-07 is under 12 months old.
    plan = plan_customer(customer(("O-1", at(2025, 3, 1))), cal, at(2026, 1, 1))
    assert all(v.due_at > at(2026, 3, 1) for v in by_kind(plan, "holiday_care"))


def test_intent_follow_ups_every_10_days_until_the_project_starts(cal: BusinessCalendar) -> None:
    facts = CustomerFacts(
        "C-1",
        "silver",
        "Asia/Shanghai",
        intent_signed_at=at(2026, 3, 2),
        project_started_at=at(2026, 3, 20),
    )
    plan = plan_customer(facts, cal, at(2026, 3, 2))
    intents = by_kind(plan, "intent_follow_up")
    assert [v.due_at for v in intents] == [at(2026, 3, 2), at(2026, 3, 12)]
    # Within 3 working days, not counting the signing day: Mon 03-02 -> Thu 03-05.
    assert intents[0].deadline == eod(2026, 3, 5)
    # Thu 03-12 -> Fri 13, Mon 16, Tue 17.
    assert intents[1].deadline == eod(2026, 3, 17)


def test_issue_follow_up_within_1_working_day_counts_the_make_up_saturday(
    cal: BusinessCalendar,
) -> None:
    facts = CustomerFacts(
        "C-1",
        "silver",
        "Asia/Shanghai",
        resolved_issues=(ResolvedIssue("I-1", at(2026, 2, 13, 18)),),
    )
    [visit] = plan_customer(facts, cal, at(2026, 2, 13, 18))
    assert visit.kinds == ("issue_follow_up",)
    assert visit.issue_id == "I-1"
    assert visit.deadline == eod(2026, 2, 14)


def test_a_repeat_purchase_merges_special_with_its_first_use(cal: BusinessCalendar) -> None:
    plan = plan_customer(
        customer(("O-1", at(2026, 3, 2)), ("O-2", at(2026, 5, 11))), cal, at(2026, 5, 11)
    )
    second = next(v for v in plan if v.due_at == at(2026, 5, 11))
    assert second.kinds == ("first_use", "special")
    assert second.order_id == "O-2"


def test_visits_due_within_7_days_merge_with_the_earlier_due_and_the_later_deadline(
    cal: BusinessCalendar,
) -> None:
    # Routine month 1 of a 2026-03-02 delivery is due 04-02; an intent signed Mon 03-30.
    facts = customer(("O-1", at(2026, 3, 2)), intent_signed_at=at(2026, 3, 30, 15))
    plan = plan_customer(facts, cal, at(2026, 3, 30, 15))
    merged = next(v for v in plan if "intent_follow_up" in v.kinds)
    assert merged.kinds == ("routine", "intent_follow_up")
    assert merged.due_at == at(2026, 3, 30, 15)
    # 04-02 + 7 = Thu 04-09, later than the intent's 3 working days (Thu 04-02).
    assert merged.deadline == eod(2026, 4, 9)


def test_an_issue_follow_up_merged_with_a_routine_visit_keeps_its_1_working_day(
    cal: BusinessCalendar,
) -> None:
    # Routine month 1 of a 2026-03-02 delivery is due 04-02 (deadline 04-09); an issue
    # resolved Mon 03-30 merges into it, and the fix is still confirmed by Tue 03-31.
    facts = customer(
        ("O-1", at(2026, 3, 2)), resolved_issues=(ResolvedIssue("I-9", at(2026, 3, 30, 15)),)
    )
    plan = plan_customer(facts, cal, at(2026, 3, 30, 15))
    merged = next(v for v in plan if "issue_follow_up" in v.kinds)
    assert merged.kinds == ("routine", "issue_follow_up")
    assert merged.due_at == at(2026, 3, 30, 15)
    assert merged.deadline == eod(2026, 3, 31)
    assert merged.issue_id == "I-9"


def test_spring_festival_2027_care_merged_into_a_deep_visit_is_due_before_the_festival(
    cal: BusinessCalendar,
) -> None:
    # Delivered 2026-01-25: the deep visit of Mon 2027-01-25 (due + 14 days = Mon 02-08, in
    # the Spring Festival block, so 02-15) merges with the care due Wed 01-27 (10 days before
    # the festival, Sat 02-06). The visit is due by the care's deadline, not after the festival.
    plan = plan_customer(customer(("O-1", at(2026, 1, 25))), cal, at(2026, 11, 1))
    visit = next(v for v in plan if v.due_at == at(2027, 1, 25))
    assert visit.kinds == ("deep", "holiday_care")
    assert visit.deadline < at(2027, 2, 6, 0)
    if not cal.is_official(2027):
        # Without official data: the day before the festival, provisionally.
        assert (visit.deadline, visit.deadline_provisional) == (eod(2027, 2, 5), True)


def test_a_customer_in_new_york_counts_days_in_new_york(cal: BusinessCalendar) -> None:
    # 20:00 in New York on Fri 01-30 is already Sat 01-31 in Shanghai.
    facts = customer(("O-1", at(2026, 1, 30, 20, tz=NY)), tz="America/New_York")
    plan = plan_customer(facts, cal, at(2026, 1, 30, 20, tz=NY))
    [first] = by_kind(plan, "first_use")
    assert first.deadline == eod(2026, 2, 6, tz=NY)  # Fri 02-06 is a working day
    assert by_kind(plan, "routine")[0].due_at == at(2026, 2, 28, 20, tz=NY)


def test_a_backfilled_delivery_plans_only_visits_whose_deadline_is_ahead(
    cal: BusinessCalendar,
) -> None:
    now = at(2026, 11, 22)
    plan = plan_customer(customer(("O-1", at(2025, 1, 10))), cal, now)
    assert plan
    assert all(v.deadline > now for v in plan)
    assert not by_kind(plan, "first_use")


def test_unreachable_retries_at_9_on_the_next_working_day_at_most_3_attempts(
    cal: BusinessCalendar,
) -> None:
    [visit] = by_kind(
        plan_customer(customer(("O-1", at(2026, 2, 10))), cal, at(2026, 2, 10)), "first_use"
    )
    retry = plan_retry(visit, at(2026, 2, 13, 15), "Asia/Shanghai", cal)
    assert retry is not None
    assert retry.visit_id == visit.visit_id
    assert retry.attempt == 2
    assert retry.kinds == ("first_use", "retry")
    assert retry.due_at == at(2026, 2, 14, 9)  # make-up Saturday
    assert retry.deadline == eod(2026, 2, 24)  # the next working day after the holiday
    third = plan_retry(retry, at(2026, 2, 14, 10), "Asia/Shanghai", cal)
    assert third is not None and third.attempt == 3
    assert plan_retry(third, at(2026, 2, 24, 10), "Asia/Shanghai", cal) is None


def test_a_retry_is_never_due_earlier_than_the_visit_it_retries(cal: BusinessCalendar) -> None:
    # The routine visit of Thu 2026-04-02 is due by Thu 04-09. Unreachable that morning: the
    # retry is due Fri 04-03 09:00, and the working day after (Qingming, 04-04..06, is off)
    # ends Tue 04-07, earlier than the visit's own deadline, which it keeps.
    plan = plan_customer(customer(("O-1", at(2026, 3, 2))), cal, at(2026, 3, 2))
    routine = by_kind(plan, "routine")[0]
    assert (routine.due_at, routine.deadline) == (at(2026, 4, 2), eod(2026, 4, 9))
    retry = plan_retry(routine, at(2026, 4, 2, 11), "Asia/Shanghai", cal)
    assert retry is not None
    assert (retry.due_at, retry.deadline) == (at(2026, 4, 3, 9), eod(2026, 4, 9))
    # Unreachable again on Wed 04-08: due Thu 04-09 09:00, by Fri 04-10, later than 04-09.
    third = plan_retry(retry, at(2026, 4, 8, 11), "Asia/Shanghai", cal)
    assert third is not None
    assert (third.due_at, third.deadline) == (at(2026, 4, 9, 9), eod(2026, 4, 10))


def test_the_plan_is_the_same_whatever_the_order_of_the_facts(cal: BusinessCalendar) -> None:
    a = customer(
        ("O-1", at(2026, 1, 5)),
        ("O-2", at(2026, 6, 1)),
        resolved_issues=(
            ResolvedIssue("I-1", at(2026, 2, 2)),
            ResolvedIssue("I-2", at(2026, 7, 1)),
        ),
    )
    b = customer(
        ("O-2", at(2026, 6, 1)),
        ("O-1", at(2026, 1, 5)),
        resolved_issues=(
            ResolvedIssue("I-2", at(2026, 7, 1)),
            ResolvedIssue("I-1", at(2026, 2, 2)),
        ),
    )
    now = at(2026, 7, 1)
    assert plan_customer(a, cal, now) == plan_customer(b, cal, now)


def test_deadlines_never_precede_due_times_and_no_two_open_visits_within_7_days(
    cal: BusinessCalendar,
) -> None:
    facts = customer(
        ("O-1", at(2025, 1, 31)),
        ("O-2", at(2026, 2, 3)),
        tier="gold",
        intent_signed_at=at(2026, 1, 1),
        resolved_issues=(ResolvedIssue("I-1", at(2026, 2, 13, 18)),),
    )
    plan = plan_customer(facts, cal, at(2026, 1, 1))
    for v in plan:
        assert v.deadline >= v.due_at
    dues = sorted(v.due_at for v in plan)
    assert all(b - a > timedelta(days=7) for a, b in itertools.pairwise(dues))


def test_a_re_plan_after_the_deadline_keeps_visits_already_planned_but_not_yet_published(
    cal: BusinessCalendar,
) -> None:
    facts = customer(("O-1", at(2026, 3, 2)))
    first = plan_customer(facts, cal, at(2026, 3, 2))
    routine = by_kind(first, "routine")[0]  # due 04-02, deadline 04-09
    planned = frozenset(k for v in first for k in v.sources)
    later = at(2026, 5, 1)
    assert routine.visit_id in {
        v.visit_id for v in plan_customer(facts, cal, later, planned=planned)
    }
    assert routine.visit_id not in {v.visit_id for v in plan_customer(facts, cal, later)}
