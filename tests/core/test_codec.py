"""The payload codec alone: AES-256-GCM per payload, the key id in the metadata, rotation,
clear payloads passed through, and every way a payload or a key setting can be wrong."""

from __future__ import annotations

import base64

import pytest
from pydantic import SecretStr, ValidationError
from temporalio.api.common.v1 import Payload

from core.codec import (
    ENCODING,
    KEY_ID,
    CodecKeyError,
    EncryptionCodec,
    PayloadDecryptionError,
    new_key_text,
    parse_keys,
)
from core.settings import Settings

K1 = bytes(range(32))
K2 = bytes(range(1, 33))


def clear(text: str) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=text.encode())


async def test_a_payload_is_sealed_under_the_current_key_and_opens_again() -> None:
    codec = EncryptionCodec({"k1": K1}, "k1")
    original = clear('{"customer_email": "accounts@acme.test"}')
    [sealed] = await codec.encode([original])
    assert sealed.metadata["encoding"] == ENCODING
    assert sealed.metadata[KEY_ID] == b"k1"
    assert b"acme" not in sealed.SerializeToString()
    [again] = await codec.encode([original])
    assert again.data != sealed.data  # a fresh nonce per payload
    assert await codec.decode([sealed]) == [original]


async def test_rotation_new_payloads_under_the_new_key_old_ones_still_open() -> None:
    before = EncryptionCodec({"k1": K1}, "k1")
    [old] = await before.encode([clear("old")])
    after = EncryptionCodec({"k1": K1, "k2": K2}, "k2")
    [new] = await after.encode([clear("new")])
    assert new.metadata[KEY_ID] == b"k2"
    assert await after.decode([old, new]) == [clear("old"), clear("new")]
    retired = EncryptionCodec({"k2": K2}, "k2")
    with pytest.raises(PayloadDecryptionError, match="'k1', which is not configured"):
        await retired.decode([old])


async def test_an_altered_payload_or_a_relabelled_key_id_does_not_open() -> None:
    codec = EncryptionCodec({"k1": K1, "k2": K1}, "k1")  # same key bytes under two ids
    [sealed] = await codec.encode([clear("amount 196500")])
    tampered = Payload()
    tampered.CopyFrom(sealed)
    tampered.data = sealed.data[:-1] + bytes([sealed.data[-1] ^ 1])
    with pytest.raises(PayloadDecryptionError, match="does not authenticate"):
        await codec.decode([tampered])
    relabelled = Payload()
    relabelled.CopyFrom(sealed)
    relabelled.metadata[KEY_ID] = b"k2"  # the key id is authenticated data
    with pytest.raises(PayloadDecryptionError, match="does not authenticate"):
        await codec.decode([relabelled])


async def test_a_clear_payload_from_before_encryption_passes_through() -> None:
    codec = EncryptionCodec({"k1": K1}, "k1")
    assert await codec.decode([clear("recorded clear")]) == [clear("recorded clear")]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("k1", "'id:base64-key'"),
        ("k1:not base64!", "is not base64"),
        (f"k1:{base64.b64encode(b'short').decode()}", "has 5 bytes; AES-256 needs 32"),
        (f"k1:{base64.b64encode(K1).decode()},k1:{base64.b64encode(K2).decode()}", "twice"),
    ],
)
def test_a_key_setting_that_cannot_be_used_says_why(text: str, message: str) -> None:
    with pytest.raises(CodecKeyError, match=message):
        parse_keys(text)


def test_settings_take_keys_and_the_current_id_and_refuse_what_cannot_work() -> None:
    keys = f"{new_key_text('2026-06')},{new_key_text('2026-12')}"
    settings = Settings(environment="test", codec_keys=SecretStr(keys))
    assert list(settings.codec_key_table) == ["2026-06", "2026-12"]
    assert settings.effective_codec_key_id == "2026-06"  # the first, unless named
    chosen = Settings(environment="test", codec_keys=SecretStr(keys), codec_key_id="2026-12")
    assert chosen.effective_codec_key_id == "2026-12"
    with pytest.raises(ValidationError, match="'2027' is not among"):
        Settings(environment="test", codec_keys=SecretStr(keys), codec_key_id="2027")
    with pytest.raises(ValidationError, match="has 5 bytes"):
        Settings(
            environment="test", codec_keys=SecretStr("k:" + base64.b64encode(b"short").decode())
        )


def test_production_refuses_to_start_without_a_codec_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("INVOICEFLOW_CODEC_KEYS", raising=False)
    with pytest.raises(ValidationError, match="production needs INVOICEFLOW_CODEC_KEYS"):
        Settings(environment="production", codec_keys=None)
