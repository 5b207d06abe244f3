"""What goes wrong: forged webhooks, lost provider answers, accounting outages; and what
operations see in Temporal's visibility while the invoice moves."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.client import Client

from integrations.webhook_signing import sign
from schemas import search_attributes as sa
from tests.e2e.test_lifecycle import customer_and_contract
from tests.support.stack import WEBHOOK_SECRET, Stack, running_stack


async def start_invoice(
    stack: Stack, email: str, quantity: str = "1", **customer_fields: Any
) -> tuple[dict, str]:
    customer, contract = await customer_and_contract(stack, email=email, **customer_fields)
    response = await stack.api.post(
        "/invoices",
        json={
            "customer_id": customer["id"],
            "contract_id": contract["id"],
            "items": [{"rate_code": "senior", "quantity": quantity}],
        },
    )
    assert response.status_code == 202, response.text
    return customer, response.json()["invoice_id"]


def payment_event(
    invoice_id: str, payment_id: str, amount_minor: int, currency: str = "GBP"
) -> bytes:
    return json.dumps(
        {
            "id": f"evt_{payment_id}",
            "type": "payment.succeeded",
            "created": int(time.time()),
            "data": {
                "payment_id": payment_id,
                "link_id": "plink_x",
                "reference": invoice_id,
                "amount_minor": amount_minor,
                "currency": currency,
                "paid_at": "2026-11-24T10:00:00Z",
            },
        }
    ).encode()


async def test_unsigned_or_wrongly_signed_webhooks_are_401_and_change_nothing(
    temporal: Client, sqlite_url: str
) -> None:
    async with running_stack(temporal, sqlite_url) as stack:
        _, invoice_id = await start_invoice(stack, "forged@acme.test")
        await stack.wait_until_awaiting_payment(invoice_id)
        body = payment_event(invoice_id, "pay_forged", 14400)
        now = int(time.time())
        async with httpx.AsyncClient(base_url=stack.api_url) as provider:
            attempts = {
                "unsigned": {},
                "wrong secret": {"Sandbox-Signature": sign("not-the-secret", body, now)},
                "stale": {"Sandbox-Signature": sign(WEBHOOK_SECRET, body, now - 3600)},
                "tampered": {
                    "Sandbox-Signature": sign(WEBHOOK_SECRET, body.replace(b"14400", b"14401"), now)
                },
            }
            for name, headers in attempts.items():
                response = await provider.post("/webhooks/payments", content=body, headers=headers)
                assert response.status_code == 401, name
                assert response.json()["code"] == "invalid_signature"
            state = await stack.invoice(invoice_id)
            assert state["live"]["paid_minor"] == 0 and state["payments"] == []

            # the same event, signed properly, is applied: the check above was the reason
            signed = {"Sandbox-Signature": sign(WEBHOOK_SECRET, body, now)}
            accepted = await provider.post("/webhooks/payments", content=body, headers=signed)
            assert accepted.status_code == 200 and accepted.json()["status"] == "accepted"
            # a provider redelivering the same event does not pay twice
            await provider.post("/webhooks/payments", content=body, headers=signed)
        closed = await stack.wait_for_status(invoice_id, "CLOSED")
        assert closed["live"]["paid_minor"] == 14400
        assert len(closed["payments"]) == 1


async def test_a_payment_the_invoice_cannot_apply_is_kept_in_view_and_flagged(
    temporal: Client, sqlite_url: str
) -> None:
    """Money in the wrong currency (or an operator's signal with no positive amount) is not
    applied, and not dropped either: it is listed on the invoice, which operations find
    by `ExceptionReason = "payment_refused"`; the invoice still waits for its payment."""
    async with running_stack(temporal, sqlite_url) as stack:
        _, invoice_id = await start_invoice(stack, "wrong-currency@acme.test")
        await stack.wait_until_awaiting_payment(invoice_id)
        now = int(time.time())
        async with httpx.AsyncClient(base_url=stack.api_url) as provider:
            for body in (
                payment_event(invoice_id, "pay_eur", 14400, currency="EUR"),
                payment_event(invoice_id, "pay_zero", 0),
            ):
                signed = {"Sandbox-Signature": sign(WEBHOOK_SECRET, body, now)}
                answer = await provider.post("/webhooks/payments", content=body, headers=signed)
                if b"pay_zero" in body:  # the webhook refuses it itself
                    assert answer.status_code == 422 and answer.json()["code"] == "invalid_event"
                else:
                    assert answer.status_code == 200, answer.text
        handle = stack.temporal.get_workflow_handle(f"invoice-{invoice_id}")
        await handle.signal(
            "payment_received",
            {
                "payment_id": "pay_operator_zero",
                "amount_minor": 0,
                "currency": "GBP",
                "paid_at": "2026-11-24T10:00:00Z",
                "source": "operator:alice",
            },
        )

        async def both_refused() -> dict | None:
            live = (await stack.invoice(invoice_id))["live"]
            return live if len(live["refused_payments"]) == 2 else None

        live = await stack.wait_for(both_refused)
        refused = {p["payment_id"]: p for p in live["refused_payments"]}
        assert refused["pay_eur"]["reason"] == "paid in EUR, the invoice is in GBP"
        assert refused["pay_eur"]["amount_minor"] == 14400
        assert "not positive" in refused["pay_operator_zero"]["reason"]
        assert live["paid_minor"] == 0 and live["status"] == "ISSUED"
        described = await handle.describe()
        assert described.typed_search_attributes.get(sa.EXCEPTION_REASON) == "payment_refused"


async def test_a_retried_call_whose_first_answer_was_lost_has_one_effect_at_the_provider(
    temporal: Client, sqlite_url: str
) -> None:
    async with running_stack(temporal, sqlite_url) as stack:
        # the provider performs the next call, then answers 500 (the answer is "lost")
        for api in ("payments", "accounting"):
            response = await stack.sandbox.post(
                "/_sandbox/faults", json={"api": api, "fail_after_commit": 1}
            )
            response.raise_for_status()
        _, invoice_id = await start_invoice(stack, "retry@acme.test")
        issued = await stack.wait_until_awaiting_payment(invoice_id)
        link_id = issued["live"]["payment_url"].rstrip("/").rsplit("/", 1)[-1]
        await stack.pay(link_id, 14400)
        await stack.wait_for_status(invoice_id, "CLOSED", timeout=60)

        links = await stack.provider_records("/payments/v1/links")
        assert [link["reference"] for link in links] == [invoice_id]
        assert [
            i["reference"] for i in await stack.provider_records("/accounting/v1/invoices")
        ] == [invoice_id]
        # the retry really happened: it looked the link up by its key instead of a second POST
        payments = await stack.calls("payments")
        creates = [
            c for c in payments if (c["method"], c["path"]) == ("POST", "/payments/v1/links")
        ]
        look_ups = [c for c in payments if c["path"] == "/payments/v1/operations"]
        assert len(creates) == 1 and len(look_ups) >= 1, payments
        # at accounting, by a look-up of the invoice's number first (no second POST)
        accounting = await stack.calls("accounting")
        invoice_calls = [c for c in accounting if c["path"] == "/accounting/v1/invoices"]
        methods = [c["method"] for c in invoice_calls]
        assert methods[0] == "POST" and methods.count("POST") == 1 and "GET" in methods, methods


async def test_an_accounting_outage_delays_the_close_but_loses_nothing(
    temporal: Client, sqlite_url: str
) -> None:
    async with running_stack(temporal, sqlite_url) as stack:
        (
            await stack.sandbox.post("/_sandbox/faults", json={"api": "accounting", "outage": True})
        ).raise_for_status()
        _, invoice_id = await start_invoice(stack, "outage@acme.test")
        issued = await stack.wait_until_awaiting_payment(invoice_id)
        link_id = issued["live"]["payment_url"].rstrip("/").rsplit("/", 1)[-1]
        await stack.pay(link_id, 14400)

        async def stuck_on_accounting() -> dict | None:
            body = await stack.invoice(invoice_id)
            return body if body["live"]["waiting_for"] == "accounting posts" else None

        paid = await stack.wait_for(stuck_on_accounting)
        assert paid["live"]["status"] == "PAID"
        assert paid["accounting"] == []
        outage_calls = await stack.calls("accounting")
        assert outage_calls and all(call["status"] == 503 for call in outage_calls)

        (await stack.sandbox.delete("/_sandbox/faults")).raise_for_status()
        closed = await stack.wait_for_status(invoice_id, "CLOSED", timeout=60)
        assert len(closed["accounting"]) == 2
        assert len(await stack.provider_records("/accounting/v1/invoices")) == 1
        assert len(await stack.provider_records("/accounting/v1/payments")) == 1


async def test_operations_find_invoices_by_search_attributes(
    temporal: Client, sqlite_url: str
) -> None:
    async with running_stack(temporal, sqlite_url) as stack:
        customer, paid_id = await start_invoice(stack, "ops@acme.test", quantity="2")
        issued = await stack.wait_until_awaiting_payment(paid_id)
        number = issued["invoice"]["number"]
        link_id = issued["live"]["payment_url"].rstrip("/").rsplit("/", 1)[-1]
        await stack.pay(link_id, issued["invoice"]["total_minor"])
        await stack.wait_for_status(paid_id, "CLOSED")
        other_customer, open_id = await start_invoice(stack, "ops2@acme.test", quantity="3")
        await stack.wait_until_awaiting_payment(open_id)

        async def found(query: str) -> list[str]:
            async def run() -> list[str] | None:
                ids = [wf.id async for wf in temporal.list_workflows(query)]
                return ids or None

            return await stack.wait_for(run, timeout=15)

        assert await found(f'CustomerId = "{customer["id"]}" AND InvoiceStatus = "CLOSED"') == [
            f"invoice-{paid_id}"
        ]
        assert await found(f'InvoiceNumber = "{number}" AND CustomerId = "{customer["id"]}"') == [
            f"invoice-{paid_id}"
        ]
        assert await found(
            f'CustomerId = "{other_customer["id"]}" AND InvoiceStatus = "ISSUED"'
            " AND AmountDue = 43200"
        ) == [f"invoice-{open_id}"]

        handle = temporal.get_workflow_handle(f"invoice-{open_id}")
        description = await handle.describe()
        state = await stack.invoice(open_id)
        assert (
            await description.static_summary()
            == f"ACME Ltd · GBP 432.00 · due {state['invoice']['due_date']}"
        )
        # what the UI shows as "current details": who and what the invoice waits on, until when
        metadata = await handle.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
        details = metadata.current_details
        assert state["invoice"]["number"] in details
        assert "Waiting for payment from ACME Ltd" in details
        assert "balance GBP 432.00" in details


async def test_an_email_the_mailbox_refuses_goes_by_sms_with_the_payment_link(
    temporal: Client, sqlite_url: str
) -> None:
    async with running_stack(temporal, sqlite_url) as stack:
        _, invoice_id = await start_invoice(stack, "bounce@acme.test", phone="+447700900123")
        issued = await stack.wait_until_awaiting_payment(invoice_id)

        [text] = await stack.calls("sms")
        assert text["request_body"]["to"] == "+447700900123"
        assert issued["live"]["payment_url"] in text["request_body"]["body"]
        assert text["idempotency_key"] == f"{invoice_id}:sms:issue"
        assert await stack.mailbox("bounce@acme.test") == []
        handle = stack.temporal.get_workflow_handle(f"invoice-{invoice_id}")
        assert (await handle.describe()).typed_search_attributes.get(sa.EXCEPTION_REASON) is None
        delivered = [e for e in issued["audit"] if e["action"] == "invoice.delivered"]
        assert [e["data"]["channel"] for e in delivered] == ["sms"]

        link_id = issued["live"]["payment_url"].rstrip("/").rsplit("/", 1)[-1]
        await stack.pay(link_id, 14400)
        await stack.wait_for_status(invoice_id, "CLOSED")
        # the receipt the mailbox refuses too is logged, never a failed process
        result = await handle.result()
        assert result["status"] == "CLOSED"


async def test_with_no_channel_left_the_invoice_is_flagged_and_keeps_its_payment_link(
    temporal: Client, sqlite_url: str
) -> None:
    async with running_stack(temporal, sqlite_url) as stack:
        _, invoice_id = await start_invoice(stack, "bounce+nophone@acme.test")

        async def flagged() -> dict | None:
            found = await stack.invoice(invoice_id)
            live = found.get("live") or {}
            return found if live.get("status") == "ISSUED" and live.get("payment_url") else None

        found = await stack.wait_for(flagged)
        handle = stack.temporal.get_workflow_handle(f"invoice-{invoice_id}")
        assert (await handle.describe()).typed_search_attributes.get(
            sa.EXCEPTION_REASON
        ) == "delivery_failed"
        assert found["invoice"]["payment_url"] == found["live"]["payment_url"]  # stored too
        assert "invoice.delivery_failed" in [e["action"] for e in found["audit"]]
        assert await stack.calls("sms") == []
        # the customer can still pay through the link operations pass on
        link_id = found["live"]["payment_url"].rstrip("/").rsplit("/", 1)[-1]
        await stack.pay(link_id, 14400)
        await stack.wait_for_status(invoice_id, "CLOSED")
        assert (await handle.result())["status"] == "CLOSED"
