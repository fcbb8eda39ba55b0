"""Notification metrics (prefix `followup_`), registered on the service's registry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

from followup.core.notify.models import Channel

OUTCOMES = ("delivered", "retried", "dead_letter")
_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)


class NotifyMetrics:
    """Attempts by channel and outcome, and how long deliveries took."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        r = registry if registry is not None else CollectorRegistry()
        self.notifications = Counter(
            "followup_notifications",
            "Delivery attempts by channel and outcome (delivered, retried, dead_letter)",
            ["channel", "outcome"],
            registry=r,
        )
        self.latency = Histogram(
            "followup_notification_delivery_seconds",
            "From storing a notification to its delivery",
            ["channel"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        for channel in ("webhook", "email"):
            for outcome in OUTCOMES:
                self.notifications.labels(channel, outcome)

    def outcome(self, channel: Channel, outcome: str, seconds: float | None = None) -> None:
        """Counts one attempt; a delivery also observes its latency."""
        self.notifications.labels(channel, outcome).inc()
        if seconds is not None:
            self.latency.labels(channel).observe(seconds)
