"""The approval configuration as running invoices meet it: a rule stops only invoices in
its currency scope, and a change to the configuration leaves a running round's chain
alone while the next invoice follows the new version."""

from __future__ import annotations

import httpx
from temporalio.client import Client

from tests.e2e.test_approval_links import big_invoice, finance_policy
from tests.e2e.test_lifecycle import customer_and_contract
from tests.support.approvals import approver, group, links, wait_for_links, wait_for_live
from tests.support.stack import running_stack


async def test_a_gbp_rule_does_not_stop_a_cad_invoice_far_below_it(
    temporal: Client, sqlite_url: str
) -> None:
    async with running_stack(temporal, sqlite_url) as stack:
        await approver(stack, "alice")
        finance = await group(stack, "Finance", ["alice"])
        made = await stack.api.post(
            "/approval-rules",
            json={
                "description": "GBP 5,000.00 or more",
                "min_amount_minor": 500_000,
                "currency": "GBP",
                "levels": [{"group_id": finance}],
            },
        )
        assert made.status_code == 201 and made.json()["currencies"] == ["GBP"]
        customer, contract = await customer_and_contract(
            stack, email="quebec@acme.test", currency="CAD", tax_region="CA-QC"
        )
        response = await stack.api.post(
            "/invoices",
            json={
                "customer_id": customer["id"],
                "contract_id": contract["id"],
                "items": [{"rate_code": "senior", "quantity": "10"}],
            },
        )  # CAD 1,200.00 + GST 5% + QST 9.975% = CAD 1,379.70
        assert response.status_code == 202, response.text
        invoice_id = response.json()["invoice_id"]
        issued = await stack.wait_until_awaiting_payment(invoice_id)
        assert issued["invoice"]["total_minor"] == 137_970
        assert issued["live"]["approval"] is None
        actions = [e["action"] for e in issued["audit"]]
        assert "invoice.approval_expired" not in actions
        assert await links(stack, "alice") == []


async def test_a_running_round_keeps_its_chain_and_the_next_invoice_uses_the_new_version(
    temporal: Client, sqlite_url: str
) -> None:
    async with running_stack(temporal, sqlite_url) as stack:
        await finance_policy(stack)  # Finance: alice, bob (backup carol)
        await approver(stack, "dave")
        groups = (await stack.api.get("/approver-groups")).json()
        finance = groups[0]["id"]
        first = await big_invoice(stack, "first@acme.test")
        alice_link = (await wait_for_links(stack, "alice"))[0]

        changed = await stack.api.patch(
            f"/approver-groups/{finance}", json={"members": ["dave"], "backup_approver_id": None}
        )
        assert changed.status_code == 200 and changed.json()["version"] == 2
        assert (await stack.api.delete("/approvers/alice")).status_code == 204

        async with httpx.AsyncClient() as browser:  # alice's seat in the running round stands
            decided = await browser.post(alice_link, data={"decision": "approve"})
            assert decided.status_code == 200, decided.text
        await stack.wait_until_awaiting_payment(first)

        second = await big_invoice(stack, "second@acme.test")
        await wait_for_live(stack, second, status="AWAITING_APPROVAL")
        live = (await stack.invoice(second))["live"]["approval"]
        assert live["waiting_on"] == ["Dave"]
        assert await wait_for_links(stack, "dave")
        assert len(await links(stack, "alice")) == 1 and len(await links(stack, "bob")) == 1
