"""Properties of the visit policy over generated customers (hypothesis)."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from followup.calendar import default_calendar
from followup.scheduling.domain.model import CustomerFacts, Delivery, ResolvedIssue
from followup.scheduling.domain.plan import plan_customer

CAL = default_calendar()
ZONES = ["Asia/Shanghai", "America/New_York", "Europe/Berlin"]
instants = st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2027, 12, 31))


@st.composite
def customers(draw: st.DrawFn) -> tuple[CustomerFacts, datetime]:
    zone = draw(st.sampled_from(ZONES))
    tz = ZoneInfo(zone)
    tier = draw(st.sampled_from(["gold", "silver", "bronze"]))
    times = draw(st.lists(instants, min_size=1, max_size=3, unique=True))
    deliveries = tuple(
        Delivery("C", f"O-{i}", t.replace(tzinfo=tz), tier, zone) for i, t in enumerate(times)
    )
    issues = tuple(
        ResolvedIssue(f"I-{i}", t.replace(tzinfo=tz))
        for i, t in enumerate(draw(st.lists(instants, max_size=2, unique=True)))
    )
    intent = draw(st.none() | instants)
    started = draw(st.none() | st.integers(min_value=1, max_value=120))
    facts = CustomerFacts(
        "C",
        tier,
        zone,
        deliveries=deliveries,
        resolved_issues=issues,
        intent_signed_at=intent.replace(tzinfo=tz) if intent else None,
        project_started_at=(
            intent.replace(tzinfo=tz) + timedelta(days=started) if intent and started else None
        ),
    )
    now = min(t.replace(tzinfo=tz) for t in times)
    return facts, now


@settings(max_examples=40, deadline=None, derandomize=True)
@given(customers())
def test_deadlines_never_precede_due_times(case: tuple[CustomerFacts, datetime]) -> None:
    facts, now = case
    for visit in plan_customer(facts, CAL, now):
        assert visit.deadline >= visit.due_at


@settings(max_examples=40, deadline=None, derandomize=True)
@given(customers())
def test_no_two_open_visits_are_due_within_7_days(case: tuple[CustomerFacts, datetime]) -> None:
    facts, now = case
    dues = sorted(v.due_at for v in plan_customer(facts, CAL, now))
    assert all(b - a > timedelta(days=7) for a, b in itertools.pairwise(dues))


@settings(max_examples=40, deadline=None, derandomize=True)
@given(customers(), st.randoms(use_true_random=False))
def test_the_same_facts_in_any_order_give_the_same_plan_and_ids(
    case: tuple[CustomerFacts, datetime], rnd: object
) -> None:
    facts, now = case
    deliveries, issues = list(facts.deliveries), list(facts.resolved_issues)
    rnd.shuffle(deliveries)  # type: ignore[attr-defined]
    rnd.shuffle(issues)  # type: ignore[attr-defined]
    shuffled = CustomerFacts(
        facts.customer_id,
        facts.tier,
        facts.timezone,
        deliveries=tuple(deliveries),
        resolved_issues=tuple(issues),
        intent_signed_at=facts.intent_signed_at,
        project_started_at=facts.project_started_at,
    )
    assert plan_customer(shuffled, CAL, now) == plan_customer(facts, CAL, now)
