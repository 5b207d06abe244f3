"""The exception review link end to end: an invoice priced over its PO waits in EXCEPTION,
its owner gets the signed link by e-mail, opens the page, accepts the variance with a
justification, and the invoice goes on to its customer once; a second submit is told it
is already resolved."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import httpx
from temporalio.client import Client

from tests.e2e.test_lifecycle import customer_and_contract
from tests.support.approvals import approver, group, wait_for_live
from tests.support.stack import Stack, running_stack

LINK = re.compile(r"https?://[^\s\"<>]+/exception-review/[^\s\"<>]+")


def text(html: str) -> str:
    html = re.sub(r"<style>.*?</style>", " ", html, flags=re.S)
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip())


async def review_link_in_mail(stack: Stack, to: str) -> str:
    async def sent() -> str | None:
        for message in await stack.mailbox(to):
            found = LINK.search(message["text"])
            if found:
                return found.group(0)
        return None

    link: str = await stack.wait_for(sent)
    return link


async def exception_of(stack: Stack, invoice_id: str) -> dict[str, Any]:
    for status in ("open", "resolved"):
        items = (await stack.api.get("/exceptions", params={"status": status})).json()["items"]
        found = [item for item in items if item["invoice_id"] == invoice_id]
        if found:
            return found[0]  # type: ignore[no-any-return]
    raise AssertionError(f"no exception for {invoice_id}")


async def test_the_owner_accepts_a_price_variance_from_the_emailed_link(
    temporal: Client, sqlite_url: str
) -> None:
    async with running_stack(temporal, sqlite_url) as stack:
        for person in ("olivia", "oscar", "fiona"):
            await approver(stack, person)
        await group(stack, "Accounts receivable", ["olivia", "oscar"])
        await group(stack, "Finance managers", ["fiona"])
        senior_at_130 = [
            {"code": "senior", "description": "Senior", "unit": "hour", "unit_price_minor": 13000}
        ]
        customer, contract = await customer_and_contract(
            stack, email="buyer@acme.test", rates=senior_at_130
        )
        po = await stack.api.post(
            "/purchase-orders",
            json={
                "customer_id": customer["id"],
                "number": "PO-2210",
                "currency": "GBP",
                "match_mode": "2-way",
                "lines": [
                    {
                        "line_number": 1,
                        "item_code": "senior",
                        "description": "Senior consultant",
                        "quantity": "10",
                        "unit": "hour",
                        "unit_price_minor": 12000,
                    }
                ],
            },
        )
        assert po.status_code == 201, po.text
        created = await stack.api.post(
            "/invoices",
            json={
                "customer_id": customer["id"],
                "contract_id": contract["id"],
                "po_number": "PO-2210",
                "items": [{"rate_code": "senior", "quantity": "2"}],
            },
        )
        assert created.status_code == 202, created.text
        invoice_id = created.json()["invoice_id"]
        await wait_for_live(stack, invoice_id, status="EXCEPTION")

        link = await review_link_in_mail(stack, "olivia@corp.test")
        assert await stack.mailbox("buyer@acme.test") == []
        async with httpx.AsyncClient() as browser:
            page = await browser.get(link)
            assert page.status_code == 200
            words = text(page.text)
            assert "does not match PO PO-2210" in words
            assert "Price differs from the PO." in words
            assert "£130.00" in words and "£120.00" in words
            assert "Owner Olivia (you)" in words
            assert (await stack.invoice(invoice_id))["live"]["status"] == "EXCEPTION"

            form = {"resolution": "accept_variance", "justification": "Rate rise agreed"}
            accepted = await browser.post(link, data=form)
            assert accepted.status_code == 200, accepted.text
            assert "Variance accepted" in text(accepted.text)

            await stack.wait_until_awaiting_payment(invoice_id)
            assert len(await stack.mailbox("buyer@acme.test")) == 1

            again = await browser.post(link, data=form)
            assert again.status_code == 409
            assert "already been resolved" in text(again.text)

            settled = await exception_of(stack, invoice_id)
            assert (settled["status"], settled["resolution"], settled["resolved_by"]) == (
                "resolved",
                "accept_variance",
                "olivia",
            )
            assert settled["justification"] == "Rate rise agreed"
            reopened = text((await browser.get(link)).text)
            assert (
                "Variance accepted" in reopened and "Justification: “Rate rise agreed”" in reopened
            )
        assert len(await stack.mailbox("buyer@acme.test")) == 1  # still once
