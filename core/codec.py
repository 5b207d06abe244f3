"""Customer data encrypted in Temporal: a payload codec doing AES-256-GCM.

Every payload a client or worker sends (workflow and activity inputs and results, signals,
updates, queries, memos, failures' details, current details) is encrypted before it
leaves the process, so Temporal's history holds no customer name, e-mail, amount or line
in clear. Search attributes are not payloads and stay clear by Temporal's design
(`schemas/search_attributes.py` keeps personal data out of them).

Keys rotate: each encrypted payload names the key it was sealed with in its metadata
(`encryption-key-id`), new payloads use the current key, and any configured key opens the
payloads sealed with it. Retire a key only once no open workflow's history needs it. The
key id is also the additional authenticated data, so a payload cannot be passed off as
sealed under another key. Keys come from settings (`INVOICEFLOW_CODEC_KEYS`), never from
code.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"
NONCE_BYTES = 12  # 96-bit nonces, random per payload (NIST SP 800-38D)
KEY_BYTES = 32  # AES-256


class CodecKeyError(ValueError):
    """A codec key setting that cannot be used (the message says which and why)."""


class PayloadDecryptionError(ValueError):
    """A payload that cannot be opened: sealed under a key not configured here, or
    altered since it was sealed."""


def parse_keys(text: str) -> dict[str, bytes]:
    """`id:base64key[,id:base64key...]` into {id: 32 bytes}; clear errors otherwise."""
    keys: dict[str, bytes] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        key_id, sep, encoded = item.partition(":")
        key_id = key_id.strip()
        if not sep or not key_id or not encoded.strip():
            raise CodecKeyError(f"a codec key is 'id:base64-key', got {key_id or item[:8]!r}…")
        try:
            key = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError) as err:
            raise CodecKeyError(f"codec key {key_id!r} is not base64") from err
        if len(key) != KEY_BYTES:
            raise CodecKeyError(
                f"codec key {key_id!r} has {len(key)} bytes; AES-256 needs {KEY_BYTES}"
            )
        if key_id in keys:
            raise CodecKeyError(f"codec key {key_id!r} is given twice")
        keys[key_id] = key
    return keys


def payloads_in(message: Message) -> Iterator[Payload]:
    """Every Payload anywhere inside a protobuf message (inputs, results, headers, memos,
    failures, user metadata, ...): what a history's check or the codec's benchmark walks."""
    if isinstance(message, Payload):
        yield message
        return
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        if isinstance(value, Message):
            yield from payloads_in(value)
            continue
        items: Any = value.values() if hasattr(value, "values") else value  # map or list
        for item in items:
            if isinstance(item, Message):
                yield from payloads_in(item)


def new_key_text(key_id: str) -> str:
    """A fresh random key in the settings' form (the dev stack's own key, the CLI)."""
    return f"{key_id}:{base64.b64encode(os.urandom(KEY_BYTES)).decode()}"


class EncryptionCodec(PayloadCodec):
    """AES-256-GCM over each serialized payload, under the current key; decodes under
    whichever configured key a payload names, and passes clear payloads through (histories
    recorded before encryption was on stay readable)."""

    def __init__(self, keys: Mapping[str, bytes], current: str) -> None:
        if current not in keys:
            raise CodecKeyError(f"the current codec key {current!r} is not among the keys")
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keys.items()}
        self._current = current
        self._current_id = current.encode()

    @property
    def current_key_id(self) -> str:
        return self._current

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        cipher = self._ciphers[self._current]
        sealed = []
        for payload in payloads:
            nonce = os.urandom(NONCE_BYTES)
            data = cipher.encrypt(nonce, payload.SerializeToString(), self._current_id)
            sealed.append(
                Payload(
                    metadata={"encoding": ENCODING, KEY_ID: self._current_id},
                    data=nonce + data,
                )
            )
        return sealed

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.open(payload) for payload in payloads]

    def open(self, payload: Payload) -> Payload:
        """One payload opened (a clear one as it is); PayloadDecryptionError otherwise."""
        if payload.metadata.get("encoding") != ENCODING:
            return payload
        key_id = payload.metadata.get(KEY_ID, b"").decode(errors="replace")
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise PayloadDecryptionError(
                f"payload sealed under codec key {key_id!r}, which is not configured"
            )
        nonce, data = payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:]
        try:
            clear = cipher.decrypt(nonce, data, key_id.encode())
        except InvalidTag as err:
            raise PayloadDecryptionError(
                f"payload under codec key {key_id!r} does not authenticate (altered?)"
            ) from err
        return Payload.FromString(clear)
