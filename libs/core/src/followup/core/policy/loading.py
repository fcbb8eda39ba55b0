"""Reading a policy: TOML text or a document in, a Policy or every problem with its path out.

The canonical document (the policy as JSON, keys sorted, nothing left out but empty options)
is what PolicyActivated carries; its sha256 is the policy's digest.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from followup.core.policy.model import CrossCheckFailed, Policy, Problem

_MESSAGES = {
    "extra_forbidden": "unknown key",
    "missing": "missing (required)",
}


class PolicyError(ValueError):
    """A policy that does not load: every problem found, each with its dotted path."""

    def __init__(self, source: str, problems: list[Problem]) -> None:
        super().__init__(f"{source}: " + "; ".join(map(str, problems)))
        self.source = source
        self.problems = problems


def dotted_path(loc: tuple[str | int, ...]) -> str:
    """('kinds', 'deep', 0, 'every_months') -> 'kinds.deep[0].every_months'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part != "[key]":  # pydantic's marker for a bad dict key: the key is the path
            out += f".{part}" if out else part
    return out


def _problem(error: ErrorDetails) -> list[Problem]:
    cause = (error.get("ctx") or {}).get("error")
    if isinstance(cause, CrossCheckFailed):
        return cause.problems
    path = dotted_path(error["loc"])
    message = _MESSAGES.get(error["type"], error["msg"].removeprefix("Value error, "))
    value = error.get("input")
    # A value error's message names the value already.
    if error["type"] not in (*_MESSAGES, "value_error") and isinstance(
        value, str | int | float | bool
    ):
        message += f" (got {value!r})"
    return [Problem(path, message)]


def problems_of(error: ValidationError) -> list[Problem]:
    """The problems of a failed validation, with dotted paths."""
    return [p for e in error.errors() for p in _problem(e)]


def policy_from_document(document: Mapping[str, Any], source: str = "<policy>") -> Policy:
    """The Policy a parsed TOML file or a canonical document describes."""
    try:
        return Policy.model_validate(document)
    except ValidationError as e:
        raise PolicyError(source, problems_of(e)) from None


def parse_policy(text: str, source: str = "<policy>") -> Policy:
    """The Policy a TOML text describes."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise PolicyError(source, [Problem("", f"not TOML: {e}")]) from None
    return policy_from_document(document, source)


def load_policy(path: str | Path) -> Policy:
    """The Policy in a TOML file."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise PolicyError(str(path), [Problem("", f"cannot read it: {e}")]) from None
    return parse_policy(text, str(path))


def canonical_document(policy: Policy) -> dict[str, Any]:
    """The policy as JSON values (options left empty are left out)."""
    document: dict[str, Any] = policy.model_dump(mode="json", exclude_none=True)
    return document


def canonical_bytes(policy: Policy) -> bytes:
    """The canonical document serialised: sorted keys, no spaces, UTF-8."""
    text = json.dumps(
        canonical_document(policy), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return text.encode("utf-8")


def policy_digest(policy: Policy) -> str:
    """The sha256 of the canonical document, in hex."""
    return hashlib.sha256(canonical_bytes(policy)).hexdigest()
