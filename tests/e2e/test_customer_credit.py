"""Customer credit end to end (real dev server, SMTP catcher, provider sandbox): a credit
note on an invoice already paid, kept on the customer's account at the customer's choice,
is not refunded; the customer's next invoice that it covers asks for nothing (no payment
link, "Nothing to pay" in the e-mail) and closes by itself; the invoice after that takes
what is left, oldest credit first, and asks only for the rest. Each allocation reaches
accounting once, and the account shows what is left at every step."""

from __future__ import annotations

import hashlib
from typing import Any

from temporalio.client import Client

from tests.documents.validation import UBL_CREDIT_NOTE_XSD, xsd_errors
from tests.e2e.test_dispute_ladder import at_level
from tests.e2e.test_dispute_money import ledger, link_id, live_invoice
from tests.e2e.test_documents import pdf_text
from tests.support.dispute_flow import (
    act,
    customer_answers,
    dispute_groups,
    issued_invoice,
    open_dispute,
    wait_for_dispute,
)
from tests.support.stack import Stack, running_stack

CREDIT = 30_000  # 300.00, below the approval threshold: straight to the customer
EMAIL = "ap@keeps-credit.test"


async def account(stack: Stack, customer_id: str) -> dict[str, Any]:
    response = await stack.api.get(f"/customers/{customer_id}/credit")
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def next_invoice(stack: Stack, first: dict[str, Any], hours: str) -> str:
    """Another invoice of `hours` senior hours (120.00 + 20% VAT) for the same customer."""
    response = await stack.api.post(
        "/invoices",
        json={
            "customer_id": first["customer_id"],
            "contract_id": first["contract_id"],
            "items": [{"rate_code": "senior", "quantity": hours}],
        },
    )
    assert response.status_code == 202, response.text
    return str(response.json()["invoice_id"])


async def links_for(stack: Stack, invoice_id: str) -> list[dict[str, Any]]:
    links = await stack.provider_records("/payments/v1/links")
    return [link for link in links if link["reference"] == invoice_id]


