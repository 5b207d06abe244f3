"""SmsClient against the sandbox."""

from __future__ import annotations

import httpx
import pytest

from integrations.errors import ProviderError
from integrations.sms import SmsClient, SmsReceipt
from sandbox.runner import SandboxHandle
from tests.sandbox.support import API_KEY, auth, set_faults


@pytest.fixture
def client(sandbox: SandboxHandle, provider_http: httpx.AsyncClient) -> SmsClient:
    return SmsClient(provider_http, sandbox.http_url, API_KEY)


async def test_send_queues_the_message_and_returns_a_receipt(client: SmsClient) -> None:
    receipt = await client.send(
        idempotency_key="sms-1", to="+447700900123", body="INV-1 is due", reference="INV-1"
    )

    assert receipt.id.startswith("sms_")
    assert (receipt.status, receipt.to, receipt.reference) == ("queued", "+447700900123", "INV-1")


async def test_retry_after_a_lost_response_sends_one_message(
    client: SmsClient, http: httpx.AsyncClient
) -> None:
    await set_faults(http, api="sms", fail_after_commit=1)

    async def send() -> SmsReceipt:
        return await client.send(
            idempotency_key="sms-1", to="+447700900123", body="hi", reference=None
        )

    with pytest.raises(ProviderError) as lost:
        await send()
    receipt = await send()

    assert lost.value.retryable
    messages = (await http.get("/sms/v1/messages", headers=auth())).json()
    assert [m["id"] for m in messages] == [receipt.id]


async def test_number_not_in_e164_is_a_permanent_error(client: SmsClient) -> None:
    with pytest.raises(ProviderError) as caught:
        await client.send(idempotency_key="sms-1", to="07700 900123", body="hi", reference=None)

    assert (caught.value.status, caught.value.retryable) == (422, False)
