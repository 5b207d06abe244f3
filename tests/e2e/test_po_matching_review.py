"""The match stage under the cases a review found: an accepted variance consumes what it
bills, a correction of the PO number alone, corrections in approval moving the
consumption, a cancel accepted while the stage matches again or just before the invoice
is issued, and an invoice accepted on a closed PO."""

from __future__ import annotations

import asyncio
from typing import Any

from temporalio import activity
from temporalio.client import Client, WorkflowUpdateRPCTimeoutOrCancelledError, WorkflowUpdateStage

from activities.approval import ApprovalActivities
from activities.matching import MatchingActivities
from schemas.approval import ApprovalContext, CorrectInput, DecideInput, LoadApprovalContextInput
from schemas.matching import LoadMatchInput, MatchContext, ResolveExceptionInput
from tests.e2e.test_lifecycle import customer_and_contract
from tests.e2e.test_po_matching import (
    exception_groups,
    invoice,
    price_variance,
    purchase_order,
)
from tests.support.approvals import approver, group, rule, wait_for_live
from tests.support.stack import running_stack


async def _po_lines(stack: Any, po_id: str) -> list[dict[str, Any]]:
    return (await stack.api.get(f"/purchase-orders/{po_id}")).json()["lines"]  # type: ignore[no-any-return]


async def test_an_accepted_variance_consumes_what_the_invoice_bills_of_its_po(
    temporal: Client, sqlite_url: str
) -> None:
    """An accepted variance consumes what the invoice bills of its PO (an exception's
    result takes nothing by itself)."""
    async with running_stack(temporal, sqlite_url) as stack:
        po, invoice_id = await price_variance(stack, "acc@acme.test")
        await wait_for_live(stack, invoice_id, status="EXCEPTION")
        handle = stack.temporal.get_workflow_handle(f"invoice-{invoice_id}")
        await handle.execute_update(
            "resolve_exception",
            ResolveExceptionInput(
                person_id="olivia", resolution="accept_variance", justification="agreed"
            ),
        )
        await stack.wait_until_awaiting_payment(invoice_id)
        assert (await _po_lines(stack, po["id"]))[0]["invoiced"] == "2"


async def test_a_correction_of_only_the_po_number_is_applied(
    temporal: Client, sqlite_url: str
) -> None:
    """A correction of the PO number alone (what a missing PO asks for) keeps the lines
    and is matched again."""
    async with running_stack(temporal, sqlite_url) as stack:
        await exception_groups(stack)
        customer, contract = await customer_and_contract(
            stack, email="fixpo@acme.test", po_required=True
        )
        await purchase_order(stack, customer["id"])
        invoice_id = await invoice(
            stack, customer, contract, items=[{"rate_code": "senior", "quantity": "1"}]
        )
        await wait_for_live(stack, invoice_id, status="EXCEPTION")
        handle = stack.temporal.get_workflow_handle(f"invoice-{invoice_id}")
        await handle.execute_update(
            "resolve_exception",
            ResolveExceptionInput(person_id="olivia", resolution="correct", po_number="PO-1001"),
        )
        await asyncio.sleep(1)
        live = (await stack.invoice(invoice_id))["live"]
        assert live["match"]["correction_refused"] is None, live["match"]
        await stack.wait_until_awaiting_payment(invoice_id)


async def test_a_correction_in_approval_moves_the_po_consumption(
    temporal: Client, sqlite_url: str
) -> None:
    """A correction after approval sent the invoice back (fewer hours, another PO) gives
    back the first version's consumption and consumes the second PO."""
    async with running_stack(temporal, sqlite_url) as stack:
        await approver(stack, "alice")
        finance = await group(stack, "Finance", ["alice"])
        await rule(stack, [{"group_id": finance}])
        customer, contract = await customer_and_contract(stack, email="appr@acme.test")
        first = await purchase_order(stack, customer["id"])
        second = await purchase_order(stack, customer["id"], number="PO-2002")
        invoice_id = await invoice(
            stack,
            customer,
            contract,
            po_number="PO-1001",
            items=[{"rate_code": "senior", "quantity": "9"}],  # 1,080.00: needs approval
        )
        await wait_for_live(stack, invoice_id, status="AWAITING_APPROVAL")
        assert (await _po_lines(stack, first["id"]))[0]["invoiced"] == "9"
        handle = stack.temporal.get_workflow_handle(f"invoice-{invoice_id}")
        await handle.execute_update(
            "decide", DecideInput(operator="ops", decision="reject", reason="wrong PO")
        )
        await wait_for_live(stack, invoice_id, status="CHANGES_REQUESTED")
        await handle.execute_update(
            "correct",
            CorrectInput(
                items=[{"rate_code": "senior", "quantity": "2"}],  # type: ignore[list-item]
                changed_by="ann",
                po_number="PO-2002",
            ),
        )
        await stack.wait_until_awaiting_payment(invoice_id)
        assert (await _po_lines(stack, first["id"]))[0]["invoiced"] == "0"
        assert (await _po_lines(stack, second["id"]))[0]["invoiced"] == "2"