async def test_a_credit_kept_on_account_pays_the_next_invoices_oldest_first(
    temporal: Client, sqlite_url: str
) -> None:
    async with running_stack(temporal, sqlite_url) as stack:
        await dispute_groups(stack)
        first_id, issued = await issued_invoice(stack, EMAIL)
        first = issued["invoice"]
        customer_id = first["customer_id"]
        opened = await open_dispute(stack, first_id, lines=[1], amount_minor=CREDIT)
        await at_level(stack, opened["dispute_id"], 1)
        await stack.pay(link_id(issued), first["total_minor"])
        await live_invoice(stack, first_id, paid_minor=first["total_minor"])

        await act(
            stack,
            opened["dispute_id"],
            "remedies",
            person_id="ann",
            kind="credit_note",
            amount_minor=CREDIT,
            credit_reason="product_unsatisfactory",
            settlement="customer_credit",
            note="Three hours credited, kept on account",
        )
        await wait_for_dispute(stack, opened["dispute_id"], "remedy_proposed")
        await customer_answers(stack, opened["dispute_id"], accept=True)
        closed = await stack.wait_for_status(first_id, "CLOSED")
        assert closed["live"]["refunded_minor"] == 0
        assert closed["live"]["credit_carried_minor"] == CREDIT
        assert closed["invoice"]["credit_carried_minor"] == CREDIT
        assert closed["invoice"]["balance_minor"] == 0
        refunds = [c for c in await stack.calls("payments") if "/refunds" in str(c.get("path"))]
        assert refunds == []  # kept, not refunded
        [note] = await stack.wait_for(
            lambda: ledger(stack, "/accounting/v1/credit-notes", first_id)
        )
        await credit_note_documents(stack, opened["dispute_id"], first["number"])
        held = await account(stack, customer_id)
        assert held["balances"] == {"GBP": CREDIT}
        [credit] = held["credits"]
        assert (credit["invoice_id"], credit["remaining_minor"]) == (first_id, CREDIT)
        assert credit["credit_note_number"].startswith("CN-")

        # 1 hour: 144.00, all of it covered by the credit: nothing to pay, no link
        covered_id = await next_invoice(stack, first, "1")
        covered = await stack.wait_for_status(covered_id, "CLOSED")
        assert covered["invoice"]["credit_applied_minor"] == 14_400
        assert covered["invoice"]["balance_minor"] == 0
        assert covered["live"]["payment_url"] is None
        assert await links_for(stack, covered_id) == []
        mails = await stack.mailbox(EMAIL)
        [covered_mail] = [m for m in mails if covered["invoice"]["number"] in m["subject"]]
        assert "Nothing to pay" in covered_mail["text"]
        assert f"Credit from credit note {credit['credit_note_number']}" in covered_mail["text"]
        assert (await account(stack, customer_id))["balances"] == {"GBP": CREDIT - 14_400}

        # 10 hours: 1,440.00, less the 156.00 left: the link and the e-mail ask for 1,284.00
        rest_id = await next_invoice(stack, first, "10")
        rest = await stack.wait_until_awaiting_payment(rest_id)
        left = CREDIT - 14_400
        assert rest["invoice"]["credit_applied_minor"] == left
        assert rest["invoice"]["balance_minor"] == 144_000 - left
        [link] = await links_for(stack, rest_id)
        assert link["amount_minor"] == 144_000 - left
        [rest_mail] = [
            m for m in await stack.mailbox(EMAIL) if rest["invoice"]["number"] in m["subject"]
        ]
        assert "£1,284.00" in rest_mail["html"] and "£1,284.00" in rest_mail["subject"]
        await stack.pay(link_id(rest), 144_000 - left)
        await stack.wait_for_status(rest_id, "CLOSED")
        assert (await account(stack, customer_id))["balances"] == {"GBP": 0}

        # each allocation in the ledger once, against the credit note
        allocations = await stack.wait_for(
            lambda: _allocations(stack, {covered_id, rest_id}, expected=2)
        )
        assert sorted((a["invoice_reference"], a["amount_minor"]) for a in allocations) == sorted(
            [(covered_id, 14_400), (rest_id, left)]
        )
        assert {a["credit_note_reference"] for a in allocations} == {note["reference"]}


async def credit_note_documents(stack: Stack, dispute_id: str, invoice_number: str) -> None:
    """The credit note's PDF (its number, the invoice it credits, the amount split per
    rate) and its UBL CreditNote, valid against the UBL 2.1 XSD, referencing the invoice."""
    [note] = (await stack.api.get(f"/disputes/{dispute_id}")).json()["credit_notes"]
    pdf = await stack.api.get(f"/credit-notes/{note['credit_note_id']}/pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    text = pdf_text(pdf.content)
    # 300.00 over the invoice's 20% (1,440.00 gross) and 5% (525.00) parts, pro rata:
    # 219.85 = 183.21 + 36.64 VAT and 80.15 = 76.33 + 3.82 VAT
    for expected in (note["number"], invoice_number, "£183.21", "£3.82", "£259.54", "£40.46"):
        assert expected in text, (expected, text)
    assert "Total credited £300.00" in text and "Kept as credit on your account" in text
    # the same file went with the e-mail that told the customer the dispute is resolved
    sent = [
        attached
        for mail in await stack.mailbox(EMAIL)
        for attached in mail["attachments"]
        if attached["filename"] == f"{note['number']}.pdf"
    ]
    assert [a["sha256"] for a in sent] == [hashlib.sha256(pdf.content).hexdigest()]
    ubl = await stack.api.get(
        f"/credit-notes/{note['credit_note_id']}/einvoice", params={"format": "ubl"}
    )
    assert ubl.status_code == 200 and xsd_errors(ubl.content, UBL_CREDIT_NOTE_XSD) == []
    assert invoice_number.encode() in ubl.content  # BG-3: the invoice it credits


async def _allocations(
    stack: Stack, invoice_ids: set[str], expected: int
) -> list[dict[str, Any]] | None:
    records = await stack.provider_records("/accounting/v1/credit-allocations")
    mine = [r for r in records if r["invoice_reference"] in invoice_ids]
    return mine if len(mine) >= expected else None
