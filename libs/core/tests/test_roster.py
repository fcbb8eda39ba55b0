"""The roster: validated at start, tied to the policy's teams and to the tokens."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from followup.core.auth import Principal, Role, TokenTable
from followup.core.policy import load_preset
from followup.core.roster import (
    RosterError,
    check_against_policy,
    check_tokens,
    load_roster,
    parse_roster,
    roster_from_env,
)

EXAMPLE = Path(__file__).resolve().parents[3] / "deploy" / "roster.example.toml"


def _roster(**extra: object) -> dict[str, object]:
    return {
        "teams": {"sales": {}, "customer-service": {}},
        "agents": {
            "A-1": {"team": "sales", "department": "customer_service"},
            "A-2": {"team": "customer-service", "department": "customer_service"},
            "A-3": {"team": "sales", "department": "customer_service", "active": False},
        },
        "supervisors": {"S-1": {"department": "customer_service", "teams": ["sales"]}},
        **extra,
    }


def test_the_example_file_is_a_valid_roster_for_the_generic_preset() -> None:
    roster = load_roster(EXAMPLE)
    assert check_against_policy(roster, load_preset("generic")) == []
    assert roster.active_members("customer-service") == ["A-2"]
    assert roster.supervisors["S-1"].teams == ("sales", "customer-service")


def test_a_json_file_with_the_same_keys_reads_the_same(tmp_path: Path) -> None:
    path = tmp_path / "roster.json"
    path.write_text(json.dumps(_roster()))
    assert load_roster(path) == parse_roster(_roster())


def test_an_agent_of_an_unknown_team_or_with_an_unknown_key_is_refused() -> None:
    doc = _roster()
    doc["agents"] = {"A-9": {"team": "night-shift", "department": "customer_service"}}
    with pytest.raises(RosterError, match=r"agents\.A-9\.team: 'night-shift' is not in teams"):
        parse_roster(doc)
    doc["agents"] = {"A-9": {"team": "sales", "department": "customer_service", "shift": 2}}
    with pytest.raises(RosterError, match="shift"):
        parse_roster(doc)


def test_a_supervisor_needs_known_teams_and_is_not_also_an_agent() -> None:
    with pytest.raises(RosterError, match="'night' is not in teams"):
        parse_roster(_roster(supervisors={"S-1": {"department": "technical", "teams": ["night"]}}))
    with pytest.raises(RosterError, match="also listed as an agent"):
        parse_roster(_roster(supervisors={"A-1": {"department": "technical", "teams": ["sales"]}}))


def test_inactive_agents_are_no_team_members_and_no_active_agent() -> None:
    roster = parse_roster(_roster())
    assert roster.active_members("sales") == ["A-1"]
    assert roster.active_agent("A-3") is None
    assert roster.active_agent("A-1") is not None
    assert roster.agents_of_teams(["sales"]) == ["A-1", "A-3"]


def test_a_supervisor_sees_its_teams_and_an_agent_none() -> None:
    roster = parse_roster(_roster())
    sup = Principal(Role.SUPERVISOR, "S-1", department="customer_service")
    assert roster.teams_of(sup) == ("sales",)
    assert roster.teams_of(Principal(Role.AGENT, "A-1")) == ()


def test_roster_teams_must_be_policy_teams_in_the_teams_department() -> None:
    doc = _roster(teams={"sales": {}, "customer-service": {}, "night": {}})
    doc["agents"] = {"A-1": {"team": "customer-service", "department": "technical"}}
    doc["supervisors"] = {}
    problems = check_against_policy(parse_roster(doc), load_preset("generic"))
    assert problems == [
        "teams.night: not a team of policy 'generic'",
        "agents.A-1.department: 'technical', but team 'customer-service' belongs to "
        "'customer_service'",
    ]


def test_every_agent_token_names_a_roster_agent_of_its_department() -> None:
    tokens = TokenTable(
        {
            "t1": Principal(Role.AGENT, "A-1", department="customer_service"),
            "t2": Principal(Role.AGENT, "A-8"),
            "t3": Principal(Role.AGENT, "A-2", department="technical"),
            "t4": Principal(Role.SUPERVISOR, "S-2"),
            "t5": Principal(Role.SUPERVISOR, None, "ops"),
            "t6": Principal(Role.ADMIN),
        }
    )
    assert check_tokens(parse_roster(_roster()), tokens.principals()) == [
        "token of agent A-8: not on the roster",
        "token of agent A-2: department 'technical', roster says 'customer_service'",
        "token of supervisor S-2: not on the roster",
    ]


def test_without_a_roster_file_the_roster_is_empty(tmp_path: Path) -> None:
    assert roster_from_env({}).agents == {}
    path = tmp_path / "r.toml"
    path.write_text('[teams.sales]\n[agents.A-1]\nteam = "sales"\ndepartment = "technical"\n')
    assert list(roster_from_env({"FOLLOWUP_ROSTER_FILE": str(path)}).agents) == ["A-1"]
