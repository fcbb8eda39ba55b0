"""The shapes the visits API shows (its OpenAPI response models) and who sees what (SPEC §8)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict


class View(BaseModel):
    """A response shape: read from the service's own rows, so no coercion is needed."""

    model_config = ConfigDict(frozen=True)


class Contact(View):
    """The customer's contact, masked unless the caller may see it."""

    name: str | None = None
    phone: str | None = None
    email: str | None = None
    address: str | None = None


class VisitRow(View):
    """One visit of the queue, as `GET /v1/visits` lists it."""

    visit_id: str
    customer_id: str
    order_id: str | None = None
    kinds: list[str]
    status: str
    agent_id: str | None = None
    due_at: datetime | None = None
    deadline: datetime | None = None
    attempt: int | None = None
    issue_id: str | None = None
    completed_at: datetime | None = None
    completed_by: str | None = None
    on_time: bool | None = None
    spot_check: str | None = None


class VisitPage(View):
    """A page of visits by deadline, and the cursor of the next page (None on the last)."""

    items: list[VisitRow]
    next_cursor: str | None = None


class VisitDetail(VisitRow):
    """One visit with its customer's contact."""

    contact: Contact | None = None


class SpotCheckSample(View):
    """The month's reproducible sample of an agent's completed visits."""

    agent_id: str
    month: str
    completed: int
    sample: list[VisitRow]


class CommandAccepted(View):
    """A command was accepted: the id of the event it publishes."""

    event_id: str
    visit_id: str
