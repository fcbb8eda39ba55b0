"""One rejection vocabulary: the shared field checks, and one translation to problem+json."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from followup.core.problems import PROBLEM_JSON, install_problem_handlers, rejection_problem
from followup.core.rejections import (
    FieldError,
    Rejection,
    RejectionKind,
    choice_errors,
    choices_errors,
    conflict,
    forbidden,
    id_errors,
    invalid,
    not_found,
    score_errors,
    text_errors,
)


def test_an_id_is_required_not_blank_and_at_most_200_characters() -> None:
    assert id_errors("customer_id", "C-1") == []
    assert id_errors("customer_id", "x" * 200) == []
    assert id_errors("customer_id", None) == [FieldError("customer_id", "required")]
    assert id_errors("customer_id", "  ") == [FieldError("customer_id", "must not be blank")]
    assert id_errors("customer_id", "x" * 201) == [
        FieldError("customer_id", "at most 200 characters")
    ]
    assert id_errors("assignee_id", None, required=False) == []


def test_text_is_bounded_and_when_optional_may_be_absent_or_blank() -> None:
    assert text_errors("note", None, required=False) == []
    assert text_errors("note", "", required=False) == []
    assert text_errors("description", "") == [FieldError("description", "must not be blank")]
    assert text_errors("feedback", "x" * 4001, required=False) == [
        FieldError("feedback", "at most 4000 characters")
    ]
    assert text_errors("note", "x" * 11, max_chars=10) == [
        FieldError("note", "at most 10 characters")
    ]


def test_a_choice_names_what_is_allowed_when_missing_or_wrong() -> None:
    allowed = ("phone", "visit")
    assert choice_errors("channel", "visit", allowed) == []
    assert choice_errors("channel", None, allowed) == [
        FieldError("channel", "required: one of phone, visit")
    ]
    assert choice_errors("channel", "fax", allowed) == [
        FieldError("channel", "'fax' is not one of phone, visit")
    ]
    assert choice_errors("channel", None, allowed, required=False) == []


def test_each_wrong_item_of_a_list_is_named_by_its_index() -> None:
    assert choices_errors("needs", ["upgrade", "pizza", "upgrade", "x"], ("upgrade",)) == [
        FieldError("needs.1", "'pizza' is not one of upgrade"),
        FieldError("needs.3", "'x' is not one of upgrade"),
    ]
    assert choices_errors("needs", None, ("upgrade",)) == []


def test_a_score_is_from_one_to_five_when_given() -> None:
    assert [score_errors("satisfaction", s) for s in (None, 1, 5)] == [[], [], []]
    assert score_errors("satisfaction", 0) == [FieldError("satisfaction", "a score from 1 to 5")]
    assert score_errors("satisfaction", 6) != []


def test_invalid_counts_its_field_errors_in_the_detail() -> None:
    rejection = invalid([FieldError("a", "required"), FieldError("b", "required")])
    assert (rejection.kind, rejection.detail, len(rejection.errors)) == (
        RejectionKind.INVALID,
        "2 invalid field(s)",
        2,
    )


@pytest.mark.parametrize(
    ("rejection", "status"),
    [
        (not_found("no issue I-1"), 404),
        (forbidden("agents act on their own issues"), 403),
        (invalid([FieldError("reason", "required")]), 422),
        (conflict("the issue is closed"), 409),
    ],
)
def test_each_kind_is_answered_with_its_status(rejection: Rejection, status: int) -> None:
    problem = rejection_problem(rejection)
    assert (problem.status, problem.detail, problem.extra["kind"]) == (
        status,
        rejection.detail,
        rejection.kind.value,
    )


async def test_a_rejection_becomes_an_rfc_9457_problem_document_with_its_own_details() -> None:
    app = FastAPI()
    install_problem_handlers(app)

    @app.post("/v1/things/{thing_id}/close")
    async def close(thing_id: str) -> None:
        """Always refused: the thing is already closed."""
        raise rejection_problem(
            conflict("already closed", reason="already_closed", current_status="closed")
        )

    @app.post("/v1/things")
    async def create() -> None:
        """Always refused: every field is wrong."""
        raise rejection_problem(invalid([FieldError("problems.0.category", "required")]))

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        closed = await client.post("/v1/things/T-1/close")
        bad = await client.post("/v1/things")
    assert closed.status_code == 409
    assert closed.headers["content-type"] == PROBLEM_JSON
    assert closed.json() == {
        "type": "about:blank",
        "title": "Conflict",
        "status": 409,
        "detail": "already closed",
        "instance": "/v1/things/T-1/close",
        "kind": "conflict",
        "reason": "already_closed",
        "errors": [],
        "current_status": "closed",
    }
    assert bad.status_code == 422
    assert bad.json()["title"] == "Unprocessable Content"
    assert bad.json()["errors"] == [{"loc": "problems.0.category", "msg": "required"}]
