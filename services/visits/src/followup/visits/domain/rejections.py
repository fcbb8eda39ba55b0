"""Why a visit command was refused: the kinds the API maps to 404, 403, 422 and 409."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class RejectionKind(StrEnum):
    """Why a command was refused; the API answers 404, 403, 422, then 409."""

    NOT_FOUND = "not_found"
    FORBIDDEN = "forbidden"
    INVALID = "invalid"
    ALREADY_COMPLETED = "already_completed"
    NOT_COMPLETED = "not_completed"
    ALREADY_CHECKED = "already_checked"
    KEY_REUSED = "key_reused"


@dataclass(frozen=True)
class FieldError:
    """One invalid field: a dotted path into the request body (`problems.0.category`)."""

    field: str
    message: str


@dataclass(frozen=True)
class Rejection:
    """A refused command, with every field error when the input was invalid."""

    kind: RejectionKind
    detail: str
    errors: tuple[FieldError, ...] = ()
