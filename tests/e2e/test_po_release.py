"""What an invoice consumed of its PO goes back when it is cancelled or voided, end to end
over the API: `GET /purchase-orders/{id}` shows the remaining quantity and amount restored.

A void comes from a dispute's adjusted-invoice remedy: the replacement's process starts,
then the original is voided, and the two run side by side. Whichever of the replacement's
match and the original's void comes first, the replacement may take what the original
consumed, and the PO ends with exactly the replacement's consumption. An adjusted invoice
billing what its original billed is no possible duplicate of it.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlmodel import col, select
from temporalio import activity
from temporalio.client import Client

from activities.disputes import DisputeActivities
from schemas.dispute_flow import VoidInvoiceInput
from schemas.exception_tables import InvoiceExceptionRow, InvoiceMatchRow
from schemas.po_tables import POConsumptionRow
from store.db import SessionFactory
from tests.e2e.test_lifecycle import customer_and_contract
from tests.e2e.test_po_matching import invoice, purchase_order
from tests.support.approvals import approver, group, rule, wait_for_live
from tests.support.dispute_flow import (
    act,
    customer_answers,
    dispute_groups,
    open_dispute,
    wait_for_dispute,
)
from tests.support.stack import Stack, running_stack


async def po_line(stack: Stack, po_id: str) -> dict[str, Any]:
    """The PO's one line and the PO's invoiced amount, as the API shows them."""
    response = await stack.api.get(f"/purchase-orders/{po_id}")
    assert response.status_code == 200, response.text
    body = response.json()
    [line] = body["lines"]
    return {
        "invoiced": line["invoiced"],
        "remaining": line["remaining"],
        "invoiced_minor": line["invoiced_minor"],
        "po_invoiced_minor": body["invoiced_minor"],
    }


def consumed(hours: str, amount_minor: int) -> dict[str, Any]:
    remaining = 10 - int(hours)
    return {
        "invoiced": hours,
        "remaining": str(remaining),
        "invoiced_minor": amount_minor,
        "po_invoiced_minor": amount_minor,
    }


async def consumption_rows(stack: Stack, invoice_id: str) -> list[tuple[int, bool]]:
    """The invoice's consumption rows: (quantity_e4, released)."""
    async with stack.sessions() as session:
        rows = await session.exec(
            select(POConsumptionRow)
            .where(POConsumptionRow.invoice_id == invoice_id)
            .order_by(col(POConsumptionRow.line_number))
        )
        return [(row.quantity_e4, row.released_at is not None) for row in rows]


async def _matched(sessions: SessionFactory, invoice_id: str) -> bool:
    """The invoice has been through its match: an outcome kept, or an exception opened."""
    async with sessions() as session:
        if await session.get(InvoiceMatchRow, invoice_id) is not None:
            return True
        rows = await session.exec(
            select(InvoiceExceptionRow.id).where(InvoiceExceptionRow.invoice_id == invoice_id)
        )
        return rows.first() is not None


