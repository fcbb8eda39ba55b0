"""What a channel's sender answers: delivered, try again later, or refused for good."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from followup.core.notify.models import Channel, Person
from followup.core.notify.render import Message
from followup.core.notify.store import Pending


@dataclass(frozen=True)
class Outcome:
    """One attempt's result; `retry` False with an error means the receiver refused for good."""

    ok: bool
    retry: bool = False
    error: str = ""


DELIVERED = Outcome(ok=True)


def retry(error: str) -> Outcome:
    """A failure worth another attempt (timeouts, 5xx, connection refused)."""
    return Outcome(ok=False, retry=True, error=error)


def refused(error: str) -> Outcome:
    """A failure another attempt will not cure (4xx, a rejected address, no endpoint)."""
    return Outcome(ok=False, retry=False, error=error)


class Sender(Protocol):
    """Sends one rendered delivery on one channel."""

    channel: Channel

    async def send(self, pending: Pending, person: Person, message: Message) -> Outcome: ...

    async def close(self) -> None: ...
