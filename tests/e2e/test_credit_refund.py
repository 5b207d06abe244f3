"""An overpayment's credit refunded on request, end to end (dev server, worker, API, provider
sandbox): the refund goes to the payment that brought the excess, once at the provider
even when its answer is lost and the provider forgot the key, once in the ledger, and a
repeat of the request answers the first; the API's refusals are problem documents."""

from __future__ import annotations

from typing import Any

from temporalio.client import Client

from tests.e2e.test_dispute_money import link_id, live_invoice
from tests.e2e.test_failures import start_invoice
from tests.e2e.test_payment_outcomes import LOST_AND_FORGOTTEN, faults
from tests.support.stack import Stack, running_stack

BODY = {"requested_by": "alice", "reason": "customer asked for the money back"}


async def overpaid_credit(stack: Stack, email: str) -> tuple[str, str, str, dict[str, Any]]:
    """A bank transfer of 50.00, then the whole 144.00 through the link: 50.00 kept as
    credit against the link's payment. (customer id, invoice id, credit id, payment)"""
    customer, invoice_id = await start_invoice(stack, email)
    waiting = await stack.wait_until_awaiting_payment(invoice_id)
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
    payment = await stack.pay(link_id(waiting), 14_400)
    await stack.wait_for_status(invoice_id, "CLOSED")
    account = (await stack.api.get(f"/customers/{customer['id']}/credit")).json()
    [credit] = account["credits"]
    assert (credit["payment_id"], credit["remaining_minor"]) == (payment["id"], 5_000)
    return customer["id"], invoice_id, credit["id"], payment


async def refunded(stack: Stack, customer_id: str) -> dict[str, Any] | None:
    account = (await stack.api.get(f"/customers/{customer_id}/credit")).json()
    [credit] = account["credits"]
    done = [r for r in credit["refunds"] if r["status"] == "refunded"]
    return credit if done else None


async def test_an_overpayment_credit_is_refunded_once_to_its_payment_even_when_the_answer_is_lost(
    temporal: Client, sqlite_url: str
) -> None:
    async with running_stack(temporal, sqlite_url) as stack:
        customer_id, invoice_id, credit_id, payment = await overpaid_credit(
            stack, "refund-me@acme.test"
        )
        url = f"/customers/{customer_id}/credit/{credit_id}/refund"
        await faults(stack, **LOST_AND_FORGOTTEN)  # the refund is the next payments POST
        key = {"Idempotency-Key": "refund-1"}
        first = await stack.api.post(url, json=BODY, headers=key)
        assert first.status_code in (201, 202), first.text
        assert first.json()["amount_minor"] == 5_000
        assert first.headers["location"] == f"/customers/{customer_id}/credit"
        credit = await stack.wait_for(lambda: refunded(stack, customer_id), timeout=60)
        assert credit["remaining_minor"] == 0
        [refund] = credit["refunds"]
        assert (refund["amount_minor"], refund["requested_by"]) == (5_000, "alice")

        # the provider: one refund of the excess, on the payment that brought it
        lost = [c for c in await stack.calls("payments") if c["note"] == "fail_after_commit"]
        assert len(lost) == 1
        made = await stack.provider_records(f"/payments/v1/payments/{payment['id']}/refunds")
        assert [r["amount_minor"] for r in made] == [5_000]
        # the ledger: the refund once, drawn on the overpaid payment
        path = f"/accounting/v1/refunds?reference=refund:{refund['id']}"
        posted = await stack.wait_for(lambda: stack.provider_records(path), timeout=60)
        assert [(r["payment_reference"], r["amount_minor"]) for r in posted] == [
            (payment["id"], 5_000)
        ]

        # the same request again answers the first; another finds nothing left
        again = await stack.api.post(url, json=BODY, headers=key)
        assert again.status_code in (201, 202)
        assert again.json()["refund_id"] == refund["id"]
        other = await stack.api.post(url, json=BODY, headers={"Idempotency-Key": "refund-2"})
        assert other.status_code == 409
        assert other.headers["content-type"].startswith("application/problem+json")
        assert other.json()["code"] == "nothing_to_refund"
        made = await stack.provider_records(f"/payments/v1/payments/{payment['id']}/refunds")
        assert len(made) == 1
        assert len(await stack.provider_records("/accounting/v1/refunds")) == 1

        audit = (await stack.invoice(invoice_id))["audit"]
        actions = [e["action"] for e in audit]
        assert actions.count("customer_credit.refund_requested") == 1
        assert actions.count("customer_credit.refunded") == 1
        assert actions.count("payment.refunded") == 1


async def test_refund_refusals_are_problem_documents(temporal: Client, sqlite_url: str) -> None:
    async with running_stack(temporal, sqlite_url) as stack:
        customer_id, _, credit_id, _ = await overpaid_credit(stack, "refusals@acme.test")
        base = f"/customers/{customer_id}/credit"
        unknown = await stack.api.post(f"{base}/ccr_nope/refund", json=BODY)
        assert (unknown.status_code, unknown.json()["code"]) == (404, "unknown_credit")
        nobody = await stack.api.post(f"/customers/cus_nope/credit/{credit_id}/refund", json=BODY)
        assert (nobody.status_code, nobody.json()["code"]) == (404, "unknown_customer")
        bad = await stack.api.post(f"{base}/{credit_id}/refund", json={"requested_by": "a"})
        assert bad.status_code == 422
        assert bad.headers["content-type"].startswith("application/problem+json")
        account = (await stack.api.get(base)).json()
        assert account["balances"] == {"GBP": 5_000}  # refused requests took nothing
