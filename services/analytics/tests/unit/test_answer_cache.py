"""Kept answers: `instants` names every instant the facts hold (so the window an answer holds in
is right), and the window is half-open at the first instant at or after the answer's as_of."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from analytics_builders import at
from analytics_histories import random_history

from followup.analytics.cache import AnswerCache, Cached, instants, next_instant
from followup.analytics.domain.model import fold


def every_datetime(value: object) -> Iterator[datetime]:
    """Every datetime inside the value, found by walking it (whatever fields facts grow)."""
    if isinstance(value, datetime):
        yield value
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            yield from every_datetime(getattr(value, f.name))
    elif isinstance(value, dict):
        for v in value.values():
            yield from every_datetime(v)
    elif isinstance(value, (frozenset, set, tuple, list)):
        for v in value:
            yield from every_datetime(v)


@pytest.mark.parametrize("seed", [4, 5])
def test_instants_are_every_datetime_the_facts_hold(seed: int) -> None:
    facts = fold(e for _, e in random_history(seed))
    assert set(instants(facts)) == set(every_datetime(facts))


def test_an_answer_holds_until_the_first_instant_at_or_after_its_as_of() -> None:
    facts = fold(e for _, e in random_history(6, customers=3, visits=5, issues=2))
    as_of = at(3, 10)
    until = next_instant(facts, as_of)
    assert until is not None and until >= as_of
    assert not any(as_of <= t < until for t in instants(facts))
    kept = Cached("s", "v", as_of, until, {"x": 1})
    assert kept.holds_at(as_of) and kept.holds_at(until - timedelta(microseconds=1))
    assert not kept.holds_at(until) and not kept.holds_at(as_of - timedelta(seconds=1))
    # An instant equal to as_of: the answer holds at that very instant only.
    assert not Cached("s", "v", as_of, as_of, 1).holds_at(as_of + timedelta(microseconds=1))
    assert Cached("s", "v", as_of, None, 1).holds_at(at(12, 31))


def test_the_cache_keeps_the_most_recently_used_answers() -> None:
    cache = AnswerCache(size=2)
    for name in ("a", "b"):
        cache.store((name,), Cached("s", name, at(3, 1), None, name))
    assert cache.lookup(("a",), at(3, 2)) is not None  # a is now the most recent
    cache.store(("c",), Cached("s", "c", at(3, 1), None, "c"))
    assert cache.lookup(("b",), at(3, 2)) is None
    assert [cache.lookup((n,), at(3, 2)) is not None for n in ("a", "c")] == [True, True]
    none_kept = AnswerCache(size=0)
    none_kept.store(("a",), Cached("s", "a", at(3, 1), None, "a"))
    assert none_kept.lookup(("a",), at(3, 1)) is None
