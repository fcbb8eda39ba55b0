"""A small month with figures worked out by hand (the API tests assert them exactly):
two customers, four visits, three issues in March 2026, asked about on April 10."""

from __future__ import annotations

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
    raised,
    resolved,
)

from followup.events import EventData

__all__ = ["APRIL_10", "MARCH", "MARCH_EVENTS"]

MARCH_EVENTS: list[EventData] = [
    delivered("C-1", at(6, 1, year=2025), tier="gold", region="east"),
    delivered("C-2", at(7, 1, year=2025), tier="silver", region="west", order_id="O-9"),
    # V-1: on time, 24 h after due, scored 5.
    due("V-1", at(3, 2), at(3, 9, 23, 59), agent_id="A-1"),
    logged("V-1", at(3, 3), agent_id="A-1", satisfaction=5),
    # V-2: completed two days late, 216 h after due, scored 3.
    due("V-2", at(3, 4), at(3, 11, 23, 59), customer_id="C-2", agent_id="A-2"),
    logged("V-2", at(3, 13), customer_id="C-2", agent_id="A-2", satisfaction=3),
    # V-3: never logged, its deadline passed: late.
    due("V-3", at(3, 10), at(3, 17, 23, 59), agent_id="A-1"),
    # I-1: a fault, assigned after 2 h, resolved after 24 h, its follow-up visit confirms it.
    raised("I-1", at(3, 5), category="fault"),
    assigned("I-1", at(3, 5, 11), assignee_id="A-1", department="after_sales"),
    resolved("I-1", at(3, 6), at(3, 8, 23, 59)),
    due("V-F1", at(3, 6, 10), at(3, 7, 23, 59), kinds=("issue_follow_up",), issue_id="I-1"),
    logged("V-F1", at(3, 6, 15), satisfaction=5),
    closed("I-1", at(3, 6, 15), visit_id="V-F1"),
    # I-2, I-3: two complaints of C-2 five days apart; I-2 breached its handover unowned.
    raised("I-2", at(3, 20), customer_id="C-2", category="complaint", source="complaint"),
    breached(
        "I-2", "handover", at(3, 21, 23, 59), "customer_service", owner_id=None, customer_id="C-2"
    ),
    raised("I-3", at(3, 25), customer_id="C-2", category="complaint", source="complaint"),
]
