"""Shared steps of the dispute tests: the ladder's groups, an issued invoice waiting for
payment, a dispute opened over the API, and the dispute workflow's live state."""

from __future__ import annotations

import uuid
from typing import Any

from schemas.dispute_flow import DisputeLive
from schemas.disputes import CustomerReply, DisputeActionResult
from tests.e2e.test_lifecycle import customer_and_contract
from tests.support.approvals import approver, group
from tests.support.stack import Stack
from workflows.dispute import DisputeWorkflow


async def dispute_groups(stack: Stack) -> None:
    """The default ladder's groups: the team (ann, then bob), senior finance (sam), the
    managers (fiona), who also approve large credit notes."""
    for person in ("ann", "bob", "sam", "fiona"):
        await approver(stack, person)
    await group(stack, "Accounts receivable", ["ann", "bob"])
    await group(stack, "Senior finance", ["sam"])
    await group(stack, "Finance managers", ["fiona"])


async def issued_invoice(
    stack: Stack, email: str, hours: str = "10", **customer: Any
) -> tuple[str, dict[str, Any]]:
    """An invoice of `hours` senior hours at 120.00 + 20% VAT, delivered and waiting for
    payment: its id and body (10 hours: 1,200.00 + 240.00 = 1,440.00)."""
    found, contract = await customer_and_contract(stack, email=email, **customer)
    response = await stack.api.post(
        "/invoices",
        json={
            "customer_id": found["id"],
            "contract_id": contract["id"],
            "items": [
                {"rate_code": "senior", "quantity": hours},
                {"rate_code": "training", "quantity": "1", "kind": "milestone"},
            ],
        },
    )
    assert response.status_code == 202, response.text
    invoice_id = response.json()["invoice_id"]
    return invoice_id, await stack.wait_until_awaiting_payment(invoice_id)


async def open_dispute(
    stack: Stack, invoice_id: str, key: str | None = None, **intake: Any
) -> dict[str, Any]:
    body = {"reason": "pricing", "description": "Hours billed at the wrong rate", **intake}
    response = await stack.api.post(
        f"/invoices/{invoice_id}/disputes",
        json=body,
        headers={"Idempotency-Key": key or uuid.uuid4().hex},
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def live(stack: Stack, dispute_id: str) -> DisputeLive:
    handle = stack.temporal.get_workflow_handle(f"dispute-{dispute_id}")
    return await handle.query(DisputeWorkflow.state)


async def wait_for_dispute(stack: Stack, dispute_id: str, status: str) -> DisputeLive:
    async def reached() -> DisputeLive | None:
        try:
            state = await live(stack, dispute_id)
        except Exception:  # not started yet
            return None
        if state.status.value != status:
            return None
        # "open" with its owner: the owner's task is waiting (a moment after the status)
        return state if status != "open" or state.task is not None else None

    return await stack.wait_for(reached)  # type: ignore[no-any-return]


async def customer_answers(
    stack: Stack, dispute_id: str, *, text: str = "", accept: bool | None = None
) -> DisputeActionResult:
    """The customer's answer as the portal sends it (the `customer_reply` update)."""
    reply = CustomerReply(request_id=uuid.uuid4().hex, text=text, accept=accept)
    handle = stack.temporal.get_workflow_handle(f"dispute-{dispute_id}")
    return await handle.execute_update(
        DisputeWorkflow.customer_reply, reply, id=f"reply:{reply.request_id}"
    )


async def act(stack: Stack, dispute_id: str, action: str, **body: Any) -> dict[str, Any]:
    response = await stack.api.post(f"/disputes/{dispute_id}/{action}", json=body)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]
