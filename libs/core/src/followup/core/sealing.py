"""Sealing personal data with per-customer keys (SPEC §8, crypto-shredding).

Each customer has one data key; the master key from configuration wraps it (for the keys
topic, `followup.core.keystore`). Personal data is sealed with the customer's data key, so
deleting that key erases every copy at once: databases, retained topics, dead letters.

Formats (each versioned by its first bytes, so a later format can be read alongside):
- wrapped key: b"FK" | format 1 | master key version (u32) | key id (8) | nonce (12) | AES-GCM
  of the 32-byte data key, bound to the header and the customer id;
- sealed value: format 0x01 | key id (8) | nonce (12) | AES-GCM of the plaintext, bound to the
  header and the customer id; as text (JSON fields, text columns) `sealed:` + base64url.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import orjson
import structlog
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

log = structlog.get_logger(__name__)

MASTER_KEYS_VAR: Final = "FOLLOWUP_MASTER_KEYS"
WRAPPING_VERSION_VAR: Final = "FOLLOWUP_MASTER_KEY_VERSION"
ENV_VAR: Final = "FOLLOWUP_ENV"
DEVELOPMENT: Final = "development"
TEXT_PREFIX: Final = "sealed:"

_KEY_BYTES = 32
_NONCE_BYTES = 12
_KEY_ID_BYTES = 8
_WRAP_HEAD = struct.Struct(">2sBI8s")  # magic, format, master key version, key id
_WRAP_MAGIC = b"FK"
_WRAP_FORMAT = 1
_SEAL_HEAD = struct.Struct(">B8s")  # format, key id
_SEAL_FORMAT = 1
# Development mode only (FOLLOWUP_ENV=development): anyone with the code can derive it.
_DEV_SEED = b"followup local development data key - not for production"


class SealError(Exception):
    """A sealed value or wrapped key that cannot be opened: tampered, wrong key, unknown format."""

    error_type = "seal_broken"


class MasterKeyMissing(RuntimeError):
    """No master key configured outside development mode: the service must not start."""


class Erased:
    """What unsealing yields once the customer's key is deleted: the data is gone, by design."""

    _instance: Erased | None = None

    def __new__(cls) -> Erased:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "ERASED"

    def __str__(self) -> str:
        return "[erased]"


ERASED: Final = Erased()


@dataclass(frozen=True)
class DataKey:
    """One customer's data key (in memory only; on the keys topic it is always wrapped)."""

    customer_id: str
    key_id: bytes
    secret: bytes = field(repr=False)
    _aead: AESGCM = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_aead", AESGCM(self.secret))

    def seal(self, plaintext: bytes) -> bytes:
        """The sealed form of `plaintext` (a fresh nonce each time)."""
        head = _SEAL_HEAD.pack(_SEAL_FORMAT, self.key_id)
        nonce = os.urandom(_NONCE_BYTES)
        return head + nonce + self._aead.encrypt(nonce, plaintext, self._aad(head))

    def open(self, sealed: bytes) -> bytes:
        """The plaintext; SealError when tampered with or sealed under another key."""
        n = _SEAL_HEAD.size
        if len(sealed) < n + _NONCE_BYTES + 16:
            raise SealError("sealed value too short")
        fmt, key_id = _SEAL_HEAD.unpack_from(sealed)
        if fmt != _SEAL_FORMAT:
            raise SealError(f"unknown sealed format {fmt}")
        if key_id != self.key_id:
            raise SealError(
                f"sealed under key {key_id.hex()}, not {self.key_id.hex()} of {self.customer_id}"
            )
        nonce, body = sealed[n : n + _NONCE_BYTES], sealed[n + _NONCE_BYTES :]
        try:
            return self._aead.decrypt(nonce, body, self._aad(sealed[:n]))
        except InvalidTag:
            raise SealError(f"sealed value of {self.customer_id} fails authentication") from None

    def _aad(self, head: bytes) -> bytes:
        return head + b"\x00" + self.customer_id.encode()


