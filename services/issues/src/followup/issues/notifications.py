"""Issues' notifications (SPEC §10): warnings, breaches, level-2 escalations and assignments
reach people. A consumer of issues' own events (`issues-notify`, its own group and offsets)
stores who hears of what; a worker tells them (followup.core.notify, libs/core/README.md).

Breaches and warnings name whom they escalate to (`FOLLOWUP_DEPARTMENT_MANAGERS`); the
channels file says how to reach each person, and whom to tell when an event names nobody.
"""

from __future__ import annotations

from followup.core.notify.service import Notifier, notifier_from_settings
from followup.core.notify.settings import NotifySettings


def issues_notifier(settings: NotifySettings | None = None) -> Notifier | None:
    """Issues' notifier when `FOLLOWUP_NOTIFY_FILE` names a channels file; else None."""
    return notifier_from_settings("issues", settings or NotifySettings())
