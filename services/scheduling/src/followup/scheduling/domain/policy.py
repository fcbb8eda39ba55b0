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


@dataclass(frozen=True)
class Policy:
    """SPEC §2 defaults, all configurable."""

    first_use_deadline_days: int = 7
    routine_months: tuple[int, ...] = (1, 3, 6, 12)
    routine_deadline_days: int = 7
    deep_every_months: int = 12
    deep_deadline_days: int = 14
    key_deep_every_months: int = 6
    key_deep_tiers: tuple[str, ...] = ("gold",)
    quarterly_every_months: int = 3
    quarterly_from_month: int = 15
    quarterly_deadline_days: int = 14
    holiday_care_days_before: int = 10
    holiday_care_at: time = time(9, 0)
    mature_after_months: int = 12
    intent_every_days: int = 10
    intent_deadline_working_days: int = 3
    issue_follow_up_working_days: int = 1
    special_deadline_days: int = 7
    retry_at: time = time(9, 0)
    max_attempts: int = 3
    merge_within: timedelta = timedelta(days=7)
    # A merged visit's deadline never passes the own deadline of one of these kinds it carries.
    merge_protected_kinds: tuple[str, ...] = (ISSUE_FOLLOW_UP, HOLIDAY_CARE)
    horizon_months: int = 24


DEFAULT_POLICY = Policy()
