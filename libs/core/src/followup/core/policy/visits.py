"""The visit policy (SPEC §2): which kinds are planned, on what cadence, with what deadline, for
whom; the merge window, retries, and what the visits service decides (threshold, spot checks).

Each kind holds a list of rules; for a customer the first rule whose tiers, segments and
products match is the one that applies (no rule matching: that kind is not planned for them).
"""

from __future__ import annotations

from datetime import time
from typing import Annotated, Literal

from pydantic import Field, Strict

from followup.core.policy.types import (
    Count,
    Name,
    PolicyModel,
    Positive,
    Region,
    Score,
    Some,
    Span,
    TimeZoneName,
    Unique,
)
from followup.events.customers import Segment, Tier
from followup.events.scheduling import VisitKind


class Applicability(PolicyModel):
    """Whom a rule applies to; a filter left out matches everyone."""

    tiers: Some[Tier] | None = None
    segments: Some[Segment] | None = None
    products: Some[Name] | None = None
    # "Older than N months", judged at the visit's due date (SPEC §2); 0: no age condition.
    older_than_months: Count = 0

    def applies_to(self, *, tier: str, segment: str | None, product: str | None) -> bool:
        """Whether the tier, segment and product pass this rule's filters."""
        return (
            (self.tiers is None or tier in self.tiers)
            and (self.segments is None or segment in self.segments)
            and (self.products is None or product in self.products)
        )


class OnOccasion(Applicability):
    """Due when its occasion happens: first_use and special at the delivery, issue_follow_up
    at the issue's resolution."""

    deadline: Span


class AtMonths(Applicability):
    """Due the listed months after the delivery (routine)."""

    months: Some[Positive]
    # Anchored to each order's delivery, or to the customer's first delivery.
    per: Literal["order", "customer"]
    deadline: Span


class EveryMonths(Applicability):
    """Due every N months after the delivery, from month `from_month` on (deep, key_deep,
    quarterly); months are anchored to the delivery and clamp to the month's end."""

    every_months: Positive
    from_month: Positive
    per: Literal["order", "customer"]
    # Kinds whose visit due on the same date this one replaces (deep replaces routine).
    replaces: Unique[VisitKind] = ()
    deadline: Span


class EveryDays(Applicability):
    """Due at the occasion, then every N days counted from it (intent_follow_up: from the
    signing until the project starts)."""

    every_days: Positive
    deadline: Span


class Festival(PolicyModel):
    """A festival by its lunar date (Spring Festival 1/1, Mid-Autumn 8/15)."""

    name: Name
    lunar_month: Annotated[int, Strict(), Field(ge=1, le=12)]
    lunar_day: Annotated[int, Strict(), Field(ge=1, le=30)]


class BeforeFestivals(Applicability):
    """Due `lead_days` before each festival at `at` local time (holiday_care)."""

    festivals: Some[Festival]
    # At least a day: on the festival itself the visit would be past its deadline.
    lead_days: Positive
    at: time
    # The last working day before the festival's public holiday begins; the day before the
    # festival where no holiday data exists (SPEC §2).
    deadline: Literal["last_working_day_before_holiday"]


class Kinds(PolicyModel):
    """The planned kinds (retry is in `retries`); a kind left out is never planned."""

    first_use: tuple[OnOccasion, ...] = ()
    routine: tuple[AtMonths, ...] = ()
    deep: tuple[EveryMonths, ...] = ()
    key_deep: tuple[EveryMonths, ...] = ()
    quarterly: tuple[EveryMonths, ...] = ()
    holiday_care: tuple[BeforeFestivals, ...] = ()
    intent_follow_up: tuple[EveryDays, ...] = ()
    issue_follow_up: tuple[OnOccasion, ...] = ()
    special: tuple[OnOccasion, ...] = ()

    def rules(self, kind: str) -> tuple[Applicability, ...]:
        """The rules of a kind, in order (none for retry or an unknown kind)."""
        found: tuple[Applicability, ...] = getattr(self, kind) if kind in Kinds.model_fields else ()
        return found

    def rule_for(
        self, kind: str, *, tier: str, segment: str | None, product: str | None
    ) -> Applicability | None:
        """The first rule of a kind that applies to the customer and product, else None."""
        for rule in self.rules(kind):
            if rule.applies_to(tier=tier, segment=segment, product=product):
                return rule
        return None

    def planned(self) -> list[str]:
        """The kinds that have at least one rule, in the file's order."""
        return [kind for kind in Kinds.model_fields if getattr(self, kind)]


class Planning(PolicyModel):
    """How far plans reach and the defaults of a customer without zone or region."""

    horizon_months: Positive
    default_timezone: TimeZoneName
    default_region: Region


class Merge(PolicyModel):
    """Visits due within the window merge; a protected kind keeps its own deadline (SPEC §2)."""

    window_days: Count
    protected_kinds: Unique[VisitKind]


class Retries(PolicyModel):
    """After `unreachable`: `at` local on the next working day, `deadline` from that due time."""

    # VisitDue.attempt is 1..3 in the contract (SPEC §6).
    max_attempts: Annotated[int, Strict(), Field(ge=1, le=3)]
    at: time
    deadline: Span


class VisitRules(PolicyModel):
    """What the visits service decides from a log (SPEC §3, §10)."""

    # A completed log scored at or below this, with no problem listed, raises an issue.
    dissatisfied_at_or_below: Score
    spot_checks_per_agent_month: Count
