"""The whole system wired for one test: API (real uvicorn), worker, provider sandbox with
its SMTP mailbox, and a database, all on loopback, against a real Temporal server."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
from opentelemetry.trace import TracerProvider
from temporalio.client import Client

from api.app import create_app
from core.settings import Settings
from core.tracing import instrument_http
from integrations.email import EmailSender
from integrations.http import provider_client
from sandbox.runner import running_sandbox
from sandbox.settings import SandboxSettings
from store import api_keys
from store.db import SessionFactory, create_engine, session_factory, transaction
from tests.support.servers import bound_socket, serve
from worker.build import build_worker, smtp_settings

WEBHOOK_SECRET = "whsec_test_only"


@dataclass
class Stack:
    settings: Settings
    temporal: Client
    api: httpx.AsyncClient  # authenticated with a fresh API key
    sandbox: httpx.AsyncClient  # the provider sandbox (control, mailbox, pay)
    sessions: SessionFactory
    api_url: str

    async def wait_for(
        self, predicate: Callable[[], Any], timeout: float = 30.0, interval: float = 0.1
    ) -> Any:
        """Poll an async predicate until it returns something truthy."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            value = await predicate()
            if value:
                return value
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"condition not met within {timeout}s (last value {value!r})")
            await asyncio.sleep(interval)

    async def invoice(self, invoice_id: str) -> dict[str, Any]:
        response = await self.api.get(f"/invoices/{invoice_id}")
        response.raise_for_status()
        return response.json()

    async def wait_for_status(
        self, invoice_id: str, status: str, timeout: float = 30.0
    ) -> dict[str, Any]:
        async def reached() -> dict[str, Any] | None:
            body = await self.invoice(invoice_id)
            live = body.get("live") or {}
            stored = body.get("invoice") or {}
            return body if live.get("status") == stored.get("status") == status else None

        return await self.wait_for(reached, timeout)

    async def wait_until_awaiting_payment(
        self, invoice_id: str, timeout: float = 30.0
    ) -> dict[str, Any]:
        """Issued, e-mailed, payment link created: the invoice now waits for the customer."""

        async def waiting() -> dict[str, Any] | None:
            body = await self.invoice(invoice_id)
            live = body.get("live") or {}
            stored = body.get("invoice") or {}
            # the stored record is read a moment before the live state: wait for both
            return (
                body if live.get("waiting_for") == "payment" and stored.get("payment_url") else None
            )

        return await self.wait_for(waiting, timeout)

    async def mailbox(self, to: str) -> list[dict[str, Any]]:
        response = await self.sandbox.get("/mailbox/api/messages", params={"to": to})
        response.raise_for_status()
        return response.json()

    async def pay(self, link_id: str, amount_minor: int) -> dict[str, Any]:
        """The customer pays at the provider; the provider then sends the signed webhook."""
        response = await self.sandbox.post(
            f"/payments/v1/links/{link_id}/payments",
            json={"amount_minor": amount_minor},
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
        response.raise_for_status()
        return response.json()

    async def provider_records(self, path: str) -> list[dict[str, Any]]:
        response = await self.sandbox.get(path)
        response.raise_for_status()
        body = response.json()
        return body["data"] if isinstance(body, dict) and "data" in body else body

    async def calls(self, api: str, **params: Any) -> list[dict[str, Any]]:
        response = await self.sandbox.get("/_sandbox/calls", params={"api": api, **params})
        response.raise_for_status()
        return response.json()


# An idle connection is dropped by the client before uvicorn's keep-alive timeout (5 s)
# closes it: with both at 5 s, a request sent on a connection the server was closing at
# that moment failed with ReadError (seen in CI).
CLIENT_LIMITS = httpx.Limits(keepalive_expiry=2.0)


@contextlib.asynccontextmanager
async def running_stack(
    temporal: Client,
    database_url: str,
    *,
    run_worker: bool = True,
    workflow_sandbox: bool = True,
    tracer_provider: TracerProvider | None = None,
    **overrides: Any,
) -> AsyncIterator[Stack]:
    """`overrides`: settings of this test's stack (``dispute_write_off_limit_minor=...``).
    `tracer_provider`: trace the API's requests and the worker's provider calls with it
    (the Temporal side traces through the interceptors of the `temporal` client)."""
    api_socket = bound_socket()
    host, port = api_socket.getsockname()[:2]
    api_url = f"http://{host}:{port}"
    sandbox_settings = SandboxSettings(
        data_dir=None,
        http_port=0,
        smtp_port=0,
        webhook_url=f"{api_url}/webhooks/payments",
        webhook_secret=WEBHOOK_SECRET,
        webhook_time_scale=1e-4,  # the provider's retry schedule, 10,000 times faster
    )
    async with running_sandbox(sandbox_settings) as sandbox:
        settings = Settings(
            environment="test",
            database_url=database_url,
            task_queue=f"test-{uuid.uuid4().hex[:8]}",
            public_base_url=api_url,
            smtp_host=sandbox.smtp_host,
            smtp_port=sandbox.smtp_port,
            payments_url=sandbox.http_url,
            sms_url=sandbox.http_url,
            accounting_url=sandbox.http_url,
            payments_api_key=sandbox.settings.api_key,
            sms_api_key=sandbox.settings.api_key,
            accounting_api_key=sandbox.settings.api_key,
            payments_webhook_secret=WEBHOOK_SECRET,
            workflow_sandbox=workflow_sandbox,
            **overrides,
        )
        engine = create_engine(database_url)
        sessions = session_factory(engine)
        async with transaction(sessions) as session:
            _, plain_key = await api_keys.create(session, "test-app")
        app = create_app(settings, temporal=temporal, tracer_provider=tracer_provider)
        async with (
            serve(app, api_socket),
            provider_client(timeout_s=10) as provider_http,
            EmailSender(smtp_settings(settings)) as email,
            httpx.AsyncClient(
                base_url=api_url,
                headers={"Authorization": f"Bearer {plain_key}"},
                timeout=10,
                limits=CLIENT_LIMITS,
            ) as api,
            httpx.AsyncClient(
                base_url=sandbox.http_url,
                headers={"Authorization": f"Bearer {sandbox.settings.api_key}"},
                timeout=10,
                limits=CLIENT_LIMITS,
            ) as sandbox_http,
        ):
            if tracer_provider is not None:
                instrument_http(provider_http, tracer_provider)
            stack = Stack(settings, temporal, api, sandbox_http, sessions, api_url)
            if run_worker:
                async with build_worker(temporal, settings, sessions, provider_http, email):
                    yield stack
            else:
                yield stack
        await engine.dispose()
