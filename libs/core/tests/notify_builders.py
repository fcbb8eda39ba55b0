"""Events and a channels file for the notification tests."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from followup.core.notify.config import Channels, parse
from followup.events import (
    Event,
    IssueAssigned,
    IssueEscalated,
    IssueSlaBreached,
    IssueSlaWarning,
    make_event,
)

SH = ZoneInfo("Asia/Shanghai")
SECRET = "s3cret-for-tests"


def at(d: int, h: int, mi: int = 0) -> datetime:
    return datetime(2026, 12, d, h, mi, tzinfo=SH)


def channels(
    webhook_url: str = "http://127.0.0.1:9/hook",
    smtp_port: int = 25,
    overrides: dict[str, dict[str, Any]] | None = None,
) -> Channels:
    """The owner E-17 (agent), the technical manager M-T (supervisor), the director D-1
    (admin) and an analyst AN-1, each on the webhook and e-mail unless `overrides` says."""
    people: dict[str, Any] = {
        "E-17": {"role": "agent", "department": "technical", "locale": "zh-CN"},
        "M-T": {"role": "supervisor", "department": "technical", "locale": "en"},
        "D-1": {"role": "admin", "locale": "zh-CN"},
        "AN-1": {"role": "analyst", "locale": "en"},
    }
    for pid, person in people.items():
        person.update(email=f"{pid.lower()}@staff.example", webhook="ops")
        person.update((overrides or {}).get(pid, {}))
    smtp = {"host": "127.0.0.1", "port": smtp_port, "sender": "followup@staff.example"}
    return parse(
        {
            "smtp": {**smtp, "starttls": False},
            "webhooks": {"ops": {"url": webhook_url, "secret": SECRET}},
            "departments": {"technical": {"manager": "M-T", "director": "D-1"}},
            "people": {k: {f: v for f, v in p.items() if v is not None} for k, p in people.items()},
        }
    )


def _event(data: Any, eid: str, time: datetime) -> Event[Any]:
    return make_event(data, id=eid, source="followup/issues", subject=data.customer_id, time=time)


def warning(
    eid: str = "ev-warn-1",
    *,
    owner: str | None = "E-17",
    to: str | None = "E-17",
    time: datetime | None = None,
) -> Event[IssueSlaWarning]:
    t = time or at(8, 15, 12)
    data = IssueSlaWarning(
        issue_id="I-4",
        customer_id="C-000127",
        clock="resolution",
        deadline=at(9, 18),
        warned_at=t,
        escalate_to=to,
        department="technical",
        owner_id=owner,
        round=1,
    )
    return _event(data, eid, t)


def breach(eid: str = "ev-breach-1", *, to: str | None = "M-T") -> Event[IssueSlaBreached]:
    data = IssueSlaBreached(
        issue_id="I-4",
        customer_id="C-000127",
        clock="resolution",
        deadline=at(9, 18),
        department="technical",
        owner_id="E-17",
        escalate_to=to,
        round=1,
    )
    return _event(data, eid, at(9, 18))


def escalation(eid: str = "ev-esc-1", *, to: str | None = None) -> Event[IssueEscalated]:
    data = IssueEscalated(
        issue_id="I-4",
        customer_id="C-000127",
        level=2,
        escalate_to=to,
        escalated_at=at(11, 18),
        clock="resolution",
        deadline=at(9, 18),
        department="technical",
        owner_id="E-17",
        round=1,
    )
    return _event(data, eid, at(11, 18))


def assignment(
    eid: str = "ev-assign-1", *, to: str = "E-17", by: str | None = "M-T"
) -> Event[IssueAssigned]:
    data = IssueAssigned(
        issue_id="I-4",
        customer_id="C-000127",
        assignee_id=to,
        department="technical",
        assigned_at=at(8, 10),
        assigned_by=by,
    )
    return _event(data, eid, at(8, 10))
