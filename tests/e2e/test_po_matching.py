"""PO matching end to end, over the API with the real SMTP catcher: an invoice that does
not match its PO waits in the exception queue and never reaches the customer until a
person resolves it or the PO changes; one that matches goes out as before."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from schemas import search_attributes as sa
from schemas.matching import ResolveExceptionInput
from tests.e2e.test_lifecycle import customer_and_contract
from tests.support.approvals import approver, group, wait_for_live
from tests.support.stack import Stack, running_stack


async def exception_groups(stack: Stack) -> None:
    """The default routing's groups: accounts receivable owns, finance managers escalate."""
    for person in ("olivia", "oscar", "fiona"):
        await approver(stack, person)
    await group(stack, "Accounts receivable", ["olivia", "oscar"])
    await group(stack, "Finance managers", ["fiona"])


async def purchase_order(
    stack: Stack, customer_id: str, number: str = "PO-1001", **extra: Any
) -> dict[str, Any]:
    body = {
        "customer_id": customer_id,
        "number": number,
        "currency": "GBP",
        "match_mode": "2-way",
        "lines": [
            {
                "line_number": 1,
                "item_code": "senior",
                "description": "Senior consultant",
                "quantity": "10",
                "unit": "hour",
                "unit_price_minor": 12000,
            }
        ],
        **extra,
    }
    response = await stack.api.post("/purchase-orders", json=body)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def invoice(stack: Stack, customer: dict, contract: dict, **body: Any) -> str:
    response = await stack.api.post(
        "/invoices",
        json={"customer_id": customer["id"], "contract_id": contract["id"], **body},
    )
    assert response.status_code == 202, response.text
    return response.json()["invoice_id"]  # type: ignore[no-any-return]


def cheap_rates() -> list[dict[str, Any]]:
    """The senior rate billed at 130.00 an hour: 10.00 over a PO at 120.00 (tolerance
    1% = 1.20 per unit), so a price variance."""
    return [{"code": "senior", "description": "Senior", "unit": "hour", "unit_price_minor": 13000}]


async def price_variance(stack: Stack, email: str) -> tuple[dict[str, Any], str]:
    """The exception groups, a customer billed 130.00 an hour against a PO at 120.00, and
    an invoice of 2 hours on it: a price variance. The PO and the invoice id."""
    await exception_groups(stack)
    customer, contract = await customer_and_contract(stack, email=email, rates=cheap_rates())
    po = await purchase_order(stack, customer["id"])
    invoice_id = await invoice(
        stack,
        customer,
        contract,
        po_number="PO-1001",
        items=[{"rate_code": "senior", "quantity": "2"}],
    )
    return po, invoice_id


async def history_length(stack: Stack, invoice_id: str) -> int:
    history = await stack.temporal.get_workflow_handle(f"invoice-{invoice_id}").fetch_history()
    return len(history.events)


async def test_a_matching_invoice_goes_out_and_consumes_its_po(
    temporal: Client, sqlite_url: str
) -> None:
    async with running_stack(temporal, sqlite_url) as stack:
        customer, contract = await customer_and_contract(stack, email="po@acme.test")
        po = await purchase_order(stack, customer["id"])
        invoice_id = await invoice(
            stack,
            customer,
            contract,
            po_number="PO-1001",
            items=[{"rate_code": "senior", "quantity": "4"}],
        )
        plain_id = await invoice(
            stack, customer, contract, items=[{"rate_code": "senior", "quantity": "4"}]
        )
        issued = await stack.wait_until_awaiting_payment(invoice_id)
        assert issued["live"]["match"]["outcome"] == "MATCHED"
        assert (await stack.invoice(invoice_id))["match"]["po_id"] == po["id"]
        await stack.wait_until_awaiting_payment(plain_id)
        assert (await stack.invoice(plain_id))["match"] is None
        assert len(await stack.mailbox("po@acme.test")) == 2
        lines = (await stack.api.get(f"/purchase-orders/{po['id']}")).json()["lines"]
        assert lines[0]["invoiced"] == "4"
        # matching costs its two database steps (markers), nothing more
        extra = await history_length(stack, invoice_id) - await history_length(stack, plain_id)
        assert 0 < extra <= 3


