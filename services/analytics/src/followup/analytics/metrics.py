"""Analytics' own metrics, one object for the service (the core's consumer metrics are apart)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

_QUERY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class AnalyticsMetrics:
    """Facts stored and time per answer; registered on the app's registry when it is built."""

    def __init__(self) -> None:
        self.facts_stored = Counter(
            "followup_analytics_facts_stored",
            "Fact rows written from consumed events (a batch rolled back and retried counts again)",
            registry=None,
        )
        self.query_seconds = Histogram(
            "followup_analytics_query_seconds",
            "Time to answer a KPI, report or churn-list request; source: aggregates (read from"
            " the incremental aggregates)",
            ["endpoint", "source"],
            buckets=_QUERY_BUCKETS,
            registry=None,
        )

    def register(self, registry: CollectorRegistry) -> None:
        """Exposes these metrics on the registry (once per registry)."""
        registry.register(self.facts_stored)
        registry.register(self.query_seconds)
