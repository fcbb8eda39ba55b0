"""RFC 9457 problem+json errors for every service's HTTP API."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException

from followup.core.rejections import Rejection, RejectionKind

PROBLEM_JSON = "application/problem+json"

_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class ProblemDocument(BaseModel):
    """An RFC 9457 problem document as OpenAPI shows it; services add further members."""

    model_config = ConfigDict(extra="allow", title="Problem")

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    instance: str | None = None


_PROBLEM_SCHEMA = ProblemDocument.model_json_schema()
_DOCUMENTED = {
    401: "No valid bearer token",
    403: "The caller's role or department may not do this",
    404: "No such resource",
    409: "Conflicts with the resource's current state",
    422: "Invalid request: every field error at once",
}
# The error answers every /v1 operation may give, for each service's OpenAPI.
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"description": text, "content": {PROBLEM_JSON: {"schema": _PROBLEM_SCHEMA}}}
    for status, text in _DOCUMENTED.items()
}


class Problem(Exception):
    """An error answered as problem+json; extra members go into the body."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        title: str | None = None,
        type_: str = "about:blank",
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.headers = headers
        self.status = status
        self.detail = detail
        self.title = title or _TITLES.get(status, "Error")
        self.type = type_
        self.extra = extra


STATUS_BY_KIND = {
    RejectionKind.NOT_FOUND: 404,
    RejectionKind.FORBIDDEN: 403,
    RejectionKind.INVALID: 422,
    RejectionKind.CONFLICT: 409,
}


def rejection_problem(rejection: Rejection) -> Problem:
    """The one translation of a refused command to problem+json.

    The body carries the kind (and the service's own reason when it names one), the field
    errors as `{"loc", "msg"}` (empty unless invalid; request validation answers the same
    shape), and the rejection's further members.
    """
    extra: dict[str, Any] = {"kind": rejection.kind.value}
    if rejection.reason is not None:
        extra["reason"] = rejection.reason
    extra["errors"] = [{"loc": e.field, "msg": e.message} for e in rejection.errors]
    extra.update(rejection.members)
    return Problem(STATUS_BY_KIND[rejection.kind], rejection.detail, title=rejection.title, **extra)


def problem_response(
    status: int,
    detail: str,
    *,
    title: str | None = None,
    type_: str = "about:blank",
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """A problem+json response."""
    body: dict[str, Any] = {
        "type": type_,
        "title": title or _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def install_problem_handlers(app: FastAPI) -> None:
    """Makes every error of the app an RFC 9457 problem document."""

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(
            exc.status,
            exc.detail,
            title=exc.title,
            type_=exc.type,
            instance=request.url.path,
            headers=exc.headers,
            **exc.extra,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem_response(
            exc.status_code,
            str(exc.detail),
            instance=request.url.path,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        # Every field error at once, so a client can fix its request in one go.
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        return problem_response(
            422, f"{len(errors)} invalid field(s)", instance=request.url.path, errors=errors
        )
