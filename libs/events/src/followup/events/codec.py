"""Bytes <-> typed events, with one typed error saying why a message is rejected.

Decoding is on the hot path of every consumer (~20,000 messages/s on 2 cores), so a valid
message costs one `orjson.loads` (to read `type` and `dataversion`) and one validation of the
raw bytes by a cached per-(type, dataversion) document model: the envelope with `data` typed.
Validation runs in JSON mode because the contract is strict and strict datetimes are accepted
as RFC 3339 strings only from JSON; nothing is re-serialised. Only a message that fails there
takes the slower path that works out which rule it broke (envelope first, then type, then
dataversion, then data), so the verdict never depends on the path.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable, Iterable
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError, create_model
from pydantic_core import CoreConfig, CoreSchema, SchemaValidator, core_schema, from_json

from followup.events.base import EventData
from followup.events.envelope import SPECVERSION, Envelope, Event
from followup.events.registry import MODELS, type_of

D = TypeVar("D", bound=EventData)

_DATACONTENTTYPE = "application/json"
_MAX_ID = 200


class RejectReason(StrEnum):
    """Why a message cannot be accepted (the dead letter's `reason` header)."""

    NOT_JSON = "not_json"
    NOT_CLOUDEVENT = "not_cloudevent"
    UNKNOWN_TYPE = "unknown_type"
    UNSUPPORTED_DATAVERSION = "unsupported_dataversion"
    INVALID_DATA = "invalid_data"


class RejectedMessage(Exception):
    """A message no consumer can accept; `reason` says which rule it broke.

    `errors` lists the validation errors as `{"loc": [...], "msg": str, "type": str}`; for
    `invalid_data` their `loc` starts with "data" (e.g. `["data", "problems", 0, "category"]`).
    """

    def __init__(
        self, reason: RejectReason, detail: str, errors: list[dict[str, Any]] | None = None
    ) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail
        self.errors = errors or []

    def __repr__(self) -> str:
        return f"RejectedMessage({self.reason.value!r}, {self.detail!r}, {self.errors!r})"


def _field_errors(exc: ValidationError) -> list[dict[str, Any]]:
    return [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]


# data model -> the whole document's model: Envelope with `data` typed. Built lazily.
_DOCUMENTS: dict[type[EventData], type[BaseModel]] = {}
# model -> an adapter validating only `data` of a whole document (the slow, explaining path).
_DATA_ONLY: dict[type[EventData], TypeAdapter[Any]] = {}


def _document_model(type_name: str, version: int) -> type[BaseModel] | None:
    model = MODELS.get(type_name, {}).get(version)
    if model is None:
        return None
    doc = _DOCUMENTS.get(model)
    if doc is None:
        doc = create_model(f"{model.__name__}Document", __base__=Envelope, data=(model, ...))
        _DOCUMENTS[model] = doc
    return doc


def _data_only(model: type[EventData]) -> TypeAdapter[Any]:
    adapter = _DATA_ONLY.get(model)
    if adapter is None:
        wrapper = create_model(
            f"{model.__name__}Data", __config__=ConfigDict(extra="ignore"), data=(model, ...)
        )
        adapter = _DATA_ONLY[model] = TypeAdapter(wrapper)
    return adapter


# The fast path: one validator for every type, tagged by `type`, whose branch for a type is
# that type's document schema (Envelope with `data` typed: the very field schemas and config of
# `_document_model`) built straight into an `Event` by pydantic-core. One Rust pass per
# message: no `orjson.loads` for the head, no intermediate document model, no Python `Event()`.
# Built lazily for the registry as it is; each result is checked against the registry.
_FAST: tuple[dict[str, dict[int, type[EventData]]], Any] | None = None
_EVENT_FIELDS = tuple(f.name for f in dataclasses.fields(Event))
_MODELS = MODELS
_NONE: dict[int, type[EventData]] = {}


def _event_branch(doc_model: type[BaseModel]) -> tuple[CoreSchema, list[CoreSchema]]:
    """The document's schema validated into an Event, and the definitions it refers to."""
    schema: Any = doc_model.__pydantic_core_schema__
    definitions: list[CoreSchema] = []
    if schema["type"] == "definitions":
        definitions = list(schema["definitions"])
        schema = schema["schema"]
    if schema["type"] != "model" or schema["schema"]["type"] != "model-fields":
        raise TypeError(f"unexpected schema for {doc_model.__name__}: {schema['type']}")
    model_fields = schema["schema"]["fields"]
    missing = set(_EVENT_FIELDS) - set(model_fields)
    if missing:
        raise TypeError(f"{doc_model.__name__} lacks Event fields {sorted(missing)}")
    config: CoreConfig = schema.get("config") or CoreConfig()
    args = core_schema.dataclass_args_schema(
        "Event",
        [
            # Envelope attributes Event does not keep (specversion, datacontenttype) are still
            # validated, as init-only arguments nobody receives.
            core_schema.dataclass_field(name, field["schema"], init_only=name not in _EVENT_FIELDS)
            for name, field in model_fields.items()
        ],
        collect_init_only=False,
        extra_behavior=config.get("extra_fields_behavior", "ignore"),
    )
    branch = core_schema.dataclass_schema(
        Event, args, list(_EVENT_FIELDS), slots=True, frozen=True, post_init=False, config=config
    )
    return branch, definitions


def _fast_validator() -> Any:
    """The tagged validator for the registry as it is now (rebuilt when it changes)."""
    global _FAST
    snapshot = {name: dict(versions) for name, versions in MODELS.items()}
    if _FAST is not None and _FAST[0] == snapshot:
        return _FAST[1]
    choices: dict[Hashable, CoreSchema] = {}
    definitions: dict[str, CoreSchema] = {}
    for name, versions in snapshot.items():
        doc_model = _document_model(name, next(iter(versions)))
        assert doc_model is not None
        choices[name], defs = _event_branch(doc_model)
        for definition in defs:
            definitions.setdefault(str(definition.get("ref")), definition)
    schema: CoreSchema = core_schema.tagged_union_schema(choices, "type")
    if definitions:
        schema = core_schema.definitions_schema(schema, list(definitions.values()))
    validate = SchemaValidator(schema).validate_json
    _FAST = (snapshot, validate)
    return validate


def decode(raw: bytes) -> Event[EventData]:
    """Parses one message value; raises RejectedMessage when it cannot be accepted."""
    if b"NaN" in raw or b"Infinity" in raw:
        # Not standard JSON (pydantic's parser would take them) unless inside a string: let
        # the explaining path judge.
        return _decode_explained(raw)
    fast = _FAST
    validate = fast[1] if fast is not None else _fast_validator()
    try:
        event: Event[Any] = validate(raw)
    except ValidationError:
        return _decode_explained(raw)
    # The branch was chosen by `type` alone: accept only what the registry reads with exactly
    # that model at this dataversion; anything else is judged by the explaining path (after a
    # rebuild, if the registry changed since the validator was built).
    if _MODELS.get(event.type, _NONE).get(event.dataversion) is type(event.data):
        return event
    if _fast_validator() is not validate:
        return decode(raw)
    return _decode_explained(raw)


def _decode_explained(raw: bytes) -> Event[EventData]:
    """The rules one at a time, so the first one broken is the reason given."""
    try:
        # Standard JSON: pydantic's parser alone would take NaN and Infinity.
        from_json(raw, allow_inf_nan=False, cache_strings=False)
    except ValueError as exc:
        errors = [{"loc": [], "msg": f"Invalid JSON: {exc}", "type": "json_invalid"}]
        raise RejectedMessage(
            RejectReason.NOT_JSON, "the value is not valid JSON", errors
        ) from None
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
        typed = _data_only(model).validate_json(raw).data
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


def decode_many(raws: Iterable[bytes]) -> list[Event[EventData] | RejectedMessage]:
    """Decodes a batch; each item is the event or the rejection of the message at that place."""
    out: list[Event[EventData] | RejectedMessage] = []
    append = out.append
    for raw in raws:
        try:
            append(decode(raw))
        except RejectedMessage as exc:
            append(exc)
    return out


def to_document(event: Event[EventData]) -> dict[str, Any]:
    """The CloudEvent as a JSON-ready dict (optional attributes left out when absent)."""
    doc: dict[str, Any] = {
        "specversion": SPECVERSION,
        "id": event.id,
        "source": event.source,
        "type": event.type,
        "time": event.time.isoformat(),
        "subject": event.subject,
        "datacontenttype": _DATACONTENTTYPE,
        "dataversion": event.dataversion,
    }
    if event.correlationid is not None:
        doc["correlationid"] = event.correlationid
    if event.causationid is not None:
        doc["causationid"] = event.causationid
    doc["data"] = event.data.model_dump(mode="json", exclude_none=True)
    return doc


def encode(event: Event[EventData]) -> bytes:
    """The message value: a structured-mode CloudEvent in JSON, times RFC 3339 with offset.

    Optional attributes and optional data fields that are None are left out.
    """
    head: dict[str, Any] = {
        "specversion": SPECVERSION,
        "id": event.id,
        "source": event.source,
        "type": event.type,
        "time": event.time,
        "subject": event.subject,
        "datacontenttype": _DATACONTENTTYPE,
        "dataversion": event.dataversion,
    }
    if event.correlationid is not None:
        head["correlationid"] = event.correlationid
    if event.causationid is not None:
        head["causationid"] = event.causationid
    data = event.data.__pydantic_serializer__.to_json(event.data, exclude_none=True)
    # `{...head...}` + `,"data":{...}}`: the data is serialised once, straight to JSON.
    return orjson.dumps(head)[:-1] + b',"data":' + data + b"}"


def _check_attribute(name: str, value: str) -> None:
    if not value or len(value) > _MAX_ID:
        raise ValueError(f"{name} must be 1 to {_MAX_ID} characters, got {value!r}")


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
    """An event around `data`, its type and dataversion taken from the registry.

    Raises TypeError for a model that is not an event type of the contract and ValueError for
    attributes the envelope would reject (a naive time, an empty id or subject).
    """
    type_name, version = type_of(type(data))
    if time.tzinfo is None or time.utcoffset() is None:
        raise ValueError("event time must carry a UTC offset")
    _check_attribute("id", id)
    _check_attribute("subject", subject)
    if not source:
        raise ValueError("source must not be empty")
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
