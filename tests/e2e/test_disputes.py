"""Disputes end to end: intake over the API, the owner, a question answered by the
customer, a credit note approved and accepted, and its effect on the invoice and
accounting; on the real SMTP catcher and provider sandbox."""

from __future__ import annotations

from temporalio.client import Client

from tests.support.dispute_flow import (
    act,
    customer_answers,
    dispute_groups,
    issued_invoice,
    live,
    open_dispute,
    wait_for_dispute,
)
from tests.support.stack import running_stack


async def test_a_dispute_runs_from_intake_to_an_approved_accepted_credit_note(
    temporal: Client, sqlite_url: str
) -> None:
    async with running_stack(
        temporal, sqlite_url, dispute_credit_approval_threshold_minor=20_000
    ) as stack:
        await dispute_groups(stack)
        invoice_id, _ = await issued_invoice(stack, "ap@dispute-one.test")
        opened = await open_dispute(stack, invoice_id, key="k1", lines=[1], amount_minor=30_000)
        again = await open_dispute(stack, invoice_id, key="k1", lines=[1], amount_minor=30_000)
        assert again["dispute_id"] == opened["dispute_id"]
        assert opened["number"].startswith("DSP-2026-")
        dispute_id = opened["dispute_id"]

        state = await wait_for_dispute(stack, dispute_id, "open")
        assert state.level == 1 and state.owner == "Ann"
        body = await stack.wait_for_status(invoice_id, "DISPUTED")
        assert body["live"]["disputed_minor"] == 30_000

        async def acknowledged() -> list:
            mails = await stack.mailbox("ap@dispute-one.test")
            return [m for m in mails if opened["number"] in m["subject"]]

        assert len(await stack.wait_for(acknowledged)) == 1

        await act(
            stack,
            dispute_id,
            "information-requests",
            person_id="ann",
            text="Which hours do you dispute?",
        )
        await wait_for_dispute(stack, dispute_id, "waiting_on_customer")
        await customer_answers(stack, dispute_id, text="Three of the ten hours")
        await wait_for_dispute(stack, dispute_id, "open")

        await act(
            stack,
            dispute_id,
            "remedies",
            person_id="ann",
            kind="credit_note",
            amount_minor=30_000,
            credit_reason="product_unsatisfactory",
            note="Three hours credited",
        )
        state = await wait_for_dispute(stack, dispute_id, "awaiting_approval")
        await act(stack, dispute_id, "credit-approval", person_id="fiona", choice="approve")
        await wait_for_dispute(stack, dispute_id, "remedy_proposed")
        await customer_answers(stack, dispute_id, accept=True)
        await wait_for_dispute(stack, dispute_id, "resolved")

        async def credited() -> dict | None:
            """Credited, and out of DISPUTED (the status follows the credit once its
            store step lands)."""
            body = await stack.invoice(invoice_id)
            live_state = body.get("live") or {}
            if live_state.get("credited_minor") != 30_000:
                return None
            return body if live_state.get("status") != "DISPUTED" else None

        body = await stack.wait_for(credited)
        total = body["invoice"]["total_minor"]
        assert body["live"]["balance_minor"] == total - 30_000
        assert body["live"]["status"] in ("ISSUED", "PARTIALLY_PAID")

        async def posted() -> list:
            notes = await stack.provider_records("/accounting/v1/credit-notes")
            return [n for n in notes if n.get("invoice_reference") == invoice_id]

        notes = await stack.wait_for(posted)
        assert len(notes) == 1 and notes[0]["amount_minor"] == 30_000
        final = await live(stack, dispute_id)
        assert final.sla_breached is False
