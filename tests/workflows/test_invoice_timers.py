"""Timers over days, on Temporal's time-skipping test server with the production constants:
an unpaid invoice becomes OVERDUE the day after its due date, and still closes when paid."""

from __future__ import annotations

from datetime import timedelta

from temporalio.testing import WorkflowEnvironment

from tests.e2e.test_lifecycle import customer_and_contract
from tests.support.stack import running_stack


async def test_unpaid_invoice_becomes_overdue_after_its_due_date_and_closes_when_paid(
    time_skipping: WorkflowEnvironment, sqlite_url: str
) -> None:
    async with running_stack(time_skipping.client, sqlite_url) as stack:
        customer, contract = await customer_and_contract(
            stack, email="late@acme.test", payment_terms_days=14
        )
        today = (await time_skipping.get_current_time()).date()  # the server's clock, skipped ahead
        response = await stack.api.post(
            "/invoices",
            json={
                "customer_id": customer["id"],
                "contract_id": contract["id"],
                "issue_date": today.isoformat(),
                "items": [{"rate_code": "senior", "quantity": "1"}],
            },
        )
        invoice_id = response.json()["invoice_id"]
        issued = await stack.wait_until_awaiting_payment(invoice_id)
        assert issued["invoice"]["due_date"] == (today + timedelta(days=14)).isoformat()

        await time_skipping.sleep(timedelta(days=13))
        still_due = await stack.invoice(invoice_id)
        assert still_due["live"]["status"] == "ISSUED"

        await time_skipping.sleep(timedelta(days=3))  # past 00:00 UTC on the day after the due date
        overdue = await stack.wait_for_status(invoice_id, "OVERDUE")
        assert overdue["invoice"]["status"] == "OVERDUE"
        assert "invoice.overdue" in [event["action"] for event in overdue["audit"]]

        link_id = overdue["live"]["payment_url"].rstrip("/").rsplit("/", 1)[-1]
        await stack.pay(link_id, 4400)
        partly = await stack.wait_for(lambda: _status_with_paid(stack, invoice_id, 4400))
        assert partly["live"]["status"] == "OVERDUE"  # partly paid is still overdue

        await time_skipping.sleep(timedelta(days=30))  # bounded re-checks while overdue
        await stack.pay(link_id, 10000)
        closed = await stack.wait_for_status(invoice_id, "CLOSED")
        assert closed["live"]["paid_minor"] == 14400


async def _status_with_paid(stack, invoice_id: str, paid: int):  # type: ignore[no-untyped-def]
    body = await stack.invoice(invoice_id)
    return body if body["live"]["paid_minor"] == paid else None


async def test_invoice_paid_before_its_due_date_is_never_overdue(
    time_skipping: WorkflowEnvironment, sqlite_url: str
) -> None:
    async with running_stack(time_skipping.client, sqlite_url) as stack:
        customer, contract = await customer_and_contract(
            stack, email="prompt@acme.test", payment_terms_days=30
        )
        today = (await time_skipping.get_current_time()).date()
        response = await stack.api.post(
            "/invoices",
            json={
                "customer_id": customer["id"],
                "contract_id": contract["id"],
                "issue_date": today.isoformat(),
                "items": [{"rate_code": "senior", "quantity": "1"}],
            },
        )
        invoice_id = response.json()["invoice_id"]
        issued = await stack.wait_until_awaiting_payment(invoice_id)
        # 28.5 days: before the due date, and half a day away from the daily payment
        # check's timer (whole days from issue), which the time-skipping server cannot
        # have fire in the same instant as the payment's signal cancels it
        await time_skipping.sleep(timedelta(days=28, hours=12))
        link_id = issued["live"]["payment_url"].rstrip("/").rsplit("/", 1)[-1]
        await stack.pay(link_id, 14400)
        closed = await stack.wait_for_status(invoice_id, "CLOSED")
        actions = [event["action"] for event in closed["audit"]]
        assert "invoice.overdue" not in actions
        assert (
            actions.index("invoice.generated")
            < actions.index("payment.recorded")
            < actions.index("invoice.closed")
        )
