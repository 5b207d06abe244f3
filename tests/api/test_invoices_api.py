"""The HTTP API against a real Temporal server, on SQLite and PostgreSQL: bad input gets a
clear problem+json answer and writes nothing; Idempotency-Key semantics; listing."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlmodel import func, select
from temporalio.client import Client

from api.idempotency import RESERVATION_TTL, fingerprint
from schemas.api import CustomerCreate
from schemas.tables import ApiKey as ApiKeyRow
from schemas.tables import IdempotencyRecord, Invoice
from tests.e2e.test_lifecycle import customer_and_contract
from tests.support.stack import Stack, running_stack


@pytest.fixture
async def stack(temporal: Client, db_url: str):  # type: ignore[no-untyped-def]
    async with running_stack(temporal, db_url) as running:
        yield running


async def invoice_count(stack: Stack) -> int:
    async with stack.sessions() as session:
        return int((await session.exec(select(func.count()).select_from(Invoice))).one())


async def workflows_for(stack: Stack, customer_id: str) -> list[str]:
    return [wf.id async for wf in stack.temporal.list_workflows(f'CustomerId = "{customer_id}"')]


def assert_problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status and body["code"] == code and body["detail"]
    return body


async def test_requests_without_a_valid_api_key_are_refused(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.api_url) as anonymous:
        assert_problem(await anonymous.get("/invoices"), 401, "unauthorized")
        wrong = await anonymous.get("/invoices", headers={"Authorization": "Bearer ifk_nope"})
        assert_problem(wrong, 401, "invalid_api_key")


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"customer_id": "cus_missing"}, "unknown_customer"),
        ({"contract_id": "con_missing"}, "unknown_contract"),
        ({"items": [{"rate_code": "senior", "quantity": "-2"}]}, "invalid_quantity"),
        ({"items": [{"rate_code": "architect", "quantity": "1"}]}, "unknown_rate"),
        ({"currency": "EUR"}, "currency_mismatch"),
        ({"issue_date": "2027-02-01"}, "contract_expired"),
        ({"items": [{"rate_code": "senior", "quantity": "1000"}]}, "cap_exceeded"),
        ({"items": [], "lines": []}, "empty_invoice"),
        ({"items": [{"rate_code": "senior"}]}, "validation_failed"),
        # sizes no invoice has: refused before any arithmetic can overflow
        ({"items": [{"rate_code": "senior", "quantity": "1e70"}]}, "invalid_quantity"),
        ({"lines": [{"description": "x", "unit_price_minor": 10**80}]}, "invalid_amount"),
        ({"lines": [{"description": "x", "unit_price_minor": 10**15 + 1}]}, "invalid_amount"),
        ({"issue_date": "9999-12-31"}, "invalid_issue_date"),
    ],
)
async def test_bad_invoice_requests_get_a_clear_422_and_leave_nothing_behind(
    stack: Stack, change: dict[str, Any], code: str
) -> None:
    customer, contract = await customer_and_contract(
        stack, valid_to="2026-12-31", cap_minor=5_000_000
    )
    body = {
        "customer_id": customer["id"],
        "contract_id": contract["id"],
        "issue_date": "2026-11-20",
        "items": [{"rate_code": "senior", "quantity": "2"}],
        **change,
    }
    problem = assert_problem(await stack.api.post("/invoices", json=body), 422, code)
    assert "instance" in problem
    assert await invoice_count(stack) == 0
    assert await workflows_for(stack, customer["id"]) == []


async def test_malformed_json_is_a_clear_error(stack: Stack) -> None:
    response = await stack.api.post(
        "/invoices", content=b'{"customer_id": ', headers={"content-type": "application/json"}
    )
    assert_problem(response, 422, "malformed_json")
    assert await invoice_count(stack) == 0


async def test_contract_with_bad_terms_is_refused(stack: Stack) -> None:
    customer, _ = await customer_and_contract(stack)
    base = {
        "customer_id": customer["id"],
        "currency": "GBP",
        "tax_region": "GB",
        "payment_terms_days": 30,
        "rates": [{"code": "a", "description": "A", "unit_price_minor": 1}],
    }
    for change in (
        {"tax_region": "XX"},
        {"currency": "ZZZ"},
        {"payment_terms_days": -1},
        {"valid_from": "2026-12-01", "valid_to": "2026-11-01"},
        {"rates": []},
        {"cap_minor": 10**30},
        {"rates": [{"code": "a", "description": "A", "unit_price_minor": 10**30}]},
    ):
        assert_problem(
            await stack.api.post("/contracts", json={**base, **change}), 422, "validation_failed"
        )
    assert_problem(
        await stack.api.post("/contracts", json={**base, "customer_id": "cus_nobody"}),
        422,
        "unknown_customer",
    )


async def test_same_idempotency_key_and_body_returns_the_first_answer_and_starts_one_process(
    stack: Stack,
) -> None:
    customer, contract = await customer_and_contract(stack)
    body = {
        "customer_id": customer["id"],
        "contract_id": contract["id"],
        "items": [{"rate_code": "senior", "quantity": "3"}],
    }
    headers = {"Idempotency-Key": "order-4711"}
    answers = await asyncio.gather(
        *(stack.api.post("/invoices", json=body, headers=headers) for _ in range(5))
    )
    # one acts; the others are told to retry (409) or, if it has answered, get its answer
    assert {a.status_code for a in answers} <= {202, 409} and answers[0].status_code in (202, 409)
    accepted = [a for a in answers if a.status_code == 202]
    assert accepted and len({a.json()["invoice_id"] for a in accepted}) == 1
    again = await stack.api.post("/invoices", json=body, headers=headers)
    assert again.status_code == 202
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == accepted[0].json()
    assert again.headers["Location"] == accepted[0].headers["Location"]
    await stack.wait_until_awaiting_payment(again.json()["invoice_id"])
    assert await workflows_for(stack, customer["id"]) == [again.json()["workflow_id"]]
    assert await invoice_count(stack) == 1


async def test_same_idempotency_key_with_another_body_is_422(stack: Stack) -> None:
    customer, contract = await customer_and_contract(stack)
    body = {
        "customer_id": customer["id"],
        "contract_id": contract["id"],
        "items": [{"rate_code": "senior", "quantity": "3"}],
    }
    headers = {"Idempotency-Key": "order-4712"}
    first = await stack.api.post("/invoices", json=body, headers=headers)
    assert first.status_code == 202
    changed = {**body, "items": [{"rate_code": "senior", "quantity": "4"}]}
    assert_problem(
        await stack.api.post("/invoices", json=changed, headers=headers),
        422,
        "idempotency_key_reused",
    )
    # a key names one request of this API key, whatever the endpoint (as Stripe does)
    elsewhere = await stack.api.post(
        "/customers", json={"name": "X", "email": "x@y.test"}, headers=headers
    )
    assert_problem(elsewhere, 422, "idempotency_key_reused")


async def test_customers_are_idempotent_too(stack: Stack) -> None:
    body = {"name": "Once Ltd", "email": "once@example.test", "locale": "fr-CA"}
    first = await stack.api.post("/customers", json=body, headers={"Idempotency-Key": "c-1"})
    second = await stack.api.post("/customers", json=body, headers={"Idempotency-Key": "c-1"})
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] == second.json()["id"]
    assert first.json()["locale"] == "fr_CA"
    assert (await stack.api.get(f"/customers/{first.json()['id']}")).json()["name"] == "Once Ltd"


async def test_one_key_sent_many_times_at_once_acts_once(stack: Stack) -> None:
    """A client retrying before its first request answered: exactly one of them acts;
    the others get the same answer replayed, or 409 while the first is still running."""
    customer, contract = await customer_and_contract(stack)
    entries = {"period": "2026-10", "entries": [{"rate_code": "senior", "quantity": "1"}]}
    url = f"/contracts/{contract['id']}/billable-entries"
    headers = {"Idempotency-Key": "timesheet-week-43"}

    answers = await asyncio.gather(
        *(stack.api.post(url, json=entries, headers=headers) for _ in range(12))
    )

    codes = {a.status_code for a in answers}
    assert codes <= {201, 409}, [a.text for a in answers]
    assert [a.json()["code"] for a in answers if a.status_code == 409] == [
        "idempotency_key_in_progress"
    ] * sum(a.status_code == 409 for a in answers)
    stored = (await stack.api.get(url, params={"period": "2026-10"})).json()["entries"]
    assert len(stored) == 1  # one entry, however many requests ran at once
    assert {a.json()["entries"][0]["id"] for a in answers if a.status_code == 201} == {
        stored[0]["id"]
    }
    again = await stack.api.post(url, json=entries, headers=headers)
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"


async def test_a_reservation_left_by_a_dead_request_is_taken_over_after_seconds(
    stack: Stack,
) -> None:
    """A process that died mid-request left its key reserved: 409 (with Retry-After) until
    the reservation is RESERVATION_TTL old, then the key is free again (the request had not
    answered, so nothing claims it)."""
    body = {"name": "Late Ltd", "email": "late@example.test"}
    async with stack.sessions() as session:
        key_row = (await session.exec(select(ApiKeyRow))).first()
        assert key_row is not None
        api_key_id = key_row.id
        for key, age in (
            ("fresh", timedelta(seconds=1)),
            ("stale", RESERVATION_TTL + timedelta(seconds=1)),
        ):
            session.add(
                IdempotencyRecord(
                    api_key_id=api_key_id,
                    key=key,
                    method="POST",
                    path="/customers",
                    request_hash=fingerprint(
                        "POST", "/customers", CustomerCreate(**body).model_dump(mode="json")
                    ),
                    status_code=0,
                    response_body={},
                    created_at=datetime.now(UTC) - age,
                )
            )
        await session.commit()

    fresh = await stack.api.post("/customers", json=body, headers={"Idempotency-Key": "fresh"})
    stale = await stack.api.post("/customers", json=body, headers={"Idempotency-Key": "stale"})

    assert_problem(fresh, 409, "idempotency_key_in_progress")
    assert fresh.headers["Retry-After"] == "1"
    assert stale.status_code == 201, stale.text
    replayed = await stack.api.post("/customers", json=body, headers={"Idempotency-Key": "stale"})
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert replayed.json()["id"] == stale.json()["id"]


async def test_a_refused_request_lets_its_key_go(stack: Stack) -> None:
    headers = {"Idempotency-Key": "c-refused"}
    refused = await stack.api.post(
        "/customers", json={"name": "X", "email": "not-an-address"}, headers=headers
    )
    assert_problem(refused, 422, "validation_failed")
    customer, contract = await customer_and_contract(stack)
    bad = {"customer_id": customer["id"], "contract_id": contract["id"], "items": []}
    assert_problem(
        await stack.api.post("/invoices", json=bad, headers=headers), 422, "empty_invoice"
    )
    fixed = await stack.api.post(
        "/customers", json={"name": "X", "email": "x@example.test"}, headers=headers
    )
    assert fixed.status_code == 201, fixed.text


async def test_invoices_are_listed_with_filters_and_paging(stack: Stack) -> None:
    customer, contract = await customer_and_contract(stack)
    ids = []
    for quantity in ("1", "2", "3"):
        response = await stack.api.post(
            "/invoices",
            json={
                "customer_id": customer["id"],
                "contract_id": contract["id"],
                "items": [{"rate_code": "senior", "quantity": quantity}],
            },
        )
        ids.append(response.json()["invoice_id"])
    overdue = await stack.api.post(
        "/invoices",
        json={
            "customer_id": customer["id"],
            "contract_id": contract["id"],
            "issue_date": "2026-01-05",
            "allow_past_due": True,
            "items": [{"rate_code": "senior", "quantity": "1"}],
        },
    )
    for invoice_id in [*ids, overdue.json()["invoice_id"]]:
        await stack.wait_until_awaiting_payment(invoice_id)
    await stack.wait_for_status(overdue.json()["invoice_id"], "OVERDUE")

    page = (
        await stack.api.get("/invoices", params={"customer_id": customer["id"], "limit": 2})
    ).json()
    assert page["total"] == 4 and len(page["items"]) == 2
    rest = (
        await stack.api.get(
            "/invoices", params={"customer_id": customer["id"], "limit": 2, "offset": 2}
        )
    ).json()
    assert {i["id"] for i in page["items"] + rest["items"]} == {*ids, overdue.json()["invoice_id"]}

    late = (
        await stack.api.get("/invoices", params={"overdue": "true", "customer_id": customer["id"]})
    ).json()
    assert [i["id"] for i in late["items"]] == [overdue.json()["invoice_id"]]
    assert late["items"][0]["overdue"] is True
    issued = (await stack.api.get("/invoices", params={"status": "OVERDUE"})).json()
    assert [i["id"] for i in issued["items"]] == [overdue.json()["invoice_id"]]
    assert_problem(
        await stack.api.get("/invoices", params={"status": "NOPE"}), 422, "validation_failed"
    )
    assert_problem(await stack.api.get("/invoices/inv_nothing"), 404, "not_found")


async def test_an_accepted_invoice_reads_as_pending_before_any_worker_has_run(
    temporal: Client, db_url: str
) -> None:
    async with running_stack(temporal, db_url, run_worker=False) as stack:
        customer, contract = await customer_and_contract(stack)
        accepted = await stack.api.post(
            "/invoices",
            json={
                "customer_id": customer["id"],
                "contract_id": contract["id"],
                "po_number": "PO-88",
                "items": [{"rate_code": "senior", "quantity": "2"}],
            },
        )
        assert accepted.status_code == 202, accepted.text
        invoice_id = accepted.json()["invoice_id"]
        body = await stack.invoice(invoice_id)
        stored = body["invoice"]
        assert stored["status"] == "PENDING" and stored["number"] is None
        assert stored["total_minor"] == accepted.json()["preview"]["total_minor"]
        assert stored["po_number"] == "PO-88"
        assert stored["created_at"].endswith("Z")
        assert [e["action"] for e in body["audit"]] == ["invoice.accepted"]
        listed = (await stack.api.get("/invoices", params={"status": "PENDING"})).json()
        assert [i["id"] for i in listed["items"]] == [invoice_id]


async def test_an_issue_date_whose_due_date_has_passed_needs_an_explicit_yes(
    stack: Stack,
) -> None:
    customer, contract = await customer_and_contract(stack)
    two_months_ago = (datetime.now(UTC).date() - timedelta(days=61)).isoformat()
    body = {
        "customer_id": customer["id"],
        "contract_id": contract["id"],
        "issue_date": two_months_ago,
        "items": [{"rate_code": "senior", "quantity": "1"}],
    }
    problem = assert_problem(await stack.api.post("/invoices", json=body), 422, "due_date_passed")
    assert "allow_past_due" in problem["detail"]
    assert await invoice_count(stack) == 0
    # backdated but not yet due (30-day terms): accepted as it is
    recent = (datetime.now(UTC).date() - timedelta(days=10)).isoformat()
    ok = await stack.api.post("/invoices", json={**body, "issue_date": recent})
    assert ok.status_code == 202, ok.text
    explicit = await stack.api.post("/invoices", json={**body, "allow_past_due": True})
    assert explicit.status_code == 202, explicit.text
