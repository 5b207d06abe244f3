"""The purchase-order API on SQLite and PostgreSQL: POs are created, read and listed,
amended as new revisions with who and when, and take delivery records; every bad request
is a problem document with a clear detail and leaves the stored PO as it was."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlmodel import func, select
from temporalio.client import Client

import api.routes.purchase_orders as po_routes
from schemas.po_tables import (
    DeliveryReceiptRow,
    PurchaseOrderLineRow,
    PurchaseOrderRevisionRow,
    PurchaseOrderRow,
)
from schemas.tables import AuditEvent
from tests.e2e.test_lifecycle import customer_and_contract
from tests.support.stack import Stack, running_stack


@pytest.fixture
async def stack(temporal: Client, db_url: str) -> AsyncIterator[Stack]:
    async with running_stack(temporal, db_url, run_worker=False) as running:
        yield running


def problem(response: Any, status: int, code: str, *said: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status and body["code"] == code, body
    for words in said:
        assert words in body["detail"], body["detail"]
    return body


async def stored(stack: Stack) -> dict[str, int]:
    """Row counts of every PO table and of the POs' audit events."""
    counts = {}
    async with stack.sessions() as session:
        for table in (
            PurchaseOrderRow,
            PurchaseOrderLineRow,
            PurchaseOrderRevisionRow,
            DeliveryReceiptRow,
        ):
            query = select(func.count()).select_from(table)
            counts[table.__tablename__] = int((await session.exec(query)).one())
        audit = select(func.count()).where(AuditEvent.entity == "purchase_order")
        counts["audit"] = int((await session.exec(audit)).one())
    return counts


def line(number: int, quantity: str = "10", **extra: Any) -> dict[str, Any]:
    return {
        "line_number": number,
        "item_code": "senior",
        "description": "Senior consultant",
        "quantity": quantity,
        "unit": "hour",
        "unit_price_minor": 12000,
        **extra,
    }


def po_body(customer: str, **fields: Any) -> dict[str, Any]:
    return {
        "customer_id": customer,
        "number": "4500012345",
        "currency": "GBP",
        "valid_from": "2026-01-01",
        "valid_to": "2026-12-31",
        "lines": [line(1), line(2, "2.5", item_code="training", unit="day")],
        **fields,
    }


