"""Credit notes and write-offs in the sandbox ledger: idempotent, refused (422) where a
real ledger would refuse them, listed by reference."""

from __future__ import annotations

from typing import Any

import httpx

from tests.sandbox.support import auth, set_faults

INVOICE = {
    "reference": "inv_1",
    "number": "INV-2026-0001",
    "customer": {"id": "cus_1", "name": "ACME Ltd"},
    "currency": "GBP",
    "issue_date": "2026-03-01",
    "due_date": "2026-03-31",
    "subtotal_minor": 10_000,
    "tax_minor": 2_000,
    "total_minor": 12_000,
}
CREDIT_NOTE = {
    "reference": "cn_1",
    "invoice_reference": "inv_1",
    "number": "CN-2026-0001",
    "amount_minor": 5_000,
    "currency": "GBP",
    "reason": "product_unsatisfactory",
    "issued_at": "2026-03-12T10:00:00Z",
}
WRITE_OFF = {
    "reference": "wo_1",
    "invoice_reference": "inv_1",
    "amount_minor": 40,
    "currency": "GBP",
    "reason": "small balance",
}


async def an_invoice(http: httpx.AsyncClient) -> None:
    response = await http.post("/accounting/v1/invoices", json=INVOICE, headers=auth("inv-1"))
    assert response.status_code == 201, response.text


async def post(
    http: httpx.AsyncClient, path: str, body: dict[str, Any], key: str
) -> httpx.Response:
    return await http.post(f"/accounting/v1/{path}", json=body, headers=auth(key))


async def listed(http: httpx.AsyncClient, path: str, **params: str) -> list[dict[str, Any]]:
    response = await http.get(f"/accounting/v1/{path}", params=params, headers=auth())
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()
    return rows


async def test_a_credit_note_is_posted_once_under_its_key(http: httpx.AsyncClient) -> None:
    await an_invoice(http)

    first = await post(http, "credit-notes", CREDIT_NOTE, "cn-1")
    again = await post(http, "credit-notes", CREDIT_NOTE, "cn-1")

    assert (first.status_code, again.status_code) == (201, 201)
    assert first.json()["id"].startswith("acc_cn_")
    assert again.headers["Idempotent-Replayed"] == "true"
    [note] = await listed(http, "credit-notes", reference="cn_1")
    assert note == first.json()
    assert (note["number"], note["amount_minor"], note["invoice_reference"]) == (
        "CN-2026-0001",
        5_000,
        "inv_1",
    )


async def test_a_write_off_is_posted_once_under_its_key(http: httpx.AsyncClient) -> None:
    await an_invoice(http)

    first = await post(http, "write-offs", WRITE_OFF, "wo-1")
    again = await post(http, "write-offs", WRITE_OFF, "wo-1")

    assert (first.status_code, again.status_code) == (201, 201)
    assert first.json()["id"].startswith("acc_wo_")
    assert again.json() == first.json()
    assert [w["reference"] for w in await listed(http, "write-offs")] == ["wo_1"]


async def test_credits_for_an_unknown_invoice_or_in_another_currency_are_refused(
    http: httpx.AsyncClient,
) -> None:
    unknown = await post(http, "credit-notes", CREDIT_NOTE, "cn-1")
    await an_invoice(http)
    euros = await post(http, "write-offs", {**WRITE_OFF, "currency": "EUR"}, "wo-1")

    assert (unknown.status_code, euros.status_code) == (422, 422)
    assert unknown.json()["detail"] == "No invoice with reference inv_1"
    assert "differs from the invoice currency" in euros.json()["detail"]
    assert await listed(http, "credit-notes") == [] and await listed(http, "write-offs") == []


async def test_credit_notes_and_write_offs_never_take_more_than_the_invoice_total(
    http: httpx.AsyncClient,
) -> None:
    await an_invoice(http)
    await post(http, "credit-notes", {**CREDIT_NOTE, "amount_minor": 11_000}, "cn-1")

    over = await post(http, "write-offs", {**WRITE_OFF, "amount_minor": 1_001}, "wo-1")
    rest = await post(http, "write-offs", {**WRITE_OFF, "amount_minor": 1_000}, "wo-1")

    assert over.status_code == 422
    assert over.json()["detail"] == (
        "amount_minor 1001 exceeds what is left to credit or write off on invoice inv_1: 1000"
    )
    assert rest.status_code == 201


async def test_a_credit_note_number_is_used_once(http: httpx.AsyncClient) -> None:
    await an_invoice(http)
    await post(http, "credit-notes", CREDIT_NOTE, "cn-1")

    twice = await post(http, "credit-notes", {**CREDIT_NOTE, "reference": "cn_2"}, "cn-2")

    assert twice.status_code == 422
    assert twice.json()["detail"] == "Credit note number CN-2026-0001 is already used"


async def test_a_credit_note_without_issue_time_is_invalid(http: httpx.AsyncClient) -> None:
    await an_invoice(http)
    body = {k: v for k, v in CREDIT_NOTE.items() if k != "issued_at"}

    response = await post(http, "credit-notes", body, "cn-1")

    assert response.status_code == 422
    assert "issued_at" in response.json()["detail"]


async def test_a_lost_answer_is_replayed_and_the_credit_note_posted_once(
    http: httpx.AsyncClient,
) -> None:
    await an_invoice(http)
    await set_faults(http, api="accounting", fail_after_commit=1)

    lost = await post(http, "credit-notes", CREDIT_NOTE, "cn-1")
    retry = await post(http, "credit-notes", CREDIT_NOTE, "cn-1")

    assert (lost.status_code, retry.status_code) == (500, 201)
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert len(await listed(http, "credit-notes")) == 1


async def test_an_accounting_outage_posts_nothing(http: httpx.AsyncClient) -> None:
    await an_invoice(http)
    await set_faults(http, api="accounting", outage=True)

    response = await post(http, "write-offs", WRITE_OFF, "wo-1")

    assert response.status_code == 503
    (await http.delete("/_sandbox/faults")).raise_for_status()
    assert await listed(http, "write-offs") == []
