"""The policy in force at an instant, from the PolicyActivated events seen so far (SPEC §11).

A replay reads the same events in the same order (one key, one partition), so it finds the
same policy for every event's time as the live service did.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from datetime import datetime

from followup.core.policy.loading import PolicyError, policy_digest, policy_from_document
from followup.core.policy.model import Policy, Problem
from followup.events import PolicyActivated


@dataclass(frozen=True)
class Activation:
    """One policy and the instant it is in force from."""

    effective_at: datetime
    policy: Policy
    digest: str


def activation_of(data: PolicyActivated) -> Activation:
    """The Activation an event announces; PolicyError if its document is not that policy."""
    source = f"PolicyActivated {data.policy_id} v{data.version}"
    policy = policy_from_document(data.document, source)
    digest = policy_digest(policy)
    mismatches = [
        Problem(field, f"the event says {said!r}, the document {found!r}")
        for field, said, found in (
            ("policy_id", data.policy_id, policy.id),
            ("version", data.version, policy.version),
            ("digest", data.digest, digest),
        )
        if said != found
    ]
    if mismatches:
        raise PolicyError(source, mismatches)
    return Activation(data.effective_at, policy, digest)


@dataclass(frozen=True)
class PolicyHistory:
    """The default policy, then each activation from its effective time on."""

    default: Policy
    activations: tuple[Activation, ...] = ()

    def activated(self, activation: Activation) -> PolicyHistory:
        """This history with one more activation; of two for the same instant, the later seen
        wins."""
        keys = [a.effective_at for a in self.activations]
        i = bisect_right(keys, activation.effective_at)
        return PolicyHistory(
            self.default, (*self.activations[:i], activation, *self.activations[i:])
        )

    def at(self, instant: datetime) -> Policy:
        """The policy in force at `instant` (aware)."""
        keys = [a.effective_at for a in self.activations]
        i = bisect_right(keys, instant)
        return self.activations[i - 1].policy if i else self.default
