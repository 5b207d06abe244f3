"""Test helpers shared by tests/sandbox and tests/integrations: a webhook receiver, fixtures.

The receiver is a bare asyncio HTTP server (no framework) so that what it records is what
went over the wire: raw body bytes and headers, exactly what signature checks need.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx

from sandbox.runner import SandboxHandle, running_sandbox
from sandbox.settings import SandboxSettings

API_KEY = "test-sandbox-key"
WEBHOOK_SECRET = "whsec_test"


@dataclass
class ReceivedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.monotonic)


@dataclass
class WebhookReceiver:
    host: str = "127.0.0.1"
    port: int = 0
    received: list[ReceivedRequest] = field(default_factory=list)
    # Answer 500 to this many requests before answering 200 again.
    fail_next: int = 0
    _server: asyncio.Server | None = None
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/webhooks/payments"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, self.host, 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def reset(self) -> None:
        self.received.clear()
        self.fail_next = 0

    async def wait_for(self, count: int, within: float = 5.0) -> list[ReceivedRequest]:
        """Wait until at least `count` requests arrived; fail the test otherwise."""
        async with asyncio.timeout(within):
            while len(self.received) < count:
                self._arrived.clear()
                await self._arrived.wait()
        return list(self.received)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            method, path, _ = (await reader.readline()).decode().split(" ", 2)
            headers: dict[str, str] = {}
            while (line := (await reader.readline()).decode().rstrip("\r\n")) != "":
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            self.received.append(ReceivedRequest(method, path, headers, body))
            self._arrived.set()
            status = "500 Internal Server Error" if self.fail_next > 0 else "200 OK"
            self.fail_next = max(0, self.fail_next - 1)
            writer.write(
                f"HTTP/1.1 {status}\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok".encode()
            )
            await writer.drain()
        finally:
            writer.close()


def sandbox_settings(**overrides: object) -> SandboxSettings:
    values: dict[str, object] = {
        "host": "127.0.0.1",
        "http_port": 0,
        "smtp_port": 0,
        "data_dir": None,
        "api_key": API_KEY,
        "webhook_secret": WEBHOOK_SECRET,
        # the provider's own schedule (a minute to a day apart), 10,000 times faster
        "webhook_time_scale": 1e-4,
    }
    values.update(overrides)
    return SandboxSettings.model_validate(values)


@asynccontextmanager
async def receiver_and_sandbox(
    **overrides: object,
) -> AsyncIterator[tuple[WebhookReceiver, SandboxHandle]]:
    receiver = WebhookReceiver()
    await receiver.start()
    try:
        settings = sandbox_settings(webhook_url=receiver.url, **overrides)
        async with running_sandbox(settings) as handle:
            yield receiver, handle
    finally:
        await receiver.stop()


def auth(key: str | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {API_KEY}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return headers


async def set_faults(control: httpx.AsyncClient, **profile: object) -> None:
    response = await control.post("/_sandbox/faults", json=profile)
    response.raise_for_status()


LINK = {"reference": "INV-7", "amount_minor": 10_000, "currency": "GBP", "description": "INV-7"}


async def create_link(http: httpx.AsyncClient, key: str = "link-1") -> dict[str, Any]:
    response = await http.post("/payments/v1/links", json=LINK, headers=auth(key))
    assert response.status_code == 201, response.text
    link: dict[str, Any] = response.json()
    return link


async def pay(http: httpx.AsyncClient, link_id: str, amount: int, key: str) -> httpx.Response:
    return await http.post(
        f"/payments/v1/links/{link_id}/payments", json={"amount_minor": amount}, headers=auth(key)
    )


def unused_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port