async def quiet_history(stack: Stack, invoice_id: str) -> int:
    """The history's length once nothing more is being added (the owner's e-mail sent,
    its activity completed), so that a refused update can be seen to add nothing."""

    async def settled() -> int | None:
        first = await history_length(stack, invoice_id)
        await asyncio.sleep(0.5)
        return first if await history_length(stack, invoice_id) == first else None

    return int(await stack.wait_for(settled))


async def written(stack: Stack, invoice_id: str) -> tuple[int, list[dict[str, Any]]]:
    """What the invoice's history and audit trail hold, once quiet: a refused request must
    leave both as they were."""
    return await quiet_history(stack, invoice_id), (await stack.invoice(invoice_id))["audit"]


async def test_a_price_variance_waits_for_its_owner_and_is_accepted_once(
    temporal: Client, sqlite_url: str
) -> None:
    async with running_stack(temporal, sqlite_url) as stack:
        _, invoice_id = await price_variance(stack, "variance@acme.test")
        waiting = await wait_for_live(stack, invoice_id, status="EXCEPTION")
        exception = waiting["live"]["match"]["exception"]
        assert [r["code"] for r in waiting["live"]["match"]["reasons"]] == ["PRICE_VARIANCE"]
        assert exception["owners"][0] == "Olivia"  # the group's first turn
        details = await wait_for_live(stack, invoice_id, status="EXCEPTION")
        waits = details["live"]["waiting_for"]
        # the current details: who owns it, when it escalates, which line failed and why
        assert "a decision from Olivia" in waits and "escalates at" in waits, waits
        assert "line 1" in waits and "unit price" in waits, waits
        owner_mail = await stack.wait_for(lambda: _mail(stack, "olivia@corp.test"))
        assert "/exception-review/" in owner_mail[0]["text"]
        assert "PRICE_VARIANCE" not in owner_mail[0]["subject"]
        assert await stack.mailbox("variance@acme.test") == []  # nothing to the customer

        handle = stack.temporal.get_workflow_handle(f"invoice-{invoice_id}")
        # someone outside the owner's group is refused, and nothing reaches history (once
        # the owner's notice activity has completed: the mail arrives before its event)
        before = await quiet_history(stack, invoice_id)
        refused = await _resolve(handle, "fiona", "accept_variance", "fine")
        assert refused == "not_your_task"
        assert await history_length(stack, invoice_id) == before

        # a link of an earlier exception of this invoice settles nothing
        with pytest.raises(WorkflowUpdateFailedError) as stale:
            await handle.execute_update(
                "resolve_exception",
                ResolveExceptionInput(
                    person_id="oscar",
                    exception_id=f"exc_{invoice_id}_0",
                    resolution="accept_variance",
                    justification="old link",
                ),
            )
        assert isinstance(stale.value.cause, ApplicationError)
        assert stale.value.cause.type == "task_closed"
        # oscar is in olivia's group: he may resolve it
        result = await handle.execute_update(
            "resolve_exception",
            ResolveExceptionInput(
                person_id="oscar", resolution="accept_variance", justification="rate agreed"
            ),
        )
        assert result["resolution"] == "accept_variance"
        issued = await stack.wait_until_awaiting_payment(invoice_id)
        assert issued["live"]["match"].get("exception") is None
        assert len(await stack.mailbox("variance@acme.test")) == 1
        stored = await stack.invoice(invoice_id)
        assert stored["match"]["outcome"] == "ACCEPTED"
        assert stored["match"]["accepted_by"] == "oscar"
        assert stored["match"]["justification"] == "rate agreed"
        trail = stored["audit"]
        matched = [e for e in trail if e["action"] == "invoice.matched"]
        assert matched[-1]["data"]["justification"] == "rate agreed"