def new_data_key(customer_id: str) -> DataKey:
    """A fresh random data key for a customer."""
    return DataKey(customer_id, secrets.token_bytes(_KEY_ID_BYTES), secrets.token_bytes(_KEY_BYTES))


class MasterKeys:
    """The configured master keys by version: the newest wraps, every one unwraps."""

    def __init__(self, keys: Mapping[int, bytes], current: int | None = None) -> None:
        if not keys:
            raise ValueError("at least one master key is needed")
        for version, key in keys.items():
            if not 0 < version < 2**32 or len(key) != _KEY_BYTES:
                raise ValueError(f"master key {version}: a version 1..2^32-1 and 32 bytes")
        if current is not None and current not in keys:
            raise ValueError(f"the wrapping version {current} is not among {sorted(keys)}")
        self._aead = {v: AESGCM(k) for v, k in keys.items()}
        # A rotation first gives every service the new key, wrapping with the old one meanwhile.
        self.current = max(keys) if current is None else current

    @property
    def versions(self) -> tuple[int, ...]:
        """The configured versions, oldest first."""
        return tuple(sorted(self._aead))

    def wrap(self, key: DataKey) -> bytes:
        """The data key wrapped by the newest master key (the keys topic's value)."""
        head = _WRAP_HEAD.pack(_WRAP_MAGIC, _WRAP_FORMAT, self.current, key.key_id)
        nonce = os.urandom(_NONCE_BYTES)
        aad = head + b"\x00" + key.customer_id.encode()
        return head + nonce + self._aead[self.current].encrypt(nonce, key.secret, aad)

    def unwrap(self, customer_id: str, wrapped: bytes) -> DataKey:
        """The data key; SealError for a tampered value, another customer's, an unknown master."""
        version, key_id = self.wrapped_by(wrapped)
        aead = self._aead.get(version)
        if aead is None:
            raise SealError(
                f"key of {customer_id} wrapped by master key version {version}, which is not "
                f"configured ({MASTER_KEYS_VAR} has {list(self.versions)})"
            )
        n = _WRAP_HEAD.size
        nonce, body = wrapped[n : n + _NONCE_BYTES], wrapped[n + _NONCE_BYTES :]
        try:
            secret = aead.decrypt(nonce, body, wrapped[:n] + b"\x00" + customer_id.encode())
        except InvalidTag:
            raise SealError(f"wrapped key of {customer_id} fails authentication") from None
        return DataKey(customer_id, key_id, secret)

    @staticmethod
    def wrapped_by(wrapped: bytes) -> tuple[int, bytes]:
        """(master key version, key id) of a wrapped key, read from its header."""
        if len(wrapped) < _WRAP_HEAD.size + _NONCE_BYTES + 16:
            raise SealError("wrapped key too short")
        magic, fmt, version, key_id = _WRAP_HEAD.unpack_from(wrapped)
        if magic != _WRAP_MAGIC or fmt != _WRAP_FORMAT:
            raise SealError(f"unknown wrapped key format {magic!r}/{fmt}")
        return version, key_id

    def needs_rewrap(self, wrapped: bytes) -> bool:
        """True when an older master key wrapped it (rotation rewraps it with the newest)."""
        return self.wrapped_by(wrapped)[0] != self.current

    def rewrap(self, customer_id: str, wrapped: bytes) -> bytes:
        """The same data key wrapped by the newest master key (its sealed data stays valid)."""
        return self.wrap(self.unwrap(customer_id, wrapped))


def new_master_key() -> str:
    """A fresh master key as configured in FOLLOWUP_MASTER_KEYS (base64url of 32 bytes)."""
    return base64.urlsafe_b64encode(secrets.token_bytes(_KEY_BYTES)).decode()


