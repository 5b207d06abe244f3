"""PO matching end to end, the cases an audit found untested: operations find a waiting
exception in Temporal's visibility by its search attributes (and no longer once it is
resolved), a customer's own tolerances let a variance the defaults refuse go out,
possible duplicates (by reference, by lines inside the window, not outside it), lines
naming their PO lines, and an invoice naming another customer's PO."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio.client import Client

from schemas import search_attributes as sa
from schemas.matching import ResolveExceptionInput
from tests.e2e.test_lifecycle import RATES, customer_and_contract
from tests.e2e.test_po_matching import (
    _resolve,
    cheap_rates,
    exception_groups,
    invoice,
    price_variance,
    purchase_order,
)
from tests.support.approvals import wait_for_live
from tests.support.stack import Stack, running_stack


async def _visible(stack: Stack, query: str) -> list[Any]:
    return [execution async for execution in stack.temporal.list_workflows(query)]


async def test_operations_find_a_waiting_exception_by_its_search_attributes_until_resolved(
    temporal: Client, sqlite_url: str
) -> None:
    async with running_stack(temporal, sqlite_url) as stack:
        _, invoice_id = await price_variance(stack, "visible@acme.test")
        await wait_for_live(stack, invoice_id, status="EXCEPTION")
        # the dev server is shared by the session: the query names this invoice too
        waiting = f'InvoiceStatus = "EXCEPTION" AND InvoiceId = "{invoice_id}"'

        async def listed() -> list[Any] | None:
            return await _visible(stack, waiting) or None

        [found] = await stack.wait_for(listed, timeout=15)  # visibility lags a little
        assert found.id == f"invoice-{invoice_id}"
        attributes = found.typed_search_attributes
        assert attributes.get(sa.EXCEPTION_REASON) == "price_variance"
        assert attributes.get(sa.EXCEPTION_OWNER) == "olivia"
        # and the ways operations filter the queue find it as well
        by_reason = (
            f'ExceptionReason = "price_variance" AND ExceptionOwner = "olivia"'
            f' AND InvoiceId = "{invoice_id}"'
        )
        assert [e.id for e in await _visible(stack, by_reason)] == [found.id]

        handle = stack.temporal.get_workflow_handle(f"invoice-{invoice_id}")
        await handle.execute_update(
            "resolve_exception",
            ResolveExceptionInput(
                person_id="olivia", resolution="accept_variance", justification="rate agreed"
            ),
        )
        await stack.wait_until_awaiting_payment(invoice_id)

        async def issued() -> list[Any] | None:
            [execution] = await _visible(stack, f'InvoiceId = "{invoice_id}"')
            moved = execution.typed_search_attributes.get(sa.INVOICE_STATUS) == "ISSUED"
            return [execution] if moved and not await _visible(stack, waiting) else None

        [after] = await stack.wait_for(issued, timeout=15)
        assert after.typed_search_attributes.get(sa.EXCEPTION_REASON) is None
        assert after.typed_search_attributes.get(sa.EXCEPTION_OWNER) is None
        assert await _visible(stack, by_reason) == []


async def customer_with_contract(
    stack: Stack, email: str, rates: list[dict[str, Any]] | None = None, **customer: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A customer with fields of its own (`match_tolerances`, ...) and a GBP contract."""
    created = await stack.api.post(
        "/customers", json={"name": "Tolerant Ltd", "email": email, **customer}
    )
    assert created.status_code == 201, created.text
    contract = await stack.api.post(
        "/contracts",
        json={
            "customer_id": created.json()["id"],
            "currency": "GBP",
            "tax_region": "GB",
            "payment_terms_days": 30,
            "rates": rates or RATES,
        },
    )
    assert contract.status_code == 201, contract.text
    return created.json(), contract.json()


