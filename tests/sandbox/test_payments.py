"""Payment links, partial payments and the customer's pay page."""

from __future__ import annotations

import asyncio
import re

import httpx

from sandbox.runner import SandboxHandle
from tests.sandbox.support import auth, create_link, pay


async def test_link_is_open_and_points_at_the_sandbox_pay_page(
    http: httpx.AsyncClient, sandbox: SandboxHandle
) -> None:
    link = await create_link(http)

    assert link["id"].startswith("plink_")
    assert link["url"] == f"{sandbox.http_url}/pay/{link['id']}"
    assert (link["status"], link["paid_minor"], link["reference"]) == ("open", 0, "INV-7")
    fetched = await http.get(f"/payments/v1/links/{link['id']}", headers=auth())
    assert fetched.json() == link


async def test_partial_payments_accumulate_until_the_link_is_paid(
    http: httpx.AsyncClient,
) -> None:
    link = await create_link(http)

    first = await pay(http, link["id"], 4_000, "pay-1")
    after_first = (await http.get(f"/payments/v1/links/{link['id']}", headers=auth())).json()
    second = await pay(http, link["id"], 6_000, "pay-2")
    after_second = (await http.get(f"/payments/v1/links/{link['id']}", headers=auth())).json()

    assert (first.status_code, second.status_code) == (201, 201)
    payment = first.json()
    assert payment["id"].startswith("pay_")
    assert (payment["link_id"], payment["reference"], payment["currency"]) == (
        link["id"],
        "INV-7",
        "GBP",
    )
    assert payment["paid_at"].endswith("Z")
    assert (after_first["status"], after_first["paid_minor"]) == ("open", 4_000)
    assert (after_second["status"], after_second["paid_minor"]) == ("paid", 10_000)


async def test_over_payment_is_422_and_records_no_payment(http: httpx.AsyncClient) -> None:
    link = await create_link(http)
    await pay(http, link["id"], 9_000, "pay-1")

    response = await pay(http, link["id"], 1_001, "pay-2")

    assert response.status_code == 422
    assert "remaining balance 1000" in response.json()["detail"]
    payments = (await http.get(f"/payments/v1/links/{link['id']}/payments", headers=auth())).json()
    assert [p["amount_minor"] for p in payments] == [9_000]


async def test_payment_on_an_unknown_link_is_404(http: httpx.AsyncClient) -> None:
    response = await pay(http, "plink_missing", 100, "pay-1")

    assert response.status_code == 404


async def test_pay_page_form_pays_once_even_when_submitted_twice(
    http: httpx.AsyncClient,
) -> None:
    link = await create_link(http)

    page = await http.get(f"/pay/{link['id']}")
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page.text)
    amount = re.search(r'name="amount_minor"[^>]*value="(\d+)"', page.text)
    assert key and amount
    form = {"idempotency_key": key.group(1), "amount_minor": amount.group(1)}
    first = await http.post(f"/pay/{link['id']}", data=form)
    second = await http.post(f"/pay/{link['id']}", data=form)

    assert page.status_code == 200
    assert "£100.00" in page.text
    assert amount.group(1) == "10000", "the form defaults to the remaining balance"
    assert (first.status_code, second.status_code) == (303, 303)
    assert first.headers["location"] == second.headers["location"]
    fetched = (await http.get(f"/payments/v1/links/{link['id']}", headers=auth())).json()
    assert (fetched["status"], fetched["paid_minor"]) == ("paid", 10_000)
    paid_page = await http.get(first.headers["location"])
    assert "fully paid" in paid_page.text


async def test_pay_page_rejects_over_payment_with_a_message(http: httpx.AsyncClient) -> None:
    link = await create_link(http)

    response = await http.post(
        f"/pay/{link['id']}", data={"idempotency_key": "form-1", "amount_minor": "10001"}
    )

    assert response.status_code == 422
    assert "exceeds the remaining balance" in response.text


async def test_pay_page_for_an_unknown_link_is_404(http: httpx.AsyncClient) -> None:
    response = await http.get("/pay/plink_missing")

    assert response.status_code == 404


async def test_waiting_for_a_link_returns_as_soon_as_it_is_created(
    http: httpx.AsyncClient,
) -> None:
    waiting = asyncio.create_task(
        http.get("/_sandbox/payment-links/wait", params={"reference": "INV-7", "timeout_s": 10})
    )
    await asyncio.sleep(0.2)
    assert not waiting.done()  # nothing yet: the request is held open

    link = await create_link(http)
    answer = await asyncio.wait_for(waiting, 5)

    assert answer.status_code == 200
    assert answer.json() == [link]


async def test_waiting_for_an_existing_link_answers_at_once_and_a_missing_one_times_out(
    http: httpx.AsyncClient,
) -> None:
    link = await create_link(http)

    found = await http.get("/_sandbox/payment-links/wait", params={"reference": "INV-7"})
    missing = await http.get(
        "/_sandbox/payment-links/wait", params={"reference": "INV-none", "timeout_s": 0.2}
    )
    invalid = await http.get("/_sandbox/payment-links/wait", params={"reference": ""})

    assert found.json() == [link]
    assert (missing.status_code, missing.json()) == (200, [])
    assert invalid.status_code == 422
