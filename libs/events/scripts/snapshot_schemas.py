"""Writes the JSON Schema snapshots under contract/schemas/: `<Type>.v<latest>.json` of every
event type, and `Envelope.json`.

A snapshot is the contract others rely on: a missing one is written, an identical one is left
alone, and one that differs from what the models now generate is refused (exit status 1) unless
--force is given. A model change within a dataversion is a mistake: bump the type's version in
`registry.LATEST` instead, which makes a new file; snapshots of earlier versions are history and
are never rewritten. --check writes nothing and fails on a missing or differing snapshot.

    uv run --frozen python libs/events/scripts/snapshot_schemas.py [--check | --force]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from followup.events.envelope import Envelope
from followup.events.registry import MODELS, json_schema, latest_version

SCHEMAS = Path(__file__).resolve().parents[1] / "contract" / "schemas"


def current_schemas() -> dict[str, dict[str, Any]]:
    """File name -> the JSON Schema the current models generate (latest versions only)."""
    out: dict[str, dict[str, Any]] = {
        f"{name}.v{latest_version(name)}.json": json_schema(name) for name in MODELS
    }
    out["Envelope.json"] = Envelope.model_json_schema()
    return out


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--force", action="store_true", help="overwrite differing snapshots")
    mode.add_argument("--check", action="store_true", help="write nothing; fail on a difference")
    parser.add_argument("--dir", type=Path, default=SCHEMAS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    target: Path = args.dir
    if not args.check:
        target.mkdir(parents=True, exist_ok=True)
    refused: list[str] = []
    for name, schema in current_schemas().items():
        path = target / name
        if path.exists():
            if json.loads(path.read_text()) == schema:
                continue
            if not args.force:
                refused.append(name)
                continue
        elif args.check:
            refused.append(name)
            continue
        path.write_text(render(schema))
        print(f"wrote {path}")
    if refused:
        verb = "missing or differing" if args.check else "not overwritten (differs)"
        print(
            f"{verb}: {', '.join(refused)}\n"
            "A dataversion's schema is frozen: add the change as a new dataversion, or rerun"
            " with --force only if the snapshot was never released.",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
