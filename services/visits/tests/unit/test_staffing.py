"""Visits starts only with a roster that fits the policy and the tokens."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from followup.core.roster import RosterError
from followup.visits.staffing import staffing_from_env

_ROSTER = """
[teams.customer-service]
[agents.A-1]
team = "customer-service"
department = "customer_service"
"""


def _env(tmp_path: Path, roster: str, tokens: dict[str, object]) -> dict[str, str]:
    path = tmp_path / "roster.toml"
    path.write_text(roster)
    return {"FOLLOWUP_ROSTER_FILE": str(path), "FOLLOWUP_TOKENS": json.dumps(tokens)}


def test_a_roster_that_fits_the_preset_and_the_tokens_is_the_staffing(tmp_path: Path) -> None:
    env = _env(tmp_path, _ROSTER, {"t": {"role": "agent", "agent_id": "A-1"}})
    staffing = staffing_from_env("complaints", env)
    assert staffing.policy.id == "complaints"
    assert staffing.roster.active_members("customer-service") == ["A-1"]


def test_an_agent_token_off_the_roster_stops_the_start(tmp_path: Path) -> None:
    env = _env(tmp_path, _ROSTER, {"t": {"role": "agent", "agent_id": "A-2"}})
    with pytest.raises(RosterError, match="token of agent A-2: not on the roster"):
        staffing_from_env("complaints", env)


def test_a_team_the_policy_does_not_have_stops_the_start(tmp_path: Path) -> None:
    env = _env(tmp_path, _ROSTER, {})
    with pytest.raises(RosterError, match=r"teams\.customer-service: not a team of policy"):
        staffing_from_env("home-cinema", env)


def test_without_a_roster_the_tokens_are_not_checked() -> None:
    env = {"FOLLOWUP_TOKENS": json.dumps({"t": {"role": "agent", "agent_id": "A-2"}})}
    assert staffing_from_env("home-cinema", env).roster.agents == {}
