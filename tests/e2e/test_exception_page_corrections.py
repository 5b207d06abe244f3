"""Correcting an invoice from the exception review link, end to end (dev server, SQLite):
the owner fixes the lines (a quantity over the PO back to what was ordered, a line not on
the PO removed) or the PO number the invoice names, the invoice is matched again and goes
on to its customer once; a correction the page cannot make is refused in words and changes
nothing."""

from __future__ import annotations

from typing import Any

import httpx
from temporalio.client import Client

from tests.e2e.test_exception_review import exception_of, review_link_in_mail, text
from tests.e2e.test_lifecycle import customer_and_contract
from tests.support.approvals import approver, group, wait_for_live
from tests.support.stack import Stack, running_stack

SENIOR = [{"code": "senior", "description": "Senior", "unit": "hour", "unit_price_minor": 13000}]


async def owners(stack: Stack) -> None:
    for person in ("olivia", "oscar", "fiona"):
        await approver(stack, person)
    await group(stack, "Accounts receivable", ["olivia", "oscar"])
    await group(stack, "Finance managers", ["fiona"])


async def a_po(stack: Stack, customer_id: str, number: str) -> None:
    created = await stack.api.post(
        "/purchase-orders",
        json={
            "customer_id": customer_id,
            "number": number,
            "currency": "GBP",
            "match_mode": "2-way",
            "lines": [
                {
                    "line_number": 1,
                    "item_code": "senior",
                    "description": "Senior consultant",
                    "quantity": "10",
                    "unit": "hour",
                    "unit_price_minor": 13000,
                }
            ],
        },
    )
    assert created.status_code == 201, created.text


async def an_invoice(stack: Stack, customer: dict, contract: dict, **body: Any) -> str:
    created = await stack.api.post(
        "/invoices",
        json={"customer_id": customer["id"], "contract_id": contract["id"], **body},
    )
    assert created.status_code == 202, created.text
    invoice_id: str = created.json()["invoice_id"]
    await wait_for_live(stack, invoice_id, status="EXCEPTION")
    return invoice_id


async def test_the_owner_corrects_the_lines_from_the_link_and_the_invoice_goes_on(
    temporal: Client, sqlite_url: str
) -> None:
    async with running_stack(temporal, sqlite_url) as stack:
        await owners(stack)
        customer, contract = await customer_and_contract(
            stack, email="buyer@acme.test", rates=SENIOR
        )
        await a_po(stack, customer["id"], "PO-3100")
        invoice_id = await an_invoice(
            stack,
            customer,
            contract,
            po_number="PO-3100",
            items=[{"rate_code": "senior", "quantity": "12"}],
            lines=[{"description": "Travel", "quantity": "1", "unit_price_minor": 4500}],
        )
        link = await review_link_in_mail(stack, "olivia@corp.test")
        async with httpx.AsyncClient() as browser:
            page = text((await browser.get(link)).text)
            assert "Correct the invoice" in page
            assert "1. Senior" in page and "130.00 contract rate" in page
            assert "2. Travel" in page

            for form, said in (
                ({"quantity-1": "ten"}, "Line 1: 'ten' is not a quantity."),
                ({"price-2": "4,5.0.0"}, "Line 2: '4,5.0.0' is not a unit price"),
                ({"quantity-1": "12"}, "Nothing was changed"),
                ({"quantity-1": "0", "quantity-2": "0"}, "at least one item or line"),
                ({"po_number": " "}, "Enter the PO number"),
            ):
                refused = await browser.post(link, data={"resolution": "correct", **form})
                assert refused.status_code == 422, refused.text
                assert said in text(refused.text)
            assert (await stack.invoice(invoice_id))["live"]["status"] == "EXCEPTION"
            assert (await exception_of(stack, invoice_id))["status"] == "open"

            corrected = await browser.post(
                link,
                data={
                    "resolution": "correct",
                    "po_number": "PO-3100",
                    "quantity-1": "10",
                    "quantity-2": "0",  # travel is not on the PO: billed elsewhere
                    "price-2": "45.00",
                    "justification": "12 hours were 10; travel goes on its own invoice",
                },
            )
            assert corrected.status_code == 200, corrected.text
            assert "Invoice corrected" in text(corrected.text)

        issued = await stack.wait_until_awaiting_payment(invoice_id)
        assert [(line["quantity"], line["unit_price_minor"]) for line in issued["lines"]] == [
            ("10", 13000)
        ]
        assert issued["invoice"]["subtotal_minor"] == 130000
        assert len(await stack.mailbox("buyer@acme.test")) == 1
        settled = await exception_of(stack, invoice_id)
        assert (settled["status"], settled["resolution"], settled["resolved_by"]) == (
            "resolved",
            "correct",
            "olivia",
        )


async def test_a_wrong_po_number_is_corrected_from_the_link(
    temporal: Client, sqlite_url: str
) -> None:
    async with running_stack(temporal, sqlite_url) as stack:
        await owners(stack)
        customer, contract = await customer_and_contract(
            stack, email="buyer@acme.test", rates=SENIOR, po_required=True
        )
        await a_po(stack, customer["id"], "PO-3200")
        invoice_id = await an_invoice(
            stack,
            customer,
            contract,
            po_number="PO-3299",  # a typo: the customer has no such PO
            items=[{"rate_code": "senior", "quantity": "4"}],
        )
        link = await review_link_in_mail(stack, "olivia@corp.test")
        async with httpx.AsyncClient() as browser:
            page = text((await browser.get(link)).text)
            assert "Correct its PO number below, or cancel it." in page
            corrected = await browser.post(
                link, data={"resolution": "correct", "po_number": "PO-3200", "quantity-1": "4"}
            )
            assert corrected.status_code == 200, corrected.text
        issued = await stack.wait_until_awaiting_payment(invoice_id)
        assert issued["invoice"]["po_number"] == "PO-3200"
        assert [line["quantity"] for line in issued["lines"]] == ["4"]
        assert len(await stack.mailbox("buyer@acme.test")) == 1
