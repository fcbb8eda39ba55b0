"""Paths and tools the deployment tests share (installed by infra/tools.sh when missing)."""

from __future__ import annotations

import functools
import re
import shlex
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
PROMETHEUS_DIR = DEPLOY / "prometheus"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "followup.json"
K8S = DEPLOY / "k8s"


@functools.cache
def tool(name: str) -> list[str]:
    """The command of a checker, installing it on first use (see infra/tools.sh)."""
    out = subprocess.run(
        [str(ROOT / "infra" / "tools.sh"), name], capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, f"infra/tools.sh {name} failed:\n{out.stderr}"
    return shlex.split(out.stdout.strip().splitlines()[-1])


def run(cmd: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Runs a checker and returns its result (the caller asserts on it)."""
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)


# A metric family as a query names it: `followup_x_total` and `followup_x_bucket` are `followup_x`.
_SERIES = re.compile(r"\b((?:followup|http|process)_[a-z0-9_]+|up)\b(?!\s*\()")
_SUFFIXES = ("_bucket", "_count", "_sum", "_total")


def families(expr: str) -> set[str]:
    """The metric families a PromQL expression reads (by this project's name prefixes)."""
    names = set()
    for name in _SERIES.findall(expr):
        for suffix in _SUFFIXES:
            if name.endswith(suffix):
                name = name[: -len(suffix)]
                break
        names.add(name)
    return names
