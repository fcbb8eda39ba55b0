"""Issues' own refusal detail on the shared vocabulary (`followup.core.rejections`): a command
that does not fit the issue's state names that state (`current_status`)."""

from __future__ import annotations

from followup.core import rejections
from followup.core.rejections import Rejection
from followup.issues.domain_model import Issue


def conflict(issue: Issue, detail: str) -> Rejection:
    """The command does not fit the issue's current state, which the answer names."""
    return rejections.conflict(detail, current_status=issue.status.value)


def current_status(rejection: Rejection) -> str | None:
    """The state a refused command met, when it was a conflict with the issue's state."""
    status = rejection.members.get("current_status")
    return None if status is None else str(status)