async def test_an_invoice_without_a_required_po_never_reaches_the_customer(
    temporal: Client, sqlite_url: str
) -> None:
    async with running_stack(temporal, sqlite_url) as stack:
        await exception_groups(stack)
        customer, contract = await customer_and_contract(
            stack, email="strict@acme.test", po_required=True
        )
        invoice_id = await invoice(
            stack, customer, contract, items=[{"rate_code": "senior", "quantity": "1"}]
        )
        waiting = await wait_for_live(stack, invoice_id, status="EXCEPTION")
        assert [r["code"] for r in waiting["live"]["match"]["reasons"]] == ["PO_MISSING"]
        handle = stack.temporal.get_workflow_handle(f"invoice-{invoice_id}")
        assert await _resolve(handle, "olivia", "accept_variance", "ok") == "not_acceptable"
        await handle.execute_update(
            "resolve_exception",
            ResolveExceptionInput(person_id="olivia", resolution="cancel", justification="no PO"),
        )
        cancelled = await wait_for_live(stack, invoice_id, status="CANCELLED")
        assert cancelled["live"]["status"] == "CANCELLED"
        assert (await stack.invoice(invoice_id))["invoice"]["status"] == "CANCELLED"
        assert await stack.mailbox("strict@acme.test") == []


async def test_an_invoice_waiting_on_a_receipt_goes_on_when_the_receipt_is_posted(
    temporal: Client, sqlite_url: str
) -> None:
    async with running_stack(temporal, sqlite_url) as stack:
        await exception_groups(stack)
        customer, contract = await customer_and_contract(stack, email="threeway@acme.test")
        po = await purchase_order(stack, customer["id"], match_mode="3-way")
        invoice_id = await invoice(
            stack,
            customer,
            contract,
            po_number="PO-1001",
            items=[{"rate_code": "senior", "quantity": "3"}],
        )
        waiting = await wait_for_live(stack, invoice_id, status="EXCEPTION")
        assert [r["code"] for r in waiting["live"]["match"]["reasons"]] == [
            "QUANTITY_OVER_RECEIVED"
        ]
        handle = stack.temporal.get_workflow_handle(f"invoice-{invoice_id}")
        await handle.execute_update(
            "resolve_exception",
            ResolveExceptionInput(person_id="olivia", resolution="wait"),
        )
        receipt = await stack.api.post(
            f"/purchase-orders/{po['id']}/receipts",
            json={
                "kind": "timesheet",
                "reference": "TS-77",
                "delivered_on": "2026-01-05",
                "lines": [{"line_number": 1, "quantity": "3"}],
            },
        )
        assert receipt.status_code == 201, receipt.text
        issued = await stack.wait_until_awaiting_payment(invoice_id)
        assert issued["live"]["match"]["outcome"] == "MATCHED"
        assert len(await stack.mailbox("threeway@acme.test")) == 1


