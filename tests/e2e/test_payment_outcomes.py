"""Payments whose outcome we did not hear, end to end (real dev server, provider sandbox,
SMTP catcher): a payment link or a refund whose answer was lost is looked up by its key and
never made twice, even by a provider that forgot the key; a payment whose webhook was
dropped is found when the customer presses "I have paid" and applied once (the late
webhook is a duplicate); a payment beyond the balance is kept as customer credit once,
however often its event arrives, and taken off the customer's next invoice (the ledger
allocating the overpaid payment to it)."""

from __future__ import annotations

import html
import re
import time
from typing import Any

import httpx
from temporalio.client import Client

from core.links import portal_view_url
from integrations.webhook_signing import sign
from tests.e2e.test_dispute_ladder import at_level
from tests.e2e.test_dispute_money import link_id, live_invoice
from tests.e2e.test_failures import payment_event, start_invoice
from tests.support.dispute_flow import (
    act,
    customer_answers,
    dispute_groups,
    issued_invoice,
    open_dispute,
    wait_for_dispute,
)
from tests.support.stack import WEBHOOK_SECRET, Stack, running_stack

LOST_AND_FORGOTTEN = {"api": "payments", "fail_after_commit": 1, "forget_idempotency_keys": True}


async def faults(stack: Stack, **profile: Any) -> None:
    (await stack.sandbox.post("/_sandbox/faults", json=profile)).raise_for_status()


async def look_ups(stack: Stack) -> list[dict[str, Any]]:
    calls = await stack.calls("payments")
    return [c for c in calls if c["method"] == "GET" and c["path"].endswith("/operations")]


async def test_a_payment_link_whose_answer_was_lost_is_looked_up_and_made_once(
    temporal: Client, sqlite_url: str
) -> None:
    async with running_stack(temporal, sqlite_url) as stack:
        await faults(stack, **LOST_AND_FORGOTTEN)
        _, invoice_id = await start_invoice(stack, "lost-link@acme.test")
        waiting = await stack.wait_until_awaiting_payment(invoice_id)
        links = await stack.provider_records(f"/payments/v1/links?reference={invoice_id}")
        assert len(links) == 1, links  # the retry found the link instead of making another
        assert waiting["live"]["payment_url"] == links[0]["url"]
        lost = [c for c in await stack.calls("payments") if c["note"] == "fail_after_commit"]
        assert len(lost) == 1
        assert len(await look_ups(stack)) == 1
        # the e-mail carries the link the provider made
        [mail] = await stack.mailbox("lost-link@acme.test")
        assert links[0]["id"] in str(mail)


async def test_a_refund_whose_answer_was_lost_is_looked_up_and_made_once(
    temporal: Client, sqlite_url: str
) -> None:
    async with running_stack(temporal, sqlite_url) as stack:
        await dispute_groups(stack)
        invoice_id, issued = await issued_invoice(stack, "ap@lost-refund.test")
        total = issued["invoice"]["total_minor"]
        dispute_id = (await open_dispute(stack, invoice_id, lines=[1], amount_minor=30_000))[
            "dispute_id"
        ]
        await at_level(stack, dispute_id, 1)
        payment = await stack.pay(link_id(issued), total)
        await live_invoice(stack, invoice_id, paid_minor=total)
        await act(
            stack,
            dispute_id,
            "remedies",
            person_id="ann",
            kind="credit_note",
            amount_minor=30_000,
            credit_reason="product_unsatisfactory",
            note="Three hours credited",
        )
        await wait_for_dispute(stack, dispute_id, "remedy_proposed")
        await faults(stack, **LOST_AND_FORGOTTEN)  # the refund is the next payments POST
        await customer_answers(stack, dispute_id, accept=True)
        closed = await stack.wait_for_status(invoice_id, "CLOSED", timeout=60)
        assert closed["live"]["refunded_minor"] == 30_000

        refunds = await stack.provider_records(f"/payments/v1/payments/{payment['id']}/refunds")
        assert [r["amount_minor"] for r in refunds] == [30_000]
        assert len(await look_ups(stack)) >= 1
        [row] = [e for e in closed["audit"] if e["action"] == "payment.refunded"]
        assert row["data"]["refund_id"] == refunds[0]["id"]


async def portal_claim(stack: Stack, invoice_id: str) -> httpx.Response:
    """Open the invoice's portal page and press its "I have paid" button."""
    secret = stack.settings.link_signing_secret.get_secret_value()
    url = portal_view_url("", secret, invoice_id)
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=10) as browser:
        page = await browser.get(url)
        assert page.status_code == 200, page.text
        action = re.search(r'<form class="inline" method="post" action="([^"]+)"', page.text)
        assert action is not None and "I have paid" in page.text
        return await browser.post(html.unescape(action.group(1)))


