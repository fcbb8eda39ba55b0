"""Issues' own Prometheus metrics, in one object registered on the service's registry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter

from followup.issues.domain.model import Breach


class IssueMetrics:
    """The counters issues keeps; each counts nothing until registered."""

    def __init__(self) -> None:
        self._breaches: Counter | None = None

    def register(self, registry: CollectorRegistry) -> None:
        """Creates the counters on the app's registry (the core builds it with the app)."""
        self._breaches = Counter(
            "followup_issue_sla_breaches",
            "SLA breaches, once per clock",
            ["clock", "department"],
            registry=registry,
        )

    def breach_escalated(self, breach: Breach) -> None:
        """One SLA breach recorded and escalated."""
        if self._breaches is not None:
            self._breaches.labels(breach.clock, breach.department).inc()
