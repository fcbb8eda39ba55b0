"""Decoding consumed messages fast, with exactly the contract's verdicts.

`followup.events.decode` validates the envelope and then `data` in two passes over the
JSON. Here each (type, dataversion) of the contract gets one pydantic model of the whole
document (the envelope's fields with `data` typed), so a valid message is validated in one
pass. Anything the fast path does not accept goes through `followup.events.decode`, which
gives the same event or the contract's RejectedMessage: the verdicts cannot differ, only the
speed (a test checks both agree on a fuzzed corpus).
"""

from __future__ import annotations

from functools import cache
from typing import Any

import orjson
from pydantic import BaseModel, ValidationError, create_model

from followup.events import MODELS, Envelope, Event, decode


@cache
def _document_model(type_name: str, version: int) -> type[BaseModel] | None:
    model = MODELS.get(type_name, {}).get(version)
    if model is None:
        return None
    # The envelope, strict and frozen as in the contract, with `data` typed.
    return create_model(f"{type_name}V{version}Document", __base__=Envelope, data=(model, ...))


def fast_decode(raw: bytes) -> Event[Any]:
    """The event in `raw`; raises RejectedMessage exactly as `followup.events.decode` does."""
    try:
        head = orjson.loads(raw)
        doc_model = _document_model(head["type"], head.get("dataversion", 1))
    except Exception:
        doc_model = None
    if doc_model is not None:
        try:
            doc: Any = doc_model.model_validate_json(raw)
        except ValidationError:
            pass
        else:
            return Event(
                id=doc.id,
                source=doc.source,
                type=doc.type,
                time=doc.time,
                subject=doc.subject,
                dataversion=doc.dataversion,
                data=doc.data,
                correlationid=doc.correlationid,
                causationid=doc.causationid,
            )
    return decode(raw)
