"""How long the API waits on Temporal before answering without it: a live-state read falls
back to the stored record within seconds when no worker answers, and an invoice start
answers 503 within a bounded time while the server is down, and a retry under the same
Idempotency-Key converges on the one invoice (started or not by the first try)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from api import deps
from api.app import create_app
from api.live_state import live_state
from core.settings import Settings
from integrations.email import EmailSender
from integrations.http import provider_client
from schemas.ids import idempotent_id, invoice_workflow_id
from schemas.invoice import StartInvoiceInput
from store import api_keys
from store.db import create_engine, session_factory, transaction
from tests.api.test_temporal_away import TcpProxy
from tests.e2e.test_approval_links import big_invoice, finance_policy
from tests.e2e.test_failures import start_invoice
from tests.e2e.test_lifecycle import RATES
from tests.support.approvals import wait_for_links
from tests.support.servers import serve
from tests.support.stack import running_stack
from worker.build import build_worker, smtp_settings


async def test_an_invoice_whose_worker_is_gone_reads_from_the_database_within_seconds(
    temporal: Client, sqlite_url: str
) -> None:
    async with running_stack(temporal, sqlite_url, run_worker=False) as stack:
        async with (
            provider_client(10) as http,
            EmailSender(smtp_settings(stack.settings)) as email,
            build_worker(temporal, stack.settings, stack.sessions, http, email),
        ):
            _, invoice_id = await start_invoice(stack, "gone@acme.test")
            await stack.wait_until_awaiting_payment(invoice_id)
        # no worker polls the queue now: Temporal holds the query until it gives up (~10 s)

        for _ in range(2):
            started = time.monotonic()
            response = await stack.api.get(f"/invoices/{invoice_id}")
            elapsed = time.monotonic() - started

            assert response.status_code == 200, response.text
            body = response.json()
            assert body["live"] is None
            assert body["invoice"]["payment_url"]  # the stored record, as it was left
            assert elapsed < stack.settings.temporal_query_timeout_s + 1, elapsed


async def test_an_approval_page_whose_worker_is_gone_shows_the_stored_invoice_within_seconds(
    temporal: Client, sqlite_url: str
) -> None:
    async with running_stack(temporal, sqlite_url, run_worker=False) as stack:
        await finance_policy(stack)
        async with (
            provider_client(10) as http,
            EmailSender(smtp_settings(stack.settings)) as email,
            build_worker(temporal, stack.settings, stack.sessions, http, email),
        ):
            invoice_id = await big_invoice(stack, "gone-approval@acme.test")
            [link] = await wait_for_links(stack, "alice")

        async with httpx.AsyncClient(headers={"User-Agent": "pytest-browser"}) as browser:
            started = time.monotonic()
            page = await browser.get(link)
            elapsed = time.monotonic() - started

        assert page.status_code == 200, page.text
        assert "Approve" in page.text
        assert elapsed < stack.settings.temporal_query_timeout_s + 1, elapsed
        assert invoice_id


@dataclass
class _Refusing:
    """A Temporal client whose query is refused the way the server refuses it once no
    worker has polled the workflow's task queue for a while."""

    status: RPCStatusCode

    def get_workflow_handle(self, workflow_id: str) -> _Refusing:
        return self

    async def query(self, *args: Any, **kwargs: Any) -> Any:
        raise RPCError(
            "no poller seen for task queue recently, worker may be down", self.status, b""
        )


async def test_no_poller_refusal_reads_as_no_live_state() -> None:
    refusing: Any = _Refusing(RPCStatusCode.FAILED_PRECONDITION)

    assert await live_state(refusing, "inv_1", timeout_s=2) is None


@dataclass
class _Api:
    http: httpx.AsyncClient
    key_id: str
    settings: Settings


