"""A payment plan agreed in a dispute, on the time-skipping server: its instalments replace
the invoice's due date, each is collected and goes overdue on its own."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from temporalio.testing import WorkflowEnvironment

from tests.support.dispute_flow import (
    act,
    customer_answers,
    dispute_groups,
    issued_invoice,
    open_dispute,
    wait_for_dispute,
)
from tests.support.stack import Stack, running_stack

DAY = 24 * 3600


def link_id(body: dict[str, Any]) -> str:
    return str(body["live"]["payment_url"]).rstrip("/").rsplit("/", 1)[-1]


async def live_status(stack: Stack, invoice_id: str, status: str) -> dict[str, Any]:
    async def reached() -> dict[str, Any] | None:
        body = await stack.invoice(invoice_id)
        return body if (body.get("live") or {}).get("status") == status else None

    return await stack.wait_for(reached)  # type: ignore[no-any-return]


async def instalments(stack: Stack, dispute_id: str) -> list[tuple[int, int, str]]:
    response = await stack.api.get(f"/disputes/{dispute_id}")
    response.raise_for_status()
    return [(i["sequence"], i["paid_minor"], i["status"]) for i in response.json()["instalments"]]


async def test_a_payment_plan_s_instalment_goes_overdue_on_its_own(
    time_skipping: WorkflowEnvironment, sqlite_url: str
) -> None:
    async with running_stack(time_skipping.client, sqlite_url) as stack:
        await dispute_groups(stack)
        invoice_id, issued = await issued_invoice(stack, "ap@plan.test")
        total = issued["invoice"]["total_minor"]
        opened = await open_dispute(stack, invoice_id, reason="other")  # the whole invoice
        dispute_id = opened["dispute_id"]
        assert opened["amount_minor"] == total
        await wait_for_dispute(stack, dispute_id, "open")

        today = date.today()
        first, second = total // 2, total - total // 2
        plan = [
            {"due_date": (today + timedelta(days=10)).isoformat(), "amount_minor": first},
            {"due_date": (today + timedelta(days=45)).isoformat(), "amount_minor": second},
        ]
        wrong = [{**plan[0], "amount_minor": first - 1}, plan[1]]
        refused = await stack.api.post(
            f"/disputes/{dispute_id}/remedies",
            json={"person_id": "ann", "kind": "payment_plan", "instalments": wrong, "note": "x"},
        )
        assert refused.status_code == 422, refused.text
        assert refused.json()["code"] == "plan_sum_mismatch"
        await act(
            stack,
            dispute_id,
            "remedies",
            person_id="ann",
            kind="payment_plan",
            instalments=plan,
            note="Two instalments, as agreed on the phone",
        )
        await wait_for_dispute(stack, dispute_id, "remedy_proposed")
        await customer_answers(stack, dispute_id, accept=True)
        await wait_for_dispute(stack, dispute_id, "resolved")
        body = await live_status(stack, invoice_id, "ISSUED")
        assert body["live"]["balance_minor"] == total

        await stack.pay(link_id(body), first)  # the first instalment, on time
        await live_status(stack, invoice_id, "PARTIALLY_PAID")
        assert await stack.wait_for(
            lambda: _expect(instalments(stack, dispute_id), [(1, first, "paid"), (2, 0, "due")])
        )

        # past the invoice's own due date (30 days): the plan's second date rules, not overdue
        await time_skipping.sleep(35 * DAY)
        assert (await stack.invoice(invoice_id))["live"]["status"] == "PARTIALLY_PAID"

        # the day after the second instalment's date: overdue, that instalment marked
        await time_skipping.sleep(12 * DAY)
        await live_status(stack, invoice_id, "OVERDUE")
        assert await stack.wait_for(
            lambda: _expect(instalments(stack, dispute_id), [(1, first, "paid"), (2, 0, "overdue")])
        )
        assert (await stack.invoice(invoice_id))["invoice"]["status"] == "OVERDUE"

        await stack.pay(link_id(body), second)
        await stack.wait_for_status(invoice_id, "CLOSED")
        assert await instalments(stack, dispute_id) == [(1, first, "paid"), (2, second, "paid")]


async def _expect(got: Any, expected: list[tuple[int, int, str]]) -> bool:
    return await got == expected  # type: ignore[no-any-return]


async def test_an_adjusted_invoice_voids_the_original_and_reissues_it_linked(
    time_skipping: WorkflowEnvironment, sqlite_url: str
) -> None:
    async with running_stack(time_skipping.client, sqlite_url) as stack:
        await dispute_groups(stack)
        invoice_id, issued = await issued_invoice(stack, "ap@adjusted.test")
        number = issued["invoice"]["number"]
        opened = await open_dispute(stack, invoice_id, lines=[1], reason="quantity")
        dispute_id = opened["dispute_id"]
        await wait_for_dispute(stack, dispute_id, "open")
        corrected = [
            {
                "description": "Senior consultant",
                "quantity": "7",
                "unit": "hour",
                "unit_price_minor": 12000,
            },
        ]
        await act(
            stack,
            dispute_id,
            "remedies",
            person_id="ann",
            kind="adjusted_invoice",
            lines=corrected,
            note="Seven hours were signed off, not ten",
        )
        await wait_for_dispute(stack, dispute_id, "remedy_proposed")
        await customer_answers(stack, dispute_id, accept=True)

        original = await stack.wait_for_status(invoice_id, "VOID")
        replacement_id = original["invoice"]["replaced_by_invoice_id"]
        assert replacement_id and original["invoice"]["voided_at"]
        assert original["invoice"]["number"] == number and original["invoice"]["balance_minor"] == 0
        replacement = await stack.wait_until_awaiting_payment(replacement_id)
        assert replacement["invoice"]["replaces_invoice_id"] == invoice_id
        assert replacement["invoice"]["number"] not in (None, number)
        assert replacement["invoice"]["subtotal_minor"] == 7 * 12000

        async def posted() -> tuple[list, list] | None:
            voids = await stack.provider_records("/accounting/v1/voids")
            invoices = await stack.provider_records("/accounting/v1/invoices")
            mine = [v for v in voids if v["invoice_reference"] == invoice_id]
            new = [i for i in invoices if i["reference"] == replacement_id]
            return (mine, new) if mine and new else None

        voids, new = await stack.wait_for(posted)
        assert len(voids) == 1 and voids[0]["replaced_by_reference"] == replacement_id
        assert len(new) == 1
        # the replacement is delivered like any invoice: its own e-mail to the customer
        mails = await stack.mailbox("ap@adjusted.test")
        assert any(replacement["invoice"]["number"] in m["subject"] for m in mails)
