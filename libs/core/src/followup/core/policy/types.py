"""The scalar types and the span of a policy file: one vocabulary for every section."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from decimal import Decimal
from typing import Annotated, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
    model_validator,
)

T = TypeVar("T", bound=Hashable)


class PolicyModel(BaseModel):
    """A section of a policy: unknown keys are errors, values never change after loading."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _unique(items: Sequence[T]) -> Sequence[T]:
    seen: set[T] = set()
    for item in items:
        if item in seen:
            raise ValueError(f"{item!r} is listed twice")
        seen.add(item)
    return items


def _some(items: Sequence[T]) -> Sequence[T]:
    # Here rather than Field(min_length=1): a bad item alone must not also report an empty list.
    if not items:
        raise ValueError("list at least one, or leave the key out")
    return _unique(items)


def _known_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise ValueError(f"{name!r} is not an IANA time zone") from e
    return name


# Integers must be TOML integers: a quoted "7" or `true` is a mistake, not a 7 or a 1.
Count = Annotated[int, Strict(), Field(ge=0)]
Positive = Annotated[int, Strict(), Field(ge=1)]
Score = Annotated[int, Strict(), Field(ge=1, le=5)]  # a satisfaction score (SPEC §3)
# Exact decimals (0.98 stays 98/100): a KPI is compared with its target unrounded (SPEC §5).
Share = Annotated[Decimal, Field(ge=0, le=1)]
Name = Annotated[str, Strict(), StringConstraints(min_length=1, max_length=200)]
Slug = Annotated[str, Strict(), StringConstraints(pattern=r"^[a-z][a-z0-9_-]*$", max_length=64)]
# The calendar's region codes (followup.calendar.data_file): CN, HK, CN-44.
Region = Annotated[str, Strict(), StringConstraints(pattern=r"^[A-Z]{2}(-[A-Z0-9]{1,3})?$")]
TimeZoneName = Annotated[str, Strict(), AfterValidator(_known_zone)]


# A list without repeats, and a non-empty one: a filter that lists nothing would match nothing.
Unique = Annotated[tuple[T, ...], AfterValidator(_unique)]
Some = Annotated[tuple[T, ...], AfterValidator(_some)]


SPAN_UNITS = ("calendar_days", "working_days", "hours", "minutes")


class Span(PolicyModel):
    """A deadline or SLA clock, counted one way (SPEC §2's counting rules).

    calendar_days: the end of that day, moved to the end of the next working day when it is
    not one; working_days: the end of the Nth working day after, its own day not counted;
    hours and minutes: wall-clock time.
    """

    calendar_days: Count | None = None
    working_days: Positive | None = None
    hours: Positive | None = None
    minutes: Positive | None = None

    @model_validator(mode="after")
    def _one_unit(self) -> Span:
        given = [unit for unit in SPAN_UNITS if getattr(self, unit) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of {', '.join(SPAN_UNITS)} (got {len(given)})")
        return self

    @property
    def unit(self) -> str:
        """The one unit given."""
        return next(u for u in SPAN_UNITS if getattr(self, u) is not None)

    @property
    def amount(self) -> int:
        """How many of `unit`."""
        value: int = getattr(self, self.unit)
        return value

    def describe(self) -> str:
        """'7 calendar days', '1 working day', '24 hours'."""
        word = self.unit.replace("_", " ")
        return f"{self.amount} {word[:-1] if self.amount == 1 else word}"
