"""How the demo's people behave: seeded decisions, pure functions of (seed, what, day).

Each decision draws from its own `random.Random` seeded by the run's seed and the thing it is
about (a visit and attempt, an issue), so it does not depend on the order things are seen in.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

CHECKLIST = ("equipment", "audio_video", "smart_control", "acoustics", "response_speed")
PROBLEMS: tuple[tuple[str, str, float], ...] = (
    ("fault", "the rear speakers crackle at high volume", 0.3),
    ("maintenance", "the projector filter is due for cleaning", 0.2),
    ("technical", "the smart control app loses the receiver", 0.2),
    ("complaint", "the installer left the room untidy", 0.12),
    ("service", "nobody called back about the remote", 0.1),
    ("other", "the manual is missing a page", 0.08),
)
NEEDS = ("upgrade", "maintenance_plan", "new_feature", "referral")


def rng_for(seed: int, *what: object) -> random.Random:
    """A generator of its own for one decision."""
    return random.Random(":".join(str(w) for w in (seed, *what)))


def log_delay_days(seed: int, visit_id: str, attempt: int) -> int:
    """Days after the due day an agent gets to a visit: most the same day, some late."""
    r = rng_for(seed, "delay", visit_id, attempt).random()
    if r < 0.72:
        return 0
    if r < 0.92:
        return 1 + int(r * 100) % 3
    return 8 + int(r * 1000) % 10  # past a 7-day deadline: late, missed, then logged


def visit_log(
    seed: int, visit: dict[str, Any], now: datetime, rescheduled_before: bool
) -> dict[str, Any]:
    """The body of the agent's log of a due visit."""
    rng = rng_for(seed, "log", visit["visit_id"], visit.get("attempt") or 1, rescheduled_before)
    kinds = visit.get("kinds") or []
    channel = rng.choices(("phone", "onsite", "video", "message"), (0.7, 0.15, 0.1, 0.05))[0]
    r = rng.random()
    if r < 0.07:
        return {"channel": channel, "outcome": "unreachable"}
    if r < 0.095:
        return {"channel": channel, "outcome": "declined"}
    if r < 0.13 and not rescheduled_before:
        when = now + timedelta(days=rng.randrange(1, 4))
        return {"channel": channel, "outcome": "rescheduled", "rescheduled_to": when.isoformat()}
    satisfaction = rng.choices((5, 4, 3, 2, 1), (0.62, 0.3, 0.05, 0.02, 0.01))[0]
    body: dict[str, Any] = {
        "channel": channel,
        "outcome": "completed",
        "satisfaction": satisfaction,
        "checklist": {
            k: max(1, min(5, satisfaction + rng.choice((-1, 0, 0, 1)))) for k in CHECKLIST
        },
    }
    if rng.random() < 0.15:
        body["needs"] = [rng.choice(NEEDS)]
    if "issue_follow_up" in kinds:
        body["issue_confirmed"] = rng.random() < 0.9
    elif rng.random() < 0.11 + (0.2 if satisfaction <= 3 else 0.0):
        category, description, _ = rng.choices(PROBLEMS, [p[2] for p in PROBLEMS])[0]
        severity = "complex" if rng.random() < 0.25 else "general"
        body["problems"] = [
            {"category": category, "severity": severity, "description": description}
        ]
    return body


@dataclass(frozen=True)
class IssuePlan:
    """When, counted in days from the day the demo first saw the issue, its owners act."""

    assign_after: int
    respond_after: int  # counted from the assignment
    pause_days: int  # 0: never paused
    resolve_after: int  # counted from the assignment, pauses excluded


def issue_plan(seed: int, issue_id: str, severity: str, reopened: int) -> IssuePlan:
    """Realistic delays: most issues well within their SLA, a few breaching each clock."""
    rng = rng_for(seed, "issue", issue_id, reopened)
    assign = rng.choices((0, 1, 3), (0.75, 0.2, 0.05))[0]
    respond = rng.choices((0, 2), (0.94, 0.06))[0]
    pause = rng.choice((1, 2, 3)) if rng.random() < 0.12 else 0
    if severity == "complex":
        resolve = rng.choices((2, 4, 6, 11), (0.3, 0.35, 0.25, 0.1))[0]
    else:
        resolve = rng.choices((1, 2, 3, 6), (0.45, 0.3, 0.17, 0.08))[0]
    return IssuePlan(assign, respond, pause, resolve)


def spot_check_result(seed: int, visit_id: str) -> str:
    """Most visits really happened."""
    return "verified" if rng_for(seed, "spot", visit_id).random() < 0.96 else "not_verified"
