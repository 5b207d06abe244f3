"""A local activity that gives up is logged by its stage, never a failed invoice process:
the SDK raises a local activity's failure as its own ApplicationError (an ordinary
activity's comes wrapped in ActivityError), and the stages catch both."""

from __future__ import annotations

from typing import Any

from temporalio.client import Client, WorkflowExecutionStatus

from schemas.payment_checks import PaymentClaimed
from tests.e2e.test_payment_outcomes import faults, link_id, start_invoice
from tests.support.stack import running_stack


async def test_a_payment_check_during_a_provider_outage_is_logged_and_the_invoice_goes_on(
    temporal: Client, sqlite_url: str
) -> None:
    async with running_stack(temporal, sqlite_url) as stack:
        _, invoice_id = await start_invoice(stack, "outage@acme.test")
        waiting = await stack.wait_until_awaiting_payment(invoice_id)
        handle = stack.temporal.get_workflow_handle(f"invoice-{invoice_id}")
        await faults(stack, api="payments", outage=True)
        await handle.signal("payment_claimed", PaymentClaimed(claimed_by="customer"))

        async def checks_given_up() -> list[dict[str, Any]] | None:
            calls = [c for c in await stack.calls("payments") if c["method"] == "GET"]
            return calls if len(calls) >= 3 else None  # PAYMENT_CHECK_RETRY: 3 attempts

        await stack.wait_for(checks_given_up)
        await stack.sandbox.delete("/_sandbox/faults")
        assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
        await stack.pay(link_id(waiting), 14_400)
        await stack.wait_for_status(invoice_id, "CLOSED")
        assert (await handle.result())["status"] == "CLOSED"
