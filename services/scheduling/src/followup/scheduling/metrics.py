"""Scheduling's own Prometheus metrics, one object built in main (not at import time).

Counted in the transaction's handler: a batch rolled back and retried counts again.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class SchedulingMetrics:
    """Every scheduling metric; `register` adds them to the service's registry."""

    def __init__(self) -> None:
        self.visits_stored = Counter(
            "followup_scheduling_visits_stored",
            "Planned visits written by (re-)planning",
            registry=None,
        )
        self.plans_extended = Counter(
            "followup_scheduling_plans_extended",
            "Customers whose stored plan was extended, by who extended it (tick or reader)",
            ["by"],
            registry=None,
        )
        self.visits_due = Counter(
            "followup_scheduling_visits_due", "VisitDue events written to the outbox", registry=None
        )
        self.deadlines_recomputed = Counter(
            "followup_scheduling_deadlines_recomputed",
            "Open visits whose deadline official calendar data moved",
            registry=None,
        )
        self.next_year_official = Gauge(
            "followup_calendar_next_year_official",
            "0 from November 1 while next year's official calendar is missing, else 1",
            ["region"],
            registry=None,
        )

    def register(self, registry: CollectorRegistry) -> None:
        """Registers every metric on `registry` (the app's, served on /metrics)."""
        for metric in (
            self.visits_stored,
            self.plans_extended,
            self.visits_due,
            self.deadlines_recomputed,
            self.next_year_official,
        ):
            registry.register(metric)
