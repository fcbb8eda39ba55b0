"""The consumer's fast decoder gives exactly the contract decoder's verdicts (no infra)."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from followup.core.decoding import fast_decode
from followup.events import (
    ClockAdvanced,
    Contact,
    CustomerDelivered,
    Event,
    IssueRaised,
    RejectedMessage,
    VisitDue,
    VisitLogged,
    decode,
    encode,
    make_event,
)

from .test_dead_letters import malformed_messages

NOW = datetime(2026, 5, 1, 8, 30, tzinfo=UTC)


def samples() -> list[Event[Any]]:
    """One valid event of several contract types."""
    datas: list[Any] = [
        CustomerDelivered(
            customer_id="C-1",
            order_id="O-1",
            delivered_at=NOW,
            product="p",
            tier="gold",
            segment="individual",
            contact=Contact(name="Li Lei", phone="+86 1"),
        ),
        VisitDue(
            visit_id="V-1",
            customer_id="C-1",
            kinds=["first_use"],
            due_at=NOW,
            deadline=NOW,
            attempt=1,
            reason="delivery",
        ),
        VisitLogged(
            visit_id="V-1",
            customer_id="C-1",
            agent_id="A-1",
            channel="phone",
            outcome="completed",
            logged_at=NOW,
            satisfaction=5,
        ),
        IssueRaised(
            issue_id="I-1",
            customer_id="C-1",
            source="complaint",
            category="fault",
            severity="general",
            description="noise",
            raised_at=NOW,
            department="after_sales",
            handover_by=NOW,
            respond_by=NOW,
            resolve_by=NOW,
        ),
        ClockAdvanced(now=NOW),
    ]
    return [
        make_event(
            d, id=str(uuid.uuid4()), source="t", subject="C-1", time=NOW, correlationid="corr"
        )
        for d in datas
    ]


def verdict(fn: Any, raw: bytes) -> Any:
    try:
        return ("ok", fn(raw))
    except RejectedMessage as exc:
        return ("rejected", exc.reason, exc.detail)


@pytest.mark.parametrize("seed", range(3))
def test_fast_decode_agrees_with_the_contract_decoder(seed: int) -> None:
    rng = random.Random(seed)
    corpus: list[bytes] = [encode(e) for e in samples()]
    for e in samples():
        doc = orjson.loads(encode(e))
        doc["extra_attribute"] = {"ignored": True}
        doc["data"]["future_field"] = 1
        corpus.append(orjson.dumps(doc))
        doc["type"] = "VisitDue" if e.type != "VisitDue" else "IssueRaised"
        corpus.append(orjson.dumps(doc))  # data of one type under another's name
        # Byte-level fuzz of every sample.
        raw = bytearray(encode(e))
        for _ in range(60):
            mutated = bytearray(raw)
            mutated[rng.randrange(len(mutated))] = rng.randrange(256)
            corpus.append(bytes(mutated))
    corpus += [m or b"" for m in malformed_messages(rng, 400)]
    for raw in corpus:
        assert verdict(fast_decode, raw) == verdict(decode, raw), raw
