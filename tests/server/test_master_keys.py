"""The master keys (``HAJATEK_MASTER_KEY``): AES-GCM round trips, what refuses to decrypt and why, parse errors, and a
rotation ring where the newest key encrypts and every key decrypts.

Every refusal is one sentence that names the variable or the key id and the fix, and never repeats key material.
"""

from __future__ import annotations

import base64

import pytest

from hajatek_mcp.server.tenants.keys import MasterKeys, UndecryptableError

OLD = MasterKeys.generate()
NEW = MasterKeys.generate()
CONTEXT = "str_abc/api_key"


def one_sentence(message: str) -> None:
    assert "\n" not in message
    assert message.count(". ") == 0, message


def test_a_value_encrypted_under_a_context_decrypts_under_the_same_context() -> None:
    keys = MasterKeys.parse(NEW)

    blob = keys.encrypt(b"sk_live_secret", context=CONTEXT)

    assert b"sk_live_secret" not in blob
    assert keys.decrypt(blob, context=CONTEXT) == b"sk_live_secret"
    assert keys.encrypt(b"sk_live_secret", context=CONTEXT) != blob, "a fresh nonce each time"
    assert MasterKeys.key_id_of(blob) == keys.primary_id


@pytest.mark.parametrize("elsewhere", ["str_other/api_key", "str_abc/webhook_secret"])
def test_a_value_moved_to_another_store_or_field_is_refused(elsewhere: str) -> None:
    keys = MasterKeys.parse(NEW)
    blob = keys.encrypt(b"sk_live_secret", context=CONTEXT)

    with pytest.raises(UndecryptableError) as refused:
        keys.decrypt(blob, context=elsewhere)

    assert f"{elsewhere} does not decrypt under master key {keys.primary_id}" in str(refused.value)
    assert refused.value.key_id == keys.primary_id
    one_sentence(str(refused.value))


@pytest.mark.parametrize("where", [0, 1, 12, -1])
def test_a_blob_changed_anywhere_is_refused(where: int) -> None:
    """The version byte, the key id, the nonce, the ciphertext: a change to any of them is caught."""
    keys = MasterKeys.parse(NEW)
    blob = bytearray(keys.encrypt(b"sk_live_secret", context=CONTEXT))
    blob[where] ^= 0x01

    with pytest.raises(UndecryptableError):
        keys.decrypt(bytes(blob), context=CONTEXT)


def test_a_short_or_foreign_blob_is_refused_as_unknown_format() -> None:
    keys = MasterKeys.parse(NEW)

    for blob in (b"", b"\x01short", b"\x02" + bytes(40)):
        with pytest.raises(UndecryptableError, match="is not a value this hajatek-mcp encrypted"):
            keys.decrypt(blob, context=CONTEXT)


def test_a_value_under_a_key_not_in_the_ring_names_that_key_and_the_fix() -> None:
    old = MasterKeys.parse(OLD)
    blob = old.encrypt(b"sk_live_secret", context=CONTEXT)

    with pytest.raises(UndecryptableError) as refused:
        MasterKeys.parse(NEW).decrypt(blob, context=CONTEXT)

    message = str(refused.value)
    assert message == (
        f"{CONTEXT} is encrypted under a master key that is not in HAJATEK_MASTER_KEY (key id {old.primary_id}): "
        "add the old key back after the new one (HAJATEK_MASTER_KEY=new,old)"
    )
    assert refused.value.key_id == old.primary_id
    assert not isinstance(refused.value, KeyError)
    assert OLD not in message
    assert NEW not in message


def test_a_rotation_ring_decrypts_under_every_key_and_encrypts_under_the_first() -> None:
    old = MasterKeys.parse(OLD)
    before = old.encrypt(b"sk_live_secret", context=CONTEXT)

    ring = MasterKeys.parse(f"{NEW}, {OLD}")

    assert ring.decrypt(before, context=CONTEXT) == b"sk_live_secret"
    after = ring.encrypt(b"sk_live_secret", context=CONTEXT)
    assert ring.primary_id == MasterKeys.parse(NEW).primary_id != old.primary_id
    assert MasterKeys.key_id_of(after) == ring.primary_id
    assert ring.encrypts_with_primary(after)
    assert not ring.encrypts_with_primary(before)
    assert ring.key_ids == (ring.primary_id, old.primary_id)
    with pytest.raises(UndecryptableError, match="not in HAJATEK_MASTER_KEY"):
        old.decrypt(after, context=CONTEXT)


def test_a_generated_key_is_32_random_bytes_in_url_safe_base64() -> None:
    first, second = MasterKeys.generate(), MasterKeys.generate()

    assert first != second
    assert len(base64.urlsafe_b64decode(first + "=")) == 32
    assert MasterKeys.parse(first + "=").primary_id == MasterKeys.parse(first).primary_id, "padding is optional"


_SHORT = base64.urlsafe_b64encode(b"k" * 16).decode()
_STANDARD = base64.b64encode(b"\xfb" * 32).decode()  # "+" and "/": standard base64, not URL-safe


@pytest.mark.parametrize(
    ("value", "sentence"),
    [
        ("", "HAJATEK_MASTER_KEY is empty: generate one with `hajatek-mcp keys generate`"),
        ("  ", "HAJATEK_MASTER_KEY is empty: generate one with `hajatek-mcp keys generate`"),
        ("not base64!", "HAJATEK_MASTER_KEY key is not URL-safe base64: generate one with `hajatek-mcp keys generate`"),
        (_STANDARD, "HAJATEK_MASTER_KEY key is not URL-safe base64: generate one with `hajatek-mcp keys generate`"),
        (NEW + "AA", "HAJATEK_MASTER_KEY key is not URL-safe base64: generate one with `hajatek-mcp keys generate`"),
        (NEW + "A", "HAJATEK_MASTER_KEY key is 33 bytes, not 32: generate one with `hajatek-mcp keys generate`"),
        (_SHORT, "HAJATEK_MASTER_KEY key is 16 bytes, not 32: generate one with `hajatek-mcp keys generate`"),
        (f"{NEW},{_SHORT}", "HAJATEK_MASTER_KEY key 2 of 2 is 16 bytes, not 32: generate one with `hajatek-mcp keys "
         "generate`"),
        (f"{NEW},,{OLD}", "HAJATEK_MASTER_KEY key 2 of 3 is empty: separate keys with single commas"),
        (f"{NEW},{OLD},{NEW}=", "HAJATEK_MASTER_KEY repeats key 1 as key 3 of 3: keep each key once"),
    ],
    ids=["empty", "blank", "not-base64", "standard-base64", "impossible-length", "long", "short", "short-second",
         "empty-part", "duplicate"],
)  # fmt: skip
def test_a_bad_master_key_is_refused_in_one_sentence_without_its_value(value: str, sentence: str) -> None:
    with pytest.raises(ValueError, match="HAJATEK_MASTER_KEY") as refused:
        MasterKeys.parse(value)

    assert str(refused.value) == sentence
    for part in filter(None, (p.strip() for p in value.split(","))):
        assert part not in str(refused.value)


def test_no_repr_shows_key_material() -> None:
    ring = MasterKeys.parse(f"{NEW},{OLD}")

    shown = repr(ring)

    assert NEW not in shown
    assert OLD not in shown
    assert ring.primary_id in shown
    raw = base64.urlsafe_b64decode(NEW + "=")
    assert repr(raw)[2:-1] not in shown
