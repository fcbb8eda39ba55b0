"""The unit tests share `issue_builders`; pytest's importlib mode does not put this directory on
the path, so it is added here, once."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)