async def test_a_cancel_accepted_while_a_po_change_rematches_cancels_the_invoice(
    temporal: Client, sqlite_url: str, monkeypatch: Any
) -> None:
    """A cancel accepted while a PO change has the stage matching again (a slow load,
    longer than the workflow-task heartbeat) wins, and its update gets its answer."""
    original = MatchingActivities.load
    calls = {"n": 0}

    @activity.defn(name="matching.load")
    async def slow_second_load(self, data: LoadMatchInput) -> MatchContext:  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 2:
            await asyncio.sleep(12)
        return await original(self, data)

    monkeypatch.setattr(MatchingActivities, "load", slow_second_load)
    async with running_stack(temporal, sqlite_url) as stack:
        await exception_groups(stack)
        customer, contract = await customer_and_contract(stack, email="race@acme.test")
        po = await purchase_order(stack, customer["id"], match_mode="3-way")
        invoice_id = await invoice(
            stack,
            customer,
            contract,
            po_number="PO-1001",
            items=[{"rate_code": "senior", "quantity": "3"}],
        )
        await wait_for_live(stack, invoice_id, status="EXCEPTION")
        receipt = await stack.api.post(
            f"/purchase-orders/{po['id']}/receipts",
            json={
                "kind": "timesheet",
                "reference": "TS-1",
                "delivered_on": "2026-01-05",
                "lines": [{"line_number": 1, "quantity": "3"}],
            },
        )
        assert receipt.status_code == 201, receipt.text
        await stack.wait_for(lambda: _at_least(calls, 2))
        # sent before the workflow-task heartbeat (8 s), delivered with it: mid re-match
        await asyncio.sleep(3)
        handle = stack.temporal.get_workflow_handle(f"invoice-{invoice_id}")
        # accepted: the validator let it through (no exception raised here)
        update = await handle.start_update(
            "resolve_exception",
            ResolveExceptionInput(
                person_id="olivia", resolution="cancel", justification="withdrawn"
            ),
            wait_for_stage=WorkflowUpdateStage.ACCEPTED,
        )
        await stack.wait_for(lambda: _settled(stack, invoice_id), timeout=30)
        live = (await stack.invoice(invoice_id))["live"]
        try:
            answered: Any = await asyncio.wait_for(update.result(), timeout=5)
        except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError):
            answered = "the update never completed"
        assert live["status"] == "CANCELLED", (live["status"], live["waiting_for"], answered)


async def _at_least(calls: dict[str, int], n: int) -> bool:
    return calls["n"] >= n


async def _settled(stack: Any, invoice_id: str) -> bool:
    live = (await stack.invoice(invoice_id)).get("live") or {}
    return live.get("status") in ("CANCELLED", "ISSUED") or live.get("waiting_for") == "payment"