async def test_a_customers_own_tolerance_lets_a_variance_the_defaults_refuse_go_out(
    temporal: Client, sqlite_url: str
) -> None:
    """130.00 an hour on a PO at 120.00: over the default (1%, at most 5.00: 1.20), within
    the customer's own 10% (12.00) capped at 15.00."""
    async with running_stack(temporal, sqlite_url) as stack:
        # under the defaults the same invoice is a price variance
        _, refused_id = await price_variance(stack, "strict@acme.test")
        refused = await wait_for_live(stack, refused_id, status="EXCEPTION")
        assert [r["code"] for r in refused["live"]["match"]["reasons"]] == ["PRICE_VARIANCE"]

        customer, contract = await customer_with_contract(
            stack,
            "lenient@acme.test",
            rates=cheap_rates(),
            match_tolerances={"price_over_pct": "10", "price_over_minor": 1500},
        )
        po = await purchase_order(stack, customer["id"])
        invoice_id = await invoice(
            stack,
            customer,
            contract,
            po_number="PO-1001",
            items=[{"rate_code": "senior", "quantity": "2"}],
        )
        issued = await stack.wait_until_awaiting_payment(invoice_id)
        assert issued["live"]["match"]["outcome"] == "MATCHED_WITH_VARIANCE"
        stored = issued["match"]
        assert stored["outcome"] == "MATCHED_WITH_VARIANCE" and stored["accepted_by"] is None
        [variance] = stored["variances"]
        assert (variance["kind"], variance["po_line"], variance["variance_minor"]) == (
            "price",
            1,
            1000,
        )
        assert len(await stack.mailbox("lenient@acme.test")) == 1
        lines = (await stack.api.get(f"/purchase-orders/{po['id']}")).json()["lines"]
        assert lines[0]["invoiced"] == "2"
        assert await stack.mailbox("strict@acme.test") == []  # the other still waits


def _days_ago(days: int) -> str:
    return (datetime.now(UTC).date() - timedelta(days=days)).isoformat()


async def _issued_then(
    stack: Stack, email: str, first: dict[str, Any], second: dict[str, Any]
) -> tuple[str, str, str]:
    """A customer with PO-1001, an invoice on it (`first`: body fields) issued, then a
    second one (`second`). The first's number, the second's id, and the customer's id."""
    customer, contract = await customer_and_contract(stack, email=email)
    await purchase_order(stack, customer["id"])
    first_id = await invoice(stack, customer, contract, po_number="PO-1001", **first)
    number = (await stack.wait_until_awaiting_payment(first_id))["invoice"]["number"]
    second_id = await invoice(stack, customer, contract, po_number="PO-1001", **second)
    return number, second_id, customer["id"]


def _duplicate_details(body: dict[str, Any]) -> list[str]:
    reasons = body["live"]["match"]["reasons"]
    assert [r["code"] for r in reasons] == ["POSSIBLE_DUPLICATE"], reasons
    return [r["detail"] for r in reasons]


async def test_possible_duplicates_by_reference_and_by_lines_within_the_window_only(
    temporal: Client, sqlite_url: str
) -> None:
    """The window is 7 days (settings) either way, inclusive, by issue date."""
    two_hours = [{"rate_code": "senior", "quantity": "2"}]
    one_and_one = [{"rate_code": "senior", "quantity": "1"}] * 2  # other lines, same total
    async with running_stack(temporal, sqlite_url) as stack:
        assert stack.settings.match_duplicate_window_days == 7
        await exception_groups(stack)
        # the same PO, reference and total (the lines differ): a duplicate
        number, by_ref, _ = await _issued_then(
            stack,
            "ref@acme.test",
            {"external_ref": "ACME-77", "items": two_hours},
            {"external_ref": "ACME-77", "items": one_and_one},
        )
        [detail] = _duplicate_details(await wait_for_live(stack, by_ref, status="EXCEPTION"))
        assert number in detail and "reference ACME-77" in detail, detail
        # the same lines and total 7 days apart (no reference): a duplicate
        number, by_lines, customer_id = await _issued_then(
            stack,
            "lines@acme.test",
            {"issue_date": _days_ago(7), "items": two_hours},
            {"issue_date": _days_ago(0), "items": two_hours},
        )
        [detail] = _duplicate_details(await wait_for_live(stack, by_lines, status="EXCEPTION"))
        assert number in detail and "same lines and total" in detail, detail
        assert "7 days apart" in detail, detail
        queue = (await stack.api.get("/exceptions", params={"customer_id": customer_id})).json()
        assert [item["invoice_id"] for item in queue["items"]] == [by_lines]
        assert [r["code"] for r in queue["items"][0]["reasons"]] == ["POSSIBLE_DUPLICATE"]
        # the same lines and total 8 days apart: outside the window, it goes out
        _, apart, _ = await _issued_then(
            stack,
            "apart@acme.test",
            {"issue_date": _days_ago(8), "items": two_hours},
            {"issue_date": _days_ago(0), "items": two_hours},
        )
        issued = await stack.wait_until_awaiting_payment(apart)
        assert issued["match"]["outcome"] == "MATCHED" and issued["match"]["reasons"] == []
        assert len(await stack.mailbox("apart@acme.test")) == 2
        for waiting in ("ref@acme.test", "lines@acme.test"):
            assert len(await stack.mailbox(waiting)) == 1  # only the first went out


