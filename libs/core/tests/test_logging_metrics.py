"""Logs carry the event's context and no personal data; metrics and readiness (no infra)."""

from __future__ import annotations

import logging
import random
from collections.abc import Iterator

import orjson
import pytest
import structlog
from prometheus_client import CollectorRegistry, generate_latest

from followup.core.logging import bind_event, configure_logging, unbind_event
from followup.core.metrics import Metrics, observe_ages, observe_many


@pytest.fixture
def json_logs() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()
    root.handlers[:] = handlers
    root.setLevel(level)


def test_log_lines_are_json_with_event_context_and_no_personal_data(
    json_logs: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("scheduling", "INFO")
    log = structlog.get_logger("t")
    bind_event("E-1", "CustomerDelivered", "corr-1", "C-9")
    log.info(
        "planned",
        contact={"name": "Li Lei", "phone": "+86 138", "address": "x"},
        email="li@example.com",
        data={"customer": {"Name": "Li", "tier": "gold"}},
        visits=[{"phone": "1"}],
    )
    unbind_event()
    log.debug("hidden at INFO")
    logging.getLogger("aiokafka").warning("from the standard library, phone=%s", "kept?")
    lines = [orjson.loads(line) for line in capsys.readouterr().out.splitlines()]
    first = lines[0]
    assert first["service"] == "scheduling" and first["event"] == "planned"
    assert first["event_id"] == "E-1" and first["event_type"] == "CustomerDelivered"
    assert first["correlation_id"] == "corr-1" and first["customer_id"] == "C-9"
    assert first["contact"] == "***" and first["email"] == "***"
    assert first["data"] == {"customer": {"Name": "***", "tier": "gold"}}
    assert first["visits"] == [{"phone": "***"}]
    assert "Li Lei" not in str(lines) and "li@example.com" not in str(lines)
    assert len(lines) == 2 and "event_id" not in lines[1]
    assert lines[1]["service"] == "scheduling" and lines[1]["level"] == "warning"


def test_metrics_are_prefixed_and_registered_per_instance() -> None:
    a, b = Metrics(CollectorRegistry()), Metrics(CollectorRegistry())
    a.events_consumed.labels("c", "ok").inc(3)
    observe_many(a.processing_latency.labels("c"), [0.001, 0.02, 0.02, 7.0])
    text = generate_latest(a.registry).decode()
    assert 'followup_events_consumed_total{consumer="c",outcome="ok"} 3.0' in text
    assert 'followup_processing_latency_seconds_bucket{consumer="c",le="0.005"} 1.0' in text
    assert 'followup_processing_latency_seconds_bucket{consumer="c",le="0.025"} 3.0' in text
    assert 'followup_processing_latency_seconds_count{consumer="c"} 4.0' in text
    for name in (
        "followup_consumer_lag",
        "followup_outbox_pending_rows",
        "followup_outbox_oldest_age_seconds",
        "followup_dead_letters_total",
        "followup_consumer_batch_size",
        "followup_handler_failures_total",
    ):
        assert name in text or f"# HELP {name}" in text, name
    assert "followup_events_consumed_total{" not in generate_latest(b.registry).decode()


def test_observe_ages_counts_as_observing_each_age() -> None:
    """Ages from stamps (one sort, a bisect per bucket) land where one observe() each puts them."""
    rng = random.Random(7)
    for _ in range(200):
        now_ms = 1_780_000_000_000.0 + rng.choice([0.0, 0.25, 0.731])
        # Ages on bucket bounds exactly, inside buckets, past the last bound, stamps ahead of now.
        # Integer milliseconds, as Kafka stamps records.
        stamps = [
            int(now_ms) - rng.choice([5, 10, 1000, 300_000, 400_000, -20, 0])
            if rng.random() < 0.3
            else int(now_ms - rng.random() * rng.choice([30, 2_000, 600_000]))
            for _ in range(rng.randint(0, 60))
        ]
        one, many = Metrics(CollectorRegistry()), Metrics(CollectorRegistry())
        for stamp in stamps:
            one.processing_latency.labels("c").observe(max(0.0, (now_ms - stamp) / 1000))
        observe_ages(many.processing_latency.labels("c"), now_ms, stamps)
        expected = one.processing_latency.labels("c")
        got = many.processing_latency.labels("c")
        assert [b.get() for b in got._buckets] == [b.get() for b in expected._buckets]
        assert got._sum.get() == pytest.approx(expected._sum.get(), rel=1e-9, abs=1e-9)
