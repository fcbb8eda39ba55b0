"""Bytes <-> typed events, with one typed error saying why a message is rejected."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from functools import cache
from typing import Any, TypeVar

import orjson
from pydantic import ConfigDict, TypeAdapter, ValidationError, create_model

from followup.events.base import EventData
from followup.events.envelope import Envelope, Event
from followup.events.registry import MODELS, TYPE_OF_MODEL

D = TypeVar("D", bound=EventData)


class RejectReason(StrEnum):
    NOT_JSON = "not_json"
    NOT_CLOUDEVENT = "not_cloudevent"
    UNKNOWN_TYPE = "unknown_type"
    UNSUPPORTED_DATAVERSION = "unsupported_dataversion"
    INVALID_DATA = "invalid_data"


class RejectedMessage(Exception):
    """A message no consumer can accept; `reason` says which rule it broke."""

    def __init__(
        self, reason: RejectReason, detail: str, errors: list[dict[str, Any]] | None = None
    ) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail
        self.errors = errors or []


def _field_errors(exc: ValidationError) -> list[dict[str, Any]]:
    return [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]


@cache
def _data_adapter(model: type[EventData]) -> TypeAdapter[Any]:
    # Validates only `data` of the whole document, in JSON mode: strict, yet RFC 3339 strings
    # are the native form of datetimes there.
    wrapper = create_model(
        f"{model.__name__}Document", __config__=ConfigDict(extra="ignore"), data=(model, ...)
    )
    return TypeAdapter(wrapper)


def decode(raw: bytes) -> Event[EventData]:
    """Parses one message value; raises RejectedMessage when it cannot be accepted."""
    try:
        env = Envelope.model_validate_json(raw)
    except ValidationError as exc:
        errors = _field_errors(exc)
        if any(e["type"] == "json_invalid" for e in errors):
            raise RejectedMessage(
                RejectReason.NOT_JSON, "the value is not valid JSON", errors
            ) from None
        raise RejectedMessage(
            RejectReason.NOT_CLOUDEVENT, "invalid CloudEvents attributes", errors
        ) from None
    versions = MODELS.get(env.type)
    if versions is None:
        raise RejectedMessage(
            RejectReason.UNKNOWN_TYPE, f"type {env.type!r} is not in the contract"
        )
    model = versions.get(env.dataversion)
    if model is None:
        raise RejectedMessage(
            RejectReason.UNSUPPORTED_DATAVERSION,
            f"{env.type} dataversion {env.dataversion} (readable: {sorted(versions)})",
        )
    try:
        typed = _data_adapter(model).validate_json(raw).data
    except ValidationError as exc:
        raise RejectedMessage(
            RejectReason.INVALID_DATA, f"{env.type} data failed validation", _field_errors(exc)
        ) from None
    return Event(
        id=env.id,
        source=env.source,
        type=env.type,
        time=env.time,
        subject=env.subject,
        dataversion=env.dataversion,
        data=typed,
        correlationid=env.correlationid,
        causationid=env.causationid,
    )


def to_document(event: Event[EventData]) -> dict[str, Any]:
    """The CloudEvent as a JSON-ready dict (optional attributes left out when absent)."""
    doc: dict[str, Any] = {
        "specversion": "1.0",
        "id": event.id,
        "source": event.source,
        "type": event.type,
        "time": event.time.isoformat(),
        "subject": event.subject,
        "datacontenttype": "application/json",
        "dataversion": event.dataversion,
    }
    if event.correlationid is not None:
        doc["correlationid"] = event.correlationid
    if event.causationid is not None:
        doc["causationid"] = event.causationid
    doc["data"] = event.data.model_dump(mode="json", exclude_none=True)
    return doc


def encode(event: Event[EventData]) -> bytes:
    """The message value: a structured-mode CloudEvent in JSON."""
    return orjson.dumps(to_document(event))


def make_event(
    data: D,
    *,
    id: str,
    source: str,
    subject: str,
    time: datetime,
    correlationid: str | None = None,
    causationid: str | None = None,
) -> Event[D]:
    """An event around `data`, its type and dataversion taken from the registry."""
    type_name, version = TYPE_OF_MODEL[type(data)]
    if time.tzinfo is None:
        raise ValueError("event time must carry a UTC offset")
    return Event(
        id=id,
        source=source,
        type=type_name,
        time=time,
        subject=subject,
        dataversion=version,
        data=data,
        correlationid=correlationid,
        causationid=causationid,
    )
