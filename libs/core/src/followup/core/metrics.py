"""Prometheus metrics of the event-processing core (prefix `followup_`).

Built in main with its own registry, never at import time, so tests and several services in
one process never collide.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

OUTCOMES = ("ok", "duplicate", "skipped", "dead_letter")

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
_BATCH_BUCKETS = (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2000, 5000)


class Metrics:
    """Every core metric, registered in one registry."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.events_consumed = Counter(
            "followup_events_consumed",
            "Events consumed, by outcome",
            ["consumer", "outcome"],
            registry=r,
        )
        self.batch_size = Histogram(
            "followup_consumer_batch_size",
            "Messages per consumed batch",
            ["consumer"],
            buckets=_BATCH_BUCKETS,
            registry=r,
        )
        self.processing_latency = Histogram(
            "followup_processing_latency_seconds",
            "From the message's Kafka timestamp (publish) to the commit of its effect",
            ["consumer"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.consumer_lag = Gauge(
            "followup_consumer_lag",
            "End offset minus the offset stored in the database, per partition",
            ["consumer", "topic", "partition"],
            registry=r,
        )
        self.partition_stopped = Gauge(
            "followup_consumer_partition_stopped",
            "1 while a partition is stopped: its log no longer matches the stored offset",
            ["consumer", "topic", "partition"],
            registry=r,
        )
        self.outbox_pending = Gauge(
            "followup_outbox_pending_rows", "Outbox rows not yet published", registry=r
        )
        self.outbox_oldest_age = Gauge(
            "followup_outbox_oldest_age_seconds",
            "Age of the oldest unpublished outbox row",
            registry=r,
        )
        self.outbox_published = Counter(
            "followup_outbox_published", "Events the outbox relay published", registry=r
        )
        self.pruned_rows = Counter(
            "followup_pruned_rows",
            "Old processed ids and published outbox payloads pruned",
            ["table"],
            registry=r,
        )
        self.dead_letters = Counter(
            "followup_dead_letters",
            "Messages sent to the dead-letter topic",
            ["consumer", "reason"],
            registry=r,
        )
        self.handler_failures = Counter(
            "followup_handler_failures",
            "Handler exceptions (each attempt)",
            ["consumer", "event_type"],
            registry=r,
        )
        self.transient_failures = Counter(
            "followup_transient_failures",
            "Database or broker failures retried with backoff",
            ["component"],
            registry=r,
        )
        self.ticks = Counter(
            "followup_clock_ticks", "Time-driven sweeps run", ["consumer"], registry=r
        )
        self.clock_now = Gauge(
            "followup_clock_now_seconds", "The service clock's now (Unix seconds)", registry=r
        )


def observe_many(histogram: Any, values: Sequence[float]) -> None:
    """Observes many values at once: one lock round per bucket instead of one per value.

    Uses the client's histogram internals when present (stable for years), else observes one
    by one.
    """
    bounds = getattr(histogram, "_upper_bounds", None)
    buckets = getattr(histogram, "_buckets", None)
    total = getattr(histogram, "_sum", None)
    if bounds is None or buckets is None or total is None:
        for v in values:
            histogram.observe(v)
        return
    counts = [0] * len(bounds)
    for v in values:
        counts[bisect.bisect_left(bounds, v)] += 1
    for i, n in enumerate(counts):
        if n:
            buckets[i].inc(n)
    total.inc(sum(values))


def observe_ages(histogram: Any, now_ms: float, stamps_ms: Sequence[float]) -> None:
    """Observes how old each stamp is at `now_ms`, in seconds (a stamp ahead of now is 0).

    The same counts as observing each age, for one sort of the stamps (records arrive in
    offset order, so mostly sorted runs) and a bisect per bucket instead of work per value.
    """
    bounds = getattr(histogram, "_upper_bounds", None)
    buckets = getattr(histogram, "_buckets", None)
    total = getattr(histogram, "_sum", None)
    if bounds is None or buckets is None or total is None:
        observe_many(histogram, [max(0.0, (now_ms - s) / 1000) for s in stamps_ms])
        return
    ordered = sorted(stamps_ms)
    n = len(ordered)
    # An age is at most `bound` exactly when the stamp is at least now - bound: the number of
    # ages up to each bound is the number of stamps from that cutoff on (all of them for +Inf).
    below = 0
    for i, bound in enumerate(bounds):
        upto = n - bisect.bisect_left(ordered, now_ms - bound * 1000)
        if upto > below:
            buckets[i].inc(upto - below)
            below = upto
    past = bisect.bisect_right(ordered, now_ms)
    # Relative to a base near now: Kafka's stamps are integer milliseconds, so their sum less
    # the base's stays exact instead of losing the fraction to the magnitude of past * now.
    base = int(now_ms)
    total.inc((past * (now_ms - base) - (sum(ordered[:past]) - past * base)) / 1000)
