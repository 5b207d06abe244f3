"""AccountingClient against the sandbox ledger."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import httpx
import pytest

from integrations.accounting import (
    AccountingClient,
    AccountingCustomer,
    AccountingInvoice,
    AccountingInvoiceLine,
    AccountingPayment,
)
from integrations.errors import ProviderError
from sandbox.runner import SandboxHandle
from tests.sandbox.support import API_KEY, auth, set_faults

INVOICE = AccountingInvoice(
    reference="inv_01",
    number="INV-2026-0042",
    customer=AccountingCustomer(id="cus_1", name="ACME Ltd"),
    currency="GBP",
    issue_date=date(2026, 3, 1),
    due_date=date(2026, 3, 31),
    subtotal_minor=10_000,
    tax_minor=2_000,
    total_minor=12_000,
    lines=[
        AccountingInvoiceLine(
            description="Consulting",
            quantity=Decimal("2.5"),
            unit_price_minor=4_000,
            net_minor=10_000,
            tax_category="standard",
        )
    ],
    tax_lines=[{"name": "VAT", "rate": "0.20", "net_minor": 10_000, "tax_minor": 2_000}],
)
PAYMENT = AccountingPayment(
    reference="pay_01",
    invoice_reference="inv_01",
    amount_minor=12_000,
    currency="GBP",
    paid_at=datetime(2026, 3, 10, 9, 30, tzinfo=UTC),
)


@pytest.fixture
def client(sandbox: SandboxHandle, provider_http: httpx.AsyncClient) -> AccountingClient:
    return AccountingClient(provider_http, sandbox.http_url, API_KEY)


async def test_invoice_and_its_payment_are_posted_to_the_ledger(
    client: AccountingClient, http: httpx.AsyncClient
) -> None:
    invoice_ref = await client.post_invoice(idempotency_key="acc-inv-1", payload=INVOICE)
    payment_ref = await client.post_payment(idempotency_key="acc-pay-1", payload=PAYMENT)

    assert invoice_ref.id.startswith("acc_inv_")
    assert payment_ref.id.startswith("acc_pay_")
    [ledger_invoice] = (await http.get("/accounting/v1/invoices", headers=auth())).json()
    assert ledger_invoice["number"] == "INV-2026-0042"
    assert ledger_invoice["lines"][0]["quantity"] == "2.5"
    assert ledger_invoice["tax_lines"][0]["tax_minor"] == 2_000
    [ledger_payment] = (await http.get("/accounting/v1/payments", headers=auth())).json()
    assert ledger_payment["invoice_reference"] == "inv_01"
    assert ledger_payment["paid_at"].startswith("2026-03-10T09:30:00")


async def test_retry_after_a_lost_response_posts_the_invoice_once(
    client: AccountingClient, http: httpx.AsyncClient
) -> None:
    await set_faults(http, api="accounting", fail_after_commit=1)

    with pytest.raises(ProviderError) as lost:
        await client.post_invoice(idempotency_key="acc-inv-1", payload=INVOICE)
    ref = await client.post_invoice(idempotency_key="acc-inv-1", payload=INVOICE)

    assert (lost.value.status, lost.value.retryable) == (500, True)
    invoices = (await http.get("/accounting/v1/invoices", headers=auth())).json()
    assert [i["id"] for i in invoices] == [ref.id]


async def test_payment_for_an_invoice_the_ledger_never_saw_is_permanent(
    client: AccountingClient,
) -> None:
    with pytest.raises(ProviderError) as caught:
        await client.post_payment(idempotency_key="acc-pay-1", payload=PAYMENT)

    assert (caught.value.status, caught.value.retryable) == (422, False)


async def test_totals_that_do_not_add_up_are_refused(client: AccountingClient) -> None:
    wrong = INVOICE.model_copy(update={"total_minor": 11_999})

    with pytest.raises(ProviderError) as caught:
        await client.post_invoice(idempotency_key="acc-inv-1", payload=wrong)

    assert (caught.value.status, caught.value.retryable) == (422, False)
