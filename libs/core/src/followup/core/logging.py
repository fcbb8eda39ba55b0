"""structlog JSON logs to stdout, with the event's context and never personal data."""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any

import orjson
import structlog

# Keys whose values are personal data (SPEC §8) wherever they appear in a log line.
PERSONAL_KEYS = frozenset(
    {
        "contact",
        "phone",
        "email",
        "name",
        "address",
        "contact_name",
        "customer_name",
        "phone_number",
        "mobile",
    }
)
MASK = "***"


def _scrub(value: Any, depth: int = 0) -> Any:
    if depth > 6:
        return value
    if isinstance(value, Mapping):
        return {
            k: (MASK if str(k).lower() in PERSONAL_KEYS else _scrub(v, depth + 1))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_scrub(v, depth + 1) for v in value]
    return value


def drop_personal_data(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Masks personal-data keys, at any depth, before anything is rendered."""
    for key in list(event_dict):
        if key.lower() in PERSONAL_KEYS:
            event_dict[key] = MASK
        elif isinstance(event_dict[key], Mapping | list | tuple):
            event_dict[key] = _scrub(event_dict[key])
    return event_dict


def _dumps(obj: Any, default: Any = None) -> str:
    return orjson.dumps(obj, default=default or str).decode()


def configure_logging(service: str, level: str = "INFO") -> None:
    """JSON lines on stdout, each carrying the service and the bound event context."""
    lvl = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)

    def add_service(
        _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        event_dict.setdefault("service", service)
        return event_dict

    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        add_service,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        drop_personal_data,
    ]
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(serializer=_dumps),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(lvl),
        logger_factory=structlog.WriteLoggerFactory(file=sys.stdout),
        cache_logger_on_first_use=False,
    )
    # Libraries logging through the standard library (aiokafka, uvicorn) become JSON too.
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.JSONRenderer(serializer=_dumps),
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(max(lvl, logging.INFO))


def bind_event(
    event_id: str, event_type: str, correlation_id: str | None, customer_id: str
) -> None:
    """Puts the event being handled into every log line until unbound."""
    structlog.contextvars.bind_contextvars(
        event_id=event_id,
        event_type=event_type,
        correlation_id=correlation_id,
        customer_id=customer_id,
    )


def unbind_event() -> None:
    """Removes the event context bound by `bind_event`."""
    structlog.contextvars.unbind_contextvars(
        "event_id", "event_type", "correlation_id", "customer_id"
    )
