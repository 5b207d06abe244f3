"""Correcting an invoice from the exception review link, end to end (dev server, SQLite):
the owner fixes the lines (a quantity over the PO back to what was ordered, a line not on
the PO removed, a contract rate's price left alone) or gives the PO number the invoice
lacks, the invoice is matched again and goes on to its customer once; a correction the
page cannot make is refused in words and writes nothing, to history or to the audit."""

from __future__ import annotations

from typing import Any

import httpx
from temporalio.client import Client

from tests.e2e.test_exception_review import exception_of, review_link_in_mail, text
from tests.e2e.test_lifecycle import customer_and_contract
from tests.e2e.test_po_matching import (
    cheap_rates,
    exception_groups,
    invoice,
    purchase_order,
    written,
)
from tests.support.approvals import wait_for_live
from tests.support.stack import Stack, running_stack

# the PO's price is the contract's 130.00 an hour: only quantities and lines differ
AT_RATE = {
    "line_number": 1,
    "item_code": "senior",
    "description": "Senior consultant",
    "quantity": "10",
    "unit": "hour",
    "unit_price_minor": 13000,
}


async def an_exception(stack: Stack, customer: dict, contract: dict, **body: Any) -> str:
    invoice_id = await invoice(stack, customer, contract, **body)
    await wait_for_live(stack, invoice_id, status="EXCEPTION")
    return invoice_id


async def test_the_owner_corrects_the_lines_from_the_link_and_the_invoice_goes_on(
    temporal: Client, sqlite_url: str
) -> None:
    async with running_stack(temporal, sqlite_url) as stack:
        await exception_groups(stack)
        customer, contract = await customer_and_contract(
            stack, email="buyer@acme.test", rates=cheap_rates()
        )
        await purchase_order(stack, customer["id"], "PO-3100", lines=[AT_RATE])
        invoice_id = await an_exception(
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

            before = await written(stack, invoice_id)
            for form, said in (
                ({"quantity-1": "ten"}, "Line 1: 'ten' is not a quantity"),
                ({"quantity-1": "1e3"}, "Line 1: '1e3' is not a quantity"),
                ({"quantity-1": "-2"}, "Line 1: '-2' is not a quantity"),
                ({"quantity-1": "1.00001"}, "at most 4 decimal places"),
                ({"price-2": "4,5.0.0"}, "Line 2: '4,5.0.0' is not a unit price"),
                ({"price-2": "12,50"}, "Line 2: '12,50' is not a unit price"),  # not 1,250
                ({"price-2": "1e999999999"}, "is not a unit price"),
                ({"price-2": "45.001"}, "at most 2 decimal places"),
                ({"quantity-1": "12.000", "price-2": "45.000"}, "Nothing was changed"),
                ({"price-1": "1.00"}, "Nothing was changed"),  # a contract rate's price
                ({"quantity-1": "0", "quantity-2": "0"}, "at least one item or line"),
                ({"po_number": " "}, "Enter the PO number"),
            ):
                refused = await browser.post(link, data={"resolution": "correct", **form})
                assert refused.status_code == 422, refused.text
                assert said in text(refused.text)
            assert (await stack.invoice(invoice_id))["live"]["status"] == "EXCEPTION"
            assert await written(stack, invoice_id) == before
            assert (await exception_of(stack, invoice_id))["status"] == "open"

            corrected = await browser.post(
                link,
                data={
                    "resolution": "correct",
                    "po_number": "PO-3100",
                    "quantity-1": "10",
                    "price-1": "1.00",  # ignored: the line is at the contract's rate
                    "quantity-2": "0",  # travel is not on the PO: billed elsewhere
                    "price-2": "1,045.00",
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


async def test_a_missing_po_number_is_given_from_the_link_and_the_lines_stay(
    temporal: Client, sqlite_url: str
) -> None:
    async with running_stack(temporal, sqlite_url) as stack:
        await exception_groups(stack)
        customer, contract = await customer_and_contract(
            stack, email="buyer@acme.test", rates=cheap_rates(), po_required=True
        )
        await purchase_order(stack, customer["id"], "PO-3200", lines=[AT_RATE])
        invoice_id = await an_exception(  # the customer requires a PO; none is named
            stack, customer, contract, items=[{"rate_code": "senior", "quantity": "4"}]
        )
        link = await review_link_in_mail(stack, "olivia@corp.test")
        async with httpx.AsyncClient() as browser:
            page = text((await browser.get(link)).text)
            assert "Correct its PO number below, or cancel it." in page
            blank = {"resolution": "correct", "po_number": "", "quantity-1": "4"}
            unchanged = await browser.post(link, data=blank)
            assert unchanged.status_code == 422
            assert "Nothing was changed" in text(unchanged.text)
            corrected = await browser.post(link, data={**blank, "po_number": " PO-3200 "})
            assert corrected.status_code == 200, corrected.text
        issued = await stack.wait_until_awaiting_payment(invoice_id)
        assert issued["invoice"]["po_number"] == "PO-3200"
        assert [line["quantity"] for line in issued["lines"]] == ["4"]
        # the PO number alone was corrected: the lines were not generated again
        [revised] = [e for e in issued["audit"] if e["action"] == "invoice.revised"]
        assert revised["actor"] == "olivia" and revised["data"]["po_number"] == "PO-3200"
        assert "total_minor" not in revised["data"]
        assert len(await stack.mailbox("buyer@acme.test")) == 1
