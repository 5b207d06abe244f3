"""PaymentsClient against the sandbox: happy path, lost responses, and error classification."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from integrations.errors import ProviderError
from integrations.http import provider_client
from integrations.payments import PaymentLink, PaymentsClient
from sandbox.runner import SandboxHandle
from tests.sandbox.support import API_KEY, auth, set_faults, unused_port


@pytest.fixture
def client(sandbox: SandboxHandle, provider_http: httpx.AsyncClient) -> PaymentsClient:
    return PaymentsClient(provider_http, sandbox.http_url, API_KEY)


async def create(client: PaymentsClient, key: str = "invoice-INV-1/create-link/1") -> PaymentLink:
    return await client.create_link(
        idempotency_key=key,
        reference="INV-1",
        amount_minor=12_345,
        currency="GBP",
        description="Invoice INV-1",
    )


async def links(http: httpx.AsyncClient) -> list[dict[str, object]]:
    response = await http.get("/payments/v1/links", headers=auth())
    response.raise_for_status()
    result: list[dict[str, object]] = response.json()
    return result


async def test_create_link_returns_an_open_link_for_the_invoice(
    client: PaymentsClient, sandbox: SandboxHandle
) -> None:
    link = await create(client)

    assert link.id.startswith("plink_")
    assert link.url == f"{sandbox.http_url}/pay/{link.id}"
    assert (link.status, link.amount_minor, link.currency, link.reference) == (
        "open",
        12_345,
        "GBP",
        "INV-1",
    )


async def test_create_link_sends_the_idempotency_key(
    client: PaymentsClient, http: httpx.AsyncClient
) -> None:
    await create(client, key="the-key")

    [call] = (await http.get("/_sandbox/calls", params={"api": "payments"})).json()
    assert call["idempotency_key"] == "the-key"


async def test_lost_response_is_retryable_and_the_retry_returns_the_same_link(
    client: PaymentsClient, http: httpx.AsyncClient
) -> None:
    await set_faults(http, api="payments", fail_after_commit=1)

    with pytest.raises(ProviderError) as lost:
        await create(client)
    retried = await create(client)

    assert (lost.value.provider, lost.value.status, lost.value.retryable) == ("payments", 500, True)
    assert [link["id"] for link in await links(http)] == [retried.id]
    replays = (await http.get("/_sandbox/calls", params={"replayed": "true"})).json()
    assert len(replays) == 1


async def test_outage_is_retryable(client: PaymentsClient, http: httpx.AsyncClient) -> None:
    await set_faults(http, api="payments", outage=True)

    with pytest.raises(ProviderError) as caught:
        await create(client)

    assert (caught.value.status, caught.value.retryable) == (503, True)


async def test_reused_key_with_other_details_is_a_permanent_error(
    client: PaymentsClient,
) -> None:
    await create(client, key="k")

    with pytest.raises(ProviderError) as caught:
        await client.create_link(
            idempotency_key="k", reference="INV-1", amount_minor=1, currency="GBP", description="x"
        )

    assert (caught.value.status, caught.value.retryable) == (422, False)
    assert "different request" in caught.value.detail


async def test_wrong_api_key_is_a_permanent_error(
    sandbox: SandboxHandle, provider_http: httpx.AsyncClient
) -> None:
    client = PaymentsClient(provider_http, sandbox.http_url, "wrong-key")

    with pytest.raises(ProviderError) as caught:
        await create(client)

    assert (caught.value.status, caught.value.retryable) == (401, False)


async def test_unreachable_provider_is_retryable(provider_http: httpx.AsyncClient) -> None:
    client = PaymentsClient(provider_http, f"http://127.0.0.1:{unused_port()}", API_KEY)

    with pytest.raises(ProviderError) as caught:
        await create(client)

    assert (caught.value.status, caught.value.retryable) == (None, True)


async def test_timeout_is_retryable_and_the_retry_gets_the_late_effect(
    sandbox: SandboxHandle, http: httpx.AsyncClient, provider_http: httpx.AsyncClient
) -> None:
    await set_faults(http, api="payments", latency_ms=300)
    async with provider_client(timeout_s=0.05) as impatient:
        client = PaymentsClient(impatient, sandbox.http_url, API_KEY)
        with pytest.raises(ProviderError) as caught:
            await create(client)
    await asyncio.sleep(0.4)  # the provider finishes the abandoned request
    (await http.delete("/_sandbox/faults")).raise_for_status()

    retried = await create(PaymentsClient(provider_http, sandbox.http_url, API_KEY))

    assert (caught.value.status, caught.value.retryable) == (None, True)
    assert "timeout" in caught.value.detail
    assert [link["id"] for link in await links(http)] == [retried.id]
