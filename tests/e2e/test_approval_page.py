"""The approval page as an approver sees it: the invoice with its customer, PO, lines, tax
per rate and totals that add up; reopened once decided, the decision taken, by whom and
when, and no buttons."""

from __future__ import annotations

import re
from typing import Any

import httpx
from temporalio.client import Client

from tests.e2e.test_approval_links import finance_policy
from tests.e2e.test_lifecycle import customer_and_contract
from tests.support.approvals import wait_for_links, wait_for_live
from tests.support.stack import Stack, running_stack

BUTTON = re.compile(r"<button[^>]*>")


async def six_thousand(stack: Stack, email: str) -> str:
    """50 hours at 120.00 = GBP 6,000.00, VAT 20% 1,200.00, total 7,200.00, PO-4471."""
    customer, contract = await customer_and_contract(
        stack, name="Northwind Traders Ltd", email=email
    )
    response = await stack.api.post(
        "/invoices",
        json={
            "customer_id": customer["id"],
            "contract_id": contract["id"],
            "po_number": "PO-4471",
            "items": [
                {"rate_code": "senior", "quantity": "30", "description": "Discovery workshops"},
                {"rate_code": "senior", "quantity": "20", "description": "Integration design"},
            ],
        },
    )
    assert response.status_code == 202, response.text
    invoice_id: str = response.json()["invoice_id"]
    await wait_for_live(stack, invoice_id, status="AWAITING_APPROVAL")
    return invoice_id


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


async def test_the_page_shows_customer_po_lines_tax_per_rate_and_totals_that_add_up(
    temporal: Client, sqlite_url: str
) -> None:
    async with running_stack(temporal, sqlite_url) as stack:
        await finance_policy(stack)
        await six_thousand(stack, "nw@acme.test")
        link = (await wait_for_links(stack, "alice"))[0]
        async with httpx.AsyncClient() as browser:
            page = await browser.get(link)
            shown: dict[str, Any] = (
                await browser.get(link, headers={"Accept": "application/json"})
            ).json()
        words = text(page.text)
        assert "Northwind Traders Ltd" in words and "PO-4471" in words
        assert "Discovery workshops" in words and "30 hours" in words
        assert "Subtotal £6,000.00" in words
        assert "VAT 20% on £6,000.00 £1,200.00" in words
        assert "Total (GBP) £7,200.00" in words
        assert len(BUTTON.findall(page.text)) == 3
        invoice = shown["invoice"]
        assert sum(line["net_minor"] for line in shown["lines"]) == invoice["subtotal_minor"]
        assert (
            invoice["subtotal_minor"] + sum(t["tax_minor"] for t in shown["taxes"])
            == (invoice["total_minor"])
        )
        assert invoice["total_minor"] == 720_000 and shown["decided"] is None


async def test_a_reopened_link_shows_the_decision_by_whom_and_when_and_no_buttons(
    temporal: Client, sqlite_url: str
) -> None:
    async with running_stack(temporal, sqlite_url) as stack:
        await finance_policy(stack)
        await six_thousand(stack, "first@acme.test")
        alice, bob = (
            (await wait_for_links(stack, "alice"))[0],
            (await wait_for_links(stack, "bob"))[0],
        )
        async with httpx.AsyncClient() as browser:
            refused = await browser.post(bob, data={"decision": "reject", "reason": "Wrong PO"})
            assert refused.status_code == 200
            for url, by in ((bob, "By you (Bob)"), (alice, "By Bob")):
                page = await browser.get(url)
                words = text(page.text)
                assert BUTTON.findall(page.text) == [], words
                assert "Rejected" in words and by in words and "“Wrong PO”" in words
                assert re.search(r"on \d{1,2} \w+ 20\d\d at \d\d:\d\d UTC", words), words
                assert "£7,200.00" in words  # the invoice is still shown

            await six_thousand(stack, "second@acme.test")
            second = (await wait_for_links(stack, "alice", count=2))[1]
            assert (await browser.post(second, data={"decision": "approve"})).status_code == 200
            again = await browser.get(second, headers={"Accept": "application/json"})
            decided = again.json()["decided"]
            assert (decided["decision"], decided["by"], decided["yours"]) == (
                "approve",
                "Alice",
                True,
            )
            assert "Approved" in text((await browser.get(second)).text)
