"""Cancel before issue, resend after, and a receipt for every payment: end to end on a real
Temporal server, every effect counted in the sandbox's mailbox."""

from __future__ import annotations

import httpx
from temporalio.client import Client

from tests.api.test_parties_api import RFC3339_WITH_OFFSET
from tests.e2e.test_approval_links import big_invoice, finance_policy
from tests.e2e.test_lifecycle import customer_and_contract
from tests.support.approvals import wait_for_links, wait_for_live
from tests.support.stack import Stack, running_stack


def subjects(mail: list[dict]) -> list[str]:  # type: ignore[type-arg]
    return [m["subject"] for m in mail]


def link_id(body: dict) -> str:  # type: ignore[type-arg]
    return str(body["live"]["payment_url"]).rstrip("/").rsplit("/", 1)[-1]


async def issued_invoice(stack: Stack, email: str) -> tuple[str, dict]:  # type: ignore[type-arg]
    customer, contract = await customer_and_contract(stack, email=email)
    response = await stack.api.post(
        "/invoices",
        json={
            "customer_id": customer["id"],
            "contract_id": contract["id"],
            "items": [{"rate_code": "senior", "quantity": "2"}],
        },
    )
    assert response.status_code == 202, response.text
    invoice_id = response.json()["invoice_id"]
    return invoice_id, await stack.wait_until_awaiting_payment(invoice_id)


async def test_an_invoice_awaiting_approval_is_cancelled_and_its_links_stop_working(
    temporal: Client, sqlite_url: str
) -> None:
    async with running_stack(temporal, sqlite_url) as stack:
        await finance_policy(stack)
        invoice_id = await big_invoice(stack, "cancel@acme.test")
        [link] = await wait_for_links(stack, "alice")
        await wait_for_live(stack, invoice_id, status="AWAITING_APPROVAL")

        body = {"reason": "sent to the wrong entity", "cancelled_by": "dana"}
        headers = {"Idempotency-Key": "cancel-1"}
        cancelled = await stack.api.post(
            f"/invoices/{invoice_id}/cancel", json=body, headers=headers
        )
        assert cancelled.status_code == 200, cancelled.text
        assert cancelled.json() == {"invoice_id": invoice_id, "status": "CANCELLED"}
        again = await stack.api.post(f"/invoices/{invoice_id}/cancel", json=body, headers=headers)
        assert again.json() == cancelled.json()
        assert again.headers.get("Idempotent-Replayed") == "true"

        state = await stack.wait_for_status(invoice_id, "CANCELLED")
        assert state["invoice"]["number"]  # the number stays allocated: the series is gapless
        assert state["invoice"]["balance_minor"] == state["invoice"]["total_minor"]
        assert state["live"]["balance_minor"] == 0 and state["live"]["waiting_for"] is None
        [event] = [e for e in state["audit"] if e["action"] == "invoice.cancelled"]
        assert event["actor"] == "dana" and event["data"]["note"] == "sent to the wrong entity"

        # a later cancel is refused, and the approver's link decides nothing any more
        late = await stack.api.post(f"/invoices/{invoice_id}/cancel", json=body)
        assert late.status_code == 409 and late.json()["code"] == "already_cancelled", late.text
        async with httpx.AsyncClient() as browser:
            click = await browser.post(
                link, data={"decision": "approve"}, headers={"Accept": "application/json"}
            )
        assert click.status_code == 409 and click.json()["code"] == "chain_closed"
        assert await stack.mailbox("cancel@acme.test") == []  # the customer never got it


async def test_resend_sends_the_invoice_again_once_per_request_and_is_refused_once_paid(
    temporal: Client, sqlite_url: str
) -> None:
    async with running_stack(temporal, sqlite_url) as stack:
        invoice_id, body = await issued_invoice(stack, "resend@acme.test")
        number = body["invoice"]["number"]
        refused = await stack.api.post(
            f"/invoices/{invoice_id}/cancel", json={"reason": "x", "cancelled_by": "dana"}
        )
        assert refused.status_code == 409 and refused.json()["code"] == "not_cancellable"

        ask = {"requested_by": "dana"}
        first = await stack.api.post(
            f"/invoices/{invoice_id}/resend", json=ask, headers={"Idempotency-Key": "r1"}
        )
        assert first.status_code == 200, first.text
        assert first.json()["recipient"] == "resend@acme.test"
        repeat = await stack.api.post(
            f"/invoices/{invoice_id}/resend", json=ask, headers={"Idempotency-Key": "r1"}
        )
        assert repeat.json() == first.json()
        other = await stack.api.post(
            f"/invoices/{invoice_id}/resend", json={**ask, "to": "ap@acme.test"}
        )
        assert other.status_code == 200, other.text
        mail = await stack.mailbox("resend@acme.test")
        assert len(mail) == 2 and all(number in s for s in subjects(mail))
        assert len(await stack.mailbox("ap@acme.test")) == 1
        record = await stack.invoice(invoice_id)
        resent = [e for e in record["audit"] if e["action"] == "invoice.resent"]
        assert [e["actor"] for e in resent] == ["dana", "dana"]
        assert sorted(d["purpose"] for d in record["deliveries"]) == ["issue", "resend", "resend"]

        await stack.pay(link_id(body), record["invoice"]["total_minor"])
        await stack.wait_for_status(invoice_id, "CLOSED")
        closed = await stack.api.post(f"/invoices/{invoice_id}/resend", json=ask)
        assert closed.status_code == 409 and closed.json()["code"] == "not_resendable"
        missing = await stack.api.post("/invoices/inv_nothing/resend", json=ask)
        assert missing.status_code == 404


async def test_each_payment_sends_one_receipt_with_the_amount_and_the_balance(
    temporal: Client, sqlite_url: str
) -> None:
    async with running_stack(temporal, sqlite_url) as stack:
        invoice_id, body = await issued_invoice(stack, "receipt@acme.test")
        link, total = link_id(body), body["invoice"]["total_minor"]
        assert total == 28_800  # 2 x 120.00 + 20 % VAT
        await stack.pay(link, 10_000)

        async def receipts(count: int) -> list[dict] | None:  # type: ignore[type-arg]
            mail = await stack.mailbox("receipt@acme.test")
            found = [m for m in mail if m["subject"].startswith("Payment received")]
            return found if len(found) >= count else None

        [part] = await stack.wait_for(lambda: receipts(1))
        assert "£100.00" in part["subject"]
        assert "£188.00" in part["text"]  # the balance after it
        await stack.pay(link, total - 10_000)
        await stack.wait_for_status(invoice_id, "CLOSED")
        found = await stack.wait_for(lambda: receipts(2))
        assert len(found) == 2
        assert "paid in full" in found[1]["text"]
        record = await stack.invoice(invoice_id)
        assert [d["purpose"] for d in record["deliveries"]].count("receipt") == 2
        sent = [e for e in record["audit"] if e["action"] == "invoice.receipt_sent"]
        assert len(sent) == 2
        # every time in the record carries its offset (RFC 3339), on SQLite too
        times = [
            record["invoice"]["created_at"],
            record["invoice"]["closed_at"],
            *(p["paid_at"] for p in record["payments"]),
            *(p["recorded_at"] for p in record["payments"]),
            *(d["sent_at"] for d in record["deliveries"]),
            *(e["at"] for e in record["audit"]),
        ]
        assert times and all(RFC3339_WITH_OFFSET.match(t) for t in times), times
