"""Resolutions of a PO exception on a real running invoice process: a correction of the
lines is matched again and the invoice goes out; an operator's resolution from the
Temporal UI (the `resolve_exception` update with `operator` set) is accepted and recorded
as ``operator:<person>`` alike on the exception, the match record and the audit trail, and
one from someone who is neither the owner nor in the owner's group is refused and writes
nothing, to history or to the database, whether it comes from the Temporal UI or over
the API (a 403 problem+json there)."""

from __future__ import annotations

from typing import Any

from temporalio.client import Client

from schemas.matching import ResolveExceptionInput
from tests.e2e.test_po_matching import (
    _mail,
    _resolve,
    price_variance,
    written,
)
from tests.support.approvals import wait_for_live
from tests.support.stack import Stack, running_stack


async def _exception(stack: Stack, exception_id: str) -> dict[str, Any]:
    response = await stack.api.get(f"/exceptions/{exception_id}")
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def _events(body: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [event for event in body["audit"] if event["action"] == action]


async def test_correcting_the_lines_to_the_po_price_matches_and_issues_the_invoice(
    temporal: Client, sqlite_url: str
) -> None:
    async with running_stack(temporal, sqlite_url) as stack:
        po, invoice_id = await price_variance(stack, "corrected@acme.test")
        waiting = await wait_for_live(stack, invoice_id, status="EXCEPTION")
        assert [r["code"] for r in waiting["live"]["match"]["reasons"]] == ["PRICE_VARIANCE"]
        exception_id = waiting["live"]["match"]["exception"]["id"]
        handle = stack.temporal.get_workflow_handle(f"invoice-{invoice_id}")
        at_po_price = {
            "description": "Senior consultant",
            "item_code": "senior",
            "quantity": "2",
            "unit": "hour",
            "unit_price_minor": 12000,  # the PO's price, not the contract's 130.00
        }
        result = await handle.execute_update(
            "resolve_exception",
            ResolveExceptionInput.model_validate(
                {
                    "person_id": "olivia",
                    "resolution": "correct",
                    "lines": [at_po_price],
                    "justification": "billed at the PO's rate",
                }
            ),
        )
        assert result["resolution"] == "correct"

        issued = await stack.wait_until_awaiting_payment(invoice_id)
        assert issued["live"]["match"]["outcome"] == "MATCHED", issued["live"]["match"]
        assert issued["live"]["match"].get("exception") is None
        stored = await stack.invoice(invoice_id)
        assert stored["invoice"]["subtotal_minor"] == 2 * 12000
        assert stored["match"]["outcome"] == "MATCHED"
        assert stored["match"]["accepted_by"] is None  # matched, not a variance accepted
        lines = (await stack.api.get(f"/purchase-orders/{po['id']}")).json()["lines"]
        assert (lines[0]["invoiced"], lines[0]["invoiced_minor"]) == ("2", 24000)
        settled = await _exception(stack, exception_id)
        assert (settled["status"], settled["resolution"], settled["resolved_by"]) == (
            "resolved",
            "correct",
            "olivia",
        )
        mail = await stack.mailbox("corrected@acme.test")
        assert len(mail) == 1 and stored["invoice"]["number"] in mail[0]["subject"]


async def test_an_operator_resolution_from_the_temporal_ui_is_accepted_and_audited(
    temporal: Client, sqlite_url: str
) -> None:
    async with running_stack(temporal, sqlite_url) as stack:
        _, invoice_id = await price_variance(stack, "operator@acme.test")
        waiting = await wait_for_live(stack, invoice_id, status="EXCEPTION")
        exception_id = waiting["live"]["match"]["exception"]["id"]
        handle = stack.temporal.get_workflow_handle(f"invoice-{invoice_id}")

        # fiona is neither the owner (olivia) nor in her group: refused, nothing written
        await stack.wait_for(lambda: _mail(stack, "olivia@corp.test"))
        before = await written(stack, invoice_id)
        refused = await _resolve(handle, "fiona", "accept_variance", "looks fine")
        assert refused == "not_your_task"
        assert await written(stack, invoice_id) == before
        assert (await _exception(stack, exception_id))["status"] == "open"

        # the same person as an operator, with the payload the Temporal UI sends (JSON)
        result = await handle.execute_update(
            "resolve_exception",
            {
                "person_id": "zoe",
                "operator": True,
                "resolution": "accept_variance",
                "justification": "rate rise agreed with the buyer",
            },
            result_type=dict,
        )
        assert result["resolution"] == "accept_variance"
        await stack.wait_until_awaiting_payment(invoice_id)
        stored = await stack.invoice(invoice_id)
        assert stored["match"]["outcome"] == "ACCEPTED"
        assert stored["match"]["accepted_by"] == "operator:zoe"
        assert stored["match"]["justification"] == "rate rise agreed with the buyer"

        async def decision_audited() -> list[dict[str, Any]] | None:
            found = _events(await stack.invoice(invoice_id), "task.accept_variance")
            return found or None

        [decision] = await stack.wait_for(decision_audited)
        assert decision["actor"] == "operator:zoe"
        assert decision["data"]["via"] == "temporal-ui"
        assert decision["data"]["reason"] == "rate rise agreed with the buyer"
        [matched] = [e for e in _events(stored, "invoice.matched") if e["actor"] != "workflow"]
        assert matched["actor"] == "operator:zoe"
        # the exception says who resolved it as the match record and the audit trail do
        settled = await _exception(stack, exception_id)
        assert (settled["status"], settled["resolution"], settled["resolved_by"]) == (
            "resolved",
            "accept_variance",
            "operator:zoe",
        )
        assert len(await stack.mailbox("operator@acme.test")) == 1


async def test_a_resolution_over_the_api_by_someone_outside_the_group_is_a_403_and_writes_nothing(
    temporal: Client, sqlite_url: str
) -> None:
    async with running_stack(temporal, sqlite_url) as stack:
        _, invoice_id = await price_variance(stack, "api-refused@acme.test")
        waiting = await wait_for_live(stack, invoice_id, status="EXCEPTION")
        exception_id = waiting["live"]["match"]["exception"]["id"]
        await stack.wait_for(lambda: _mail(stack, "olivia@corp.test"))
        before = await written(stack, invoice_id)
        path = f"/exceptions/{exception_id}/resolution"
        refused = await stack.api.post(
            path,
            json={"person_id": "fiona", "resolution": "cancel", "justification": "not needed"},
        )
        assert refused.status_code == 403, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.json()["code"] == "not_your_task"
        assert await written(stack, invoice_id) == before
        assert (await _exception(stack, exception_id))["status"] == "open"

        accepted = await stack.api.post(
            path,
            json={"person_id": "oscar", "resolution": "accept_variance", "justification": "ok"},
        )
        assert accepted.status_code == 200, accepted.text  # oscar is in olivia's group
        await stack.wait_until_awaiting_payment(invoice_id)
        assert len(await stack.mailbox("api-refused@acme.test")) == 1