@contextlib.asynccontextmanager
async def _api_at(address: str, database_url: str, **settings: Any) -> AsyncIterator[_Api]:
    engine = create_engine(database_url)
    async with transaction(session_factory(engine)) as session:
        row, key = await api_keys.create(session, "bounds-test")
    await engine.dispose()
    config = Settings(
        environment="test",
        database_url=database_url,
        temporal_address=address,
        **settings,
    )
    async with (
        serve(create_app(config)) as url,
        httpx.AsyncClient(
            base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30
        ) as http,
    ):
        yield _Api(http, row.id, config)


async def test_an_invoice_started_while_temporal_is_down_is_a_prompt_503_and_the_retry_converges(
    temporal: Client, sqlite_url: str
) -> None:
    proxy = TcpProxy(temporal.service_client.config.target_host)
    await proxy.open()
    invoice_id = ""
    try:
        async with _api_at(
            f"127.0.0.1:{proxy.port}", sqlite_url, temporal_rpc_timeout_s=1.0
        ) as api:
            customer = (
                await api.http.post("/customers", json={"name": "Down", "email": "d@acme.test"})
            ).json()
            contract = (
                await api.http.post(
                    "/contracts",
                    json={
                        "customer_id": customer["id"],
                        "currency": "GBP",
                        "tax_region": "GB",
                        "payment_terms_days": 30,
                        "rates": RATES,
                    },
                )
            ).json()
            body = {
                "customer_id": customer["id"],
                "contract_id": contract["id"],
                "items": [{"rate_code": "senior", "quantity": "1"}],
            }
            assert (await api.http.get("/healthz")).json()["temporal"] is True
            await proxy.close()  # the Temporal server goes away under a connected API

            started = time.monotonic()
            refused = await api.http.post("/invoices", json=body, headers={"Idempotency-Key": "k1"})
            elapsed = time.monotonic() - started

            assert refused.status_code == 503, refused.text
            assert refused.headers["content-type"].startswith("application/problem+json")
            assert refused.json()["code"] == "temporal_unavailable"
            assert refused.headers["Retry-After"]
            assert elapsed < api.settings.temporal_rpc_timeout_s + 1.5, elapsed

            # the first try reached Temporal after all (its answer was what got lost)
            invoice_id = idempotent_id("inv", api.key_id, "k1")
            first = await temporal.start_workflow(
                "Invoice",
                StartInvoiceInput(
                    invoice_id=invoice_id,
                    customer_id=customer["id"],
                    customer_name="Down",
                    contract_id=contract["id"],
                    currency="GBP",
                    issue_date=datetime.now(UTC).date(),
                    items=body["items"],
                    requested_by="bounds-test",
                ),
                id=invoice_workflow_id(invoice_id),
                task_queue=api.settings.task_queue,
            )
            await proxy.open()

            retried = await api.http.post("/invoices", json=body, headers={"Idempotency-Key": "k1"})

            assert retried.status_code == 202, retried.text
            assert retried.json()["invoice_id"] == invoice_id
            described = await temporal.get_workflow_handle(
                invoice_workflow_id(invoice_id)
            ).describe()
            assert described.run_id == first.result_run_id  # no second process
    finally:
        await proxy.close()
        if invoice_id:  # no worker polls its queue: leave nothing behind
            with contextlib.suppress(RPCError):
                await temporal.get_workflow_handle(invoice_workflow_id(invoice_id)).terminate()


async def test_a_temporal_address_that_accepts_and_never_answers_is_a_prompt_503(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(deps, "RECONNECT_INTERVAL_S", 0.0)  # this request tries to connect

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # takes the connection, says nothing

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        address = f"127.0.0.1:{port}"
        async with _api_at(address, sqlite_url, temporal_rpc_timeout_s=1.0) as api:
            started = time.monotonic()
            refused = await api.http.post(
                "/billing-runs", json={"period": "2031-01"}, headers={"Idempotency-Key": "b"}
            )
            elapsed = time.monotonic() - started
    finally:
        server.close()

    assert refused.status_code == 503, refused.text
    assert refused.json()["code"] == "temporal_unavailable"
    assert elapsed < 2.5, elapsed