def parse_master_keys(text: str, current: int | None = None) -> MasterKeys:
    """`VERSION=BASE64URL[,VERSION=BASE64URL...]`; ValueError naming the variable if malformed."""
    keys: dict[int, bytes] = {}
    for n, item in enumerate((part.strip() for part in text.split(",")), 1):
        if not item:
            continue
        version_text, sep, key_text = item.partition("=")
        try:
            if not sep:
                raise ValueError("no '='")
            version = int(version_text)
            key = base64.urlsafe_b64decode(key_text.strip() + "=" * (-len(key_text.strip()) % 4))
        except ValueError as exc:
            raise ValueError(f"{MASTER_KEYS_VAR}: entry {n} is not VERSION=BASE64URL") from exc
        if version in keys:
            raise ValueError(f"{MASTER_KEYS_VAR}: version {version} given twice")
        keys[version] = key
    try:
        return MasterKeys(keys, current)
    except ValueError as exc:
        raise ValueError(f"{MASTER_KEYS_VAR}: {exc}") from None


def development_master_keys() -> MasterKeys:
    """The development key: derived from a seed in the source, so never for real data."""
    return MasterKeys({1: hashlib.sha256(_DEV_SEED).digest()})


def is_development(environ: Mapping[str, str] | None = None) -> bool:
    """FOLLOWUP_ENV=development (set by `make up` and the tests)."""
    env = os.environ if environ is None else environ
    return env.get(ENV_VAR, "") == DEVELOPMENT


def master_keys_from_env(environ: Mapping[str, str] | None = None) -> MasterKeys:
    """FOLLOWUP_MASTER_KEYS; in development mode a derived key (with a warning); else refuses."""
    env = os.environ if environ is None else environ
    text = env.get(MASTER_KEYS_VAR, "").strip()
    if text:
        wrapping = env.get(WRAPPING_VERSION_VAR, "").strip()
        if wrapping and not wrapping.isdigit():
            raise ValueError(f"{WRAPPING_VERSION_VAR}: {wrapping!r} is not a version number")
        return parse_master_keys(text, int(wrapping) if wrapping else None)
    if is_development(env):
        log.warning(
            "sealing: development master key in use; personal data is not protected",
            hint=f"set {MASTER_KEYS_VAR} outside development",
        )
        return development_master_keys()
    raise MasterKeyMissing(
        f"{MASTER_KEYS_VAR} is not set: personal data cannot be sealed. Set it to "
        f"VERSION=KEY (a base64url 32-byte key: `followup keys new-master-key`), "
        f"or set {ENV_VAR}={DEVELOPMENT} for a local development key."
    )


def is_sealed(value: object) -> bool:
    """True for a sealed text (`sealed:...`)."""
    return isinstance(value, str) and value.startswith(TEXT_PREFIX)


def seal_bytes_text(key: DataKey, plaintext: bytes) -> str:
    """Sealed bytes as text, for JSON fields and text columns."""
    return TEXT_PREFIX + base64.urlsafe_b64encode(key.seal(plaintext)).decode().rstrip("=")


def _open_text(key: DataKey, sealed: str) -> bytes:
    if not is_sealed(sealed):
        raise SealError("not a sealed text")
    body = sealed[len(TEXT_PREFIX) :]
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except ValueError:
        raise SealError("sealed text is not base64url") from None
    return key.open(raw)


def unseal_bytes_text(key: DataKey, sealed: str) -> bytes:
    """The bytes of `seal_bytes_text`; SealError when tampered with."""
    return _open_text(key, sealed)


def seal_text(key: DataKey, text: str) -> str:
    """A free text (feedback, descriptions, notes) sealed with the customer's key."""
    return seal_bytes_text(key, text.encode())


def unseal_text(key: DataKey | Erased, sealed: str) -> str | Erased:
    """The text, or ERASED once the key is gone; SealError when tampered with."""
    if isinstance(key, Erased):
        return ERASED
    return _open_text(key, sealed).decode()


def seal_fields(key: DataKey, fields: Mapping[str, Any]) -> str:
    """Personal fields (a contact, say) sealed together as one text."""
    return seal_bytes_text(key, orjson.dumps(dict(fields)))


def unseal_fields(key: DataKey | Erased, sealed: str) -> dict[str, Any] | Erased:
    """The fields, or ERASED once the key is gone; SealError when tampered with."""
    if isinstance(key, Erased):
        return ERASED
    value = orjson.loads(_open_text(key, sealed))
    if not isinstance(value, dict):
        raise SealError("sealed fields are not an object")
    return value
