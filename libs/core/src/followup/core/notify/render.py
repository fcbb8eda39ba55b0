"""A delivery as the message a person reads, in their locale."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from string import Template

from followup.core.notify.models import Locale
from followup.core.notify.templates import CLOCKS, DEPARTMENTS, TEMPLATES, WORDS

_INSTANTS = ("deadline", "warned_at", "escalated_at", "assigned_at")
_WHEN = ("warned_at", "escalated_at", "assigned_at")


@dataclass(frozen=True)
class Message:
    """A subject line and a plain-text body."""

    subject: str
    body: str


def instant(text: str) -> str:
    """An RFC 3339 instant as people read it, in the zone it was written in."""
    t = datetime.fromisoformat(text)
    offset = t.strftime("%z")
    return f"{t:%Y-%m-%d %H:%M} (UTC{offset[:3]}:{offset[3:]})"


def values(facts: Mapping[str, str | int], locale: Locale) -> dict[str, str]:
    """Every placeholder a template may use, filled from the facts a recipient may see."""
    words = WORDS[locale]

    def fact(name: str) -> str:
        v = facts.get(name)
        if v is None:
            return words["none"]
        return instant(str(v)) if name in _INSTANTS else str(v)

    at = next((fact(k) for k in _WHEN if k in facts), words["none"])
    by = str(facts.get("assigned_by", words["none"]))
    customer = facts.get("customer_id")
    return {
        "issue_id": fact("issue_id"),
        "visit_id": fact("visit_id"),
        "clock": CLOCKS[locale].get(str(facts.get("clock")), fact("clock")),
        "department": DEPARTMENTS[locale].get(str(facts.get("department")), fact("department")),
        "deadline": fact("deadline"),
        "level": fact("level"),
        "owner": fact("owner_id"),
        "at": at,
        "by": words["routing"] if by == "routing" else by,
        "customer": f"{words['customer']}{customer}" if customer is not None else "",
    }


def render(event_type: str, facts: Mapping[str, str | int], locale: Locale) -> Message:
    """The message for one delivery; KeyError for a type or locale without a template."""
    subject, body = TEMPLATES[event_type][locale]
    v = values(facts, locale)
    text = Template(body).substitute(v).rstrip("\n") + "\n"
    return Message(Template(subject).substitute(v), text)
