"""Deterministic ids of derived events (SPEC §6): a replay never creates a new fact."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from followup.events import derived_id
from followup.events.ids import NAMESPACE, issue_id_for_problem


def test_the_same_parts_always_give_the_same_id() -> None:
    assert derived_id("VisitDue", "V-1", "1") == derived_id("VisitDue", "V-1", "1")


def test_the_ids_are_pinned_so_a_changed_namespace_or_joining_cannot_slip_through() -> None:
    """Ids already on the topics must come out again on replay, release after release."""
    assert str(NAMESPACE) == "6f1c2b9e-4a57-5d0e-9b1f-0f0110a0b5e1"
    assert derived_id("VisitDue", "V-1", "1") == "bfabdb8d-d6a7-5a89-befb-121ed3a95207"
    assert (
        derived_id("C-000123", "O-2026-0042", "first_use", "2026-01-27")
        == "802e0802-3a18-5863-b8ee-c8c227936b55"
    )
    assert derived_id("x") == "d234fe1c-0588-5df4-a4a6-2fc19d6c60de"


def test_a_derived_id_is_a_uuid_v5_under_the_project_namespace() -> None:
    value = uuid.UUID(derived_id("IssueRaised", "V-9", "P-1"))
    assert value.version == 5
    assert str(value) == str(uuid.uuid5(NAMESPACE, "IssueRaised\x1fV-9\x1fP-1"))


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (("VisitDue", "V-1", "2"), ("VisitDue", "V-1", "1")),
        (("ab", "c"), ("a", "bc")),
        (("a", ""), ("a",)),
        (("a\x1f", "b"), ("a", "b")),
        (("a\x1f", "b"), ("a", "\x1fb")),
        (("a\x1e", "_b"), ("a\x1f", "b")),
        (("a", "b"), ("b", "a")),
    ],
)
def test_different_parts_give_different_ids(a: tuple[str, ...], b: tuple[str, ...]) -> None:
    assert derived_id(*a) != derived_id(*b)


def test_there_is_no_id_of_nothing() -> None:
    with pytest.raises(ValueError, match="at least one part"):
        derived_id()


@given(
    st.lists(st.text(max_size=6), min_size=1, max_size=4),
    st.lists(st.text(max_size=6), min_size=1, max_size=4),
)
def test_the_parts_are_joined_unambiguously(a: list[str], b: list[str]) -> None:
    assert (derived_id(*a) == derived_id(*b)) == (a == b)


def reference_derived_id(*parts: str) -> str:
    """The definition the fast path must keep: uuid5 over the escaped parts joined by \\x1f."""
    escaped = (p.replace("\x1e", "\x1e\x1e").replace("\x1f", "\x1e_") for p in parts)
    return str(uuid.uuid5(NAMESPACE, "\x1f".join(escaped)))


@given(st.lists(st.text(alphabet=st.sampled_from("aZ9-_中\x1e\x1f\x00é")), min_size=1, max_size=5))
def test_the_fast_path_equals_the_uuid5_definition_with_control_characters(
    parts: list[str],
) -> None:
    assert derived_id(*parts) == reference_derived_id(*parts)


@given(st.lists(st.text(), min_size=1, max_size=5))
def test_the_fast_path_equals_the_uuid5_definition_on_any_text(parts: list[str]) -> None:
    assert derived_id(*parts) == reference_derived_id(*parts)


def test_the_issue_a_logged_problem_raises_is_named_by_the_problem() -> None:
    """Visits shows each problem's issue id, issues raises the issue under it: one rule."""
    assert issue_id_for_problem("P-1") == derived_id("issue", "P-1")
    assert issue_id_for_problem("P-1") == "1f54e31a-4912-56ff-8140-94e81f126194"
