"""The visit kinds and the policy's knobs (SPEC §2 defaults, all configurable)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time, timedelta

FIRST_USE = "first_use"
ROUTINE = "routine"
DEEP = "deep"
KEY_DEEP = "key_deep"
QUARTERLY = "quarterly"
HOLIDAY_CARE = "holiday_care"
INTENT_FOLLOW_UP = "intent_follow_up"
ISSUE_FOLLOW_UP = "issue_follow_up"
SPECIAL = "special"
RETRY = "retry"

# Kinds in the order a merged visit lists them.
KIND_ORDER = (
    FIRST_USE,
    SPECIAL,
    ROUTINE,
    DEEP,
    KEY_DEEP,
    QUARTERLY,
    HOLIDAY_CARE,
    INTENT_FOLLOW_UP,
    ISSUE_FOLLOW_UP,
    RETRY,
)
KIND_RANK = {kind: rank for rank, kind in enumerate(KIND_ORDER)}
# Every kind a policy can plan (a retry follows an unreachable visit).
PLANNED_KINDS = frozenset(KIND_ORDER) - {RETRY}
# Holiday-care festivals by lunar month and day.
FESTIVALS = (("Spring Festival", 1, 1), ("Mid-Autumn", 8, 15))


@dataclass(frozen=True)
class Policy:
    """SPEC §2 defaults, all configurable; `followup.scheduling.domain.rules` builds one from a
    policy document for a customer's tier and segment."""

    # The kinds planned for the customer (a kind left out is never planned).
    kinds: frozenset[str] = PLANNED_KINDS
    # Kinds anchored to the customer's first delivery rather than to each order's.
    customer_kinds: frozenset[str] = frozenset()
    first_use_deadline_days: int = 7
    # Above 0: first_use's deadline counts working days instead of calendar days.
    first_use_working_days: int = 0
    routine_months: tuple[int, ...] = (1, 3, 6, 12)
    routine_deadline_days: int = 7
    deep_every_months: int = 12
    deep_from_month: int = 12
    # A deep visit replaces the routine visit due on the same date.
    deep_replaces_routine: bool = True
    deep_deadline_days: int = 14
    key_deep_every_months: int = 6
    key_deep_from_month: int = 6
    key_deep_tiers: tuple[str, ...] = ("gold",)
    key_deep_deadline_days: int = 14
    quarterly_every_months: int = 3
    quarterly_from_month: int = 15
    quarterly_deadline_days: int = 14
    holiday_care_days_before: int = 10
    holiday_care_at: time = time(9, 0)
    holiday_care_festivals: tuple[tuple[str, int, int], ...] = FESTIVALS
    holiday_care_older_than_months: int = 12
    # Quarterly visits only once the delivery is older than this.
    mature_after_months: int = 12
    intent_every_days: int = 10
    intent_deadline_working_days: int = 3
    issue_follow_up_working_days: int = 1
    special_deadline_days: int = 7
    retry_at: time = time(9, 0)
    max_attempts: int = 3
    retry_working_days: int = 1
    merge_within: timedelta = timedelta(days=7)
    # A merged visit's deadline never passes the own deadline of one of these kinds it carries.
    merge_protected_kinds: tuple[str, ...] = (ISSUE_FOLLOW_UP, HOLIDAY_CARE)
    horizon_months: int = 24


DEFAULT_POLICY = Policy()
