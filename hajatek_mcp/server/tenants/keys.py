"""The master keys that encrypt credentials at rest: AES-256-GCM under ``HAJATEK_MASTER_KEY``.

``HAJATEK_MASTER_KEY`` holds one key or several separated by commas, each 32 random bytes in URL-safe base64
(``hajatek-mcp keys generate`` makes one). The first key encrypts; every key decrypts, so a rotation is: put the new
key first (``HAJATEK_MASTER_KEY=new,old``), run ``hajatek-mcp keys rotate`` to re-encrypt every row under it, then
drop the old key.

A ciphertext (a *blob*) is laid out as::

    version (1 byte) | key id (8 bytes) | nonce (12 bytes) | AES-GCM ciphertext and tag

The key id is the first 8 bytes of the key's SHA-256, so decryption picks its key without trying them all, and an
error can say which key is missing by a fingerprint that reveals nothing of it. The associated data is the header
and a *context* naming where the value lives (``"str_abc/api_key"``): a blob copied into another store's row, or into
another field, does not decrypt. No key material ever appears in a message or a ``repr``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = ["FORMAT_VERSION", "KEY_BYTES", "MasterKeys", "UndecryptableError"]

#: The blob layout this module writes (the first byte of every blob).
FORMAT_VERSION = 1
#: A master key's length: AES-256.
KEY_BYTES = 32
_KEY_ID_BYTES = 8
_NONCE_BYTES = 12
_HEADER_BYTES = 1 + _KEY_ID_BYTES + _NONCE_BYTES
_URLSAFE = re.compile(r"[A-Za-z0-9_-]+={0,2}")
_FIX = "generate one with `hajatek-mcp keys generate`"


class UndecryptableError(Exception):
    """A stored value cannot be decrypted: its master key is missing, or it was changed or moved.

    ``str()`` is one sentence saying which key (by its id, never its material) and what to do. ``key_id`` is the
    hex id of the key the blob names (None when the blob is not even readable as one).
    """

    def __init__(self, message: str, *, key_id: str | None = None) -> None:
        super().__init__(message)
        self.key_id = key_id


def _key_id(key: bytes) -> bytes:
    return hashlib.sha256(key).digest()[:_KEY_ID_BYTES]


def _decode(part: str, position: str) -> bytes:
    """One key of ``HAJATEK_MASTER_KEY`` as bytes; a ValueError that names its position, never its value."""
    if not _URLSAFE.fullmatch(part):
        raise ValueError(f"HAJATEK_MASTER_KEY {position} is not URL-safe base64: {_FIX}")
    try:
        key = base64.urlsafe_b64decode(part.rstrip("=") + "=" * (-len(part.rstrip("=")) % 4))
    except (binascii.Error, ValueError):
        raise ValueError(f"HAJATEK_MASTER_KEY {position} is not URL-safe base64: {_FIX}") from None
    if len(key) != KEY_BYTES:
        raise ValueError(f"HAJATEK_MASTER_KEY {position} is {len(key)} bytes, not {KEY_BYTES}: {_FIX}")
    return key


class MasterKeys:
    """A ring of master keys: the first encrypts, every one decrypts. Build it with :meth:`parse`.

    ``repr()`` shows only key ids.
    """

    def __init__(self, *keys: bytes) -> None:
        if not keys:
            raise ValueError(f"HAJATEK_MASTER_KEY holds no key: {_FIX}")
        if any(len(key) != KEY_BYTES for key in keys):
            raise ValueError(f"every HAJATEK_MASTER_KEY key must be {KEY_BYTES} bytes: {_FIX}")
        ids = [_key_id(key) for key in keys]
        if len(set(ids)) != len(ids):
            raise ValueError("HAJATEK_MASTER_KEY lists the same key twice: keep each key once, the newest first")
        self._primary = ids[0]
        self._ciphers = {key_id: AESGCM(key) for key_id, key in zip(ids, keys, strict=True)}

    @classmethod
    def parse(cls, value: str) -> MasterKeys:
        """The ring ``HAJATEK_MASTER_KEY`` names: keys separated by commas, newest first.

        Raises ValueError with one sentence naming HAJATEK_MASTER_KEY, the faulty key's position and the fix; the
        value itself is never repeated.
        """
        parts = [part.strip() for part in value.split(",")]
        if parts == [""]:
            raise ValueError(f"HAJATEK_MASTER_KEY is empty: {_FIX}")
        keys: list[bytes] = []
        for number, part in enumerate(parts, start=1):
            position = "" if len(parts) == 1 else f"key {number} of {len(parts)}"
            if not part:
                raise ValueError(f"HAJATEK_MASTER_KEY {position} is empty: separate keys with single commas")
            key = _decode(part, position or "key")
            if key in keys:
                raise ValueError(
                    f"HAJATEK_MASTER_KEY repeats key {keys.index(key) + 1} as {position}: keep each key once"
                )
            keys.append(key)
        return cls(*keys)

    @staticmethod
    def generate() -> str:
        """A new master key: 32 random bytes in URL-safe base64 (no padding)."""
        return base64.urlsafe_b64encode(secrets.token_bytes(KEY_BYTES)).decode().rstrip("=")

    @property
    def primary_id(self) -> str:
        """The hex id of the key that encrypts (the first one)."""
        return self._primary.hex()

    @property
    def key_ids(self) -> tuple[str, ...]:
        """The hex id of every key, in the order given."""
        return tuple(key_id.hex() for key_id in self._ciphers)

    def encrypt(self, plaintext: bytes, *, context: str) -> bytes:
        """``plaintext`` encrypted under the first key, bound to ``context`` (where the value is kept)."""
        header = bytes([FORMAT_VERSION]) + self._primary + secrets.token_bytes(_NONCE_BYTES)
        return header + self._ciphers[self._primary].encrypt(header[-_NONCE_BYTES:], plaintext, _aad(header, context))

    def decrypt(self, blob: bytes, *, context: str) -> bytes:
        """The plaintext of a blob :meth:`encrypt` made for the same ``context``; else :class:`UndecryptableError`."""
        key_id = self.key_id_of(blob, context=context)
        cipher = self._ciphers.get(bytes.fromhex(key_id))
        if cipher is None:
            raise UndecryptableError(
                f"{context} is encrypted under a master key that is not in HAJATEK_MASTER_KEY (key id {key_id}): "
                "add the old key back after the new one (HAJATEK_MASTER_KEY=new,old)",
                key_id=key_id,
            )
        header = blob[:_HEADER_BYTES]
        try:
            return cipher.decrypt(header[-_NONCE_BYTES:], blob[_HEADER_BYTES:], _aad(header, context))
        except InvalidTag:
            raise UndecryptableError(
                f"{context} does not decrypt under master key {key_id}: it was altered or belongs to another store "
                "or field; connect the store again to replace it",
                key_id=key_id,
            ) from None

    def encrypts_with_primary(self, blob: bytes) -> bool:
        """Whether ``blob`` is already under the first key (a rotation leaves it as it is)."""
        return len(blob) >= _HEADER_BYTES and blob[0] == FORMAT_VERSION and blob[1 : 1 + _KEY_ID_BYTES] == self._primary

    @staticmethod
    def key_id_of(blob: bytes, *, context: str = "the value") -> str:
        """The hex id of the key a blob was encrypted under (read from its header; nothing is decrypted)."""
        if len(blob) < _HEADER_BYTES or blob[0] != FORMAT_VERSION:
            raise UndecryptableError(
                f"{context} is not a value this hajatek-mcp encrypted (unknown format): connect the store again to "
                "replace it"
            )
        return blob[1 : 1 + _KEY_ID_BYTES].hex()

    def __repr__(self) -> str:
        return f"MasterKeys(key_ids={list(self.key_ids)!r})"


def _aad(header: bytes, context: str) -> bytes:
    """The associated data: the blob's version and key id, and where the value lives."""
    return header[: 1 + _KEY_ID_BYTES] + context.encode()
