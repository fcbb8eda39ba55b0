"""The versioned contract artifacts (libs/events/contract/) and how to check them."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import jsonschema

CONTRACT = Path(__file__).resolve().parents[2] / "libs" / "events" / "contract"
SCHEMAS = CONTRACT / "schemas"
EXAMPLES_DIR = CONTRACT / "examples"
EXAMPLES: list[Path] = sorted(EXAMPLES_DIR.glob("*/*.json"))
ENVELOPE_SNAPSHOT = SCHEMAS / "Envelope.json"

_SNAPSHOT_NAME = re.compile(r"^(?P<type>[A-Za-z]+)\.v(?P<version>[1-9][0-9]*)\.json$")
_EXAMPLE_NAME = re.compile(r"^v(?P<version>[1-9][0-9]*)-[a-z0-9-]+\.json$")
# RFC 3339 date-time: the offset is mandatory (jsonschema's own check needs an extra package).
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")

FORMATS = jsonschema.FormatChecker(formats=())


def _is_rfc3339(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not _RFC3339.match(value):
        raise ValueError(f"{value!r} is not an RFC 3339 date-time with offset")
    datetime.fromisoformat(value.replace("z", "Z"))  # a real date and time
    return True


FORMATS.checks("date-time", raises=ValueError)(_is_rfc3339)


def load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def snapshots() -> dict[str, dict[int, Path]]:
    """type name -> {dataversion -> snapshot file}, from the files on disk."""
    out: dict[str, dict[int, Path]] = {}
    for path in SCHEMAS.glob("*.json"):
        m = _SNAPSHOT_NAME.match(path.name)
        if m:
            out.setdefault(m["type"], {})[int(m["version"])] = path
    return out


def example_version(path: Path) -> int:
    m = _EXAMPLE_NAME.match(path.name)
    assert m, f"{path.name}: examples are named v<N>-<name>.json"
    return int(m["version"])


def example_id(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


def validate(instance: Any, schema: dict[str, Any]) -> None:
    """Raises jsonschema.ValidationError unless `instance` is valid (formats checked)."""
    validator = jsonschema.Draft202012Validator(schema, format_checker=FORMATS)
    error = jsonschema.exceptions.best_match(validator.iter_errors(instance))
    if error is not None:
        raise error


def is_valid(instance: Any, schema: dict[str, Any]) -> bool:
    return bool(jsonschema.Draft202012Validator(schema, format_checker=FORMATS).is_valid(instance))


def additive_violations(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """How `new` (a later dataversion's data schema) breaks SPEC §6's rule against `old`.

    Within a type a later dataversion may only add optional fields, at any depth: every old
    property stays with the same schema, nothing is newly required, no unknown field is newly
    forbidden. Titles and descriptions may change.
    """
    problems: list[str] = []
    _compare(old, old, new, new, "data", problems)
    return problems


_DOCS = frozenset({"title", "description", "examples", "default", "$defs"})


def _resolve(schema: Any, root: dict[str, Any]) -> Any:
    while isinstance(schema, dict) and str(schema.get("$ref", "")).startswith("#/$defs/"):
        schema = root["$defs"][schema["$ref"].removeprefix("#/$defs/")]
    return schema


def _compare(
    old: Any,
    old_root: dict[str, Any],
    new: Any,
    new_root: dict[str, Any],
    at: str,
    problems: list[str],
) -> None:
    old, new = _resolve(old, old_root), _resolve(new, new_root)
    if not (isinstance(old, dict) and isinstance(new, dict)):
        if old != new:
            problems.append(f"{at}: changed")
        return
    if "properties" in old or "properties" in new:
        old_props: dict[str, Any] = old.get("properties", {})
        new_props: dict[str, Any] = new.get("properties", {})
        for name, schema in old_props.items():
            if name not in new_props:
                problems.append(f"{at}.{name}: removed")
            else:
                _compare(schema, old_root, new_props[name], new_root, f"{at}.{name}", problems)
        for name in sorted(set(new.get("required", [])) - set(old.get("required", []))):
            problems.append(f"{at}.{name}: newly required")
        if (
            new.get("additionalProperties") is False
            and old.get("additionalProperties") is not False
        ):
            problems.append(f"{at}: unknown fields newly forbidden")
        rest_old = {k: v for k, v in old.items() if k not in _DOCS | {"properties", "required"}}
        rest_new = {k: v for k, v in new.items() if k not in _DOCS | {"properties", "required"}}
        rest_old.pop("additionalProperties", None)
        rest_new.pop("additionalProperties", None)
        if rest_old != rest_new:
            problems.append(f"{at}: changed")
        return
    keys = (set(old) | set(new)) - _DOCS
    for key in sorted(keys):
        a, b = old.get(key), new.get(key)
        if (
            key in {"anyOf", "oneOf", "allOf", "prefixItems"}
            and isinstance(a, list)
            and isinstance(b, list)
            and len(a) == len(b)
        ):
            for i, (x, y) in enumerate(zip(a, b, strict=True)):
                _compare(x, old_root, y, new_root, f"{at}.{key}[{i}]", problems)
        elif key == "items" and isinstance(a, dict) and isinstance(b, dict):
            _compare(a, old_root, b, new_root, f"{at}[]", problems)
        elif a != b:
            problems.append(f"{at}: {key} changed")
