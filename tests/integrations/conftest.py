"""One sandbox (and webhook receiver) per session, reset before every test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio

from integrations.http import provider_client
from sandbox.runner import SandboxHandle
from tests.sandbox.support import WebhookReceiver, receiver_and_sandbox


@pytest_asyncio.fixture(scope="session")
async def running() -> AsyncIterator[tuple[WebhookReceiver, SandboxHandle]]:
    async with receiver_and_sandbox() as pair:
        yield pair


@pytest.fixture
def sandbox(running: tuple[WebhookReceiver, SandboxHandle]) -> SandboxHandle:
    return running[1]


@pytest.fixture
def receiver(running: tuple[WebhookReceiver, SandboxHandle]) -> WebhookReceiver:
    return running[0]


@pytest_asyncio.fixture
async def http(sandbox: SandboxHandle) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=sandbox.http_url, timeout=10) as client:
        yield client


@pytest_asyncio.fixture
async def provider_http() -> AsyncIterator[httpx.AsyncClient]:
    """The client the worker calls providers with (aiohttp's transport)."""
    async with provider_client(timeout_s=10) as client:
        yield client


@pytest_asyncio.fixture(autouse=True)
async def _fresh_sandbox(http: httpx.AsyncClient, receiver: WebhookReceiver) -> None:
    (await http.post("/_sandbox/reset")).raise_for_status()
    receiver.reset()
