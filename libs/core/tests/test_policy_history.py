"""The policy in force at each instant, from PolicyActivated events in the order they arrive."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from followup.core.policy import (
    PolicyError,
    PolicyHistory,
    activation_of,
    load_preset,
)
from followup.core.policy.activation import activation_id, policy_activated
from followup.events import PolicyActivated, decode, encode

CST = timezone(timedelta(hours=8))
PUBLISHED = datetime(2026, 12, 1, 9, 0, tzinfo=CST)
HOME, CABLE, COMPLAINTS = (load_preset(n) for n in ("home-cinema", "cable-tv", "complaints"))


def activation(policy_name: str, effective_at: datetime) -> PolicyActivated:
    event = policy_activated(
        load_preset(policy_name), effective_at=effective_at, published_at=PUBLISHED
    )
    # As a consumer gets it: through the wire format.
    data = decode(encode(event)).data
    assert isinstance(data, PolicyActivated)
    return data


def test_the_default_is_in_force_until_the_first_activation_takes_effect() -> None:
    history = PolicyHistory(HOME).activated(
        activation_of(activation("cable-tv", datetime(2027, 1, 1, tzinfo=CST)))
    )
    assert history.at(datetime(2026, 12, 31, 23, 59, 59, tzinfo=CST)) == HOME
    assert history.at(datetime(2027, 1, 1, tzinfo=CST)) == CABLE
    assert history.at(datetime(2026, 12, 31, 16, 0, tzinfo=UTC)) == CABLE


def test_an_activation_seen_late_for_an_earlier_instant_fits_in_its_place() -> None:
    history = PolicyHistory(HOME)
    history = history.activated(
        activation_of(activation("complaints", datetime(2027, 3, 1, tzinfo=CST)))
    )
    history = history.activated(
        activation_of(activation("cable-tv", datetime(2027, 1, 1, tzinfo=CST)))
    )
    assert history.at(datetime(2027, 2, 14, tzinfo=CST)) == CABLE
    assert history.at(datetime(2027, 3, 1, tzinfo=CST)) == COMPLAINTS


def test_of_two_activations_for_the_same_instant_the_later_seen_wins() -> None:
    at = datetime(2027, 1, 1, tzinfo=CST)
    history = PolicyHistory(HOME)
    for name in ("cable-tv", "complaints"):
        history = history.activated(activation_of(activation(name, at)))
    assert history.at(at) == COMPLAINTS


def test_a_document_that_does_not_hash_to_its_digest_is_refused() -> None:
    data = activation("cable-tv", datetime(2027, 1, 1, tzinfo=CST))
    document = {
        **data.document,
        "visits": {**data.document["visits"], "dissatisfied_at_or_below": 4},
    }
    tampered = data.model_copy(update={"document": document})
    with pytest.raises(PolicyError) as caught:
        activation_of(tampered)
    assert [p.path for p in caught.value.problems] == ["digest"]


def test_an_invalid_document_is_refused_with_the_path_of_the_bad_key() -> None:
    data = activation("generic", datetime(2027, 1, 1, tzinfo=CST))
    document = {**data.document, "retries": {**data.document["retries"], "max_attempts": 0}}
    with pytest.raises(PolicyError) as caught:
        activation_of(data.model_copy(update={"document": document}))
    assert [p.path for p in caught.value.problems] == ["retries.max_attempts"]


def test_the_activation_id_names_the_policy_and_the_instant() -> None:
    at = datetime(2027, 1, 1, tzinfo=CST)
    assert activation_id(CABLE, at) == activation_id(load_preset("cable-tv"), at)
    assert activation_id(CABLE, at) != activation_id(CABLE, at + timedelta(days=1))
    assert activation_id(CABLE, at) != activation_id(COMPLAINTS, at)