async def test_the_owner_is_reminded_and_the_exception_escalates_on_time(
    time_skipping: WorkflowEnvironment, sqlite_url: str
) -> None:
    async with running_stack(time_skipping.client, sqlite_url) as stack:
        _, invoice_id = await price_variance(stack, "slowpo@acme.test")
        waiting = await wait_for_live(stack, invoice_id, status="EXCEPTION")
        escalates_at = waiting["live"]["match"]["exception"]["escalates_at"]
        handle = stack.temporal.get_workflow_handle(f"invoice-{invoice_id}")
        await stack.wait_for(lambda: _mail(stack, "olivia@corp.test"))
        await time_skipping.sleep(3600 * 23)
        assert len(await stack.mailbox("olivia@corp.test")) == 1
        assert await _notices(stack, invoice_id) == [("task.request_sent", "olivia")]
        await time_skipping.sleep(3600 * 2)  # 25 h: the reminder
        reminders = await stack.wait_for(lambda: _mail(stack, "olivia@corp.test", 2))
        assert reminders[1]["subject"].startswith("Reminder:")
        assert await stack.mailbox("fiona@corp.test") == []
        reminded = await stack.wait_for(lambda: _notices(stack, invoice_id, 2))
        assert reminded[1] == ("task.reminder_sent", "olivia"), reminded
        # 71 h, an hour before the escalation: the second reminder (48 h) went, and
        # nothing escalated (still olivia's, no one of the second group told)
        await time_skipping.sleep(3600 * 46)
        await stack.wait_for(lambda: _mail(stack, "olivia@corp.test", 3))
        before = await stack.wait_for(lambda: _notices(stack, invoice_id, 3))
        await asyncio.sleep(1)  # anything the 48 h timer set off has run by now
        exception = (await stack.invoice(invoice_id))["live"]["match"]["exception"]
        assert exception["escalated"] is False and exception["escalates_at"] == escalates_at
        assert exception["next"] == {"kind": "escalate", "at": escalates_at}
        assert await stack.mailbox("fiona@corp.test") == []
        assert await _notices(stack, invoice_id) == before
        assert [kind for kind, _ in before] == ["task.request_sent"] + ["task.reminder_sent"] * 2
        assert "exception.escalated" not in await _actions(stack, invoice_id)
        queue = (await stack.api.get("/exceptions", params={"owner": "fiona"})).json()
        assert queue["items"] == []
        owner = (await handle.describe()).typed_search_attributes.get(sa.EXCEPTION_OWNER)
        assert owner == "olivia"
        await time_skipping.sleep(3600 * 2)  # 73 h: escalated to finance managers
        escalation = await stack.wait_for(lambda: _mail(stack, "fiona@corp.test"))
        assert escalation[0]["subject"].startswith("Escalated:")
        queue = (await stack.api.get("/exceptions", params={"owner": "fiona"})).json()
        assert [item["invoice_id"] for item in queue["items"]] == [invoice_id]
        escalated = await stack.wait_for(lambda: _notices(stack, invoice_id, 4))
        assert escalated[3] == ("task.escalation_sent", "fiona"), escalated
        trail = (await stack.invoice(invoice_id))["audit"]
        [moved] = [event for event in trail if event["action"] == "exception.escalated"]
        assert moved["data"]["owner_id"] == "fiona" and moved["entity"] == "po_exception"
        owner = (await handle.describe()).typed_search_attributes.get(sa.EXCEPTION_OWNER)
        assert owner == "fiona"


async def _actions(stack: Stack, invoice_id: str) -> list[str]:
    return [event["action"] for event in (await stack.invoice(invoice_id))["audit"]]


async def _notices(stack: Stack, invoice_id: str, count: int = 0) -> list[tuple[str, str]] | None:
    """The exception's notices in the audit trail (what, to whom), once there are `count`."""
    trail = (await stack.invoice(invoice_id))["audit"]
    notices = [
        (event["action"], event["data"]["to"])
        for event in trail
        if event["entity"] == "po_exception" and event["action"].startswith("task.")
    ]
    return notices if len(notices) >= count else None


async def _mail(stack: Stack, to: str, count: int = 1) -> list[dict[str, Any]] | None:
    box = await stack.mailbox(to)
    return box if len(box) >= count else None


async def _resolve(handle: Any, person: str, resolution: str, why: str) -> str:
    try:
        await handle.execute_update(
            "resolve_exception",
            ResolveExceptionInput(person_id=person, resolution=resolution, justification=why),  # type: ignore[arg-type]
        )
    except WorkflowUpdateFailedError as err:
        assert isinstance(err.cause, ApplicationError)
        return str(err.cause.type)
    raise AssertionError("the resolution was accepted")


async def test_a_po_amendment_to_the_invoiced_price_releases_the_invoice_by_itself(
    temporal: Client, sqlite_url: str
) -> None:
    async with running_stack(temporal, sqlite_url) as stack:
        po, invoice_id = await price_variance(stack, "amended@acme.test")
        await wait_for_live(stack, invoice_id, status="EXCEPTION")
        assert await stack.mailbox("amended@acme.test") == []
        amended = await stack.api.post(
            f"/purchase-orders/{po['id']}/amendments",
            json={
                "changed_by": "buyer@acme.test",
                "change_lines": [{"line_number": 1, "unit_price_minor": 13000}],
            },
        )
        assert amended.status_code in (200, 201), amended.text
        issued = await stack.wait_until_awaiting_payment(invoice_id)
        assert issued["live"]["match"]["outcome"] == "MATCHED"
        queue = await stack.api.get("/exceptions", params={"status": "resolved"})
        resolved = [e for e in queue.json()["items"] if e["invoice_id"] == invoice_id]
        assert resolved and resolved[0]["status"] == "resolved"
        assert len(await stack.mailbox("amended@acme.test")) == 1
