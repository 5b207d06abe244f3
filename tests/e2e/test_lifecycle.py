"""End to end on a real Temporal dev server: API -> e-mail over SMTP -> payment at the provider
-> signed webhook -> PAID and CLOSED -> exactly one accounting post per invoice and payment."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import select
from temporalio.client import Client

from schemas.tables import AuditEvent
from tests.support.stack import Stack, running_stack

RATES = [
    {
        "code": "senior",
        "description": "Senior consultant",
        "unit": "hour",
        "unit_price_minor": 12000,
    },
    {
        "code": "training",
        "description": "Training day",
        "unit": "day",
        "unit_price_minor": 50000,
        "tax_category": "reduced",
    },
]


async def customer_and_contract(stack: Stack, **contract: Any) -> tuple[dict, dict]:
    customer = await stack.api.post(
        "/customers",
        json={
            "name": contract.pop("name", "ACME Ltd"),
            "email": contract.pop("email", "accounts@acme.test"),
            "locale": contract.pop("locale", "en_GB"),
            **({"phone": contract.pop("phone")} if "phone" in contract else {}),
        },
    )
    assert customer.status_code == 201, customer.text
    body = {
        "customer_id": customer.json()["id"],
        "currency": "GBP",
        "tax_region": "GB",
        "payment_terms_days": 30,
        "rates": RATES,
        **contract,
    }
    created = await stack.api.post("/contracts", json=body)
    assert created.status_code == 201, created.text
    return customer.json(), created.json()


@pytest.mark.parametrize("workflow_sandbox", [True, False], ids=["sandboxed", "unsandboxed"])
async def test_invoice_runs_from_api_to_closed_with_one_email_and_one_accounting_post_each(
    temporal: Client, sqlite_url: str, workflow_sandbox: bool
) -> None:
    async with running_stack(temporal, sqlite_url, workflow_sandbox=workflow_sandbox) as stack:
        customer, contract = await customer_and_contract(stack)
        response = await stack.api.post(
            "/invoices",
            json={
                "customer_id": customer["id"],
                "contract_id": contract["id"],
                "items": [
                    {"rate_code": "senior", "quantity": "10"},
                    {"rate_code": "training", "quantity": "1", "kind": "milestone"},
                ],
            },
        )
        assert response.status_code == 202, response.text
        invoice_id = response.json()["invoice_id"]
        assert response.headers["Location"] == f"/invoices/{invoice_id}"
        # 10h x 120.00 = 1,200.00 + VAT 20% 240.00; training 500.00 + VAT 5% 25.00
        assert response.json()["preview"]["total_minor"] == 196500

        issued = await stack.wait_until_awaiting_payment(invoice_id)
        number = issued["invoice"]["number"]
        assert number.startswith("INV-") and number.endswith("-0001")

        mail = await stack.mailbox("accounts@acme.test")
        assert len(mail) == 1
        assert number in mail[0]["subject"]
        assert "£1,965.00" in mail[0]["html"]
        assert issued["invoice"]["payment_url"] in mail[0]["html"]

        link_id = issued["live"]["payment_url"].rstrip("/").rsplit("/", 1)[-1]
        await stack.pay(link_id, 196500)
        closed = await stack.wait_for_status(invoice_id, "CLOSED")
        assert closed["invoice"]["status"] == "CLOSED"
        assert closed["invoice"]["balance_minor"] == 0
        assert len(closed["payments"]) == 1

        accounting_invoices = await stack.provider_records("/accounting/v1/invoices")
        accounting_payments = await stack.provider_records("/accounting/v1/payments")
        assert [i["reference"] for i in accounting_invoices] == [invoice_id]
        assert [p["invoice_reference"] for p in accounting_payments] == [invoice_id]
        assert len(closed["accounting"]) == 2

        async with stack.sessions() as session:
            actions = [
                e.action
                for e in await session.exec(
                    select(AuditEvent).where(AuditEvent.invoice_id == invoice_id)
                )
            ]
        for expected in (
            "invoice.generated",
            "invoice.delivered",
            "payment.recorded",
            "accounting.invoice_posted",
            "accounting.payment_posted",
            "invoice.closed",
        ):
            assert expected in actions


async def test_partial_payments_reduce_the_balance_until_the_invoice_closes(
    temporal: Client, sqlite_url: str
) -> None:
    async with running_stack(temporal, sqlite_url) as stack:
        customer, contract = await customer_and_contract(stack, email="ap@partial.test")
        response = await stack.api.post(
            "/invoices",
            json={
                "customer_id": customer["id"],
                "contract_id": contract["id"],
                "items": [{"rate_code": "senior", "quantity": "1"}],
            },
        )
        invoice_id = response.json()["invoice_id"]  # 120.00 + 24.00 VAT = 144.00
        issued = await stack.wait_until_awaiting_payment(invoice_id)
        link_id = issued["live"]["payment_url"].rstrip("/").rsplit("/", 1)[-1]

        await stack.pay(link_id, 4400)
        partial = await stack.wait_for_status(invoice_id, "PARTIALLY_PAID")
        assert partial["live"]["balance_minor"] == 10000
        assert partial["invoice"]["paid_minor"] == 4400

        await stack.pay(link_id, 10000)
        closed = await stack.wait_for_status(invoice_id, "CLOSED")
        assert closed["live"]["paid_minor"] == 14400
        assert len(await stack.provider_records("/accounting/v1/payments")) == 2
