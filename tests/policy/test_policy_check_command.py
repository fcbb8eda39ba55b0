"""`followup policy check` as an operator runs it: a subprocess, its output and exit status."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FOLLOWUP = Path(sys.executable).parent / "followup"


def check(*files: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(FOLLOWUP), "policy", "check", *map(str, files)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )


def test_every_preset_checks_and_the_command_exits_0() -> None:
    presets = sorted((ROOT / "policies").glob("*.toml"))
    assert len(presets) == 5
    done = check(*presets)
    assert done.returncode == 0, done.stdout + done.stderr
    for preset in presets:
        assert f"{preset}: OK" in done.stdout
    assert "sla rule: complaint: first response 10 minutes" in done.stdout
    assert "kind key_deep: every 3 months from month 3 per customer" in done.stdout
    assert "targets: satisfaction_rate 0.98" in done.stdout


def test_a_bad_file_prints_every_problem_with_its_path_and_exits_2(tmp_path: Path) -> None:
    text = (ROOT / "policies" / "home-cinema.toml").read_text(encoding="utf-8")
    bad = tmp_path / "bad.toml"
    bad.write_text(
        text.replace("every_months = 12", "every_months = -12")
        .replace("dissatisfied_at_or_below = 2", "dissatisfied_at_or_below = 7")
        .replace('tiers = ["gold"]\nevery_months', 'tiers = ["vip"]\nevery_months')
        + '\n[extras]\ncolour = "blue"\n',
        encoding="utf-8",
    )
    done = check(ROOT / "policies" / "generic.toml", bad)
    assert done.returncode == 2
    assert "generic.toml: OK" in done.stdout
    assert f"{bad}: INVALID, 4 problem(s)" in done.stdout
    for path in (
        "kinds.deep[0].every_months: Input should be greater than or equal to 1 (got -12)",
        "kinds.key_deep[0].tiers[0]:",
        "visits.dissatisfied_at_or_below: Input should be less than or equal to 5 (got 7)",
        "extras: unknown key",
    ):
        assert path in done.stdout


def test_a_missing_file_is_reported_not_raised(tmp_path: Path) -> None:
    done = check(tmp_path / "nope.toml")
    assert done.returncode == 2
    assert "cannot read it" in done.stdout
