"""Record workflow histories for the replay test: ``python -m tests.workflows.record_histories``
(``... record_histories billing``, ``invoice``, ``approval``, ``exceptions`` or ``actions``
records only those; ``exceptions`` are the refused payment, the corrected policy block,
the bounced approval link and the invoice delivered by SMS; ``actions`` the cancel during
approval and the resend with a receipt per payment; ``decisions`` the decisions written
after their acceptance; ``disputes`` a dispute with a question and a credit kept on
account, the disputed invoice, and the next invoice paid with that credit).

Run it after a deliberate, compatible change to a workflow and commit the files; the
replay test then proves that the code still replays what it recorded, so a change that
would break running invoices or billing runs fails CI.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

import httpx
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from schemas import search_attributes as sa
from schemas.billing import BillingRunInput
from schemas.ids import billing_run_workflow_id
from store.migrations import upgrade
from tests.e2e.test_lifecycle import customer_and_contract
from tests.support.billing import contract_with_entries
from tests.support.stack import Stack, running_stack

HERE = Path(__file__).parent / "histories"
BIN = Path(sys.executable).parent


async def _invoice(stack: Stack, email: str, phone: str | None = None, **extra: object) -> str:
    customer_fields = {"phone": phone} if phone else {}
    customer, contract = await customer_and_contract(stack, email=email, **customer_fields)
    body = {
        "customer_id": customer["id"],
        "contract_id": contract["id"],
        "items": [{"rate_code": "senior", "quantity": "1"}],
        **extra,
    }
    return (await stack.api.post("/invoices", json=body)).json()["invoice_id"]


async def _save(stack: Stack, invoice_id: str, name: str) -> None:
    history = await stack.temporal.get_workflow_handle(f"invoice-{invoice_id}").fetch_history()
    (HERE / f"{name}.json").write_text(history.to_json())
    print(f"recorded {name}: {len(history.events)} events")


async def _billing_runs(stack: Stack) -> None:
    """Three contracts in pages of two: a run that continues as new, the run that ends, and
    a scheduled run (no period) that hands last month to its own run."""
    period = "2026-09"
    for _ in range(3):
        await contract_with_entries(stack.sessions, period)
    handle = await stack.temporal.start_workflow(
        "BillingRun",
        BillingRunInput(period=period, page_size=2, max_in_flight=2, requested_by="record"),
        id=billing_run_workflow_id(period),
        task_queue=stack.settings.task_queue,
    )
    await handle.result()
    runs = {
        "billing_run_page_continued_as_new": handle.first_execution_run_id,
        "billing_run_last_page": None,
    }
    for name, run_id in runs.items():
        history = await stack.temporal.get_workflow_handle(handle.id, run_id=run_id).fetch_history()
        (HERE / f"{name}.json").write_text(history.to_json())
        print(f"recorded {name}: {len(history.events)} events")
    scheduled = await stack.temporal.start_workflow(
        "BillingRun",
        BillingRunInput(requested_by="record"),
        id="billing-run-monthly-record",
        task_queue=stack.settings.task_queue,
    )
    await scheduled.result()
    history = await scheduled.fetch_history()
    (HERE / "billing_run_scheduled.json").write_text(history.to_json())
    print(f"recorded billing_run_scheduled: {len(history.events)} events")


async def main(which: set[str]) -> None:
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(BIN / "temporal-test-server"),
        data_converter=pydantic_data_converter,
    )
    await env.client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=env.client.namespace,
            search_attributes={key.name: key.indexed_value_type for key in sa.ALL},
        )
    )
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/record.db"
        upgrade(url)
        async with running_stack(env.client, url) as stack:
            if "billing" in which:
                await _billing_runs(stack)
            if "invoice" in which:
                await _invoices(env, stack)
            if "approval" in which:
                await _approvals(env, stack)
        groups = {
            "exceptions": EXCEPTIONS,
            "actions": ACTIONS,
            "decisions": DECISIONS,
            "disputes": DISPUTES,
        }
        chosen = [s for name, scenarios in groups.items() if name in which for s in scenarios]
        if chosen:  # each with an approval policy of its own
            for n, scenario in enumerate(chosen):
                own = f"sqlite:///{tmp}/exceptions-{n}.db"
                upgrade(own)
                async with running_stack(env.client, own) as stack:
                    await scenario(env, stack)
    await env.shutdown()


async def _invoices(env: WorkflowEnvironment, stack: Stack) -> None:
    today = (await env.get_current_time()).date().isoformat()
    paid = await _invoice(stack, "paid@acme.test", issue_date=today)
    issued = await stack.wait_until_awaiting_payment(paid)
    link = issued["live"]["payment_url"].rsplit("/", 1)[-1]
    await stack.pay(link, 14400)
    await stack.wait_for_status(paid, "CLOSED")
    await _save(stack, paid, "invoice_paid_in_full")

    late = await _invoice(stack, "late@acme.test", issue_date=today)
    issued = await stack.wait_until_awaiting_payment(late)
    await env.sleep(timedelta(days=35))
    await stack.wait_for_status(late, "OVERDUE")
    link = issued["live"]["payment_url"].rsplit("/", 1)[-1]
    await stack.pay(link, 4400)
    await stack.pay(link, 10000)
    await stack.wait_for_status(late, "CLOSED")
    await _save(stack, late, "invoice_overdue_paid_in_two_parts")

    waiting = await _invoice(stack, "open@acme.test", issue_date=today)
    await stack.wait_until_awaiting_payment(waiting)
    await _save(stack, waiting, "invoice_waiting_for_payment")


async def _approvals(env: WorkflowEnvironment, stack: Stack) -> None:
    """Rejected by link with a note, corrected, approved by the new link after a reminder."""
    from tests.e2e.test_approval_links import big_invoice, finance_policy
    from tests.support.approvals import wait_for_links

    await finance_policy(stack)
    today = (await env.get_current_time()).date().isoformat()
    invoice_id = await big_invoice(stack, "approved@acme.test", issue_date=today)
    first = (await wait_for_links(stack, "alice"))[0]
    async with httpx.AsyncClient() as browser:
        await browser.post(first, data={"decision": "reject", "reason": "wrong hours"})
        await stack.wait_for_status(invoice_id, "CHANGES_REQUESTED")
        await stack.api.put(
            f"/invoices/{invoice_id}/lines",
            json={"items": [{"rate_code": "senior", "quantity": "9"}], "changed_by": "erin"},
        )
        await wait_for_links(stack, "alice", count=2)
        await env.sleep(timedelta(hours=25))
        latest = (await wait_for_links(stack, "alice", count=3))[-1]
        await browser.post(latest, data={"decision": "approve"})
    await stack.wait_until_awaiting_payment(invoice_id)
    await _save(stack, invoice_id, "invoice_rejected_corrected_approved")


async def _payment_refused(env: WorkflowEnvironment, stack: Stack) -> None:
    """A payment in another currency is refused and listed; the right one closes it."""
    today = (await env.get_current_time()).date().isoformat()
    invoice_id = await _invoice(stack, "euro@acme.test", issue_date=today)
    issued = await stack.wait_until_awaiting_payment(invoice_id)
    handle = stack.temporal.get_workflow_handle(f"invoice-{invoice_id}")
    await handle.signal(
        "payment_received",
        {
            "payment_id": "pay_eur",
            "amount_minor": 14400,
            "currency": "EUR",
            "paid_at": "2026-11-24T10:00:00Z",
        },
    )
    await stack.wait_for(lambda: _refused(stack, invoice_id))
    await stack.pay(issued["live"]["payment_url"].rsplit("/", 1)[-1], 14400)
    await stack.wait_for_status(invoice_id, "CLOSED")
    await _save(stack, invoice_id, "invoice_payment_refused_then_paid")


async def _refused(stack: Stack, invoice_id: str) -> bool | None:
    live = (await stack.invoice(invoice_id))["live"]
    return True if live["refused_payments"] else None


async def _policy_block_corrected(env: WorkflowEnvironment, stack: Stack) -> None:
    """Blocked by separation of duties, then corrected below the threshold: issued."""
    from tests.e2e.test_approval_links import big_invoice
    from tests.support.approvals import approver, group, rule

    await approver(stack, "alice")
    await rule(stack, [{"group_id": await group(stack, "Finance", ["alice"])}])
    today = (await env.get_current_time()).date().isoformat()
    invoice_id = await big_invoice(stack, "blocked@acme.test", created_by="alice", issue_date=today)
    await stack.wait_for_status(invoice_id, "APPROVAL_EXPIRED")
    await stack.api.put(
        f"/invoices/{invoice_id}/lines",
        json={"items": [{"rate_code": "senior", "quantity": "2"}], "changed_by": "bob"},
    )
    await stack.wait_until_awaiting_payment(invoice_id)
    await _save(stack, invoice_id, "invoice_policy_block_corrected")


async def _approval_link_bounced(env: WorkflowEnvironment, stack: Stack) -> None:
    """One approver's mailbox refuses the link; the other approves."""
    from tests.e2e.test_approval_links import big_invoice
    from tests.support.approvals import approver, group, rule, wait_for_links

    await approver(stack, "alice", email="bounce+alice@corp.test")
    await approver(stack, "bob")
    finance = await group(stack, "Finance", ["alice", "bob"])
    await rule(stack, [{"group_id": finance, "quorum": {"kind": "any"}}])
    today = (await env.get_current_time()).date().isoformat()
    invoice_id = await big_invoice(stack, "bounced@acme.test", issue_date=today)
    link = (await wait_for_links(stack, "bob"))[0]
    async with httpx.AsyncClient() as browser:
        await browser.post(link, data={"decision": "approve"})
    await stack.wait_until_awaiting_payment(invoice_id)
    await _save(stack, invoice_id, "invoice_approval_link_bounced")


