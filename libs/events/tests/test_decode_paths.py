"""The fast decode path gives the explaining path's verdict on every message (differential)."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from followup.events import MODELS, Event, RejectedMessage, decode
from followup.events.codec import _decode_explained

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "contract" / "examples").glob("*/*.json"))


def verdict(fn: Any, raw: bytes) -> Any:
    try:
        event = fn(raw)
    except RejectedMessage as exc:
        return ("rejected", exc.reason, exc.detail, exc.errors)
    assert isinstance(event, Event)
    return ("event", event, type(event.data))


def mutations(doc: dict[str, Any], rng: random.Random) -> list[bytes]:
    """Documents one change away from a valid one, most of them invalid."""
    out: list[bytes] = []
    values: list[Any] = [None, "", "x", 0, 1, -1, 2, 99, True, 1.5, [], {}, "2026-01-01T00:00:00"]
    for key in list(doc):
        for value in values:
            out.append(json.dumps({**doc, key: value}).encode())
        out.append(json.dumps({k: v for k, v in doc.items() if k != key}).encode())
    for key in list(doc["data"]):
        for value in rng.sample(values, 4):
            out.append(json.dumps({**doc, "data": {**doc["data"], key: value}}).encode())
    for other in rng.sample(sorted(MODELS), 3):
        out.append(json.dumps({**doc, "type": other}).encode())
    raw = json.dumps(doc).encode()
    out += [
        raw[: len(raw) // 2],
        raw + b" x",
        raw.replace(b"}", b', "extra": NaN}', 1),
        raw.replace(b"}", b', "extra": "NaN and Infinity"}', 1),
        raw.replace(b"}", b', "extra": 1e400}', 1),
        # A duplicated key: the last one counts, on both paths.
        raw[:-1] + b', "type": "NoSuchType"}',
        raw[:-1] + b', "dataversion": 99}',
    ]
    return out


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_fast_and_explaining_paths_agree(path: Path) -> None:
    raw = path.read_bytes()
    assert verdict(decode, raw) == verdict(_decode_explained, raw)
    assert verdict(decode, raw)[0] == "event"
    rng = random.Random(path.name)
    for mutated in mutations(json.loads(raw), rng):
        assert verdict(decode, mutated) == verdict(_decode_explained, mutated), mutated
