"""Writes the JSON Schema snapshot of every event type and version under contract/schemas/.

An existing snapshot is never overwritten (it is the contract others rely on) unless --force is
given; a new dataversion gets a new file. Run: uv run python libs/events/scripts/snapshot_schemas.py
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from followup.events.envelope import Envelope
from followup.events.registry import MODELS

CONTRACT = Path(__file__).resolve().parents[1] / "contract"


def current_schemas() -> dict[str, dict[str, object]]:
    """File name -> the JSON Schema the current models generate."""
    out: dict[str, dict[str, object]] = {
        f"{name}.v{v}.json": model.model_json_schema()
        for name, versions in MODELS.items()
        for v, model in versions.items()
    }
    out["Envelope.json"] = Envelope.model_json_schema()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--force", action="store_true", help="overwrite existing snapshots")
    args = parser.parse_args()
    target = CONTRACT / "schemas"
    target.mkdir(parents=True, exist_ok=True)
    for name, schema in current_schemas().items():
        path = target / name
        if path.exists() and not args.force:
            continue
        path.write_text(json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
