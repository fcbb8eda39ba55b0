"""Dead letters of messages that may carry personal data, sealed with the customer's key.

A dead letter keeps a message's original bytes (name, phone, feedback) in the service's
database and on `followup.dead-letter`, which are retained: sealed with the record's customer
key (the Kafka key), they are erased with the customer like everything else (SPEC §8). The
error text may quote the message, so it is sealed too; reason and error type stay readable.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from followup.core.deadletter import DeadLetter
from followup.core.keystore import KeyStore
from followup.core.sealing import (
    TEXT_PREFIX,
    DataKey,
    Erased,
    seal_bytes_text,
    seal_text,
    unseal_bytes_text,
)
from followup.events import topics

# Topics whose messages carry contact data or free text a person typed.
PERSONAL_TOPICS = (topics.CUSTOMERS, topics.CUSTOMERS_SEALED, topics.VISITS, topics.ISSUES)
SEALED_HEADER = "sealed"
_ERASED = str(Erased()).encode()


def carries_personal_data(letter: DeadLetter) -> bool:
    """True when the letter's topic may carry personal data and it names a customer."""
    return bool(letter.key) and letter.topic.endswith(PERSONAL_TOPICS)


def seal_letter(letter: DeadLetter, key: DataKey | Erased) -> DeadLetter:
    """The letter with its value and error text sealed ("[erased]" for an erased customer)."""
    if isinstance(key, Erased):
        value, error = _ERASED, str(key)
    else:
        value = seal_bytes_text(key, letter.value or b"").encode()
        error = seal_text(key, letter.error)
    headers = [(k, v) for k, v in letter.headers if k != SEALED_HEADER]
    return dataclasses.replace(
        letter, value=value, error=error, headers=(*headers, (SEALED_HEADER, b"1"))
    )


async def seal_letters(store: KeyStore | None, letters: Sequence[DeadLetter]) -> list[DeadLetter]:
    """Every letter that may carry personal data sealed (one key look-up for the batch)."""
    personal = [d for d in letters if carries_personal_data(d)]
    if store is None or not personal:
        return list(letters)
    keys = await store.keys_for_sealing([(d.key or b"").decode(errors="replace") for d in personal])
    return [
        seal_letter(d, keys[(d.key or b"").decode(errors="replace")])
        if carries_personal_data(d)
        else d
        for d in letters
    ]


async def open_letter_value(store: KeyStore | None, key: bytes | None, value: bytes) -> bytes:
    """A dead letter's original bytes (sealed ones opened), for its replay; an erased
    customer's letter opens to "[erased]", which no decoder accepts."""
    if store is None or not value.startswith(TEXT_PREFIX.encode()):
        return value
    data_key = await store.key((key or b"").decode(errors="replace"))
    if isinstance(data_key, Erased):
        return _ERASED
    return unseal_bytes_text(data_key, value.decode())
