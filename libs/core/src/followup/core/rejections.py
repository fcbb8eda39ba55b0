"""Why a command was refused, in one vocabulary for every service, and the field checks they share.

A domain decision returns either its events or a `Rejection`; only the HTTP layer turns a
rejection into a status code (`followup.core.problems.rejection_problem`):
- not-found: the thing the command is about does not exist (404);
- forbidden: it exists, but the caller may not act on it (403);
- invalid: the input is wrong; every field error at once, so a client fixes it in one go (422);
- conflict: valid input that does not fit the current state (409).

A service adds only its own details: a `reason` naming the precise refusal
(`already_completed`) and `members` for the problem body (`current_status`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

ID_MAX_CHARS = 200  # the contract's Id
TEXT_MAX_CHARS = 4000  # the contract's Text


class RejectionKind(StrEnum):
    """The four ways a command is refused."""

    NOT_FOUND = "not_found"
    FORBIDDEN = "forbidden"
    INVALID = "invalid"
    CONFLICT = "conflict"


@dataclass(frozen=True)
class FieldError:
    """One invalid field: a dotted path into the request body (`problems.0.category`)."""

    field: str
    message: str


@dataclass(frozen=True)
class Rejection:
    """A refused command: its kind, a human detail, and every field error when invalid."""

    kind: RejectionKind
    detail: str
    errors: tuple[FieldError, ...] = ()
    title: str | None = None
    # The service's own name for this refusal, when the kind alone does not say it.
    reason: str | None = None
    # Further members of the problem body (the state the command met, say).
    members: Mapping[str, Any] = field(default_factory=dict)


def not_found(detail: str, **members: Any) -> Rejection:
    """The thing the command is about does not exist."""
    return Rejection(RejectionKind.NOT_FOUND, detail, members=members)


def forbidden(detail: str, *, reason: str | None = None) -> Rejection:
    """The caller may not act on it."""
    return Rejection(RejectionKind.FORBIDDEN, detail, reason=reason)


def invalid(errors: Iterable[FieldError], detail: str | None = None) -> Rejection:
    """The input is wrong: every field error at once."""
    found = tuple(errors)
    return Rejection(RejectionKind.INVALID, detail or f"{len(found)} invalid field(s)", found)


def conflict(detail: str, *, reason: str | None = None, **members: Any) -> Rejection:
    """Valid input that does not fit the current state."""
    return Rejection(RejectionKind.CONFLICT, detail, reason=reason, members=members)


def id_errors(field: str, value: str | None, *, required: bool = True) -> list[FieldError]:
    """A contract Id: 1 to 200 characters, not blank."""
    if value is None:
        return [FieldError(field, "required")] if required else []
    if not value.strip():
        return [FieldError(field, "must not be blank")]
    if len(value) > ID_MAX_CHARS:
        return [FieldError(field, f"at most {ID_MAX_CHARS} characters")]
    return []


def text_errors(
    field: str, value: str | None, *, required: bool = True, max_chars: int = TEXT_MAX_CHARS
) -> list[FieldError]:
    """Free text: at most `max_chars` characters; when required, present and not blank."""
    if value is None:
        return [FieldError(field, "required")] if required else []
    if required and not value.strip():
        return [FieldError(field, "must not be blank")]
    if len(value) > max_chars:
        return [FieldError(field, f"at most {max_chars} characters")]
    return []


def choice_errors(
    field: str, value: str | None, allowed: Iterable[str], *, required: bool = True
) -> list[FieldError]:
    """One of `allowed`."""
    names = tuple(allowed)
    if value is None:
        return [FieldError(field, "required: one of " + ", ".join(names))] if required else []
    if value not in names:
        return [FieldError(field, f"{value!r} is not one of " + ", ".join(names))]
    return []


def choices_errors(
    field: str, values: Iterable[str] | None, allowed: Iterable[str]
) -> list[FieldError]:
    """Each of a list one of `allowed`; an error names the item's index (`needs.1`)."""
    names = tuple(allowed)
    return [
        FieldError(f"{field}.{i}", f"{value!r} is not one of " + ", ".join(names))
        for i, value in enumerate(values or ())
        if value not in names
    ]


def score_errors(field: str, value: int | None, low: int = 1, high: int = 5) -> list[FieldError]:
    """A whole score from `low` to `high` when given."""
    if value is None or low <= value <= high:
        return []
    return [FieldError(field, f"a score from {low} to {high}")]
