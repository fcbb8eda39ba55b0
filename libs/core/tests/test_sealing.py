"""Sealing personal data: round trips, wrong keys, master key rotation, erasure, tampering."""

from __future__ import annotations

import base64

import pytest
from structlog.testing import capture_logs

from followup.core.sealing import (
    ERASED,
    MASTER_KEYS_VAR,
    DataKey,
    Erased,
    MasterKeyMissing,
    MasterKeys,
    SealError,
    is_sealed,
    master_keys_from_env,
    new_data_key,
    new_master_key,
    parse_master_keys,
    seal_fields,
    seal_text,
    unseal_fields,
    unseal_text,
)

CONTACT = {"name": "Wang Fang", "phone": "+86 138 0013 8000", "email": "wf@example.cn"}
FEEDBACK = "The installer was late; call me on 138 0013 8000 after 18:00."


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode()


def _flip(sealed: str, at: int) -> str:
    """The sealed text with one byte of its binary form changed."""
    body = sealed.removeprefix("sealed:")
    raw = bytearray(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    raw[at] ^= 0x01
    return "sealed:" + base64.urlsafe_b64encode(bytes(raw)).decode()


def test_a_contact_and_a_free_text_come_back_as_they_were_sealed() -> None:
    key = new_data_key("C-000123")
    sealed_contact, sealed_text = seal_fields(key, CONTACT), seal_text(key, FEEDBACK)
    assert is_sealed(sealed_contact) and is_sealed(sealed_text)
    assert "138" not in sealed_contact + sealed_text and "Wang" not in sealed_contact
    assert unseal_fields(key, sealed_contact) == CONTACT
    assert unseal_text(key, sealed_text) == FEEDBACK
    assert unseal_text(key, seal_text(key, "")) == ""


def test_the_same_text_sealed_twice_gives_two_different_ciphertexts() -> None:
    key = new_data_key("C-000123")
    assert seal_text(key, FEEDBACK) != seal_text(key, FEEDBACK)


def test_a_value_sealed_for_one_customer_does_not_open_with_another_customers_key() -> None:
    sealed = seal_text(new_data_key("C-000123"), FEEDBACK)
    with pytest.raises(SealError, match="sealed under key"):
        unseal_text(new_data_key("C-000456"), sealed)


def test_a_value_moved_to_another_customer_with_the_same_secret_fails_authentication() -> None:
    a = new_data_key("C-000123")
    b = DataKey("C-000456", a.key_id, a.secret)
    with pytest.raises(SealError, match="fails authentication"):
        unseal_text(b, seal_text(a, FEEDBACK))


def test_a_tampered_ciphertext_nonce_or_key_id_is_refused() -> None:
    key = new_data_key("C-000123")
    sealed = seal_text(key, FEEDBACK)
    for at in (1, 9, 21, -1):  # key id, nonce, ciphertext, tag
        with pytest.raises(SealError):
            unseal_text(key, _flip(sealed, at))
    with pytest.raises(SealError, match="unknown sealed format"):
        unseal_text(key, _flip(sealed, 0))
    with pytest.raises(SealError, match="too short"):
        unseal_text(key, sealed[:30])
    with pytest.raises(SealError, match="not a sealed text"):
        unseal_text(key, FEEDBACK)


def test_an_erased_key_unseals_to_the_erased_marker_never_an_exception() -> None:
    key = new_data_key("C-000123")
    sealed_text, sealed_contact = seal_text(key, FEEDBACK), seal_fields(key, CONTACT)
    assert unseal_text(ERASED, sealed_text) is ERASED
    assert unseal_fields(ERASED, sealed_contact) is ERASED
    assert unseal_text(ERASED, "garbage") is ERASED
    assert not ERASED and str(ERASED) == "[erased]" and Erased() is ERASED


def test_a_wrapped_key_unwraps_to_the_same_key_only_for_its_customer() -> None:
    master = MasterKeys({1: bytes(range(32))})
    key = new_data_key("C-000123")
    wrapped = master.wrap(key)
    assert key.secret not in wrapped
    back = master.unwrap("C-000123", wrapped)
    assert (back.key_id, back.secret) == (key.key_id, key.secret)
    assert unseal_text(back, seal_text(key, FEEDBACK)) == FEEDBACK
    with pytest.raises(SealError, match="fails authentication"):
        master.unwrap("C-000456", wrapped)


def test_a_key_wrapped_by_another_master_key_does_not_unwrap() -> None:
    wrapped = MasterKeys({1: bytes(32)}).wrap(new_data_key("C-000123"))
    with pytest.raises(SealError, match="fails authentication"):
        MasterKeys({1: bytes([7]) * 32}).unwrap("C-000123", wrapped)
    tampered = bytearray(wrapped)
    tampered[-1] ^= 0x01
    with pytest.raises(SealError, match="fails authentication"):
        MasterKeys({1: bytes(32)}).unwrap("C-000123", bytes(tampered))


def test_rotation_the_newest_master_key_wraps_and_the_old_one_still_unwraps() -> None:
    old, new = bytes([1]) * 32, bytes([2]) * 32
    before = MasterKeys({1: old})
    key = new_data_key("C-000123")
    sealed = seal_text(key, FEEDBACK)
    wrapped_v1 = before.wrap(key)

    during = parse_master_keys(f"1={_b64(old)}, 2={_b64(new)}")
    assert during.current == 2 and during.versions == (1, 2)
    assert MasterKeys.wrapped_by(during.wrap(new_data_key("C-000456")))[0] == 2
    assert unseal_text(during.unwrap("C-000123", wrapped_v1), sealed) == FEEDBACK
    assert during.needs_rewrap(wrapped_v1)
    wrapped_v2 = during.rewrap("C-000123", wrapped_v1)
    assert not during.needs_rewrap(wrapped_v2)

    # Once every key is rewrapped the old master key can go; the sealed data never changed.
    after = MasterKeys({2: new})
    assert unseal_text(after.unwrap("C-000123", wrapped_v2), sealed) == FEEDBACK
    with pytest.raises(SealError, match=rf"master key version 1.*{MASTER_KEYS_VAR}"):
        after.unwrap("C-000123", wrapped_v1)


def test_master_keys_are_parsed_from_versioned_base64_entries() -> None:
    fresh = new_master_key()
    assert len(base64.urlsafe_b64decode(fresh)) == 32
    assert parse_master_keys(f"7={fresh}").current == 7
    assert parse_master_keys(f"3={fresh.rstrip('=')},12={new_master_key()}").current == 12
    for bad, why in [
        (fresh, "entry 1 is not VERSION=BASE64URL"),
        (f"x={fresh}", "entry 1 is not VERSION=BASE64URL"),
        (f"1={_b64(bytes(16))}", "32 bytes"),
        (f"0={fresh}", "32 bytes"),
        (f"1={fresh},1={new_master_key()}", "version 1 given twice"),
        (" , ", "at least one master key"),
    ]:
        with pytest.raises(ValueError, match=why) as err:
            parse_master_keys(bad)
        assert MASTER_KEYS_VAR in str(err.value)
        assert fresh.rstrip("=") not in str(err.value)


def test_without_master_keys_a_service_refuses_to_start_outside_development() -> None:
    for env in ({}, {"FOLLOWUP_ENV": "production"}, {"FOLLOWUP_ENV": "dev"}):
        with pytest.raises(MasterKeyMissing, match=MASTER_KEYS_VAR):
            master_keys_from_env(env)


def test_development_mode_derives_a_key_and_says_so() -> None:
    with capture_logs() as logs:
        master = master_keys_from_env({"FOLLOWUP_ENV": "development"})
    assert master.current == 1
    assert [e["log_level"] for e in logs] == ["warning"]
    assert "development master key" in logs[0]["event"]
    # The configured keys win over development mode, silently.
    with capture_logs() as logs:
        configured = master_keys_from_env(
            {"FOLLOWUP_ENV": "development", MASTER_KEYS_VAR: f"4={new_master_key()}"}
        )
    assert configured.current == 4 and logs == []


def test_during_a_rotation_the_wrapping_version_can_stay_on_the_old_key() -> None:
    old, new = new_master_key(), new_master_key()
    env = {MASTER_KEYS_VAR: f"1={old},2={new}", "FOLLOWUP_MASTER_KEY_VERSION": "1"}
    master = master_keys_from_env(env)
    assert master.current == 1 and master.versions == (1, 2)
    assert MasterKeys.wrapped_by(master.wrap(new_data_key("C-1")))[0] == 1
    with pytest.raises(ValueError, match="wrapping version 3"):
        master_keys_from_env({**env, "FOLLOWUP_MASTER_KEY_VERSION": "3"})
    with pytest.raises(ValueError, match="FOLLOWUP_MASTER_KEY_VERSION"):
        master_keys_from_env({**env, "FOLLOWUP_MASTER_KEY_VERSION": "latest"})
