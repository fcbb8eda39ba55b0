"""A customer's facts: the state they fold into, one `evolve` (a function per event type), and
the policy's view of that state (`CustomerFacts`).

The same facts in any order of arrival fold into the same state, so the plan (a function of
the state) is the same whatever the order or the batches they came in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from followup.events import (
    CustomerDelivered,
    CustomerTierChanged,
    IntentSigned,
    IssueResolved,
    ProjectStarted,
)

# The events a customer's state folds.
CustomerFact = (
    CustomerDelivered | IntentSigned | ProjectStarted | IssueResolved | CustomerTierChanged
)


@dataclass(frozen=True)
class Delivery:
    """A CustomerDelivered fact, as the policy needs it."""

    customer_id: str
    order_id: str
    delivered_at: datetime
    tier: str
    timezone: str


@dataclass(frozen=True)
class ResolvedIssue:
    """An IssueResolved fact: the fix must be confirmed with the customer."""

    issue_id: str
    resolved_at: datetime


@dataclass(frozen=True)
class CustomerFacts:
    """Everything the policy knows about one customer."""

    customer_id: str
    tier: str
    timezone: str
    deliveries: tuple[Delivery, ...] = ()
    intent_signed_at: datetime | None = None
    project_started_at: datetime | None = None
    resolved_issues: tuple[ResolvedIssue, ...] = ()
    segment: str | None = None


@dataclass(frozen=True)
class Profile:
    """What is kept about a customer besides their deliveries and issues (no personal data)."""

    tier: str | None = None
    segment: str | None = None
    timezone: str | None = None
    # The time of the fact that set tier, segment and zone.
    profile_at: datetime | None = None
    region: str | None = None
    account_manager_id: str | None = None
    intent_signed_at: datetime | None = None
    project_started_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class CustomerState:
    """One customer's folded facts. The mappings are never changed: `evolve` makes new ones."""

    profile: Profile = field(default_factory=Profile)
    # order -> its first delivery; issue -> its latest resolution (instants in UTC).
    deliveries: Mapping[str, datetime] = field(default_factory=dict)
    resolved: Mapping[str, datetime] = field(default_factory=dict)


def as_stored(at: datetime) -> datetime:
    """An instant as PostgreSQL gives it back (UTC), so a plan computed from an event and one
    re-computed later from the stored facts write the same keys and ids."""
    return at.astimezone(UTC)


def evolve(state: CustomerState, fact: CustomerFact) -> CustomerState:
    """The state once `fact` is known."""
    if isinstance(fact, CustomerDelivered):
        return delivered(state, fact)
    if isinstance(fact, IntentSigned):
        return intent_signed(state, fact)
    if isinstance(fact, ProjectStarted):
        return project_started(state, fact)
    if isinstance(fact, CustomerTierChanged):
        return tier_changed(state, fact)
    return issue_resolved(state, fact)


def delivered(state: CustomerState, d: CustomerDelivered) -> CustomerState:
    """A delivery: the profile as of the latest fact; a known order keeps its first delivery."""
    profile = with_profile_fact(
        state.profile,
        tier=d.tier,
        segment=d.segment,
        timezone=d.timezone,
        region=d.region,
        account_manager_id=d.account_manager_id,
        at=d.delivered_at,
    )
    deliveries = state.deliveries
    if d.order_id not in deliveries:
        deliveries = {**deliveries, d.order_id: as_stored(d.delivered_at)}
    return CustomerState(profile, deliveries, state.resolved)


def intent_signed(state: CustomerState, d: IntentSigned) -> CustomerState:
    """A signed intent: the profile as of the latest fact; the first signing counts."""
    profile = with_profile_fact(
        state.profile,
        tier=d.tier,
        segment=d.segment,
        timezone=d.timezone,
        region=d.region,
        account_manager_id=None,
        at=d.signed_at,
    )
    profile = with_intent_signed(profile, as_stored(d.signed_at))
    return CustomerState(profile, state.deliveries, state.resolved)