def actions(body: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [event for event in body["audit"] if event["action"] == action]


async def test_a_cancelled_invoice_gives_its_po_quantity_and_amount_back(
    temporal: Client, sqlite_url: str
) -> None:
    """Matched (consumed) and waiting for approval, then cancelled: the PO's remaining
    quantity and amount are back (an issued invoice cannot be cancelled, only voided)."""
    async with running_stack(temporal, sqlite_url) as stack:
        await approver(stack, "alice")
        finance = await group(stack, "Finance", ["alice"])
        await rule(stack, [{"group_id": finance}])
        customer, contract = await customer_and_contract(stack, email="cancel@acme.test")
        po = await purchase_order(stack, customer["id"])
        assert await po_line(stack, po["id"]) == consumed("0", 0)
        invoice_id = await invoice(
            stack,
            customer,
            contract,
            po_number="PO-1001",
            items=[{"rate_code": "senior", "quantity": "9"}],  # 1,080.00: needs approval
        )
        await wait_for_live(stack, invoice_id, status="AWAITING_APPROVAL")
        assert await po_line(stack, po["id"]) == consumed("9", 108000)

        cancelled = await stack.api.post(
            f"/invoices/{invoice_id}/cancel",
            json={"reason": "the customer withdrew the order", "cancelled_by": "ann"},
        )
        assert cancelled.status_code == 200, cancelled.text
        body = await stack.wait_for_status(invoice_id, "CANCELLED")
        assert await po_line(stack, po["id"]) == consumed("0", 0)
        assert await consumption_rows(stack, invoice_id) == [(90000, True)]
        assert len(actions(body, "purchase_order.released")) == 1
        assert await stack.mailbox("cancel@acme.test") == []


async def _adjusted_invoice_on_a_used_up_po(
    stack: Stack, email: str, *, hours: str = "7", description: str = "Senior consultant"
) -> tuple[dict[str, Any], str, str]:
    """A customer's PO of 10 senior hours, all billed by an issued invoice, then disputed
    and replaced by an adjusted invoice of `hours` hours the customer accepts. The PO, the
    original's and the replacement's ids."""
    await dispute_groups(stack)
    customer, contract = await customer_and_contract(stack, email=email)
    po = await purchase_order(stack, customer["id"])
    original_id = await invoice(
        stack,
        customer,
        contract,
        po_number="PO-1001",
        items=[{"rate_code": "senior", "quantity": "10"}],
    )
    issued = await stack.wait_until_awaiting_payment(original_id)
    assert issued["live"]["match"]["outcome"] == "MATCHED"
    assert await po_line(stack, po["id"]) == consumed("10", 120000)  # used up

    opened = await open_dispute(stack, original_id, lines=[1], reason="quantity")
    dispute_id = opened["dispute_id"]
    await wait_for_dispute(stack, dispute_id, "open")
    corrected = {
        "description": description,
        "item_code": "senior",
        "quantity": hours,
        "unit": "hour",
        "unit_price_minor": 12000,
    }
    await act(
        stack,
        dispute_id,
        "remedies",
        person_id="ann",
        kind="adjusted_invoice",
        lines=[corrected],
        note="Seven hours were signed off, not ten",
    )
    await wait_for_dispute(stack, dispute_id, "remedy_proposed")
    await customer_answers(stack, dispute_id, accept=True)
    voided = await stack.wait_for_status(original_id, "VOID")
    replacement_id = voided["invoice"]["replaced_by_invoice_id"]
    assert replacement_id
    return po, original_id, replacement_id


async def _assert_the_po_holds_only_the_replacement(
    stack: Stack, po: dict[str, Any], original_id: str, replacement_id: str, hours: str = "7"
) -> None:
    async def settled() -> dict[str, Any] | None:
        body = await stack.invoice(replacement_id)
        live = body.get("live") or {}
        waits = live.get("waiting_for") == "payment" and body["invoice"].get("payment_url")
        return body if waits or live.get("status") == "EXCEPTION" else None

    replacement = await stack.wait_for(settled)
    match = replacement["live"]["match"]
    assert replacement["live"]["status"] != "EXCEPTION", match["reasons"]
    assert match["outcome"] == "MATCHED", match
    assert (await stack.invoice(replacement_id))["match"]["po_id"] == po["id"]
    # the original's 10 hours given back, the replacement's taken (7: 3 left)
    assert await po_line(stack, po["id"]) == consumed(hours, int(hours) * 12000)
    assert await consumption_rows(stack, original_id) == [(100000, True)]
    assert await consumption_rows(stack, replacement_id) == [(int(hours) * 10000, False)]
    original = await stack.invoice(original_id)
    assert len(actions(original, "purchase_order.released")) == 1  # released once
    assert original["invoice"]["balance_minor"] == 0


async def test_a_void_through_an_adjusted_invoice_gives_the_po_to_the_replacement(
    temporal: Client, sqlite_url: str
) -> None:
    async with running_stack(temporal, sqlite_url) as stack:
        po, original_id, replacement_id = await _adjusted_invoice_on_a_used_up_po(
            stack, "void@acme.test"
        )
        await _assert_the_po_holds_only_the_replacement(stack, po, original_id, replacement_id)


async def test_a_replacement_matched_before_its_original_is_voided_takes_its_consumption(
    temporal: Client, sqlite_url: str, monkeypatch: Any
) -> None:
    """The order the two processes may also take: the replacement matched (and its PO
    consumed) while the original, not voided yet, still holds the whole PO. It is no
    QUANTITY_OVER_ORDERED exception, and the void then gives back nothing more."""
    original_void = DisputeActivities.void_invoice
    seen: dict[str, bool] = {}

    @activity.defn(name="disputes.void_invoice")
    async def void_after_the_replacement_matched(  # type: ignore[no-untyped-def]
        self, data: VoidInvoiceInput
    ) -> None:
        for _ in range(150):  # at most 15 s, then void anyway (and the test fails)
            if await _matched(self._sessions, data.replaced_by_invoice_id):
                seen["matched_first"] = True
                break
            await asyncio.sleep(0.1)
        await original_void(self, data)

    monkeypatch.setattr(DisputeActivities, "void_invoice", void_after_the_replacement_matched)
    async with running_stack(temporal, sqlite_url) as stack:
        po, original_id, replacement_id = await _adjusted_invoice_on_a_used_up_po(
            stack, "early@acme.test"
        )
        assert seen.get("matched_first"), "the replacement was not matched before the void"
        await _assert_the_po_holds_only_the_replacement(stack, po, original_id, replacement_id)


async def test_an_adjusted_invoice_billing_what_its_original_billed_is_no_duplicate_of_it(
    temporal: Client, sqlite_url: str
) -> None:
    """The adjustment corrects only the line's wording: the same item, hours, price and
    total on the same PO as the original, which the duplicate check would otherwise hold
    as POSSIBLE_DUPLICATE. The replacement is matched and goes out in its original's place."""
    async with running_stack(temporal, sqlite_url) as stack:
        po, original_id, replacement_id = await _adjusted_invoice_on_a_used_up_po(
            stack, "reworded@acme.test", hours="10", description="Senior consultant, October"
        )
        await _assert_the_po_holds_only_the_replacement(
            stack, po, original_id, replacement_id, hours="10"
        )
        replacement = await stack.invoice(replacement_id)
        original = await stack.invoice(original_id)
        assert replacement["invoice"]["total_minor"] == original["invoice"]["total_minor"]
        assert replacement["invoice"]["number"] != original["invoice"]["number"]
