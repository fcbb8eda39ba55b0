"""A service's notifications: the consumer that stores them and the worker that sends them.

Built by a service's main.py and handed to the core as a background part
(`ServiceParts.background`); it starts once the service's pool and clock exist.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import structlog
from prometheus_client import CollectorRegistry

from followup.core.consumer import EventConsumer
from followup.core.deadletter import DeadLetterPublisher
from followup.core.notify import config
from followup.core.notify.config import Channels, Recipients
from followup.core.notify.metrics import NotifyMetrics
from followup.core.notify.models import Channel
from followup.core.notify.notices import NOTIFIED_TYPES, deliveries_for
from followup.core.notify.senders import Sender
from followup.core.notify.settings import NotifySettings
from followup.core.notify.smtp import SmtpSender
from followup.core.notify.store import migrate_store, store
from followup.core.notify.webhook import WebhookSender
from followup.core.notify.worker import DeliveryWorker
from followup.core.runtime import Runtime
from followup.core.subscription import Subscription, Tx
from followup.events import TYPE_NAMES, Event, topic_for, topics

log = structlog.get_logger(__name__)


def notified_topics() -> list[str]:
    """The topics that carry a notified type of the contract (visits' once VisitAssigned is)."""
    found = {topic_for(t) for t in NOTIFIED_TYPES if t in TYPE_NAMES}
    return [t for t in topics.ALL_TOPICS if t in found]


def notify_subscription(
    consumer: str,
    recipients: Recipients,
    max_age: timedelta,
    wall_ms: Callable[[], float] = lambda: time.time() * 1000,
) -> Subscription:
    """Stores each notified event's deliveries in the consumer's batch transaction.

    An event whose record reached the broker more than `max_age` ago (wall time, whatever the
    service's clock) notifies nobody; one without a record time (a dead letter replayed) does.
    """
    max_age_ms = max_age.total_seconds() * 1000

    async def store_deliveries(tx: Tx, events: list[Event[Any]]) -> None:
        now_ms = wall_ms()
        fresh = [
            e for e in events if (ms := tx.record_ms(e.id)) is None or now_ms - ms <= max_age_ms
        ]
        found, unknown = deliveries_for(fresh, recipients)
        await store(tx.conn, found)
        for a in unknown:
            log.warning("notification recipient not configured", person=a.person_id)

    handler = store_deliveries
    return Subscription(
        consumer=consumer,
        topics=notified_topics(),
        batch_handlers={t: handler for t in NOTIFIED_TYPES if t in TYPE_NAMES},
    )


def senders_for(channels: Channels, settings: NotifySettings) -> dict[Channel, Sender]:
    """A sender per channel the file configures."""
    senders: dict[Channel, Sender] = {}
    if channels.webhooks:
        senders["webhook"] = WebhookSender(channels.webhooks, timeout_s=settings.timeout_s)
    if channels.smtp is not None:
        senders["email"] = SmtpSender(channels.smtp)
    return senders


class Notifier:
    """Consumer and worker of one service's notifications (nothing runs until `start`)."""

    def __init__(
        self, service: str, settings: NotifySettings, channels: Channels | None = None
    ) -> None:
        self.consumer_name = f"{service}-notify"
        # Loaded at start when not given: building a service's parts (for a replay, say)
        # needs neither the file nor its secrets.
        self.channels = channels
        self.settings = settings
        self.metrics = NotifyMetrics()
        self.worker: DeliveryWorker | None = None
        self.consumer: EventConsumer | None = None

    def register_metrics(self, registry: CollectorRegistry) -> None:
        """Registers the notification metrics on the service's registry."""
        self.metrics = NotifyMetrics(registry)

    async def start(self, runtime: Runtime) -> None:
        """Loads the channels file, creates the table, starts the worker, then the consumer."""
        channels = self.channels or config.load(Path(self.settings.file))
        self.channels = channels
        await migrate_store(runtime.pool)
        worker = DeliveryWorker(
            runtime.pool,
            channels.recipients,
            senders_for(channels, self.settings),
            self.settings,
            self.metrics,
        )
        await worker.start()
        self.worker = worker
        subscription = notify_subscription(
            self.consumer_name,
            channels.recipients,
            timedelta(hours=self.settings.max_age_hours),
        )
        consumer = EventConsumer(
            subscription,
            pool=runtime.pool,
            settings=runtime.settings,
            clock=runtime.clock,
            metrics=runtime.metrics,
            dead_letters=DeadLetterPublisher(runtime.settings, runtime.metrics),
            # Stored rows are due at once: the worker looks without waiting for its poll.
            after_commit=lambda _items: worker.wake(),
        )
        await consumer.start()
        self.consumer = consumer
        log.info("notifications started", consumer=self.consumer_name)

    async def stop(self) -> None:
        """Stops the consumer, then the worker."""
        if self.consumer is not None:
            await self.consumer.stop()
            self.consumer = None
        if self.worker is not None:
            await self.worker.stop()
            self.worker = None


def notifier_from_settings(service: str, settings: NotifySettings) -> Notifier | None:
    """The service's notifier when a channels file is configured; None otherwise."""
    if not settings.file:
        log.info("notifications off: no FOLLOWUP_NOTIFY_FILE")
        return None
    return Notifier(service, settings)


def background(notifier: Notifier | None) -> Sequence[Notifier]:
    """The notifier as a list of background parts (empty when off)."""
    return [notifier] if notifier is not None else []
