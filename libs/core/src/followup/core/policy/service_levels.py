"""SLA clocks (SPEC §4, §10) and KPI targets (SPEC §5) of a policy."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated

from pydantic import Field, model_validator

from followup.core.policy.types import Count, PolicyModel, Positive, Score, Share, Some, Span
from followup.events.customers import Tier
from followup.events.visits import ProblemCategory, Severity

CLOCKS = ("handover", "first_response", "resolution")


class Resolution(PolicyModel):
    """The resolution clock by severity."""

    general: Span
    complex: Span


class SlaRule(PolicyModel):
    """Overrides some clocks for the issues it matches; a filter left out matches all.

    Rules apply in order, so a later match overrides an earlier one clock by clock.
    """

    categories: Some[ProblemCategory] | None = None
    severities: Some[Severity] | None = None
    tiers: Some[Tier] | None = None
    handover: Span | None = None
    first_response: Span | None = None
    resolution: Span | None = None

    @model_validator(mode="after")
    def _sets_a_clock(self) -> SlaRule:
        if all(getattr(self, clock) is None for clock in CLOCKS):
            raise ValueError(f"a rule sets at least one of {', '.join(CLOCKS)}")
        return self

    def matches(self, *, category: str, severity: str, tier: str | None) -> bool:
        """Whether an issue of this category, severity and customer tier is one it overrides."""
        return (
            (self.categories is None or category in self.categories)
            and (self.severities is None or severity in self.severities)
            and (self.tiers is None or tier in self.tiers)
        )


@dataclass(frozen=True)
class IssueClocks:
    """The three spans one issue is raised with."""

    handover: Span
    first_response: Span
    resolution: Span


class Sla(PolicyModel):
    """The clocks every issue gets, the rules that override them, and escalation."""

    handover: Span
    first_response: Span
    resolution: Resolution
    rules: tuple[SlaRule, ...] = ()
    # An IssueSlaWarning goes out once this share of a clock's time is used (SPEC §10).
    warning_share: Annotated[Decimal, Field(gt=0, lt=1)]
    # Pauses allowed per issue; left out: no cap.
    max_pauses: Count | None = None

    def clocks_for(self, *, category: str, severity: str, tier: str | None) -> IssueClocks:
        """The spans for an issue: the base clocks, then each matching rule in order."""
        spans = {
            "handover": self.handover,
            "first_response": self.first_response,
            "resolution": self.resolution.complex
            if severity == "complex"
            else self.resolution.general,
        }
        for rule in self.rules:
            if rule.matches(category=category, severity=severity, tier=tier):
                for clock in CLOCKS:
                    span = getattr(rule, clock)
                    if span is not None:
                        spans[clock] = span
        return IssueClocks(**spans)


class Targets(PolicyModel):
    """KPI targets by the names analytics reports (SPEC §5); left out: no target."""

    satisfaction_rate: Share | None = None
    visit_on_time_rate: Share | None = None
    handover_sla_met_rate: Share | None = None
    first_response_sla_met_rate: Share | None = None
    resolution_sla_met_rate: Share | None = None
    resolution_rate: Share | None = None
    closure_rate: Share | None = None
    complaint_return_visit_rate: Share | None = None
    repair_return_visit_rate: Share | None = None
    spot_check_pass_rate: Share | None = None

    def set(self) -> dict[str, Decimal]:
        """The targets given, by KPI name."""
        return {k: v for k, v in self if v is not None}


class Churn(PolicyModel):
    """The churn-risk rules' parameters (SPEC §5)."""

    dissatisfied_up_to: Score
    complaint_window_days: Positive
    breach_tiers: Some[Tier]


class Kpis(PolicyModel):
    """How analytics counts and what it compares with."""

    targets: Targets
    # A completed visit scored at least this counts as satisfied.
    satisfied_from: Score
    # The categories whose issues are repairs for the repair return-visit rate.
    repair_categories: Some[ProblemCategory]
    churn: Churn
