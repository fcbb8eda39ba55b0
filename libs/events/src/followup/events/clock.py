"""The control event of the simulated clock (SPEC §9), on followup.clock."""

from __future__ import annotations

from followup.events.base import EventData, Instant


class ClockAdvanced(EventData):
    now: Instant
