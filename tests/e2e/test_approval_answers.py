"""What approvals answer: a correction is checked as a creation is (the same 422s, before
the process is asked), a decision reports the status after it, an approved invoice's live
state names its last level, and the link events are in the invoice's record."""

from __future__ import annotations

from typing import Any

import httpx
from temporalio.client import Client

from tests.api.test_invoices_api import assert_problem
from tests.e2e.test_approval_links import big_invoice, finance_policy, update_events
from tests.e2e.test_lifecycle import customer_and_contract
from tests.support.approvals import wait_for_links, wait_for_live
from tests.support.stack import Stack, running_stack

BAD_LINES: list[tuple[dict[str, Any], str]] = [
    ({"items": [{"rate_code": "senior", "quantity": "-2"}]}, "invalid_quantity"),
    ({"items": [{"rate_code": "astronaut", "quantity": "2"}]}, "unknown_rate"),
    ({"lines": [{"description": "Refund", "unit_price_minor": -500}]}, "invalid_amount"),
    ({"items": [], "lines": []}, "empty_invoice"),
]


async def creation_code(stack: Stack, customer: str, contract: str, body: dict[str, Any]) -> str:
    created = await stack.api.post(
        "/invoices", json={"customer_id": customer, "contract_id": contract, **body}
    )
    assert created.status_code == 422, created.text
    return str(created.json()["code"])


async def test_a_correction_with_lines_a_creation_refuses_is_refused_the_same_way_at_once(
    temporal: Client, sqlite_url: str
) -> None:
    async with running_stack(temporal, sqlite_url) as stack:
        await finance_policy(stack)
        invoice_id = await big_invoice(stack, "fix@acme.test")
        link = (await wait_for_links(stack, "alice"))[0]
        async with httpx.AsyncClient() as browser:
            sent_back = await browser.post(link, data={"decision": "reject", "reason": "too much"})
            assert sent_back.status_code == 200
        await stack.wait_for_status(invoice_id, "CHANGES_REQUESTED")
        updates_before = await update_events(stack, invoice_id)
        customer, contract = await customer_and_contract(stack, email="other@acme.test")
        for body, code in BAD_LINES:
            assert await creation_code(stack, customer["id"], contract["id"], body) == code
            corrected = await stack.api.put(
                f"/invoices/{invoice_id}/lines", json={**body, "changed_by": "erin"}
            )
            assert_problem(corrected, 422, code)
        assert await update_events(stack, invoice_id) == updates_before  # never reached it
        live = (await stack.invoice(invoice_id))["live"]
        assert live["status"] == "CHANGES_REQUESTED"
        assert live["approval"]["correction_refused"] is None
        good = await stack.api.put(
            f"/invoices/{invoice_id}/lines",
            json={"items": [{"rate_code": "senior", "quantity": "9"}], "changed_by": "erin"},
        )
        assert good.status_code == 202, good.text
        await wait_for_live(stack, invoice_id, status="AWAITING_APPROVAL", version=2)


async def test_a_decision_answers_the_status_after_it_and_the_record_holds_the_link_events(
    temporal: Client, sqlite_url: str
) -> None:
    async with running_stack(temporal, sqlite_url) as stack:
        await finance_policy(stack)
        rejected_id = await big_invoice(stack, "reject@acme.test")
        approved_id = await big_invoice(stack, "approve@acme.test")
        bob_links = await wait_for_links(stack, "bob", count=2)
        alice_links = await wait_for_links(stack, "alice", count=2)
        json_headers = {"Accept": "application/json"}
        async with httpx.AsyncClient(headers=json_headers) as app:
            by_invoice: dict[str, dict[str, str]] = {}
            for person, found in (("alice", alice_links), ("bob", bob_links)):
                for url in found:
                    shown = await app.get(url)  # an "opened" event
                    number = shown.json()["invoice"]["number"]
                    by_invoice.setdefault(number, {})[person] = url
            rejected_number = (await stack.invoice(rejected_id))["invoice"]["number"]
            approved_number = (await stack.invoice(approved_id))["invoice"]["number"]

            reject = await app.post(
                by_invoice[rejected_number]["bob"],
                json={"decision": "reject", "reason": "wrong PO"},
            )
            assert reject.status_code == 200, reject.text
            assert reject.json()["invoice_status"] == "CHANGES_REQUESTED"
            late = await app.post(
                by_invoice[rejected_number]["alice"], json={"decision": "approve"}
            )
            assert late.status_code == 409  # a "refused" event

            approve = await app.post(
                by_invoice[approved_number]["alice"], json={"decision": "approve"}
            )
            assert approve.status_code == 200, approve.text
            assert approve.json()["invoice_status"] == "ISSUED"

        issued = await stack.wait_until_awaiting_payment(approved_id)
        approval = issued["live"]["approval"]
        assert (approval["status"], approval["level"], approval["levels"]) == ("approved", 1, 1)
        stored = (await stack.invoice(rejected_id))["invoice"]["status"]
        assert stored == "CHANGES_REQUESTED"  # what the answer said is what is stored

        trail = (await stack.invoice(rejected_id))["approval_links"]
        events = [(e["event"], e["approver_id"]) for e in trail]
        assert ("sent", "alice") in events and ("sent", "bob") in events
        assert ("opened", "alice") in events and ("opened", "bob") in events
        assert ("decided", "bob") in events and ("refused", "alice") in events
        refused = next(e for e in trail if e["event"] == "refused")
        assert refused["detail"]["code"] == "already_decided" and refused["level"] == 1
        assert all(e["at"].endswith("+00:00") for e in trail)
