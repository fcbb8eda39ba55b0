"""Bearer tokens: 401 with a challenge without a valid token, 403 by role, no thread hop."""

from __future__ import annotations

import inspect
import threading

import httpx
from fastapi import Depends, FastAPI

from followup.core.auth import Principal, Role, TokenTable, bearer_auth, require_role
from followup.core.problems import install_problem_handlers

TOKENS = TokenTable({"t-admin": Principal(Role.ADMIN), "t-agent": Principal(Role.AGENT, "A-7")})


class TracedTokens(TokenTable):
    """Remembers the thread each lookup ran on."""

    def __init__(self, tokens: TokenTable) -> None:
        super().__init__(tokens._tokens)
        self.threads: list[str] = []

    def lookup(self, token: str) -> Principal | None:
        self.threads.append(threading.current_thread().name)
        return super().lookup(token)


def _app() -> tuple[FastAPI, list[str]]:
    tokens = TracedTokens(TOKENS)
    auth = bearer_auth(tokens)
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/admin-only")
    async def admin_only(principal: Principal = Depends(auth)) -> dict[str, str | None]:
        require_role(principal, Role.ADMIN)
        return {"role": principal.role.value, "agent_id": principal.agent_id}

    return app, tokens.threads


async def _get(app: FastAPI, headers: dict[str, str]) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return await client.get("/admin-only", headers=headers)


def test_the_dependency_is_a_coroutine_so_fastapi_awaits_it_on_the_event_loop() -> None:
    assert inspect.iscoroutinefunction(bearer_auth(TOKENS))


async def test_a_missing_malformed_or_unknown_token_is_401_with_a_bearer_challenge() -> None:
    app, _ = _app()
    for headers in (
        {},
        {"Authorization": "Basic t-admin"},
        {"Authorization": "Bearer  "},
        {"Authorization": "Bearer t-nobody"},
    ):
        r = await _get(app, headers)
        assert r.status_code == 401, headers
        assert r.headers["www-authenticate"] == "Bearer"
        assert r.headers["content-type"].startswith("application/problem+json")


async def test_a_known_token_passes_and_a_role_without_the_right_is_403() -> None:
    app, threads = _app()
    admin = await _get(app, {"Authorization": "Bearer t-admin"})
    assert admin.status_code == 200 and admin.json() == {"role": "admin", "agent_id": None}
    agent = await _get(app, {"Authorization": "bearer t-agent"})
    assert agent.status_code == 403 and agent.json()["allowed_roles"] == ["admin"]
    # Authenticated on the event loop's own thread, never a worker of the threadpool.
    assert threads == [threading.current_thread().name] * 2