async def _delivered_by_sms(env: WorkflowEnvironment, stack: Stack) -> None:
    """The customer's mailbox refuses the invoice: it goes by SMS, and is paid."""
    today = (await env.get_current_time()).date().isoformat()
    invoice_id = await _invoice(stack, "bounce@acme.test", phone="+447700900123", issue_date=today)
    issued = await stack.wait_until_awaiting_payment(invoice_id)
    await stack.pay(issued["live"]["payment_url"].rsplit("/", 1)[-1], 14400)
    await stack.wait_for_status(invoice_id, "CLOSED")
    await _save(stack, invoice_id, "invoice_delivered_by_sms")


async def _cancelled_in_approval(env: WorkflowEnvironment, stack: Stack) -> None:
    """Cancelled while its approvers had the links."""
    from tests.e2e.test_approval_links import big_invoice, finance_policy
    from tests.support.approvals import wait_for_links

    await finance_policy(stack)
    today = (await env.get_current_time()).date().isoformat()
    invoice_id = await big_invoice(stack, "cancelled@acme.test", issue_date=today)
    await wait_for_links(stack, "alice")
    await stack.api.post(
        f"/invoices/{invoice_id}/cancel", json={"reason": "duplicate", "cancelled_by": "dana"}
    )
    await stack.wait_for_status(invoice_id, "CANCELLED")
    await _save(stack, invoice_id, "invoice_cancelled_in_approval")