async def test_accepting_an_invoice_on_a_closed_po_settles_its_exception(
    temporal: Client, sqlite_url: str
) -> None:
    """Accepting the variance of an invoice on a closed PO settles its exception: the
    invoice goes on, and no second exception opens over the first."""
    async with running_stack(temporal, sqlite_url) as stack:
        await exception_groups(stack)
        customer, contract = await customer_and_contract(stack, email="closed@acme.test")
        po = await purchase_order(stack, customer["id"])
        closed = await stack.api.post(
            f"/purchase-orders/{po['id']}/amendments", json={"changed_by": "x", "status": "closed"}
        )
        assert closed.status_code in (200, 201), closed.text
        invoice_id = await invoice(
            stack,
            customer,
            contract,
            po_number="PO-1001",
            items=[{"rate_code": "senior", "quantity": "2"}],
        )
        waiting = await wait_for_live(stack, invoice_id, status="EXCEPTION")
        assert [r["code"] for r in waiting["live"]["match"]["reasons"]] == ["PO_CLOSED"]
        handle = stack.temporal.get_workflow_handle(f"invoice-{invoice_id}")
        await handle.execute_update(
            "resolve_exception",
            ResolveExceptionInput(
                person_id="olivia", resolution="accept_variance", justification="agreed"
            ),
        )
        await asyncio.sleep(2)
        live = (await stack.invoice(invoice_id))["live"]
        queue = (await stack.api.get("/exceptions", params={"customer_id": customer["id"]})).json()
        still_open = [item["id"] for item in queue["items"]]
        assert live["status"] != "EXCEPTION" and still_open == [], (live["status"], still_open)


async def test_a_correction_in_approval_on_the_same_po_consumes_the_new_quantity(
    temporal: Client, sqlite_url: str
) -> None:
    """A correction in approval on the same PO consumes the corrected quantity again
    after giving back the first version's."""
    async with running_stack(temporal, sqlite_url) as stack:
        await approver(stack, "alice")
        finance = await group(stack, "Finance", ["alice"])
        await rule(stack, [{"group_id": finance}])
        customer, contract = await customer_and_contract(stack, email="same@acme.test")
        po = await purchase_order(stack, customer["id"])
        invoice_id = await invoice(
            stack,
            customer,
            contract,
            po_number="PO-1001",
            items=[{"rate_code": "senior", "quantity": "9"}],
        )
        await wait_for_live(stack, invoice_id, status="AWAITING_APPROVAL")
        handle = stack.temporal.get_workflow_handle(f"invoice-{invoice_id}")
        await handle.execute_update(
            "decide", DecideInput(operator="ops", decision="reject", reason="fewer hours")
        )
        await wait_for_live(stack, invoice_id, status="CHANGES_REQUESTED")
        await handle.execute_update(
            "correct",
            CorrectInput(items=[{"rate_code": "senior", "quantity": "2"}], changed_by="ann"),  # type: ignore[list-item]
        )
        await stack.wait_until_awaiting_payment(invoice_id)
        assert (await _po_lines(stack, po["id"]))[0]["invoiced"] == "2"


async def test_a_cancel_accepted_between_the_match_and_issue_cancels_the_invoice(
    temporal: Client, sqlite_url: str, monkeypatch: Any
) -> None:
    """A cancel accepted after a variance was accepted, before the invoice is issued,
    wins: the invoice is cancelled and never reaches the customer."""
    original = ApprovalActivities.load_context

    @activity.defn(name="approval.load_context")
    async def slow_load_context(self, data: LoadApprovalContextInput) -> ApprovalContext:  # type: ignore[no-untyped-def]
        await asyncio.sleep(12)
        return await original(self, data)

    monkeypatch.setattr(ApprovalActivities, "load_context", slow_load_context)
    async with running_stack(temporal, sqlite_url) as stack:
        _, invoice_id = await price_variance(stack, "late@acme.test")
        await stack.wait_for(lambda: _status(stack, invoice_id, "EXCEPTION"), timeout=30)
        handle = stack.temporal.get_workflow_handle(f"invoice-{invoice_id}")
        await handle.start_update(
            "resolve_exception",
            ResolveExceptionInput(
                person_id="olivia", resolution="accept_variance", justification="agreed"
            ),
            wait_for_stage=WorkflowUpdateStage.ACCEPTED,
        )
        await asyncio.sleep(3)  # the stage is in approval's slow load_context now
        await handle.start_update(
            "cancel",
            {"reason": "withdrawn", "cancelled_by": "ops"},
            wait_for_stage=WorkflowUpdateStage.ACCEPTED,
        )
        await stack.wait_for(lambda: _settled(stack, invoice_id), timeout=30)
        await asyncio.sleep(1)
        live = (await stack.invoice(invoice_id))["live"]
        mail = await stack.mailbox("late@acme.test")
        assert live["status"] == "CANCELLED" and mail == [], (live["status"], len(mail))


async def _status(stack: Any, invoice_id: str, status: str) -> bool:
    try:
        live = (await stack.invoice(invoice_id)).get("live") or {}
    except Exception:
        return False
    return live.get("status") == status
