"""Deterministic ids for derived events: the same input always yields the same id.

A service that derives an event from others (a VisitDue from a delivery, an IssueRaised from
a visit log) names it `derived_id(<what it is>, <the inputs that make it unique>...)`, so a
replay of the topics produces the same ids and consumers drop the duplicates (SPEC §6).
"""

from __future__ import annotations

import hashlib
import uuid

# Fixed forever: changing it (or the joining below) would give every derived event a new id on
# replay. tests/contract pins known outputs.
NAMESPACE = uuid.UUID("6f1c2b9e-4a57-5d0e-9b1f-0f0110a0b5e1")

_SEP = "\x1f"  # ASCII unit separator between parts
# Inside a part the two control characters are escaped, so no two different tuples of parts
# join to the same name; parts without them (every real id) are joined as they are.
_ESCAPES = str.maketrans({"\x1e": "\x1e\x1e", "\x1f": "\x1e_"})


def derived_id(*parts: str) -> str:
    """A UUIDv5 (str) over the parts, in order, under the project's namespace.

    >>> derived_id("VisitDue", "V-1", "1")
    'bfabdb8d-d6a7-5a89-befb-121ed3a95207'
    """
    name = _SEP.join(parts)
    # Escaping is needed only when a part holds a control character: one separator too many
    # or any escape mark. Every real id takes the fast path (the translate alone costs ~2 µs).
    if "\x1e" in name or name.count(_SEP) != len(parts) - 1:
        if not parts:
            raise ValueError("derived_id needs at least one part")
        name = _SEP.join([p.translate(_ESCAPES) for p in parts])
    return _uuid5_str(name)


def issue_id_for_problem(problem_id: str) -> str:
    """The id of the issue a logged problem raises (one per problem, SPEC §4, §10): visits
    shows it with the log, issues raises the issue under it."""
    return derived_id("issue", problem_id)


_NAMESPACE_BYTES = NAMESPACE.bytes
_sha1 = hashlib.sha1


def _uuid5_str(name: str) -> str:
    """`str(uuid.uuid5(NAMESPACE, name))` without building a UUID object (5x faster).

    Breach sweeps and plans name thousands of events per batch; tests/contract pins it to
    uuid.uuid5 over random names.
    """
    digest = _sha1(_NAMESPACE_BYTES + name.encode()).digest()
    x = digest.hex()
    # Version nibble 5; variant bits 10 keep the two low bits of the hash's nibble.
    variant = "89ab"[(digest[8] >> 4) & 3]
    return f"{x[:8]}-{x[8:12]}-5{x[13:16]}-{variant}{x[17:20]}-{x[20:32]}"
