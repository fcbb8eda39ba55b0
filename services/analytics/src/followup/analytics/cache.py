"""Answers kept between requests for as long as they cannot have changed.

An answer depends on the involved entities' stored facts (their version, see
`projections.load_period`), the request (endpoint, period, grouping) and `as_of`. The rules read
`as_of` only by comparing it with instants of the facts (`x <= as_of`, `x < as_of`, ...), so from
the `as_of` an answer was computed at up to, not including, the first instant of its facts at
or after that `as_of`, every comparison comes out the same and so does the answer. A request in
that window reuses the answer when no fact was stored since (one row says so) or none of what
the period involves (the database says which visits and issues it involves and how many facts
they hold): the facts are neither loaded nor folded. A past month asked again (a report
reloaded, a dashboard polling) costs one or a few queries.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from followup.analytics.domain.model import Facts

Key = tuple[Any, ...]


def instants(facts: Facts) -> Iterator[datetime]:
    """Every instant the facts hold (those the rules compare `as_of` with)."""
    for customer in facts.customers.values():
        for p in customer.profiles:
            yield p.at
    for v in facts.visits.values():
        for d in v.dues:
            yield d.due_at
            yield d.deadline
        for m in v.moves:
            yield m.recomputed_at
            yield m.deadline
        for log in v.logs:
            yield log.logged_at
        for c in v.checks:
            yield c.checked_at
    for i in facts.issues.values():
        for r in i.raises:
            yield from (r.raised_at, r.handover_by, r.respond_by, r.resolve_by)
        for a in i.assignments:
            yield a.assigned_at
        for res in i.resolutions:
            yield res.resolved_at
            yield res.resolve_by
        yield from i.reopens
        yield from i.closes
        for b in i.breaches:
            yield b.deadline
        for h in i.handover_moves:
            yield h.recomputed_at
            yield h.handover_by
        for _, paused_at in i.pauses:
            yield paused_at
        for _, resumed_at in i.resumes:
            yield resumed_at


def next_instant(facts: Facts, as_of: datetime) -> datetime | None:
    """The first instant of the facts at or after `as_of` (None: there is none)."""
    return min((t for t in instants(facts) if t >= as_of), default=None)


@dataclass(frozen=True, slots=True)
class Cached:
    """An answer, the version of the facts it came from and the `as_of` window it holds in."""

    stored: str
    version: str
    as_of: datetime
    until: datetime | None
    body: Any

    def holds_at(self, now: datetime) -> bool:
        """Whether the answer is the one `now` would get from the same facts."""
        return now == self.as_of or (now > self.as_of and (self.until is None or now < self.until))


class AnswerCache:
    """The last `size` answers, least recently used out first."""

    def __init__(self, size: int = 64) -> None:
        self._size = size
        self._entries: OrderedDict[Key, Cached] = OrderedDict()

    def lookup(self, key: Key, now: datetime) -> Cached | None:
        """The answer kept for `key` if it still holds at `now` (its version is checked by the
        caller against the database)."""
        cached = self._entries.get(key)
        if cached is None or not cached.holds_at(now):
            return None
        self._entries.move_to_end(key)
        return cached

    def store(self, key: Key, cached: Cached) -> None:
        self._entries[key] = cached
        self._entries.move_to_end(key)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)