async def new_po(stack: Stack, **fields: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    customer, _ = await customer_and_contract(stack)
    response = await stack.api.post("/purchase-orders", json=po_body(customer["id"], **fields))
    assert response.status_code == 201, response.text
    return customer, response.json()


@pytest.fixture
def woken(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The POs the routes said had changed (api.po_events.purchase_order_changed)."""
    calls: list[str] = []

    async def changed(request: Any, po_id: str) -> None:
        calls.append(po_id)

    monkeypatch.setattr(po_routes, "purchase_order_changed", changed)
    return calls


async def test_a_po_is_created_read_and_listed(stack: Stack) -> None:
    customer, po = await new_po(stack, created_by="buyer@acme.test")
    assert po["id"].startswith("po_") and po["status"] == "open" and po["revision"] == 1
    assert (po["match_mode"], po["created_by"]) == ("2-way", "buyer@acme.test")
    first, second = po["lines"]
    assert (first["ordered"], first["received"], first["invoiced"], first["remaining"]) == (
        "10",
        "0",
        "0",
        "10",
    )
    assert (second["ordered"], second["amount_minor"]) == ("2.5", 30000)
    assert po["amount_minor"] == 120000 + 30000
    assert [(r["revision"], r["actor"]) for r in po["revisions"]] == [(1, "buyer@acme.test")]
    assert po["revisions"][0]["changes"]["created"]["number"] == "4500012345"
    read = await stack.api.get(f"/purchase-orders/{po['id']}")
    assert read.status_code == 200 and read.json() == po

    other = await stack.api.post(
        "/purchase-orders", json=po_body(customer["id"], number="4500099999", match_mode="3-way")
    )
    assert other.status_code == 201, other.text
    listed = await stack.api.get("/purchase-orders", params={"customer_id": customer["id"]})
    page = listed.json()
    assert page["total"] == 2 and [p["number"] for p in page["items"]] == [
        "4500099999",
        po["number"],
    ]
    by_number = (await stack.api.get("/purchase-orders", params={"number": "4500012345"})).json()
    assert [p["id"] for p in by_number["items"]] == [po["id"]]
    closed = (await stack.api.get("/purchase-orders", params={"status": "closed"})).json()
    assert closed["total"] == 0
    paged = (await stack.api.get("/purchase-orders", params={"limit": 1, "offset": 1})).json()
    assert [p["id"] for p in paged["items"]] == [po["id"]]


async def test_the_same_idempotency_key_replays_the_first_po(stack: Stack) -> None:
    customer, _ = await customer_and_contract(stack)
    body = po_body(customer["id"])
    headers = {"Idempotency-Key": "po-create-1"}
    first = await stack.api.post("/purchase-orders", json=body, headers=headers)
    again = await stack.api.post("/purchase-orders", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert (await stored(stack))["purchase_orders"] == 1


@pytest.mark.parametrize(
    ("change", "status", "code", "said"),
    [
        ({"lines": [line(1), line(1, "3")]}, 422, "validation_failed", "repeated: 1"),
        ({"customer_id": "cus_nobody"}, 422, "unknown_customer", "cus_nobody does not exist"),
        ({"lines": [line(1, "1.00001")]}, 422, "validation_failed", "no more than 4 decimal"),
        ({"lines": [line(1, "0")]}, 422, "validation_failed", "greater than 0"),
        ({"lines": [line(1, "-2")]}, 422, "validation_failed", "greater than 0"),
        ({"lines": [line(1, "ten")]}, 422, "validation_failed", "lines.0.quantity"),
        ({"lines": []}, 422, "validation_failed", "lines"),
        ({"currency": "XYZ"}, 422, "validation_failed", "unsupported currency"),
        ({"valid_to": "2025-12-31"}, 422, "validation_failed", "valid_to is before valid_from"),
        ({"valid_from": "2026-02-30"}, 422, "validation_failed", "valid_from"),
        ({"match_mode": "4-way"}, 422, "validation_failed", "match_mode"),
        ({"tolerances": {"price_over": 5}}, 422, "validation_failed", "tolerances.price_over"),
        (
            {"lines": [line(1, tolerances={"total_over_minor": 500})]},
            422,
            "validation_failed",
            "the invoice total is compared with the whole PO",
        ),
        ({"number": " 4500"}, 422, "validation_failed", "number"),
    ],
)
async def test_a_bad_po_is_refused_and_writes_nothing(
    stack: Stack, change: dict[str, Any], status: int, code: str, said: str
) -> None:
    customer, _ = await customer_and_contract(stack)
    response = await stack.api.post("/purchase-orders", json=po_body(customer["id"], **change))
    problem(response, status, code, said)
    assert set((await stored(stack)).values()) == {0}


async def test_a_number_the_customer_already_uses_is_409_and_another_customer_may_use_it(
    stack: Stack,
) -> None:
    customer, po = await new_po(stack)
    before = await stored(stack)
    taken = await stack.api.post("/purchase-orders", json=po_body(customer["id"]))
    problem(taken, 409, "po_number_taken", "already has a purchase order numbered '4500012345'")
    assert await stored(stack) == before
    other, _ = await customer_and_contract(stack, email="ap@other.test")
    theirs = await stack.api.post("/purchase-orders", json=po_body(other["id"]))
    assert theirs.status_code == 201 and theirs.json()["id"] != po["id"]


async def test_amendments_are_revisions_with_who_and_when(stack: Stack, woken: list[str]) -> None:
    _, po = await new_po(stack)
    path = f"/purchase-orders/{po['id']}/amendments"
    response = await stack.api.post(
        path,
        json={
            "changed_by": "jane@acme.test",
            "reason": "scope extended",
            "add_lines": [line(3, "4", item_code="junior", unit_price_minor=6550)],
            "change_lines": [
                {"line_number": 1, "quantity": "12", "unit_price_minor": 12500},
                {"line_number": 2, "allow_over_delivery": True},
            ],
            "valid_to": "2027-03-31",
        },
    )
    assert response.status_code == 200, response.text
    amended = response.json()
    assert (amended["revision"], amended["valid_to"]) == (2, "2027-03-31")
    lines = {item["line_number"]: item for item in amended["lines"]}
    assert (lines[1]["ordered"], lines[1]["unit_price_minor"]) == ("12", 12500)
    assert lines[2]["allow_over_delivery"] and lines[3]["item_code"] == "junior"
    revision = amended["revisions"][1]
    assert (revision["revision"], revision["actor"]) == (2, "jane@acme.test") and revision["at"]
    changes = revision["changes"]
    assert changes["reason"] == "scope extended"
    assert changes["valid_to"] == {"from": "2026-12-31", "to": "2027-03-31"}
    assert changes["changed_lines"][0] == {
        "line_number": 1,
        "quantity": {"from": "10", "to": "12"},
        "unit_price_minor": {"from": 12000, "to": 12500},
    }
    assert [added["line_number"] for added in changes["added_lines"]] == [3]

    same = await stack.api.post(path, json={"changed_by": "jane", "valid_to": "2027-03-31"})
    assert same.status_code == 200 and same.json()["revision"] == 2  # nothing changed
    closing = await stack.api.post(path, json={"changed_by": "joe", "status": "closed"})
    assert closing.status_code == 200 and closing.json()["status"] == "closed"
    assert closing.json()["revisions"][2]["changes"]["status"] == {"from": "open", "to": "closed"}
    assert woken == [po["id"]] * 4  # created, amended, "amended" to the same, closed

    before = await stored(stack)
    refused = await stack.api.post(path, json={"changed_by": "jane", "valid_to": "2028-01-01"})
    problem(refused, 409, "po_closed", "is closed")
    assert await stored(stack) == before
    assert (await stack.api.get(f"/purchase-orders/{po['id']}")).json()["revision"] == 3
    assert woken == [po["id"]] * 4  # a refused amendment changed nothing to wake anyone for


@pytest.mark.parametrize(
    ("body", "status", "code", "said"),
    [
        ({"valid_to": "2027-01-01"}, 422, "validation_failed", "changed_by"),
        ({"changed_by": "jane"}, 422, "validation_failed", "changes nothing"),
        ({"changed_by": "jane", "add_lines": [line(2)]}, 422, "duplicate_line_number", "line 2"),
        (
            {"changed_by": "jane", "add_lines": [line(5), line(5)]},
            422,
            "validation_failed",
            "repeated: 5",
        ),
        (
            {"changed_by": "jane", "change_lines": [{"line_number": 9, "quantity": "1"}]},
            422,
            "unknown_line",
            "no line 9",
        ),
        (
            {"changed_by": "jane", "change_lines": [{"line_number": 1, "quantity": "3.5"}]},
            422,
            "quantity_below_used",
            "3.5 is below the 4 already received",
        ),
        (
            {"changed_by": "jane", "change_lines": [{"line_number": 1, "quantity": "0.00001"}]},
            422,
            "validation_failed",
            "decimal places",
        ),
        ({"changed_by": "jane", "valid_to": "2026-06-30"}, 422, "validity_not_extended", "before"),
        (
            {"changed_by": "jane", "valid_to": "2027-01-01", "customer_id": "cus_other"},
            422,
            "po_of_another_customer",
            "belongs to another customer",
        ),
        ({"changed_by": "jane", "status": "open"}, 422, "validation_failed", "status"),
        (
            {
                "changed_by": "jane",
                "change_lines": [{"line_number": 1, "tolerances": {"total_over_pct": "2"}}],
            },
            422,
            "validation_failed",
            "cannot set total_over_pct or total_over_minor",
        ),
    ],
)
async def test_a_bad_amendment_is_refused_and_writes_nothing(
    stack: Stack, body: dict[str, Any], status: int, code: str, said: str, woken: list[str]
) -> None:
    _, po = await new_po(stack)
    received = await stack.api.post(
        f"/purchase-orders/{po['id']}/receipts",
        json={
            "kind": "timesheet",
            "reference": "TS-1",
            "delivered_on": "2026-02-01",
            "lines": [{"line_number": 1, "quantity": "4"}],
        },
    )
    assert received.status_code == 201, received.text
    before, read_before = await stored(stack), await stack.api.get(f"/purchase-orders/{po['id']}")
    response = await stack.api.post(f"/purchase-orders/{po['id']}/amendments", json=body)
    problem(response, status, code, said)
    assert await stored(stack) == before
    assert (await stack.api.get(f"/purchase-orders/{po['id']}")).json() == read_before.json()
    assert woken == [po["id"]] * 2  # the PO's creation and the receipt only


async def test_an_unknown_po_is_404_for_every_operation(stack: Stack) -> None:
    problem(await stack.api.get("/purchase-orders/po_nothing"), 404, "not_found", "po_nothing")
    amend = await stack.api.post(
        "/purchase-orders/po_nothing/amendments", json={"changed_by": "x", "status": "closed"}
    )
    problem(amend, 404, "not_found", "purchase order po_nothing does not exist")
    receipt = await stack.api.post(
        "/purchase-orders/po_nothing/receipts",
        json={
            "kind": "goods_receipt",
            "reference": "GRN-1",
            "delivered_on": "2026-02-01",
            "lines": [{"line_number": 1, "quantity": "1"}],
        },
    )
    problem(receipt, 404, "not_found", "po_nothing")
    assert set((await stored(stack)).values()) == {0}


def receipt(reference: str, *lines: tuple[int, str], **fields: Any) -> dict[str, Any]:
    return {
        "kind": "goods_receipt",
        "reference": reference,
        "delivered_on": "2026-02-01",
        "lines": [{"line_number": n, "quantity": q} for n, q in lines],
        **fields,
    }


async def test_deliveries_are_recorded_once_and_never_over_the_order(
    stack: Stack, woken: list[str]
) -> None:
    customer, po = await new_po(stack, lines=[line(1), line(2, "2.5", allow_over_delivery=True)])
    path = f"/purchase-orders/{po['id']}/receipts"
    first = await stack.api.post(path, json=receipt("GRN-1", (1, "4"), (2, "1")))
    assert first.status_code == 201, first.text
    assert [item["received"] for item in first.json()["lines"]] == ["4", "1"]
    again = await stack.api.post(path, json=receipt("GRN-1", (1, "4"), (2, "1")))
    assert again.status_code == 200  # the same delivery sent twice is one
    assert [item["received"] for item in again.json()["lines"]] == ["4", "1"]
    assert len(again.json()["receipts"]) == 2
    more = await stack.api.post(path, json=receipt("GRN-2", (1, "6"), (2, "3"), kind="timesheet"))
    assert more.status_code == 201, more.text  # line 1 exactly full, line 2 over (allowed)
    assert [item["received"] for item in more.json()["lines"]] == ["10", "4"]
    assert woken == [po["id"]] * 4  # created, then three receipts

    before, read_before = await stored(stack), (await stack.api.get(f"/purchase-orders/{po['id']}"))
    refusals = [
        (receipt("GRN-3", (2, "1"), (1, "0.0001")), 422, "over_delivery", "does not allow"),
        (receipt("GRN-1", (1, "5")), 409, "receipt_reference_used", "already recorded"),
        (receipt("GRN-4", (7, "1")), 422, "unknown_line", "no line 7"),
        (receipt("GRN-5", (2, "1"), customer_id="cus_x"), 422, "po_of_another_customer", ""),
        (receipt("GRN-6", (2, "1"), (2, "1")), 422, "validation_failed", "repeated: 2"),
        (receipt("GRN-7", (2, "1"), kind="invoice"), 422, "validation_failed", "kind"),
        (receipt("GRN-8"), 422, "validation_failed", "lines"),
    ]
    for body, status, code, said in refusals:
        problem(await stack.api.post(path, json=body), status, code, said)
    assert await stored(stack) == before
    assert (await stack.api.get(f"/purchase-orders/{po['id']}")).json() == read_before.json()
    assert woken == [po["id"]] * 4  # the refusals woke nobody

    own = await stack.api.post(path, json=receipt("GRN-9", (2, "1"), customer_id=customer["id"]))
    assert own.status_code == 201
    await stack.api.post(
        f"/purchase-orders/{po['id']}/amendments", json={"changed_by": "x", "status": "cancelled"}
    )
    late = await stack.api.post(path, json=receipt("GRN-10", (2, "1")))
    problem(late, 409, "po_closed", "is cancelled")


async def test_customers_and_contracts_carry_po_required_and_tolerances(stack: Stack) -> None:
    customer = await stack.api.post(
        "/customers",
        json={
            "name": "Strict Ltd",
            "email": "ap@strict.test",
            "po_required": True,
            "match_tolerances": {"price_over_pct": "2.5", "total_over_minor": 500},
        },
    )
    assert customer.status_code == 201, customer.text
    shown = (await stack.api.get(f"/customers/{customer.json()['id']}")).json()
    assert shown["po_required"] is True
    assert shown["match_tolerances"]["price_over_pct"] == "2.5"
    assert shown["match_tolerances"]["total_over_minor"] == 500
    assert shown == customer.json()
    _, contract = await customer_and_contract(stack, po_required=True)
    assert contract["po_required"] is True
    assert (await stack.api.get(f"/contracts/{contract['id']}")).json()["po_required"] is True
    plain, plain_contract = await customer_and_contract(stack, email="ap@plain.test")
    assert plain["po_required"] is False and plain["match_tolerances"] is None
    assert plain_contract["po_required"] is False
    for tolerances, said in (
        ({"price_over_pct": "-1"}, "greater than or equal to 0"),
        ({"price_over_percent": "1"}, "price_over_percent"),
        ({"quantity_over_pct": "5000"}, "less than or equal to 1000"),
    ):
        refused = await stack.api.post(
            "/customers",
            json={"name": "Bad Ltd", "email": "ap@bad.test", "match_tolerances": tolerances},
        )
        problem(refused, 422, "validation_failed", said)
    names = [c["name"] for c in (await stack.api.get("/customers")).json()["items"]]
    assert "Bad Ltd" not in names


async def test_control_characters_are_refused_before_any_database_reads_them(
    stack: Stack,
) -> None:
    """PostgreSQL refuses NUL in text: it must be a 422 here, never a 500 there."""
    customer, po = await new_po(stack)
    problem(await stack.api.get("/purchase-orders/po%00x"), 422, "validation_failed", "po_id")
    listed = await stack.api.get("/purchase-orders", params={"number": "45\x0000"})
    problem(listed, 422, "validation_failed", "number")
    for change in (
        {"customer_id": "cus\x00"},
        {"number": "45\x0000"},
        {"lines": [line(1, description="two\x00lines")]},
    ):
        refused = await stack.api.post("/purchase-orders", json=po_body(customer["id"], **change))
        problem(refused, 422, "validation_failed")
    amend = await stack.api.post(
        f"/purchase-orders/{po['id']}/amendments",
        json={"changed_by": "ja\x00ne", "status": "closed"},
    )
    problem(amend, 422, "validation_failed", "changed_by")
    assert (await stored(stack))["purchase_orders"] == 1