async def test_a_payment_whose_webhook_was_dropped_is_found_when_the_customer_says_they_paid(
    temporal: Client, sqlite_url: str
) -> None:
    async with running_stack(temporal, sqlite_url) as stack:
        _, invoice_id = await start_invoice(stack, "dropped@acme.test")
        waiting = await stack.wait_until_awaiting_payment(invoice_id)
        await faults(stack, api="payments", drop_webhooks=True)
        paid = await stack.pay(link_id(waiting), 4_400)
        [dropped] = await stack.wait_for(lambda: stack.calls("webhooks"))
        assert dropped["note"].endswith("dropped")
        assert (await stack.invoice(invoice_id))["live"]["paid_minor"] == 0

        claimed = await portal_claim(stack, invoice_id)
        assert claimed.status_code == 303
        assert "done=payment_check" in claimed.headers["location"]
        found = await live_invoice(stack, invoice_id, paid_minor=4_400)
        assert [p["payment_id"] for p in found["live"]["payments"]] == [paid["id"]]
        assert found["live"]["status"] == "PARTIALLY_PAID"

        # the webhook arrives after all: a duplicate, ignored
        await stack.sandbox.delete("/_sandbox/faults")
        event_id = dropped["idempotency_key"]
        redelivered = await stack.sandbox.post(f"/_sandbox/webhooks/{event_id}/redeliver")
        assert redelivered.status_code == 202
        await stack.wait_for(lambda: _delivered(stack, event_id))  # accepted by our API (2xx)
        await stack.pay(link_id(waiting), 10_000)
        closed = await stack.wait_for_status(invoice_id, "CLOSED")
        assert closed["live"]["paid_minor"] == 14_400
        assert len(closed["payments"]) == 2
        recorded = [e for e in closed["audit"] if e["action"] == "payment.recorded"]
        assert [e["actor"] for e in recorded] == ["payments-check", "payments-webhook"]
        receipts = [m for m in await stack.mailbox("dropped@acme.test") if "eceipt" in str(m)]
        assert len(receipts) == 2  # one per payment, none for the duplicate


async def _delivered(stack: Stack, event_id: str) -> bool:
    calls = await stack.calls("webhooks", idempotency_key=event_id)
    return any(200 <= c["status"] < 300 for c in calls)


async def post_event(stack: Stack, body: bytes) -> dict[str, Any]:
    signed = {"Sandbox-Signature": sign(WEBHOOK_SECRET, body, int(time.time()))}
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=10) as provider:
        answer = await provider.post("/webhooks/payments", content=body, headers=signed)
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


async def test_an_overpayment_is_kept_as_credit_once_and_pays_the_next_invoice(
    temporal: Client, sqlite_url: str
) -> None:
    """A bank transfer of 50.00 recorded by an operator, then the whole 144.00 through the
    link: 50.00 beyond the balance, kept on the customer's account against that payment.
    The provider delivering its event twice changes the invoice once."""
    async with running_stack(temporal, sqlite_url) as stack:
        customer, invoice_id = await start_invoice(stack, "overpaid@acme.test")
        await stack.wait_until_awaiting_payment(invoice_id)
        handle = stack.temporal.get_workflow_handle(f"invoice-{invoice_id}")
        await handle.signal(
            "payment_received",
            {
                "payment_id": "bank-transfer-1",
                "amount_minor": 5_000,
                "currency": "GBP",
                "paid_at": "2026-11-24T10:00:00Z",
                "source": "operator:alice",
            },
        )
        await live_invoice(stack, invoice_id, paid_minor=5_000)
        event = payment_event(invoice_id, "pay_overpaid", 14_400)
        first, second = await post_event(stack, event), await post_event(stack, event)
        assert first["status"] == second["status"] == "accepted"

        closed = await stack.wait_for_status(invoice_id, "CLOSED")
        assert closed["live"]["paid_minor"] == 19_400
        assert closed["live"]["credit_carried_minor"] == 5_000
        assert closed["live"]["balance_minor"] == 0
        assert len(closed["payments"]) == 2
        grants = [e for e in closed["audit"] if e["action"] == "customer_credit.granted"]
        assert len(grants) == 1
        assert grants[0]["data"]["source"] == "overpayment"
        assert grants[0]["data"]["payment_id"] == "pay_overpaid"

        account = (await stack.api.get(f"/customers/{customer['id']}/credit")).json()
        assert account["balances"] == {"GBP": 5_000}
        [credit] = account["credits"]
        assert (credit["source"], credit["payment_id"], credit["invoice_id"]) == (
            "overpayment",
            "pay_overpaid",
            invoice_id,
        )

        # the customer's next invoice takes it off and asks for the rest
        response = await stack.api.post(
            "/invoices",
            json={
                "customer_id": customer["id"],
                "contract_id": closed["invoice"]["contract_id"],
                "items": [{"rate_code": "senior", "quantity": "1"}],
            },
        )
        next_id = response.json()["invoice_id"]
        following = await stack.wait_until_awaiting_payment(next_id)
        assert following["live"]["credit_applied_minor"] == 5_000
        [link] = await stack.provider_records(f"/payments/v1/links?reference={next_id}")
        assert link["amount_minor"] == 14_400 - 5_000
        mails = await stack.mailbox("overpaid@acme.test")
        number = closed["invoice"]["number"]
        assert any(f"Overpaid on invoice {number}" in str(m) for m in mails)
        emptied = (await stack.api.get(f"/customers/{customer['id']}/credit")).json()
        assert emptied["balances"] == {"GBP": 0}
        # the ledger allocates the overpaid payment's excess to the next invoice, once
        path = f"/accounting/v1/credit-allocations?reference=allocation:{credit['credit_note_id']}"
        [allocated] = await stack.wait_for(
            lambda: stack.provider_records(f"{path}:{next_id}"), timeout=30
        )
        assert (allocated["payment_reference"], allocated["amount_minor"]) == (
            "pay_overpaid",
            5_000,
        )
        assert "credit_note_reference" not in allocated
