"""Bearer tokens mapped to roles (SPEC §8); tokens come from configuration only."""

from __future__ import annotations

import hmac
import json
import os
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TypeAlias

from fastapi import Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from followup.core.problems import Problem

_CHALLENGE = {"WWW-Authenticate": "Bearer"}
# Declares the scheme in OpenAPI; auto_error off so our own problem+json 401 answers.
BEARER_SCHEME = HTTPBearer(auto_error=False, scheme_name="bearer", description="A configured token")


class Role(StrEnum):
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    ANALYST = "analyst"
    ADMIN = "admin"


@dataclass(frozen=True)
class Principal:
    """Who is calling: a role and, for agents, their agent id; for agents and supervisors,
    their department."""

    role: Role
    agent_id: str | None = None
    name: str = ""
    # The department an agent or supervisor works in (SPEC §10); None for admins and analysts.
    department: str | None = None

    @property
    def sees_personal_data(self) -> bool:
        return self.role in (Role.SUPERVISOR, Role.ADMIN)

    def may_act_for_agent(self, agent_id: str | None) -> bool:
        """Agents act only for themselves; supervisors and admins for anyone."""
        if self.role in (Role.SUPERVISOR, Role.ADMIN):
            return True
        return self.role == Role.AGENT and agent_id is not None and agent_id == self.agent_id


class TokenTable:
    """Token → principal, compared in constant time."""

    def __init__(self, tokens: Mapping[str, Principal]) -> None:
        self._tokens = dict(tokens)

    def lookup(self, token: str) -> Principal | None:
        found = None
        for known, principal in self._tokens.items():
            if hmac.compare_digest(known.encode(), token.encode()):
                found = principal
        return found

    def principals(self) -> list[Principal]:
        """Everyone a token is configured for (the roster check reads them)."""
        return list(self._tokens.values())

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> TokenTable:
        """Reads FOLLOWUP_TOKENS (JSON) or FOLLOWUP_TOKENS_FILE, plus FOLLOWUP_DEV_TOKEN.

        The JSON maps a token to {"role": ..., "agent_id": ..., "name": ..., "department": ...}.
        FOLLOWUP_DEV_TOKEN (default `dev-admin`) grants admin; set it empty to disable it.
        """
        env = os.environ if env is None else env
        raw: dict[str, dict[str, str]] = {}
        if path := env.get("FOLLOWUP_TOKENS_FILE"):
            raw.update(json.loads(Path(path).read_text()))
        if inline := env.get("FOLLOWUP_TOKENS"):
            raw.update(json.loads(inline))
        tokens = {
            tok: Principal(
                Role(spec["role"]),
                spec.get("agent_id"),
                spec.get("name", ""),
                spec.get("department"),
            )
            for tok, spec in raw.items()
        }
        dev = env.get("FOLLOWUP_DEV_TOKEN", "dev-admin")
        if dev:
            tokens[dev] = Principal(Role.ADMIN, None, "development admin")
        for tok, p in tokens.items():
            if p.role == Role.AGENT and not p.agent_id:
                raise ValueError(f"token for agent {p.name or tok[:4] + '…'} has no agent_id")
        return cls(tokens)


# The request's caller, as a FastAPI dependency.
Authenticate: TypeAlias = Callable[[Request], Awaitable[Principal]]


def bearer_auth(tokens: TokenTable) -> Authenticate:
    """A FastAPI dependency that answers 401 without a valid bearer token."""

    # A coroutine on purpose: FastAPI runs a plain-function dependency in its threadpool, a
    # thread hop on every request for a check that never blocks.
    async def authenticate(
        request: Request,
        _declared: HTTPAuthorizationCredentials | None = Security(BEARER_SCHEME),
    ) -> Principal:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Problem(401, "missing bearer token", headers=_CHALLENGE)
        principal = tokens.lookup(token.strip())
        if principal is None:
            raise Problem(401, "unknown bearer token", headers=_CHALLENGE)
        return principal

    return authenticate


def require_role(principal: Principal, *roles: Role) -> None:
    """403 unless the caller has one of the roles."""
    if principal.role not in roles:
        raise Problem(
            403, f"role {principal.role} may not do this", allowed_roles=[r.value for r in roles]
        )