async def _resent_paid_with_receipts(env: WorkflowEnvironment, stack: Stack) -> None:
    """Sent again on request, then paid in two parts, a receipt for each."""
    today = (await env.get_current_time()).date().isoformat()
    invoice_id = await _invoice(stack, "receipts@acme.test", issue_date=today)
    issued = await stack.wait_until_awaiting_payment(invoice_id)
    await stack.api.post(f"/invoices/{invoice_id}/resend", json={"requested_by": "dana"})
    link = issued["live"]["payment_url"].rsplit("/", 1)[-1]
    await stack.pay(link, 4400)
    await stack.pay(link, 10000)
    await stack.wait_for_status(invoice_id, "CLOSED")
    await _save(stack, invoice_id, "invoice_resent_paid_with_receipts")


async def _decisions_after_acceptance(env: WorkflowEnvironment, stack: Stack) -> None:
    """Decisions written after their acceptance (approval-decision-writes-v1): level one
    approved, level two rejected, corrected, then approved by an operator."""
    from schemas.approval import DecideInput, DecideResult
    from tests.e2e.test_approval_links import big_invoice
    from tests.support.approvals import approver, group, rule, wait_for_links

    for person in ("alice", "dave"):
        await approver(stack, person)
    finance = await group(stack, "Finance", ["alice"])
    directors = await group(stack, "Directors", ["dave"])
    await rule(stack, [{"group_id": finance}, {"group_id": directors}])
    today = (await env.get_current_time()).date().isoformat()
    invoice_id = await big_invoice(stack, "decided@acme.test", issue_date=today)
    async with httpx.AsyncClient() as browser:
        await browser.post((await wait_for_links(stack, "alice"))[0], data={"decision": "approve"})
        dave = (await wait_for_links(stack, "dave"))[0]
        await browser.post(dave, data={"decision": "reject", "reason": "wrong rate"})
    await stack.wait_for_status(invoice_id, "CHANGES_REQUESTED")
    await stack.api.put(
        f"/invoices/{invoice_id}/lines",
        json={"items": [{"rate_code": "senior", "quantity": "9"}], "changed_by": "erin"},
    )
    await wait_for_links(stack, "alice", count=2)
    await stack.temporal.get_workflow_handle(f"invoice-{invoice_id}").execute_update(
        "decide",
        DecideInput(operator="olga", decision="approve", reason="urgent"),
        result_type=DecideResult,
    )
    await stack.wait_until_awaiting_payment(invoice_id)
    await _save(stack, invoice_id, "invoice_decisions_written_after_acceptance")