def _line(quantity: str, price: int, po_line: int) -> dict[str, Any]:
    return {
        "description": "Senior consultant",
        "item_code": "senior",
        "quantity": quantity,
        "unit": "hour",
        "unit_price_minor": price,
        "po_line": po_line,
    }


async def test_lines_naming_their_po_lines_match_those_and_show_their_variances(
    temporal: Client, sqlite_url: str
) -> None:
    """Two PO lines of one item at two prices: by item, both invoice lines would go to the
    first (it has room for both), and the one at the second's price would be a price
    variance of 30.00; named, each matches its own line, one within tolerance."""
    async with running_stack(temporal, sqlite_url) as stack:
        customer, contract = await customer_and_contract(stack, email="lines@acme.test")
        po = await purchase_order(
            stack,
            customer["id"],
            lines=[
                {"line_number": 1, "item_code": "senior", "description": "Weekdays",
                 "quantity": "10", "unit": "hour", "unit_price_minor": 12000},
                {"line_number": 2, "item_code": "senior", "description": "Weekends",
                 "quantity": "10", "unit": "hour", "unit_price_minor": 15000},
            ],
        )  # fmt: skip
        invoice_id = await invoice(
            stack,
            customer,
            contract,
            po_number="PO-1001",
            lines=[_line("2", 15000, po_line=2), _line("3", 12100, po_line=1)],
        )
        await stack.wait_until_awaiting_payment(invoice_id)
        shown = (await stack.api.get(f"/invoices/{invoice_id}")).json()
        assert [(line["position"], line["po_line"]) for line in shown["lines"]] == [(1, 2), (2, 1)]
        match = shown["match"]
        assert (match["outcome"], match["po_id"], match["reasons"]) == (
            "MATCHED_WITH_VARIANCE",
            po["id"],
            [],
        )
        [variance] = match["variances"]
        assert variance == {
            "position": 2,
            "po_line": 1,
            "kind": "price",
            "expected": "GBP 120.00",
            "actual": "GBP 121.00",
            "variance_minor": 100,
            "variance_pct": variance["variance_pct"],
        }
        assert variance["variance_pct"] in ("0.83", "0.8333")
        lines = (await stack.api.get(f"/purchase-orders/{po['id']}")).json()["lines"]
        assert [(line["line_number"], line["invoiced"]) for line in lines] == [(1, "3"), (2, "2")]
        assert len(await stack.mailbox("lines@acme.test")) == 1


async def test_an_invoice_naming_another_customers_po_waits_and_never_reaches_the_customer(
    temporal: Client, sqlite_url: str
) -> None:
    async with running_stack(temporal, sqlite_url) as stack:
        await exception_groups(stack)
        owner, _ = await customer_and_contract(stack, email="owner@acme.test")
        po = await purchase_order(stack, owner["id"], number="PO-7001")
        customer, contract = await customer_and_contract(
            stack, name="Other Ltd", email="other@acme.test"
        )
        invoice_id = await invoice(
            stack,
            customer,
            contract,
            po_number="PO-7001",
            items=[{"rate_code": "senior", "quantity": "2"}],
        )
        waiting = await stack.wait_for_status(invoice_id, "EXCEPTION")  # live and stored
        reasons = waiting["live"]["match"]["reasons"]
        assert [r["code"] for r in reasons] == ["PO_OF_ANOTHER_CUSTOMER"]
        queue = (await stack.api.get("/exceptions", params={"customer_id": customer["id"]})).json()
        [item] = queue["items"]
        assert item["invoice_id"] == invoice_id
        assert [r["code"] for r in item["reasons"]] == ["PO_OF_ANOTHER_CUSTOMER"]
        # nothing of the other customer's PO is shown beside it, nor taken from it
        shown = (await stack.api.get(f"/exceptions/{item['id']}")).json()
        assert shown["po_id"] is None and [line["po_line"] for line in shown["lines"]] == [None]
        handle = stack.temporal.get_workflow_handle(f"invoice-{invoice_id}")
        assert await _resolve(handle, "olivia", "accept_variance", "ok") == "not_acceptable"
        assert (await stack.invoice(invoice_id))["live"]["status"] == "EXCEPTION"
        lines = (await stack.api.get(f"/purchase-orders/{po['id']}")).json()["lines"]
        assert lines[0]["invoiced"] == "0"
        assert await stack.mailbox("other@acme.test") == []
