"""Accounting sync end to end: an outage of hours on the time-skipping server (the invoice
goes on, SyncStatus goes failing with ExceptionReason and one ops e-mail after the alert
delay, and everything posts once when accounting is back, synced and unflagged), the
invoice in the exception list (`GET /exceptions?kind=accounting_sync`, `GET
/invoices?sync_status=`) while failing and out of it once synced, and
`POST /invoices/{id}/resync` while the process runs and after it closed."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionRequest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from schemas import search_attributes as sa
from tests.e2e.test_failures import start_invoice
from tests.support.stack import Stack, running_stack


class _Attributes:
    """The workflow's search attributes as stored, read raw: the time-skipping server keeps
    an unset attribute as a null value, which the SDK cannot decode as a datetime."""

    def __init__(self, fields: dict[str, Any]) -> None:
        self._fields = fields

    def get(self, key: Any) -> Any:
        return self._fields.get(key.name)


async def _attributes(stack: Stack, invoice_id: str) -> _Attributes:
    described = await stack.temporal.workflow_service.describe_workflow_execution(
        DescribeWorkflowExecutionRequest(
            namespace=stack.temporal.namespace,
            execution=WorkflowExecution(workflow_id=f"invoice-{invoice_id}"),
        )
    )
    raw = described.workflow_execution_info.search_attributes.indexed_fields
    return _Attributes({n: json.loads(v.data) if v.data else None for n, v in raw.items()})


async def _sync_status(stack: Stack, invoice_id: str, wanted: str) -> Any:
    attributes = await _attributes(stack, invoice_id)
    return attributes if attributes.get(sa.SYNC_STATUS) == wanted else None


async def test_an_accounting_outage_of_hours_alerts_ops_once_and_posts_everything_once(
    time_skipping: WorkflowEnvironment, sqlite_url: str
) -> None:
    async with running_stack(time_skipping.client, sqlite_url, ops_email="ops@corp.test") as stack:
        await stack.sandbox.post("/_sandbox/faults", json={"api": "accounting", "outage": True})
        _, invoice_id = await start_invoice(stack, "outage-hours@acme.test")
        issued = await stack.wait_until_awaiting_payment(invoice_id)
        assert (await _attributes(stack, invoice_id)).get(sa.SYNC_STATUS) == "pending"
        link_id = issued["live"]["payment_url"].rstrip("/").rsplit("/", 1)[-1]
        await stack.pay(link_id, 14400)
        await stack.wait_for_status(invoice_id, "PAID")  # the invoice goes on with its life

        await time_skipping.sleep(timedelta(minutes=50))
        assert (await _attributes(stack, invoice_id)).get(sa.SYNC_STATUS) == "pending"
        await time_skipping.sleep(timedelta(hours=3))
        failing = await stack.wait_for(lambda: _sync_status(stack, invoice_id, "failing"))
        assert failing.get(sa.EXCEPTION_REASON) == "accounting_sync_failing"
        assert failing.get(sa.SYNC_FAILING_SINCE) is not None
        alerts = await stack.wait_for(lambda: stack.mailbox("ops@corp.test"))
        assert len(alerts) == 1
        assert "Accounting sync failing" in alerts[0]["subject"]

        await time_skipping.sleep(timedelta(hours=5))  # still down: no second e-mail
        assert len(await stack.mailbox("ops@corp.test")) == 1
        await stack.sandbox.delete("/_sandbox/faults")
        await time_skipping.sleep(timedelta(minutes=15))
        closed = await stack.wait_for_status(invoice_id, "CLOSED", timeout=60)
        synced = await stack.wait_for(lambda: _sync_status(stack, invoice_id, "synced"))
        assert synced.get(sa.EXCEPTION_REASON) is None  # our flag, cleared
        assert synced.get(sa.SYNC_FAILING_SINCE) is None
        assert closed["live"]["status"] == "CLOSED"
        invoices = await stack.provider_records("/accounting/v1/invoices")
        payments = await stack.provider_records("/accounting/v1/payments")
        assert [i["reference"] for i in invoices] == [invoice_id]
        assert len(payments) == 1


async def _sync_exceptions(stack: Stack) -> list[dict[str, Any]]:
    response = await stack.api.get("/exceptions", params={"kind": "accounting_sync"})
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def _with_sync_status(stack: Stack, status: str) -> list[str]:
    response = await stack.api.get("/invoices", params={"sync_status": status})
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


async def test_a_failing_invoice_is_in_the_exception_list_until_it_is_synced(
    time_skipping: WorkflowEnvironment, sqlite_url: str
) -> None:
    async with running_stack(time_skipping.client, sqlite_url, ops_email="ops@corp.test") as stack:
        await stack.sandbox.post("/_sandbox/faults", json={"api": "accounting", "outage": True})
        _, invoice_id = await start_invoice(stack, "outage-list@acme.test")
        issued = await stack.wait_until_awaiting_payment(invoice_id)
        assert await _with_sync_status(stack, "pending") == [invoice_id]
        assert await _sync_exceptions(stack) == []  # failing, not yet: within the delay

        await time_skipping.sleep(timedelta(hours=3))
        failing = await stack.wait_for(lambda: _sync_status(stack, invoice_id, "failing"))

        since = failing.get(sa.SYNC_FAILING_SINCE)

        async def listed() -> list[dict[str, Any]]:
            return [i for i in await _sync_exceptions(stack) if i["invoice_id"] == invoice_id]

        async def alerted() -> list[dict[str, Any]]:
            # the episode's start as the workflow shows it (SyncFailingSince), once the
            # alert has recorded it (until then: when the post gave up)
            return [i for i in await listed() if i["failing_since"][:19] == since[:19]]

        [item] = await stack.wait_for(alerted)
        assert item["kind"] == "accounting_sync"
        assert item["sync_status"] == "failing"
        assert item["invoice_number"] == issued["invoice"]["number"]
        assert item["customer_id"] == issued["invoice"]["customer_id"]
        assert item["customer_name"]
        assert item["last_error"]
        assert [(d["kind"], d["status"]) for d in item["documents"]] == [("invoice", "failing")]
        assert item["resync"] == {
            "href": f"/invoices/{invoice_id}/resync",
            "method": "POST",
            "body": {"requested_by": "<who asks>"},
        }
        assert await _with_sync_status(stack, "failing") == [invoice_id]
        assert await _with_sync_status(stack, "pending") == []
        po_queue = await stack.api.get("/exceptions")  # the PO queue, as before
        assert po_queue.status_code == 200
        assert po_queue.json()["items"] == []

        await stack.sandbox.delete("/_sandbox/faults")
        await time_skipping.sleep(timedelta(minutes=15))
        await stack.wait_for(lambda: _sync_status(stack, invoice_id, "synced"), timeout=60)
        assert await stack.wait_for(lambda: _with_sync_status(stack, "synced")) == [invoice_id]
        assert await listed() == []
        assert await _with_sync_status(stack, "failing") == []


async def test_resync_while_running_and_after_close_creates_nothing_twice(
    temporal: Client, sqlite_url: str
) -> None:
    async with running_stack(temporal, sqlite_url) as stack:
        _, invoice_id = await start_invoice(stack, "resync@acme.test")
        issued = await stack.wait_until_awaiting_payment(invoice_id)
        await stack.wait_for(lambda: _sync_status(stack, invoice_id, "synced"))
        # the ledger forgets keys from now on: only the look-ups keep it to one document
        await stack.sandbox.post(
            "/_sandbox/faults", json={"api": "accounting", "forget_idempotency_keys": True}
        )

        running = await stack.api.post(
            f"/invoices/{invoice_id}/resync",
            json={"requested_by": "alice"},
            headers={"Idempotency-Key": "resync-1"},
        )
        assert running.status_code == 200, running.text
        assert [(d["kind"], d["outcome"]) for d in running.json()["documents"]] == [
            ("invoice", "found")
        ]
        replay = await stack.api.post(
            f"/invoices/{invoice_id}/resync",
            json={"requested_by": "alice"},
            headers={"Idempotency-Key": "resync-1"},
        )
        assert replay.headers.get("Idempotent-Replayed") == "true"

        link_id = issued["live"]["payment_url"].rstrip("/").rsplit("/", 1)[-1]
        await stack.pay(link_id, 14400)
        await stack.wait_for_status(invoice_id, "CLOSED", timeout=60)
        closed = await stack.api.post(
            f"/invoices/{invoice_id}/resync", json={"requested_by": "bob"}
        )
        assert closed.status_code == 200, closed.text
        assert sorted((d["kind"], d["outcome"]) for d in closed.json()["documents"]) == [
            ("invoice", "found"),
            ("payment", "found"),
        ]
        assert closed.json()["status"] == "synced"
        assert len(await stack.provider_records("/accounting/v1/invoices")) == 1
        assert len(await stack.provider_records("/accounting/v1/payments")) == 1

        unknown = await stack.api.post("/invoices/inv_nope/resync", json={"requested_by": "x"})
        assert unknown.status_code == 404
        assert unknown.headers["content-type"].startswith("application/problem+json")
