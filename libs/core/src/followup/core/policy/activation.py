"""The PolicyActivated event of a policy (SPEC §11): built here, published by the CLI."""

from __future__ import annotations

from datetime import datetime

from followup.core.policy.loading import canonical_document, policy_digest
from followup.core.policy.model import Policy
from followup.events import Event, PolicyActivated, derived_id, make_event, topics

SOURCE = "followup/cli"


def activation_id(policy: Policy, effective_at: datetime) -> str:
    """The same policy activated for the same instant is the same fact: one id."""
    return derived_id(
        "PolicyActivated",
        policy.id,
        str(policy.version),
        policy_digest(policy),
        effective_at.isoformat(),
    )


def policy_activated(
    policy: Policy, *, effective_at: datetime, published_at: datetime
) -> Event[PolicyActivated]:
    """PolicyActivated for `policy`, in force from `effective_at` on; keyed "policy"."""
    data = PolicyActivated(
        policy_id=policy.id,
        version=policy.version,
        digest=policy_digest(policy),
        effective_at=effective_at,
        document=canonical_document(policy),
    )
    return make_event(
        data,
        id=activation_id(policy, effective_at),
        source=SOURCE,
        subject=topics.POLICY_KEY,
        time=published_at,
    )
