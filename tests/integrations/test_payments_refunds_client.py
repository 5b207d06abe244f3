"""PaymentsClient.refund and list_refunds against the sandbox: a refund once per key, and
which failures a retry can fix."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from integrations.errors import ProviderError
from integrations.http import provider_client
from integrations.payments import PaymentsClient, Refund
from sandbox.runner import SandboxHandle
from tests.sandbox.support import API_KEY, create_link, pay, set_faults, unused_port


@pytest.fixture
def client(sandbox: SandboxHandle, provider_http: httpx.AsyncClient) -> PaymentsClient:
    return PaymentsClient(provider_http, sandbox.http_url, API_KEY)


async def a_payment(http: httpx.AsyncClient) -> str:
    link = await create_link(http)
    response = await pay(http, link["id"], 10_000, "pay-1")
    assert response.status_code == 201, response.text
    payment: dict[str, Any] = response.json()
    return str(payment["id"])


async def test_refund_returns_the_provider_refund_and_lists_it(
    client: PaymentsClient, http: httpx.AsyncClient
) -> None:
    payment_id = await a_payment(http)

    refund = await client.refund(
        idempotency_key="cn_1:refund:x",
        payment_id=payment_id,
        amount_minor=2_500,
        currency="GBP",
        reason="order_change",
        reference="cn_1",
    )

    assert refund.id.startswith("re_")
    assert (refund.payment_id, refund.amount_minor, refund.currency, refund.status) == (
        payment_id,
        2_500,
        "GBP",
        "succeeded",
    )
    assert refund.reference == "cn_1"
    assert await client.list_refunds(payment_id) == [refund]


async def test_a_retried_refund_after_a_lost_answer_is_the_same_refund(
    client: PaymentsClient, http: httpx.AsyncClient
) -> None:
    payment_id = await a_payment(http)
    await set_faults(http, api="payments", fail_after_commit=1)

    async def refund() -> Refund:
        return await client.refund(
            idempotency_key="k", payment_id=payment_id, amount_minor=1, currency="GBP", reason="x"
        )

    with pytest.raises(ProviderError) as lost:
        await refund()
    retried = await refund()

    assert (lost.value.status, lost.value.retryable) == (500, True)
    assert [r.id for r in await client.list_refunds(payment_id)] == [retried.id]


async def test_over_refund_and_unknown_payment_are_permanent_errors(
    client: PaymentsClient, http: httpx.AsyncClient
) -> None:
    payment_id = await a_payment(http)

    with pytest.raises(ProviderError) as over:
        await client.refund(
            idempotency_key="k1",
            payment_id=payment_id,
            amount_minor=10_001,
            currency="GBP",
            reason="x",
        )
    with pytest.raises(ProviderError) as unknown:
        await client.refund(
            idempotency_key="k2", payment_id="pay_nope", amount_minor=1, currency="GBP", reason="x"
        )
    with pytest.raises(ProviderError) as unknown_list:
        await client.list_refunds("pay_nope")

    assert (over.value.status, over.value.retryable) == (422, False)
    assert "left refundable" in over.value.detail
    assert (unknown.value.status, unknown.value.retryable) == (404, False)
    assert (unknown_list.value.status, unknown_list.value.retryable) == (404, False)


async def test_an_outage_is_retryable_for_refunding_and_listing(
    client: PaymentsClient, http: httpx.AsyncClient
) -> None:
    payment_id = await a_payment(http)
    await set_faults(http, api="payments", outage=True)

    with pytest.raises(ProviderError) as posting:
        await client.refund(
            idempotency_key="k", payment_id=payment_id, amount_minor=1, currency="GBP", reason="x"
        )
    with pytest.raises(ProviderError) as listing:
        await client.list_refunds(payment_id)

    assert (posting.value.status, posting.value.retryable) == (503, True)
    assert (listing.value.status, listing.value.retryable) == (503, True)


async def test_an_unreachable_provider_is_retryable(provider_http: httpx.AsyncClient) -> None:
    client = PaymentsClient(provider_http, f"http://127.0.0.1:{unused_port()}", API_KEY)

    with pytest.raises(ProviderError) as caught:
        await client.list_refunds("pay_1")

    assert (caught.value.status, caught.value.retryable) == (None, True)


async def test_a_refund_timeout_is_retryable(
    sandbox: SandboxHandle, http: httpx.AsyncClient
) -> None:
    payment_id = await a_payment(http)
    await set_faults(http, api="payments", latency_ms=300)

    async with provider_client(timeout_s=0.05) as impatient:
        client = PaymentsClient(impatient, sandbox.http_url, API_KEY)
        with pytest.raises(ProviderError) as caught:
            await client.refund(
                idempotency_key="k",
                payment_id=payment_id,
                amount_minor=1,
                currency="GBP",
                reason="x",
            )

    assert (caught.value.status, caught.value.retryable) == (None, True)
