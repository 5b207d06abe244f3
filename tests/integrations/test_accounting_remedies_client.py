"""AccountingClient.post_credit_note and post_write_off against the sandbox ledger."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from integrations.accounting import AccountingClient, AccountingCreditNote, AccountingWriteOff
from integrations.errors import ProviderError
from sandbox.runner import SandboxHandle
from tests.integrations.test_accounting_client import INVOICE
from tests.sandbox.support import API_KEY, auth, set_faults

CREDIT_NOTE = AccountingCreditNote(
    reference="cn_01",
    invoice_reference="inv_01",
    number="CN-2026-0001",
    amount_minor=2_000,
    currency="GBP",
    reason="order_change",
    issued_at=datetime(2026, 3, 12, 10, 0, tzinfo=UTC),
)
WRITE_OFF = AccountingWriteOff(
    reference="wo_01",
    invoice_reference="inv_01",
    amount_minor=35,
    currency="GBP",
    reason="small balance",
)


@pytest.fixture
def client(sandbox: SandboxHandle, provider_http: httpx.AsyncClient) -> AccountingClient:
    return AccountingClient(provider_http, sandbox.http_url, API_KEY)


async def test_credit_note_and_write_off_are_posted_against_the_invoice(
    client: AccountingClient, http: httpx.AsyncClient
) -> None:
    await client.post_invoice(idempotency_key="acc-inv-1", payload=INVOICE)

    note = await client.post_credit_note(idempotency_key="cn-1", payload=CREDIT_NOTE)
    write_off = await client.post_write_off(idempotency_key="wo-1", payload=WRITE_OFF)

    assert note.id.startswith("acc_cn_") and write_off.id.startswith("acc_wo_")
    [ledger_note] = (await http.get("/accounting/v1/credit-notes", headers=auth())).json()
    assert (ledger_note["number"], ledger_note["invoice_reference"]) == ("CN-2026-0001", "inv_01")
    assert ledger_note["issued_at"].startswith("2026-03-12T10:00:00")
    [ledger_write_off] = (await http.get("/accounting/v1/write-offs", headers=auth())).json()
    assert (ledger_write_off["reference"], ledger_write_off["amount_minor"]) == ("wo_01", 35)


async def test_a_retry_after_a_lost_response_posts_the_credit_note_once(
    client: AccountingClient, http: httpx.AsyncClient
) -> None:
    await client.post_invoice(idempotency_key="acc-inv-1", payload=INVOICE)
    await set_faults(http, api="accounting", fail_after_commit=1)

    with pytest.raises(ProviderError) as lost:
        await client.post_credit_note(idempotency_key="cn-1", payload=CREDIT_NOTE)
    retried = await client.post_credit_note(idempotency_key="cn-1", payload=CREDIT_NOTE)

    assert (lost.value.status, lost.value.retryable) == (500, True)
    notes = (await http.get("/accounting/v1/credit-notes", headers=auth())).json()
    assert [n["id"] for n in notes] == [retried.id]


async def test_a_write_off_for_an_invoice_the_ledger_never_received_is_a_permanent_error(
    client: AccountingClient,
) -> None:
    with pytest.raises(ProviderError) as refused:
        await client.post_write_off(idempotency_key="wo-1", payload=WRITE_OFF)

    assert (refused.value.status, refused.value.retryable) == (422, False)
    assert "No invoice with reference inv_01" in refused.value.detail
