"""What issues' entry points depend on, typed, built once by `main.py` (and by tests)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from followup.calendar import BusinessCalendar
from followup.core.crypto import PersonalDataVault
from followup.issues.commands import IssueCommands
from followup.issues.domain.model import Breach
from followup.issues.handlers import IssueHandlers
from followup.issues.metrics import IssueMetrics
from followup.issues.recording import Recorder
from followup.issues.sweep import BreachSweep


@dataclass(frozen=True)
class IssuesDeps:
    """The calendar, the commands, the consumer's handlers, the sweep and the metrics."""

    calendar: BusinessCalendar
    commands: IssueCommands
    handlers: IssueHandlers
    sweep: BreachSweep
    metrics: IssueMetrics
    # Seals and opens free text with the customers' keys (SPEC §8); None in unit tests.
    vault: PersonalDataVault | None = None


def issues_deps(
    calendar: BusinessCalendar,
    managers: Mapping[str, str],
    *,
    topic_prefix: str = "",
    metrics: IssueMetrics | None = None,
    on_breach: Callable[[Breach], None] | None = None,
    vault: PersonalDataVault | None = None,
) -> IssuesDeps:
    """Issues' parts over one calendar; a breach is counted by `metrics` (or `on_breach`)."""
    metrics = metrics or IssueMetrics()
    recorder = Recorder(calendar, topic_prefix, vault)
    return IssuesDeps(
        calendar=calendar,
        commands=IssueCommands(recorder),
        handlers=IssueHandlers(recorder),
        sweep=BreachSweep(recorder, dict(managers), on_breach or metrics.breach_escalated),
        metrics=metrics,
        vault=vault,
    )
