"""The planner's policy built from a policy document: kinds by tier, visits per customer."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from followup.calendar import default_calendar
from followup.core.policy import load_preset
from followup.core.policy.loading import parse_policy
from followup.core.policy.presets import preset_path
from followup.scheduling.domain.candidates import all_candidates
from followup.scheduling.domain.model import CustomerFacts, Delivery
from followup.scheduling.domain.rules import UnsupportedRule, scheduling_policy

SH = ZoneInfo("Asia/Shanghai")
CAL = default_calendar()


def gold_with_two_orders() -> CustomerFacts:
    first = datetime(2026, 1, 10, 10, 0, tzinfo=SH)
    second = datetime(2026, 3, 5, 15, 0, tzinfo=SH)
    return CustomerFacts(
        "C-1",
        "gold",
        "Asia/Shanghai",
        (
            Delivery("C-1", "O-1", first, "gold", "Asia/Shanghai"),
            Delivery("C-1", "O-2", second, "gold", "Asia/Shanghai"),
        ),
    )


def due_days(facts: CustomerFacts, preset: str, kind: str) -> list[tuple[str, str | None]]:
    policy = scheduling_policy(load_preset(preset), tier=facts.tier, segment=facts.segment)
    found = all_candidates(facts, CAL, until=datetime(2027, 6, 30, tzinfo=SH), policy=policy)
    return sorted(
        (c.due_at.astimezone(SH).date().isoformat(), c.order_id) for c in found if c.kind == kind
    )


def test_key_customer_visits_count_from_the_first_delivery_where_the_preset_says_per_customer() -> (
    None
):
    # generic: key_deep every 6 months per customer, so the second order adds none.
    assert due_days(gold_with_two_orders(), "generic", "key_deep") == [
        ("2026-07-10", "O-1"),
        ("2027-01-10", "O-1"),
    ]


def test_home_cinema_keeps_key_customer_visits_per_order() -> None:
    assert due_days(gold_with_two_orders(), "home-cinema", "key_deep") == [
        ("2026-07-10", "O-1"),
        ("2026-09-05", "O-2"),
        ("2027-01-10", "O-1"),
        ("2027-03-05", "O-2"),
    ]


def test_cable_tv_counts_the_first_use_deadline_in_three_working_days() -> None:
    # Delivered Friday 2026-01-09: Monday 12, Tuesday 13, Wednesday 14.
    facts = CustomerFacts(
        "C-2",
        "bronze",
        "Asia/Shanghai",
        (
            Delivery(
                "C-2", "O-1", datetime(2026, 1, 9, 10, 0, tzinfo=SH), "bronze", "Asia/Shanghai"
            ),
        ),
    )
    policy = scheduling_policy(load_preset("cable-tv"), tier="bronze", segment=None)
    (first_use,) = [
        c
        for c in all_candidates(facts, CAL, until=datetime(2026, 2, 1, tzinfo=SH), policy=policy)
        if c.kind == "first_use"
    ]
    assert first_use.deadline == datetime(2026, 1, 14, 23, 59, 59, tzinfo=SH)


def test_a_rule_the_planner_cannot_follow_is_refused_with_its_path() -> None:
    text = (
        preset_path("home-cinema")
        .read_text(encoding="utf-8")
        .replace("[[kinds.first_use]]\n", '[[kinds.first_use]]\nproducts = ["projector"]\n', 1)
    )
    with pytest.raises(UnsupportedRule, match=r"^kinds\.first_use\[0\]\.products"):
        scheduling_policy(parse_policy(text), tier="gold", segment=None)
