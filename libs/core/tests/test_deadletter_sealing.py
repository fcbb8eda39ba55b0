"""Dead letters that may carry personal data are sealed with the customer's key (SPEC §8)."""

from __future__ import annotations

from followup.core.deadletter import DeadLetter
from followup.core.deadletter_sealing import carries_personal_data, open_letter_value, seal_letter
from followup.core.sealing import ERASED, is_sealed, new_data_key, unseal_bytes_text, unseal_text

PHONE = "+86 139 5550 4321"
RAW = ('{"type":"CustomerDelivered","data":{"contact":{"phone":"' + PHONE + '"}}}').encode()


def letter(topic: str, key: bytes | None = b"C-000123") -> DeadLetter:
    return DeadLetter(
        consumer="visits",
        topic=topic,
        partition=0,
        offset=7,
        key=key,
        value=RAW,
        headers=(("content-type", b"application/cloudevents+json"),),
        reason="invalid_data",
        error_type="ValidationError",
        error=f"contact.phone: bad input {PHONE}",
    )


def test_letters_of_topics_with_personal_data_are_sealed_and_others_kept() -> None:
    assert carries_personal_data(letter("t1.followup.customers"))
    assert carries_personal_data(letter("followup.customers.sealed"))
    assert carries_personal_data(letter("followup.issues"))
    assert not carries_personal_data(letter("followup.clock"))
    assert not carries_personal_data(letter("followup.scheduling"))
    assert not carries_personal_data(letter("followup.visits", key=None))


def test_a_sealed_letter_keeps_its_reason_and_opens_with_the_customers_key() -> None:
    key = new_data_key("C-000123")
    sealed = seal_letter(letter("followup.customers"), key)
    assert sealed.value is not None and PHONE.encode() not in sealed.value
    assert PHONE not in sealed.error and is_sealed(sealed.error)
    assert (sealed.reason, sealed.error_type, sealed.offset) == (
        "invalid_data",
        "ValidationError",
        7,
    )
    assert ("sealed", b"1") in sealed.headers
    assert unseal_bytes_text(key, sealed.value.decode()) == RAW
    assert unseal_text(key, sealed.error) == f"contact.phone: bad input {PHONE}"


def test_an_erased_customers_letter_keeps_nothing_of_the_message() -> None:
    sealed = seal_letter(letter("followup.visits"), ERASED)
    assert sealed.value == b"[erased]" and sealed.error == "[erased]"


async def test_a_letter_from_before_sealing_is_replayed_as_it_was() -> None:
    assert await open_letter_value(None, b"C-1", RAW) == RAW
