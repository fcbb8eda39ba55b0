"""Refusals (SPEC §7): 404 unknown issue, 422 invalid input with every field error, 409 a
command that does not fit the issue's state (with that state); and the field checks."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from followup.issues.domain_model import Issue, IssueStatus

ID_MAX_CHARS = 200  # the contract's Id
TEXT_MAX_CHARS = 4000  # the contract's Text


class RejectionKind(StrEnum):
    """Why a command was refused; the API answers 404, 422, 409."""

    NOT_FOUND = "not_found"
    INVALID = "invalid"
    CONFLICT = "conflict"


HTTP_STATUS = {
    RejectionKind.NOT_FOUND: 404,
    RejectionKind.INVALID: 422,
    RejectionKind.CONFLICT: 409,
}


@dataclass(frozen=True)
class FieldError:
    """One invalid field: a dotted path into the request body."""

    field: str
    message: str


@dataclass(frozen=True)
class Rejection:
    """A refused command: every field error when the input was invalid, the current status
    when the command does not fit the issue's state."""

    kind: RejectionKind
    detail: str
    status: IssueStatus | None = None
    errors: tuple[FieldError, ...] = ()

    @property
    def http_status(self) -> int:
        return HTTP_STATUS[self.kind]


def not_found(issue_id: str) -> Rejection:
    """The 404 answer for an issue the ledger does not hold."""
    return Rejection(RejectionKind.NOT_FOUND, f"no issue {issue_id}")


def conflict(issue: Issue, detail: str) -> Rejection:
    """The 409 answer: the command does not fit the issue's current state."""
    return Rejection(RejectionKind.CONFLICT, detail, status=issue.status)


def invalid(errors: Iterable[FieldError]) -> Rejection:
    """The 422 answer with every field error."""
    found = tuple(errors)
    return Rejection(RejectionKind.INVALID, f"{len(found)} invalid field(s)", errors=found)


def id_errors(field: str, value: str | None, *, required: bool = True) -> list[FieldError]:
    """A contract Id: 1–200 characters, not blank."""
    if value is None:
        return [FieldError(field, "required")] if required else []
    if not value.strip():
        return [FieldError(field, "must not be blank")]
    if len(value) > ID_MAX_CHARS:
        return [FieldError(field, f"at most {ID_MAX_CHARS} characters")]
    return []


def text_errors(field: str, value: str | None, *, required: bool = True) -> list[FieldError]:
    """Free text: at most 4000 characters; when required, not blank."""
    if value is None:
        return [FieldError(field, "required")] if required else []
    if required and not value.strip():
        return [FieldError(field, "must not be blank")]
    if len(value) > TEXT_MAX_CHARS:
        return [FieldError(field, f"at most {TEXT_MAX_CHARS} characters")]
    return []


def choice_errors(
    field: str, value: str | None, allowed: tuple[str, ...], *, required: bool = True
) -> list[FieldError]:
    """One of `allowed`."""
    if value is None:
        return [FieldError(field, "required: one of " + ", ".join(allowed))] if required else []
    if value not in allowed:
        return [FieldError(field, f"{value!r} is not one of " + ", ".join(allowed))]
    return []
