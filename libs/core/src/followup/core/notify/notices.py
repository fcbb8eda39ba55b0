"""Which events notify whom, with which facts: pure functions of the event and the recipients.

A notice carries ids, the clock, times, the level and the department, picked field by field:
never contact data and never free text (descriptions, notes, reasons), whatever the event
holds. Adding an event type is one entry in FACTS and one in AUDIENCES.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from followup.core.notify.config import Recipients
from followup.core.notify.models import Addressee, Delivery, Notice, Person, Reason
from followup.events import Event

FACTS: Mapping[str, tuple[str, ...]] = {
    "IssueSlaWarning": (
        "issue_id",
        "customer_id",
        "department",
        "clock",
        "deadline",
        "warned_at",
        "round",
        "owner_id",
    ),
    "IssueSlaBreached": (
        "issue_id",
        "customer_id",
        "department",
        "clock",
        "deadline",
        "round",
        "owner_id",
    ),
    "IssueEscalated": (
        "issue_id",
        "customer_id",
        "department",
        "level",
        "clock",
        "deadline",
        "escalated_at",
        "round",
        "owner_id",
    ),
    "IssueAssigned": (
        "issue_id",
        "customer_id",
        "department",
        "assignee_id",
        "assigned_at",
        "assigned_by",
    ),
    # SPEC §10; its `reason` is free text and stays out.
    "VisitAssigned": ("visit_id", "customer_id", "agent_id", "team", "assigned_at", "assigned_by"),
}

NOTIFIED_TYPES: tuple[str, ...] = tuple(FACTS)

Audience = Callable[[Mapping[str, Any], Recipients], list[Addressee]]


def _warned(d: Mapping[str, Any], r: Recipients) -> list[Addressee]:
    owner = d.get("owner_id")
    to = d.get("escalate_to") or owner or r.manager(d["department"])
    if to is None:
        return []
    return [Addressee(to, "owner" if to == owner else "manager")]


def _breached(d: Mapping[str, Any], r: Recipients) -> list[Addressee]:
    manager = d.get("escalate_to") or r.manager(d["department"])
    found = [Addressee(manager, "manager")] if manager else []
    if d.get("owner_id"):
        found.append(Addressee(d["owner_id"], "owner"))
    return found


def _escalated(d: Mapping[str, Any], r: Recipients) -> list[Addressee]:
    director = d.get("escalate_to") or r.director(d["department"])
    return [Addressee(director, "director")] if director else []


def _assigned(field: str) -> Audience:
    def audience(d: Mapping[str, Any], r: Recipients) -> list[Addressee]:
        # Taking an issue oneself is not news to oneself.
        if d[field] == d.get("assigned_by"):
            return []
        return [Addressee(d[field], "assignee")]

    return audience


AUDIENCES: Mapping[str, Audience] = {
    "IssueSlaWarning": _warned,
    "IssueSlaBreached": _breached,
    "IssueEscalated": _escalated,
    "IssueAssigned": _assigned("assignee_id"),
    "VisitAssigned": _assigned("agent_id"),
}


def notice_for(event: Event[Any], recipients: Recipients) -> Notice | None:
    """What an event tells whom; None for a type that notifies nobody."""
    fields = FACTS.get(event.type)
    if fields is None:
        return None
    data = event.data.model_dump(mode="json")
    facts = {k: data[k] for k in fields if data.get(k) is not None}
    seen: dict[str, Addressee] = {}
    for a in AUDIENCES[event.type](data, recipients):
        seen.setdefault(a.person_id, a)
    return Notice(event.id, event.type, event.time, facts, tuple(seen.values()))


def may_see_customer(person: Person, reason: Reason) -> bool:
    """SPEC §8: supervisors and admins see every customer, an agent those it is in charge of,
    analysts none."""
    if person.role in ("supervisor", "admin"):
        return True
    return person.role == "agent" and reason in ("owner", "assignee")


def visible_facts(notice: Notice, person: Person, reason: Reason) -> dict[str, str | int]:
    """The facts of a notice this person may read."""
    hidden = () if may_see_customer(person, reason) else ("customer_id",)
    return {k: v for k, v in notice.facts.items() if k not in hidden}


def deliveries(notice: Notice, recipients: Recipients) -> tuple[list[Delivery], list[Addressee]]:
    """A delivery per addressee and channel; the addressees nobody configured, apart."""
    out: list[Delivery] = []
    unknown: list[Addressee] = []
    for a in notice.addressees:
        person = recipients.person(a.person_id)
        if person is None or not person.channels():
            unknown.append(a)
            continue
        facts = visible_facts(notice, person, a.reason)
        out.extend(
            Delivery(
                event_id=notice.event_id,
                event_type=notice.event_type,
                person_id=person.id,
                role=person.role,
                channel=channel,
                reason=a.reason,
                occurred_at=notice.occurred_at,
                facts=facts,
            )
            for channel in person.channels()
        )
    return out, unknown


def deliveries_for(
    events: Sequence[Event[Any]], recipients: Recipients
) -> tuple[list[Delivery], list[Addressee]]:
    """Every delivery a run of events makes, in event order."""
    out: list[Delivery] = []
    unknown: list[Addressee] = []
    for event in events:
        notice = notice_for(event, recipients)
        if notice is not None:
            found, missing = deliveries(notice, recipients)
            out.extend(found)
            unknown.extend(missing)
    return out, unknown
