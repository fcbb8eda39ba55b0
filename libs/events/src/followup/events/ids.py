"""Deterministic ids for derived events: the same input always yields the same id."""

from __future__ import annotations

import uuid

# Fixed forever: changing it would give every derived event a new id on replay.
NAMESPACE = uuid.UUID("6f1c2b9e-4a57-5d0e-9b1f-0f0110a0b5e1")


def derived_id(*parts: str) -> str:
    """A UUIDv5 over the parts (joined unambiguously) under the project's namespace."""
    return str(uuid.uuid5(NAMESPACE, "\x1f".join(p.replace("\x1f", "") for p in parts)))
