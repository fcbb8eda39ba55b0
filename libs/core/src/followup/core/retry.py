"""Which failures are transient (retry with backoff), and the backoff itself."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field

import asyncpg
from aiokafka.errors import KafkaConnectionError, KafkaError, KafkaTimeoutError

# Errors meaning "the database or the broker is unavailable right now": never the event's
# fault, so they are retried without limit and never dead-letter anything.
_PG_TRANSIENT: tuple[type[BaseException], ...] = (
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.OperatorInterventionError,  # admin shutdown, crash shutdown
    asyncpg.exceptions.SerializationError,
    asyncpg.exceptions.DeadlockDetectedError,
    asyncpg.exceptions.InsufficientResourcesError,
    asyncpg.exceptions.LockNotAvailableError,
)


class Transient(Exception):
    """Wraps a failure of infrastructure the core knows to be transient."""


def is_transient(exc: BaseException) -> bool:
    """True for database/broker unavailability and timeouts, False for everything else."""
    if isinstance(exc, Transient | ConnectionError | TimeoutError | OSError):
        return True
    if isinstance(exc, _PG_TRANSIENT):
        return True
    if isinstance(exc, asyncpg.InterfaceError) and not isinstance(exc, asyncpg.DataError):
        # Most interface errors are programming errors; a closed connection or pool is not.
        text = str(exc).lower()
        return "closed" in text or "closing" in text or "terminat" in text
    if isinstance(exc, KafkaConnectionError | KafkaTimeoutError):
        return True
    if isinstance(exc, KafkaError):
        return bool(getattr(exc, "retriable", False))
    return False


@dataclass
class Backoff:
    """Bounded exponential backoff with jitter; `reset()` after a success."""

    initial: float = 0.2
    maximum: float = 5.0
    _next: float = field(default=0.0, init=False)
    failures: int = field(default=0, init=False)

    def next_delay(self) -> float:
        """The next delay, doubling up to the bound."""
        self._next = self.initial if self._next == 0 else min(self.maximum, self._next * 2)
        self.failures += 1
        return self._next * (0.75 + random.random() / 2)

    async def sleep(self) -> None:
        """Sleeps the next delay."""
        await asyncio.sleep(self.next_delay())

    def reset(self) -> None:
        """Back to the initial delay."""
        self._next = 0.0
        self.failures = 0
