"""Where each event type carries personal data (SPEC §8), and sealing it in an event's `data`.

Personal data is the contact and every free text a person typed. Fields are sealed one by one
(`sealed:...` strings), so a sealed event keeps its type's shape; a value already sealed is left
as it is, so sealing twice (a replay) changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from followup.core.sealing import ERASED, DataKey, Erased, is_sealed, seal_text, unseal_text

_CONTACT = ("contact.name", "contact.phone", "contact.email", "contact.address")

# Paths into `data`: "a.b" is field b of object a, "a[].b" field b of each item of list a.
PERSONAL_FIELDS: Final[Mapping[str, tuple[str, ...]]] = {
    "CustomerDelivered": _CONTACT,
    "IntentSigned": _CONTACT,
    "CustomerTierChanged": ("reason",),
    "VisitLogged": ("feedback", "problems[].description"),
    "VisitSpotChecked": ("note",),
    "VisitAssigned": ("reason",),
    "IssueRaised": ("description",),
    "IssueResolved": ("resolution",),
    "IssueReopened": ("reason",),
    "IssuePaused": ("reason",),
    "IssueResumed": ("note",),
    "IssueResponded": ("note",),
}

# Free-text fields that are not personal: written by systems or operators, never by a customer.
NOT_PERSONAL: Final[Mapping[str, tuple[str, ...]]] = {
    "CustomerDelivered": ("product",),
    "VisitDue": ("reason",),
    "CalendarYearPublished": ("holidays[].name", "workdays[].name", "source"),
}

ERASED_TEXT: Final = str(ERASED)


def has_personal_data(type_name: str) -> bool:
    """True when events of this type carry personal data."""
    return type_name in PERSONAL_FIELDS


def _map_paths(
    data: Mapping[str, Any], paths: tuple[str, ...], fn: Callable[[str], str]
) -> dict[str, Any]:
    out: dict[str, Any] = dict(data)
    for path in paths:
        _map_path(out, path.split("."), fn)
    return out


def _map_path(node: dict[str, Any], parts: list[str], fn: Callable[[str], str]) -> None:
    head, rest = parts[0], parts[1:]
    if head.endswith("[]"):
        items = node.get(head[:-2])
        if isinstance(items, list):
            node[head[:-2]] = copied = [dict(i) if isinstance(i, dict) else i for i in items]
            for item in copied:
                if isinstance(item, dict) and rest:
                    _map_path(item, rest, fn)
        return
    value = node.get(head)
    if rest:
        if isinstance(value, dict):
            node[head] = child = dict(value)
            _map_path(child, rest, fn)
    elif isinstance(value, str):
        node[head] = fn(value)


def seal_personal(type_name: str, data: Mapping[str, Any], key: DataKey) -> dict[str, Any]:
    """A copy of `data` with its personal fields sealed (those sealed already left as they are)."""
    paths = PERSONAL_FIELDS.get(type_name, ())
    return _map_paths(data, paths, lambda v: v if is_sealed(v) else seal_text(key, v))


def unseal_personal(
    type_name: str, data: Mapping[str, Any], key: DataKey | Erased
) -> dict[str, Any]:
    """A copy of `data` with its personal fields opened, or "[erased]" once the key is gone.

    A plaintext value (an event from before sealing) is returned as it is; SealError when a
    sealed value was tampered with.
    """

    def open_one(value: str) -> str:
        if not is_sealed(value):
            return value if key is not ERASED else ERASED_TEXT
        opened = unseal_text(key, value)
        return ERASED_TEXT if isinstance(opened, Erased) else opened

    return _map_paths(data, PERSONAL_FIELDS.get(type_name, ()), open_one)


def erase_personal(type_name: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of `data` with every personal field replaced by "[erased]" (an erased customer's
    event republished or stored without its personal data)."""
    return _map_paths(data, PERSONAL_FIELDS.get(type_name, ()), lambda _: ERASED_TEXT)
