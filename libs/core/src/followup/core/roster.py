"""The roster (SPEC §10): agents, teams and supervisors, from configuration like the tokens.

Validated at start: an agent's team must be on the roster, and so must a supervisor's teams;
`check_against_policy` ties the roster to the policy's teams, `check_tokens` ties every agent's
or supervisor's token to a roster entry. No I/O beyond reading the file it is given.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, Strict, StringConstraints, model_validator

from followup.core.auth import Principal, Role
from followup.core.policy import Policy
from followup.events.issues import Department

ROSTER_FILE_ENV = "FOLLOWUP_ROSTER_FILE"

AgentId = Annotated[str, Strict(), StringConstraints(min_length=1, max_length=128)]
TeamId = Annotated[str, Strict(), StringConstraints(pattern=r"^[a-z][a-z0-9_-]*$", max_length=64)]
# The calendar's region codes, as in the policy (CN, HK, CN-44).
Region = Annotated[str, Strict(), StringConstraints(pattern=r"^[A-Z]{2}(-[A-Z0-9]{1,3})?$")]


class RosterError(ValueError):
    """The roster cannot be used: a bad file, or entries that contradict each other."""


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RosterTeam(_Entry):
    """A team agents belong to; its routing rules are the policy's (§11)."""

    name: str = ""


class RosterAgent(_Entry):
    """One agent: the team it works in, its department and region, and whether it takes work."""

    name: str = ""
    team: TeamId
    department: Department
    region: Region | None = None
    active: bool = True


class RosterSupervisor(_Entry):
    """A supervisor: its department and the teams whose queues it sees."""

    name: str = ""
    department: Department
    teams: tuple[TeamId, ...] = Field(min_length=1)


class Roster(_Entry):
    """Who works where: agents and supervisors by id, teams by id."""

    teams: dict[TeamId, RosterTeam] = {}
    agents: dict[AgentId, RosterAgent] = {}
    supervisors: dict[AgentId, RosterSupervisor] = {}

    @model_validator(mode="after")
    def _known_teams(self) -> Roster:
        problems = [
            f"agents.{agent_id}.team: {agent.team!r} is not in teams"
            for agent_id, agent in self.agents.items()
            if agent.team not in self.teams
        ]
        problems += [
            f"supervisors.{sid}.teams: {team!r} is not in teams"
            for sid, sup in self.supervisors.items()
            for team in sup.teams
            if team not in self.teams
        ]
        problems += [
            f"supervisors.{sid}: also listed as an agent"
            for sid in self.supervisors
            if sid in self.agents
        ]
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def active_agent(self, agent_id: str | None) -> RosterAgent | None:
        """The agent if the roster lists it as active, else None."""
        agent = self.agents.get(agent_id) if agent_id else None
        return agent if agent is not None and agent.active else None

    def active_members(self, team: str) -> list[str]:
        """The active agents of a team, by agent id."""
        return sorted(a for a, agent in self.agents.items() if agent.team == team and agent.active)

    def teams_of(self, principal: Principal) -> tuple[str, ...]:
        """The teams whose queues a supervisor sees (none for anyone else)."""
        if principal.role != Role.SUPERVISOR or principal.agent_id is None:
            return ()
        sup = self.supervisors.get(principal.agent_id)
        return sup.teams if sup is not None else ()

    def agents_of_teams(self, teams: Iterable[str]) -> list[str]:
        """Every agent (active or not) of these teams, by agent id."""
        wanted = set(teams)
        return sorted(a for a, agent in self.agents.items() if agent.team in wanted)


def parse_roster(document: Mapping[str, object]) -> Roster:
    """A Roster from a parsed file; RosterError naming every problem."""
    try:
        return Roster.model_validate(document)
    except ValueError as e:
        raise RosterError(f"invalid roster: {e}") from e


def load_roster(path: Path) -> Roster:
    """Reads a roster file: TOML, or JSON when the name ends in `.json`."""
    text = path.read_text(encoding="utf-8")
    try:
        document = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as e:
        raise RosterError(f"{path}: {e}") from e
    return parse_roster(document)


def roster_from_env(env: Mapping[str, str] | None = None) -> Roster:
    """The roster FOLLOWUP_ROSTER_FILE names; an empty one (nobody to route to) without it."""
    env = os.environ if env is None else env
    path = env.get(ROSTER_FILE_ENV)
    return load_roster(Path(path)) if path else Roster()


def check_against_policy(roster: Roster, policy: Policy) -> list[str]:
    """What the roster says that the policy contradicts: unknown teams, other departments."""
    problems = [
        f"teams.{team}: not a team of policy {policy.id!r}"
        for team in roster.teams
        if team not in policy.teams
    ]
    for agent_id, agent in roster.agents.items():
        team = policy.teams.get(agent.team)
        if team is not None and team.department not in (None, agent.department):
            problems.append(
                f"agents.{agent_id}.department: {agent.department!r}, but team "
                f"{agent.team!r} belongs to {team.department!r}"
            )
    return problems


def check_tokens(roster: Roster, principals: Iterable[Principal]) -> list[str]:
    """Tokens that name no roster entry: every agent's agent_id must be a roster agent, every
    supervisor's with an agent_id a roster supervisor, in the department the token says."""
    problems: list[str] = []
    for p in principals:
        if p.role == Role.AGENT:
            entry: RosterAgent | RosterSupervisor | None = roster.agents.get(p.agent_id or "")
        elif p.role == Role.SUPERVISOR and p.agent_id:
            entry = roster.supervisors.get(p.agent_id)
        else:
            continue
        label = f"{p.role.value} {p.agent_id}"
        if entry is None:
            problems.append(f"token of {label}: not on the roster")
        elif p.department is not None and p.department != entry.department:
            problems.append(
                f"token of {label}: department {p.department!r}, roster says {entry.department!r}"
            )
    return problems
