"""The provider client (httpx on aiohttp's transport) against a raw TCP server that
misbehaves on purpose: every failure must reach ``post_json`` as one of httpx's exceptions,
so that it becomes a ProviderError the activity can classify."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import httpx
import pytest

from integrations.errors import ProviderError
from integrations.http import post_json, provider_client

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]

OK_RESPONSE = (
    b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n"
    b'{"id":"x1"}'
)


async def read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    return await reader.readexactly(length)


@asynccontextmanager
async def raw_server(handler: Handler) -> AsyncIterator[tuple[str, list[int]]]:
    """(url, connections): a server whose every connection is served by `handler`;
    `connections` counts the TCP connections it accepted."""
    connections: list[int] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        try:
            await handler(reader, writer)
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"http://127.0.0.1:{port}/v1/things", connections


async def call(http: httpx.AsyncClient, url: str) -> dict[str, object]:
    return await post_json(
        http, provider="test", url=url, api_key="k", idempotency_key="key-1", body={"a": 1}
    )


async def test_a_kept_connection_serves_consecutive_calls() -> None:
    async def answer_each(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                await read_request(reader)
            except asyncio.IncompleteReadError:
                return
            writer.write(OK_RESPONSE)
            await writer.drain()

    async with raw_server(answer_each) as (url, connections), provider_client(5) as http:
        results = [await call(http, url) for _ in range(3)]

    assert results == [{"id": "x1"}] * 3
    assert len(connections) == 1


async def test_the_request_carries_json_auth_and_the_idempotency_key() -> None:
    seen: list[bytes] = []

    async def record(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        seen.append(head.lower())
        length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
        seen.append(await reader.readexactly(length))
        writer.write(OK_RESPONSE)
        await writer.drain()

    async with raw_server(record) as (url, _), provider_client(5) as http:
        await call(http, url)

    head, body = seen
    assert head.startswith(b"post /v1/things http/1.1")
    assert b"authorization: bearer k\r\n" in head
    assert b"idempotency-key: key-1\r\n" in head
    assert b"content-type: application/json\r\n" in head
    assert body == b'{"a":1}'


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (b"NOT HTTP AT ALL\r\n\r\n", "transport"),  # a malformed status line
        (b"", "transport"),  # hung up without answering
    ],
    ids=["malformed", "hang-up"],
)
async def test_a_broken_answer_is_a_retryable_transport_error(answer: bytes, expected: str) -> None:
    async def misbehave(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(answer)
        await writer.drain()

    async with raw_server(misbehave) as (url, _), provider_client(5) as http:
        with pytest.raises(ProviderError) as caught:
            await call(http, url)

    assert (caught.value.status, caught.value.retryable) == (None, True)
    assert caught.value.detail.startswith(expected), caught.value.detail


async def test_a_silent_provider_times_out_as_a_retryable_error() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        await asyncio.sleep(2)

    async with raw_server(silent) as (url, _), provider_client(0.2) as http:
        with pytest.raises(ProviderError) as caught:
            await call(http, url)

    assert (caught.value.status, caught.value.retryable) == (None, True)
    assert caught.value.detail.startswith("timeout")


async def test_the_transport_raises_httpx_exceptions_only() -> None:
    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 abc nonsense\r\n\r\n")
        await writer.drain()

    async with raw_server(garbage) as (url, _), provider_client(5) as http:
        with pytest.raises(httpx.TransportError):
            await http.post(url, json={})