def project_started(state: CustomerState, d: ProjectStarted) -> CustomerState:
    """The project started: intent follow-ups stop at the first start."""
    profile = with_project_started(state.profile, as_stored(d.started_at))
    return CustomerState(profile, state.deliveries, state.resolved)


def tier_changed(state: CustomerState, d: CustomerTierChanged) -> CustomerState:
    """A CRM's tier change: the tier as of the latest fact, by its `changed_at` (SPEC §11).

    The plan is re-planned on it: visits already published keep theirs, open ones follow it.
    """
    p = state.profile
    newer = p.profile_at is None or d.changed_at >= p.profile_at
    profile = replace(
        p,
        tier=d.tier if newer else p.tier,
        profile_at=d.changed_at if p.profile_at is None else max(p.profile_at, d.changed_at),
    )
    return CustomerState(profile, state.deliveries, state.resolved)


def issue_resolved(state: CustomerState, d: IssueResolved) -> CustomerState:
    """An issue resolved: its latest resolution asks for the follow-up visit."""
    at = as_stored(d.resolved_at)
    latest = max(at, state.resolved.get(d.issue_id, at))
    return CustomerState(state.profile, state.deliveries, {**state.resolved, d.issue_id: latest})


def with_profile_fact(
    p: Profile,
    *,
    tier: str,
    segment: str,
    timezone: str | None,
    region: str | None,
    account_manager_id: str | None,
    at: datetime,
) -> Profile:
    """Tier, segment and zone as of the latest fact (by its own time, whatever the arrival order).

    A fact without a zone keeps the known one; an older fact only fills a zone still unknown.
    Region and account manager: the latest arrival that names one.
    """
    newer = p.profile_at is None or at >= p.profile_at
    # Built directly, not with `replace` (which costs twice as much): once per fact ingested.
    return Profile(
        tier=tier if newer else p.tier,
        segment=segment if newer else p.segment,
        timezone=(timezone or p.timezone) if newer else (p.timezone or timezone),
        profile_at=at if p.profile_at is None else max(p.profile_at, at),
        region=region if region is not None else p.region,
        account_manager_id=(
            account_manager_id if account_manager_id is not None else p.account_manager_id
        ),
        intent_signed_at=p.intent_signed_at,
        project_started_at=p.project_started_at,
    )


def with_intent_signed(p: Profile, signed_at: datetime) -> Profile:
    """The first signing counts."""
    first = signed_at if p.intent_signed_at is None else min(p.intent_signed_at, signed_at)
    return replace(p, intent_signed_at=first)


def with_project_started(p: Profile, started_at: datetime) -> Profile:
    """The first start counts: intent follow-ups stop there."""
    first = started_at if p.project_started_at is None else min(p.project_started_at, started_at)
    return replace(p, project_started_at=first)


def customer_facts(customer_id: str, state: CustomerState, default_timezone: str) -> CustomerFacts:
    """The policy's view of a customer's state (unknown zone and tier: the defaults)."""
    profile = state.profile
    tz = profile.timezone or default_timezone
    tier = profile.tier or "bronze"
    return CustomerFacts(
        customer_id=customer_id,
        tier=tier,
        timezone=tz,
        deliveries=tuple(
            Delivery(customer_id, o, at, tier, tz) for o, at in state.deliveries.items()
        ),
        intent_signed_at=profile.intent_signed_at,
        project_started_at=profile.project_started_at,
        resolved_issues=tuple(ResolvedIssue(i, at) for i, at in state.resolved.items()),
        segment=profile.segment,
    )


def first_fact_at(facts: CustomerFacts) -> datetime | None:
    """The time of the customer's first fact that plans visits (None: nothing to plan yet)."""
    starts = [d.delivered_at for d in facts.deliveries]
    if facts.intent_signed_at:
        starts.append(facts.intent_signed_at)
    starts += [i.resolved_at for i in facts.resolved_issues]
    return min(starts) if starts else None


def local_date(at: datetime, timezone: str) -> date:
    """The calendar date of an instant in the customer's zone."""
    return at.astimezone(ZoneInfo(timezone)).date()