async def _dispute_credit_kept_on_account(env: WorkflowEnvironment, stack: Stack) -> None:
    """A dispute on a paid invoice: the owner asks a question, the customer answers, a
    credit note kept on account is accepted; the customer's next invoice takes the credit."""
    from tests.e2e.test_customer_credit import next_invoice
    from tests.e2e.test_dispute_ladder import at_level
    from tests.support.dispute_flow import (
        act,
        customer_answers,
        dispute_groups,
        issued_invoice,
        open_dispute,
        wait_for_dispute,
    )

    await dispute_groups(stack)
    invoice_id, issued = await issued_invoice(stack, "kept@acme.test")
    opened = await open_dispute(stack, invoice_id, lines=[1], amount_minor=30_000)
    dispute_id = opened["dispute_id"]
    await at_level(stack, dispute_id, 1)
    link = issued["live"]["payment_url"].rsplit("/", 1)[-1]
    await stack.pay(link, issued["invoice"]["total_minor"])
    await act(stack, dispute_id, "information-requests", person_id="ann", text="Which hours?")
    await wait_for_dispute(stack, dispute_id, "waiting_on_customer")
    await customer_answers(stack, dispute_id, text="The three on 14 October.")
    await wait_for_dispute(stack, dispute_id, "open")
    await act(
        stack,
        dispute_id,
        "remedies",
        person_id="ann",
        kind="credit_note",
        amount_minor=30_000,
        credit_reason="product_unsatisfactory",
        settlement="customer_credit",
        note="Three hours credited, kept on account",
    )
    await wait_for_dispute(stack, dispute_id, "remedy_proposed")
    await customer_answers(stack, dispute_id, accept=True)
    await stack.wait_for_status(invoice_id, "CLOSED")
    history = await stack.temporal.get_workflow_handle(f"dispute-{dispute_id}").fetch_history()
    (HERE / "dispute_credit_kept_on_account.json").write_text(history.to_json())
    print(f"recorded dispute_credit_kept_on_account: {len(history.events)} events")
    await _save(stack, invoice_id, "invoice_disputed_credit_kept_on_account")

    covered = await next_invoice(stack, issued["invoice"], "1")
    await stack.wait_for_status(covered, "CLOSED")
    await _save(stack, covered, "invoice_paid_with_account_credit")


EXCEPTIONS = (_payment_refused, _policy_block_corrected, _approval_link_bounced, _delivered_by_sms)
ACTIONS = (_cancelled_in_approval, _resent_paid_with_receipts)
DECISIONS = (_decisions_after_acceptance,)
DISPUTES = (_dispute_credit_kept_on_account,)


if __name__ == "__main__":
    # dispute_credit_kept_on_account.json was recorded before workflows/dispute_case.py was
    # split: after recording the disputes group, `git checkout` it, so that it keeps proving
    # that the split replays what ran before it
    everything = {
        "invoice",
        "billing",
        "approval",
        "exceptions",
        "actions",
        "decisions",
        "disputes",
    }
    asyncio.run(main(set(sys.argv[1:]) or everything))
