"""What every service's HTTP side has: health, readiness, metrics, AsyncAPI, problem errors."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any, TypeVar, cast

import asyncpg
import orjson
from fastapi import APIRouter, FastAPI, Response
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    disable_created_metrics,
    generate_latest,
)
from prometheus_fastapi_instrumentator import Instrumentator
from prometheus_fastapi_instrumentator import metrics as http_metrics
from starlette.types import Receive, Scope, Send

from followup.core.problems import PROBLEM_RESPONSES, Problem, install_problem_handlers

T = TypeVar("T")

# A readiness check returns None when fine, else why not.
ReadyCheck = Callable[[], Awaitable[str | None]]


def create_app(
    service: str,
    *,
    registry: CollectorRegistry,
    ready_checks: dict[str, ReadyCheck],
    asyncapi: Callable[[], dict[str, Any]],
    routers: Sequence[APIRouter] = (),
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]] | None = None,
    description: str = "",
    check_timeout_s: float = 2.0,
) -> FastAPI:
    """A FastAPI app with /healthz, /readyz, /metrics, /asyncapi, offline docs, problem+json."""
    # /docs and /redoc load their scripts from the installed package, not a CDN: works offline.
    app = FastAPIOffline(
        title=f"followup {service}", version="0.1.0", description=description, lifespan=lifespan
    )
    install_problem_handlers(app)
    instrument_http(app, registry)

    @app.get("/healthz", tags=["ops"])
    async def healthz() -> dict[str, str]:
        """The process is alive."""
        return {"status": "ok", "service": service}

    @app.get("/readyz", tags=["ops"])
    async def readyz() -> JSONResponse:
        """Database and Kafka reachable, consumer caught up within the bound."""
        names = list(ready_checks)

        async def run(check: ReadyCheck) -> str | None:
            try:
                return await asyncio.wait_for(check(), check_timeout_s)
            except TimeoutError:
                return f"timed out after {check_timeout_s:.0f} s"
            except Exception as exc:  # a failing check is an answer, not a crash
                return f"{type(exc).__name__}: {exc}"

        results = await asyncio.gather(*(run(ready_checks[n]) for n in names))
        checks = {n: (r or "ok") for n, r in zip(names, results, strict=True)}
        ready = all(r is None for r in results)
        return JSONResponse(
            {"status": "ready" if ready else "not ready", "checks": checks},
            status_code=200 if ready else 503,
        )

    @app.get("/metrics", tags=["ops"], response_class=Response)
    async def metrics() -> Response:
        """Prometheus metrics."""
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/asyncapi", tags=["ops"])
    async def asyncapi_doc() -> dict[str, Any]:
        """AsyncAPI 3.0 description of this service's Kafka side."""
        return asyncapi()

    for router in routers:
        app.include_router(router, responses=PROBLEM_RESPONSES)
    return app


def instrument_http(app: FastAPI, registry: CollectorRegistry) -> None:
    """Request count and latency per route template, the instrumentator's standard names."""
    # `*_created` series double every family and nothing reads them.
    disable_created_metrics()  # type: ignore[no-untyped-call]
    instrumentator = Instrumentator(registry=registry)
    # prometheus_client exports the counter as http_requests_total.
    instrumentator.add(http_metrics.requests(metric_name="http_requests", registry=registry))
    instrumentator.add(
        http_metrics.latency(metric_name="http_request_duration_seconds", registry=registry)
    )
    instrumentator.instrument(app)


def encode_cursor(key: Sequence[Any]) -> str:
    """An opaque pagination cursor from the last row's sort key."""
    return base64.urlsafe_b64encode(orjson.dumps(list(key))).decode().rstrip("=")


def decode_cursor(cursor: str) -> list[Any]:
    """The sort key inside a cursor; 400 when it was not made by encode_cursor."""
    try:
        value = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, orjson.JSONDecodeError) as exc:
        raise Problem(400, "invalid cursor") from exc
    if not isinstance(value, list):
        raise Problem(400, "invalid cursor")
    return value


def keyset_after(cursor: str | None) -> tuple[datetime, str] | None:
    """The (instant, id) position a list cursor resumes after; 400 when it is malformed."""
    if not cursor:
        return None
    key = decode_cursor(cursor)
    try:
        return datetime.fromisoformat(key[0]), str(key[1])
    except (IndexError, TypeError, ValueError) as exc:
        raise Problem(400, "invalid cursor") from exc


def keyset_page(
    rows: Sequence[dict[str, Any]], limit: int, instant: str, id_: str
) -> dict[str, Any]:
    """A page of `limit` rows (fetched `limit + 1`) and the cursor after its last row."""
    items = list(rows[:limit])
    last = items[-1] if items else None
    more = len(rows) > limit and last is not None and last[instant] is not None
    cursor = encode_cursor([last[instant].isoformat(), last[id_]]) if more and last else None
    return {"items": items, "next_cursor": cursor}


def json_response(body: Any, status_code: int = 200) -> Response:
    """A JSON answer encoded once by orjson (datetimes as FastAPI writes them, ISO 8601).

    For list pages: FastAPI's jsonable_encoder walks every value of every row first, ~4 ms
    for 100 rows on this hardware against ~0.05 ms here.
    """
    return Response(orjson.dumps(body), status_code=status_code, media_type="application/json")


class _ReleaseAfterSending(Response):
    """An answer that gives its pooled connection back once sent, or once sending failed.

    Not a background task: Starlette skips those when sending raises or the request task is
    cancelled, and a connection never given back is one less in the pool for good.
    """

    def __init__(self, answer: Response, release: Callable[[], Awaitable[None]]) -> None:
        super().__init__(status_code=answer.status_code)
        self.answer, self.release = answer, release
        # Shared, not copied: FastAPI adds dependencies' headers to the answer it is given.
        self.raw_headers = answer.raw_headers
        self.body = answer.body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.answer(scope, receive, send)
        finally:
            await self.release()
        if self.background is not None:
            await self.background()


async def answer_then_release(
    pool: asyncpg.Pool,
    command: Callable[[asyncpg.Connection], Awaitable[T]],
    answer: Callable[[T], Response],
) -> Response:
    """Runs `command` on a pooled connection; the answer leaves before the connection's reset.

    Releasing resets the connection's session (advisory locks, listeners, settings) in one more
    round trip to PostgreSQL; the command's transaction is over by then, so the client need not
    wait for it. On an error the connection is released before the error answer.
    """
    conn = await pool.acquire()
    try:
        # The pool's proxy forwards every method of the connection it holds.
        response = answer(await command(cast("asyncpg.Connection", conn)))
    except BaseException:
        await pool.release(conn)
        raise
    return _ReleaseAfterSending(response, lambda: pool.release(conn))
