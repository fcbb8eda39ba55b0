"""What scheduling's entry points are given, built once in main."""

from __future__ import annotations

from dataclasses import dataclass

from followup.scheduling.handlers import SchedulingHandlers
from followup.scheduling.metrics import SchedulingMetrics
from followup.scheduling.planning import Planner


@dataclass(frozen=True)
class SchedulingDeps:
    """The planner (calendar, policy, memo), the consumer's handlers and the metrics."""

    planner: Planner
    handlers: SchedulingHandlers
    metrics: SchedulingMetrics

    @classmethod
    def build(cls, planner: Planner) -> SchedulingDeps:
        """Everything built on one planner, with one metrics object."""
        metrics = SchedulingMetrics()
        return cls(planner, SchedulingHandlers(planner, metrics), metrics)
