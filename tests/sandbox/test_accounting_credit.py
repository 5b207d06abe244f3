"""Customer credit in the sandbox ledger: allocated to a later invoice or refunded, drawn on
a credit note or on what a payment brought beyond its invoice (an overpayment), never more
than that credit has left, and looked up by reference."""

from __future__ import annotations

import httpx

from tests.sandbox.test_accounting_remedies import CREDIT_NOTE, INVOICE, an_invoice, listed, post

PAYMENTS = [  # 120.00 invoiced, 150.00 paid in two: 30.00 beyond the balance
    {"reference": "pay_bank", "amount_minor": 3_000},
    {"reference": "pay_link", "amount_minor": 12_000},
]
NEXT = {**INVOICE, "reference": "inv_2", "number": "INV-2026-0002"}


async def overpaid(http: httpx.AsyncClient) -> None:
    await an_invoice(http)
    for payment in PAYMENTS:
        body = {
            **payment,
            "invoice_reference": "inv_1",
            "currency": "GBP",
            "paid_at": "2026-03-10T10:00:00Z",
        }
        assert (await post(http, "payments", body, str(payment["reference"]))).status_code == 201
    assert (await post(http, "invoices", NEXT, "inv-2")).status_code == 201


def allocation(amount: int, **source: str) -> dict[str, object]:
    ref = f"allocation:{amount}"
    return {
        "reference": ref,
        "invoice_reference": "inv_2",
        "amount_minor": amount,
        "currency": "GBP",
        **source,
    }


def refund(amount: int, **source: str) -> dict[str, object]:
    ref = f"refund:{amount}"
    return {
        "reference": ref,
        "amount_minor": amount,
        "currency": "GBP",
        "reason": "asked",
        **source,
    }


async def test_an_overpaid_payment_is_allocated_and_refunded_up_to_its_excess(
    http: httpx.AsyncClient,
) -> None:
    await overpaid(http)
    first = await post(
        http, "credit-allocations", allocation(1_000, payment_reference="pay_link"), "a1"
    )
    assert first.status_code == 201, first.text
    assert first.json()["payment_reference"] == "pay_link"
    assert "credit_note_reference" not in first.json()
    back = await post(http, "refunds", refund(2_000, payment_reference="pay_link"), "r1")
    assert back.status_code == 201, back.text
    # 30.00 beyond the balance: 10.00 allocated and 20.00 refunded leave nothing
    more = await post(http, "refunds", refund(1, payment_reference="pay_link"), "r2")
    assert more.status_code == 422
    assert "has left as credit: 0" in more.json()["detail"]
    [found] = await listed(http, "refunds", reference="refund:2000")
    assert found == back.json()


async def test_a_payment_is_not_credit_beyond_its_invoice_or_its_own_amount(
    http: httpx.AsyncClient,
) -> None:
    await overpaid(http)
    # the bank transfer brought 30.00 too, but no more than itself
    assert (
        await post(http, "refunds", refund(3_001, payment_reference="pay_bank"), "r1")
    ).status_code == 422
    unknown = await post(http, "refunds", refund(100, payment_reference="pay_none"), "r2")
    assert unknown.status_code == 422
    both = await post(
        http,
        "refunds",
        refund(100, payment_reference="pay_link", credit_note_reference="cn_1"),
        "r3",
    )
    assert both.status_code == 422  # one source only
    assert (await post(http, "refunds", refund(100), "r4")).status_code == 422


async def test_a_credit_note_is_allocated_and_refunded_up_to_its_amount(
    http: httpx.AsyncClient,
) -> None:
    await overpaid(http)
    assert (await post(http, "credit-notes", CREDIT_NOTE, "cn-1")).status_code == 201
    body = allocation(4_000, credit_note_reference="cn_1")
    assert (await post(http, "credit-allocations", body, "a1")).status_code == 201
    assert (
        await post(http, "refunds", refund(1_000, credit_note_reference="cn_1"), "r1")
    ).status_code == 201
    assert (
        await post(http, "refunds", refund(1, credit_note_reference="cn_1"), "r2")
    ).status_code == 422
