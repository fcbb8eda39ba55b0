"""The integration tests share the unit tests' builders and histories (`tests/unit`); pytest's
importlib mode does not put that directory on the path, so it is added here, once."""

from __future__ import annotations

import sys
from pathlib import Path

UNIT = str(Path(__file__).resolve().parents[1] / "unit")
if UNIT not in sys.path:
    sys.path.insert(0, UNIT)
