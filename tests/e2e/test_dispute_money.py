"""What a dispute does to the money, end to end with the real SMTP catcher and provider
sandbox: the disputed part is never overdue while the rest is collected, a credit on a paid
invoice is refunded once at the provider, a small balance is written off when the customer
stays silent; and bad intake or evidence gets a clear refusal and creates nothing."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from tests.e2e.test_dispute_ladder import at_level
from tests.e2e.test_lifecycle import customer_and_contract
from tests.support.approvals import approver, group, rule
from tests.support.dispute_flow import (
    act,
    customer_answers,
    dispute_groups,
    issued_invoice,
    live,
    open_dispute,
    wait_for_dispute,
)
from tests.support.stack import Stack, running_stack

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
# a Windows executable named as a PDF: refused by its content, whatever its name says
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 48


def link_id(body: dict[str, Any]) -> str:
    return str(body["live"]["payment_url"]).rstrip("/").rsplit("/", 1)[-1]


async def live_invoice(stack: Stack, invoice_id: str, **expected: Any) -> dict[str, Any]:
    """The invoice once its live state shows every `expected` value."""

    async def matches() -> dict[str, Any] | None:
        body = await stack.invoice(invoice_id)
        state = body.get("live") or {}
        return body if all(state.get(k) == v for k, v in expected.items()) else None

    return await stack.wait_for(matches)  # type: ignore[no-any-return]


async def ledger(stack: Stack, path: str, invoice_id: str) -> list[dict[str, Any]]:
    records = await stack.provider_records(path)
    return [r for r in records if r.get("invoice_reference") == invoice_id]


async def disputes_of(stack: Stack, invoice_id: str) -> list[dict[str, Any]]:
    response = await stack.api.get("/disputes", params={"invoice_id": invoice_id})
    assert response.status_code == 200, response.text
    return response.json()["items"]  # type: ignore[no-any-return]


def sequence(number: str) -> int:
    """DSP-2026-0007 -> 7."""
    return int(number.rsplit("-", 1)[1])


async def test_the_disputed_part_is_never_overdue_while_the_rest_is_collected(
    time_skipping: WorkflowEnvironment, sqlite_url: str
) -> None:
    async with running_stack(time_skipping.client, sqlite_url) as stack:
        await dispute_groups(stack)
        # due in three days: overdue long before the team's five business days run out
        invoice_id, issued = await issued_invoice(stack, "ap@overdue.test", payment_terms_days=3)
        total = issued["invoice"]["total_minor"]
        opened = await open_dispute(stack, invoice_id, lines=[1], amount_minor=30_000)
        await at_level(stack, opened["dispute_id"], 1)
        await stack.wait_for_status(invoice_id, "DISPUTED")

        await stack.pay(link_id(issued), total - 30_000)
        paid = await live_invoice(stack, invoice_id, paid_minor=total - 30_000)
        assert paid["live"]["status"] == "DISPUTED"
        assert paid["live"]["balance_minor"] == 30_000

        await time_skipping.sleep(timedelta(days=5))  # past 00:00 UTC after the due date
        body = await stack.invoice(invoice_id)
        assert body["live"]["status"] == body["invoice"]["status"] == "DISPUTED"
        assert body["live"]["balance_minor"] == body["live"]["disputed_minor"] == 30_000
        assert "invoice.overdue" not in [event["action"] for event in body["audit"]]
        state = await live(stack, opened["dispute_id"])
        assert (state.level, state.owner) == (1, "Ann")  # still within the team's SLA

        # the owner rejects the dispute: the 300.00 is due again, and late by now
        await act(
            stack,
            opened["dispute_id"],
            "remedies",
            person_id="ann",
            kind="rejection",
            note="The rate is the contract's",
        )
        await wait_for_dispute(stack, opened["dispute_id"], "resolved")
        overdue = await stack.wait_for_status(invoice_id, "OVERDUE")
        assert overdue["live"]["balance_minor"] == 30_000
        assert overdue["live"]["disputed_minor"] == 0
        assert overdue["live"]["credited_minor"] == overdue["live"]["written_off_minor"] == 0


async def test_a_credit_on_a_paid_invoice_is_refunded_once_at_the_provider(
    temporal: Client, sqlite_url: str
) -> None:
    async with running_stack(temporal, sqlite_url) as stack:
        await dispute_groups(stack)
        invoice_id, issued = await issued_invoice(stack, "ap@refund.test")
        total = issued["invoice"]["total_minor"]
        opened = await open_dispute(stack, invoice_id, lines=[1], amount_minor=30_000)
        dispute_id = opened["dispute_id"]
        await at_level(stack, dispute_id, 1)

        # the customer pays the whole invoice anyway
        payment = await stack.pay(link_id(issued), total)
        paid = await live_invoice(stack, invoice_id, paid_minor=total)
        assert paid["live"]["status"] == "DISPUTED" and paid["live"]["balance_minor"] == 0

        # below the approval threshold (1,000.00): straight to the customer
        credit = 30_000
        assert credit <= stack.settings.dispute_credit_approval_threshold_minor
        await act(
            stack,
            dispute_id,
            "remedies",
            person_id="ann",
            kind="credit_note",
            amount_minor=credit,
            credit_reason="product_unsatisfactory",
            note="Three hours credited",
        )
        await wait_for_dispute(stack, dispute_id, "remedy_proposed")
        await customer_answers(stack, dispute_id, accept=True)
        await wait_for_dispute(stack, dispute_id, "resolved")

        closed = await stack.wait_for_status(invoice_id, "CLOSED")
        assert closed["live"]["refunded_minor"] == credit
        assert closed["live"]["credited_minor"] == credit
        assert closed["live"]["balance_minor"] == 0

        response = await stack.sandbox.get(f"/payments/v1/payments/{payment['id']}/refunds")
        assert response.status_code == 200, response.text
        refunds = response.json()
        refunds = refunds["data"] if isinstance(refunds, dict) else refunds
        assert [r["amount_minor"] for r in refunds] == [credit]
        posted = [
            c
            for c in await stack.calls("payments")
            if c.get("method") == "POST" and str(c.get("path", "")).endswith("/refunds")
        ]
        assert len(posted) == 1, posted
        notes = await stack.wait_for(
            lambda: ledger(stack, "/accounting/v1/credit-notes", invoice_id)
        )
        assert [n["amount_minor"] for n in notes] == [credit]
        detail = (await stack.api.get(f"/disputes/{dispute_id}")).json()
        [note] = detail["credit_notes"]
        assert (note["amount_minor"], note["settlement"]) == (credit, "refund")
        assert note["refund_id"] is not None


async def test_a_small_balance_is_written_off_when_the_customer_stays_silent(
    time_skipping: WorkflowEnvironment, sqlite_url: str
) -> None:
    async with running_stack(time_skipping.client, sqlite_url) as stack:
        await dispute_groups(stack)
        invoice_id, issued = await issued_invoice(stack, "ap@writeoff.test")
        total = issued["invoice"]["total_minor"]
        amount = 4_000
        assert amount < stack.settings.dispute_write_off_limit_minor
        opened = await open_dispute(stack, invoice_id, lines=[1], amount_minor=amount)
        dispute_id = opened["dispute_id"]
        await at_level(stack, dispute_id, 1)
        await act(
            stack,
            dispute_id,
            "remedies",
            person_id="ann",
            kind="write_off",
            amount_minor=amount,
            note="Not worth the argument",
        )
        await wait_for_dispute(stack, dispute_id, "remedy_proposed")
        days = stack.settings.dispute_remedy_response_days
        assert days == 10

        await time_skipping.sleep(timedelta(days=days) - timedelta(hours=1))
        assert (await live(stack, dispute_id)).status.value == "remedy_proposed"
        assert await ledger(stack, "/accounting/v1/write-offs", invoice_id) == []

        await time_skipping.sleep(timedelta(hours=2))  # silence past the deadline accepts it
        state = await wait_for_dispute(stack, dispute_id, "resolved")
        assert state.level == 1  # the SLA clock stood still while the customer was asked
        body = await live_invoice(stack, invoice_id, written_off_minor=amount)
        assert body["live"]["balance_minor"] == total - amount
        assert body["live"]["status"] == "ISSUED"
        offs = await stack.wait_for(lambda: ledger(stack, "/accounting/v1/write-offs", invoice_id))
        assert [w["amount_minor"] for w in offs] == [amount]
        detail = (await stack.api.get(f"/disputes/{dispute_id}")).json()
        assert (detail["resolution"], detail["written_off_minor"]) == ("write_off", amount)
        [resolved] = [e for e in detail["events"] if e["kind"] == "resolved"]
        assert resolved["actor"] == "silent"

        await time_skipping.sleep(timedelta(days=1))  # posted once, not on every look
        assert len(await ledger(stack, "/accounting/v1/write-offs", invoice_id)) == 1


async def refused(
    stack: Stack, invoice_id: str, status: int, code: str, **intake: Any
) -> dict[str, Any]:
    before = len(await disputes_of(stack, invoice_id))
    response = await stack.api.post(
        f"/invoices/{invoice_id}/disputes",
        json={"reason": "pricing", "description": "Wrong", **intake},
    )
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["code"] == code, problem
    assert len(await disputes_of(stack, invoice_id)) == before
    return problem  # type: ignore[no-any-return]


async def test_bad_intake_is_refused_with_its_reason_and_creates_nothing(
    temporal: Client, sqlite_url: str
) -> None:
    async with running_stack(temporal, sqlite_url) as stack:
        await dispute_groups(stack)
        invoice_id, issued = await issued_invoice(stack, "ap@intake.test")
        await stack.pay(link_id(issued), 100_000)  # partly paid: the open balance is less
        paid = await live_invoice(stack, invoice_id, paid_minor=100_000)
        balance = paid["live"]["balance_minor"]
        assert balance == issued["invoice"]["total_minor"] - 100_000

        # more than the open balance, though not more than line 1 (1,440.00 with tax)
        problem = await refused(
            stack, invoice_id, 422, "amount_above_balance", lines=[1], amount_minor=balance + 1
        )
        assert "open balance" in problem["detail"]
        await refused(stack, invoice_id, 422, "amount_above_balance", amount_minor=balance + 1)
        await refused(stack, invoice_id, 422, "unknown_lines", lines=[7])
        first = await open_dispute(stack, invoice_id, lines=[1], amount_minor=30_000)
        assert sequence(first["number"]) == 1  # the refusals took no number

        await refused(stack, invoice_id, 409, "lines_already_disputed", lines=[1])
        await refused(stack, invoice_id, 409, "lines_already_disputed", lines=[1, 2])
        await refused(stack, invoice_id, 409, "lines_already_disputed")  # the whole invoice
        await refused(stack, invoice_id, 422, "unknown_lines", lines=[2, 9])
        second = await open_dispute(stack, invoice_id, lines=[2], amount_minor=5_000)
        assert sequence(second["number"]) == sequence(first["number"]) + 1
        assert {d["id"] for d in await disputes_of(stack, invoice_id)} == {
            first["dispute_id"],
            second["dispute_id"],
        }

        # an invoice paid and closed, and one still waiting for approval, cannot be disputed
        closed_id, closed = await issued_invoice(stack, "ap@closed.test")
        await stack.pay(link_id(closed), closed["invoice"]["total_minor"])
        await stack.wait_for_status(closed_id, "CLOSED")
        await refused(stack, closed_id, 409, "invoice_not_open", lines=[1])
        pending_id = await awaiting_approval(stack, "ap@pending.test")
        await refused(stack, pending_id, 409, "invoice_not_open")

        # nor did the refusals on other invoices
        later_id, _ = await issued_invoice(stack, "ap@later.test")
        later = await open_dispute(stack, later_id, lines=[1])
        assert sequence(later["number"]) == sequence(second["number"]) + 1


async def awaiting_approval(stack: Stack, email: str) -> str:
    """An invoice of 100 hours (14,400.00 + the training) above an approval rule's
    threshold: numbered, waiting for its approver, not issued."""
    await approver(stack, "carol")
    finance = await group(stack, "Invoice approvers", ["carol"])
    await rule(stack, [{"group_id": finance}], min_amount_minor=1_000_000)
    customer, contract = await customer_and_contract(stack, email=email)
    response = await stack.api.post(
        "/invoices",
        json={
            "customer_id": customer["id"],
            "contract_id": contract["id"],
            "items": [{"rate_code": "senior", "quantity": "100"}],
        },
    )
    assert response.status_code == 202, response.text
    invoice_id: str = response.json()["invoice_id"]
    await live_invoice(stack, invoice_id, status="AWAITING_APPROVAL")
    return invoice_id


async def test_disguised_or_oversized_evidence_is_refused_and_nothing_is_stored(
    temporal: Client, sqlite_url: str, tmp_path: Path
) -> None:
    storage = tmp_path / "evidence"
    async with running_stack(
        temporal, sqlite_url, evidence_dir=str(storage), evidence_max_bytes=1024
    ) as stack:
        await dispute_groups(stack)
        invoice_id, _ = await issued_invoice(stack, "ap@evidence.test")
        opened = await open_dispute(stack, invoice_id, lines=[1], amount_minor=30_000)
        dispute_id = opened["dispute_id"]
        await at_level(stack, dispute_id, 1)

        async def upload(name: str, content: bytes) -> Any:
            return await stack.api.post(
                f"/disputes/{dispute_id}/evidence",
                files={"file": (name, content, "application/pdf")},
                data={"added_by": "ann"},
            )

        def stored() -> list[Path]:
            return [p for p in storage.rglob("*") if p.is_file()] if storage.exists() else []

        async def listed() -> tuple[list[Any], list[Any]]:
            detail = (await stack.api.get(f"/disputes/{dispute_id}")).json()
            added = [e for e in detail["events"] if e["kind"] == "evidence_added"]
            return detail["evidence"], added

        disguised = await upload("delivery-note.pdf", EXE)
        assert disguised.status_code == 415, disguised.text
        assert disguised.json()["code"] == "evidence_type_not_allowed"
        assert "delivery-note.pdf" in disguised.json()["detail"]
        html = await upload("notes.txt", b"<html><script>alert(1)</script></html>")
        assert html.status_code == 415, html.text

        oversized = await upload("scan.pdf", PDF + b"0" * 1024)
        assert oversized.status_code == 413, oversized.text
        assert oversized.json()["code"] == "evidence_too_large"
        assert stored() == []
        assert await listed() == ([], [])

        # the same endpoint takes a real PDF under the limit: the refusals were the files'
        accepted = await upload("delivery-note.pdf", PDF)
        assert accepted.status_code == 201, accepted.text
        assert accepted.json()["media_type"] == "application/pdf"
        assert len(stored()) == 1
        evidence, added = await listed()
        assert [e["evidence_id"] for e in evidence] == [accepted.json()["evidence_id"]]
        assert len(added) == 1
