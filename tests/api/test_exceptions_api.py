"""The exception queue API on SQLite and PostgreSQL: list filters and keyset paging over
exceptions written straight to the database, one exception's lines beside its PO lines,
404s, and every refusal of the `resolve_exception` update as problem+json with its status
(from a stand-in invoice process on a real Temporal server), and 503 with Temporal away."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from temporalio.client import Client

from api.app import create_app
from core.settings import Settings
from domain.matching.model import Consumption
from schemas.ids import new_id
from schemas.tables import Invoice
from store import api_keys, purchase_orders
from store.db import create_engine, session_factory, transaction
from tests.api.test_invoices_api import assert_problem
from tests.support.exceptions import (
    PO_LINES,
    SeededException,
    exception_row,
    seed_exception,
    set_exception,
)
from tests.support.fake_invoice import fake_invoices
from tests.support.servers import bound_socket, serve
from tests.support.stack import Stack, running_stack

# Line 1 as the PO prices it, 45 hours of 40 ordered: only QUANTITY_OVER_ORDERED (2-way)
OVER_ORDERED = [
    {"description": "Senior consultant", "quantity": "45", "unit": "hour",
     "unit_price_minor": 12000, "rate_code": "senior"},
]  # fmt: skip


@pytest.fixture
async def stack(temporal: Client, db_url: str) -> AsyncIterator[Stack]:
    async with running_stack(temporal, db_url, run_worker=False) as running:
        yield running


def codes(item: dict[str, Any]) -> list[str]:
    return [reason["code"] for reason in item["reasons"]]


async def listed(stack: Stack, **params: Any) -> list[str]:
    response = await stack.api.get("/exceptions", params=params)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


async def test_the_queue_lists_open_exceptions_oldest_first_with_who_why_and_when(
    stack: Stack,
) -> None:
    newer = await seed_exception(stack.sessions)
    older = await seed_exception(
        stack.sessions,
        owner_id="oscar",
        opened_at=datetime.now(UTC) - timedelta(hours=30),
        match_mode="2-way",
        invoice_lines=OVER_ORDERED,
    )
    body = (await stack.api.get("/exceptions")).json()
    assert [item["id"] for item in body["items"]] == [older.exception_id, newer.exception_id]
    assert body["next_cursor"] is None and body["limit"] == 50
    first = body["items"][1]
    assert first["invoice_id"] == newer.invoice_id
    assert first["invoice_number"].startswith("INV-2026-")
    assert (first["customer_id"], first["customer_name"]) == (
        newer.customer_id,
        "Northwind Traders Ltd",
    )
    assert first["po_number"] == "PO-4471"
    assert codes(first) == ["PRICE_VARIANCE", "NOT_ON_PO", "QUANTITY_OVER_RECEIVED"]
    price = first["reasons"][0]
    assert (price["position"], price["po_line"], price["expected"], price["actual"]) == (
        1,
        1,
        "GBP 120.00",
        "GBP 130.00",
    )
    assert (first["owner_id"], first["owner_name"], first["group_id"]) == (
        "olivia",
        "Olivia Park",
        "ar",
    )
    assert 4.9 <= first["age_hours"] <= 5.2
    opened = datetime.fromisoformat(first["opened_at"])
    assert datetime.fromisoformat(first["escalates_at"]) - opened == timedelta(hours=72)
    assert first["escalated_at"] is None and first["waiting_on"] is None
    assert first["status"] == "open" and first["resolution"] is None
    assert codes(body["items"][0]) == ["QUANTITY_OVER_ORDERED"]


async def test_the_queue_filters_by_reason_owner_customer_age_and_status(stack: Stack) -> None:
    price = await seed_exception(stack.sessions)
    quantity = await seed_exception(
        stack.sessions,
        owner_id="oscar",
        opened_at=datetime.now(UTC) - timedelta(hours=50),
        match_mode="2-way",
        invoice_lines=OVER_ORDERED,
    )
    settled = await seed_exception(
        stack.sessions, status="resolved", resolution="accept_variance", resolved_by="olivia"
    )
    assert await listed(stack) == [quantity.exception_id, price.exception_id]
    assert await listed(stack, reason="PRICE_VARIANCE") == [price.exception_id]
    assert await listed(stack, reason="QUANTITY_OVER_ORDERED") == [quantity.exception_id]
    assert await listed(stack, reason="POSSIBLE_DUPLICATE") == []
    assert await listed(stack, owner="oscar") == [quantity.exception_id]
    assert await listed(stack, customer_id=price.customer_id) == [price.exception_id]
    assert await listed(stack, min_age_hours=24) == [quantity.exception_id]
    assert await listed(stack, min_age_hours=60) == []
    assert await listed(stack, status="resolved") == [settled.exception_id]
    assert await listed(stack, owner="oscar", reason="PRICE_VARIANCE") == []
    assert_problem(
        await stack.api.get("/exceptions", params={"reason": "LATE"}), 422, "validation_failed"
    )


async def test_the_queue_pages_by_cursor_without_skipping_when_the_queue_moves(
    stack: Stack,
) -> None:
    """Keyset paging: an exception of the first page closing before the second is read
    must not shift the second page (an offset would skip one), and exceptions opened at
    the same instant are each listed once."""
    at = datetime.now(UTC) - timedelta(hours=10)
    seeded: list[SeededException] = []
    for hours in (0, 0, 1, 2, 3):  # two at the very same instant
        seeded.append(await seed_exception(stack.sessions, opened_at=at + timedelta(hours=hours)))
    everything = await listed(stack)
    tied = sorted(s.exception_id for s in seeded[:2])  # the tie broken by id
    assert everything == tied + [s.exception_id for s in seeded[2:]]

    first = (await stack.api.get("/exceptions", params={"limit": 2})).json()
    assert [item["id"] for item in first["items"]] == everything[:2]
    await set_exception(stack.sessions, everything[0], status="resolved")
    seen = [item["id"] for item in first["items"]]
    cursor = first["next_cursor"]
    while cursor:
        page = (await stack.api.get("/exceptions", params={"limit": 2, "cursor": cursor})).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
    assert seen == everything

    bad = await stack.api.get("/exceptions", params={"cursor": "not-a-cursor"})
    assert_problem(bad, 422, "invalid_cursor")


async def test_one_exception_shows_each_invoice_line_beside_its_po_line(stack: Stack) -> None:
    po_lines = [dict(PO_LINES[0], invoiced="4"), *PO_LINES[1:]]  # another invoice took 4
    seeded = await seed_exception(stack.sessions, po_lines=po_lines)
    response = await stack.api.get(f"/exceptions/{seeded.exception_id}")
    assert response.status_code == 200, response.text
    shown = response.json()
    assert (shown["po_id"], shown["match_mode"], shown["currency"]) == (
        seeded.po_id,
        "3-way",
        "GBP",
    )
    assert shown["po_amount_minor"] == 40 * 12000 + 2 * 50000 + 20 * 6550
    assert shown["invoice_net_minor"] == 32 * 13000 + 2 * 50000 + 24000
    one, two, three = shown["lines"]

    assert (
        one["invoice_line"]["quantity"] == "32" and one["invoice_line"]["unit_price_minor"] == 13000
    )
    assert one["po_line"] == {
        "line_number": 1,
        "item_code": "senior",
        "description": "Senior consultant",
        "unit": "hour",
        "unit_price_minor": 12000,
        "ordered": "40",
        "received": "30",
        "invoiced_by_others": "4",
        "remaining": "26",  # 3-way: the stricter of 40 - 4 ordered and 30 - 4 received
    }
    assert one["variance"] == {
        "flagged": True,
        "codes": ["PRICE_VARIANCE", "QUANTITY_OVER_RECEIVED"],
        "unit_mismatch": False,
        "price_minor": 1000,
        "price_pct": "8.33",
        "quantity_over": "6",
    }
    assert two["po_line"]["line_number"] == 2 and two["variance"]["flagged"] is False
    assert two["variance"]["price_minor"] == 0 and two["reasons"] == []
    assert three["po_line"] is None
    assert three["variance"]["codes"] == ["NOT_ON_PO"] and three["variance"]["flagged"]
    assert [line["line_number"] for line in shown["other_po_lines"]] == [3]
    assert [(r["line_number"], r["quantity"], r["unit"]) for r in shown["receipts"]] == [
        (1, "20", "hour"),
        (2, "2", "day"),
        (1, "10", "hour"),
    ]
    assert shown["invoice_reasons"] == []
    # the list item is the detail's summary part
    item = (await stack.api.get("/exceptions")).json()["items"][0]
    assert {key: shown[key] for key in item if key != "age_hours"} == {
        key: value for key, value in item.items() if key != "age_hours"
    }


async def _issued_on_the_po(stack: Stack, seeded: SeededException, hours: int) -> str:
    """Another invoice of the seeded one's customer, issued, that consumed `hours` of PO
    line 1 (at the PO's 120.00)."""
    assert seeded.po_id is not None
    now = datetime.now(UTC)
    invoice_id = new_id("inv")
    async with transaction(stack.sessions) as session:
        seeded_invoice = await session.get(Invoice, seeded.invoice_id)
        assert seeded_invoice is not None
        session.add(
            Invoice(
                id=invoice_id,
                customer_id=seeded.customer_id,
                contract_id=seeded_invoice.contract_id,
                status="ISSUED",
                currency="GBP",
                tax_region="GB",
                po_number=seeded_invoice.po_number,
                created_by="test",
                created_at=now,
                updated_at=now,
            )
        )
        await session.flush()
        taken = Consumption(po_line=1, quantity=Decimal(hours), amount_minor=hours * 12000)
        assert await purchase_orders.consume(session, invoice_id, seeded.po_id, [taken], {})
    return invoice_id


async def test_an_adjusted_invoice_shows_its_po_without_what_its_original_consumed(
    stack: Stack,
) -> None:
    """The replacement takes its original's place on the PO (the match stage leaves the
    original's consumption out, and releases it before consuming): its exception shows the
    PO as the match saw it, even before the original's void has given its hours back."""
    seeded = await seed_exception(stack.sessions)
    original = await _issued_on_the_po(stack, seeded, 10)

    async def line_1() -> tuple[str, str, int]:
        shown = (await stack.api.get(f"/exceptions/{seeded.exception_id}")).json()
        po_line = shown["lines"][0]["po_line"]
        return (
            po_line["invoiced_by_others"],
            po_line["remaining"],
            shown["po_invoiced_by_others_minor"],
        )

    # as any other invoice's, the original's 10 hours count while it is no original
    assert await line_1() == ("10", "20", 120000)  # 3-way: 30 received - 10
    async with transaction(stack.sessions) as session:
        replacement = await session.get(Invoice, seeded.invoice_id)
        assert replacement is not None
        replacement.replaces_invoice_id = original
        session.add(replacement)
    assert await line_1() == ("0", "30", 0)


async def test_an_invoice_with_no_po_of_its_customer_shows_its_lines_with_nothing_beside(
    stack: Stack,
) -> None:
    seeded = await seed_exception(stack.sessions, po_number="PO-9999", create_po=False)
    shown = (await stack.api.get(f"/exceptions/{seeded.exception_id}")).json()
    assert codes(shown) == ["PO_MISSING"]
    assert [line["po_line"] for line in shown["lines"]] == [None, None, None]
    assert [r["code"] for r in shown["invoice_reasons"]] == ["PO_MISSING"]
    assert shown["receipts"] == [] and shown["po_id"] is None


async def test_an_unknown_exception_is_a_404_problem(stack: Stack) -> None:
    assert_problem(await stack.api.get("/exceptions/exc_nope"), 404, "not_found")
    posted = await stack.api.post(
        "/exceptions/exc_nope/resolution",
        json={"person_id": "olivia", "resolution": "accept_variance", "justification": "ok"},
    )
    assert_problem(posted, 404, "not_found")


async def test_the_queue_needs_an_api_key(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.api_url) as anonymous:
        assert_problem(await anonymous.get("/exceptions"), 401, "unauthorized")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_each_refusal_of_the_update_is_a_problem_with_its_status(stack: Stack) -> None:
    refusals = {
        "not_your_task": 403,
        "task_closed": 409,
        "no_exception": 409,
        "task_expired": 410,
        "justification_required": 422,
        "not_acceptable": 422,
        "empty_correction": 422,
        "choice_not_allowed": 422,
    }
    async with fake_invoices(stack.temporal) as fakes:
        for code, status in refusals.items():
            seeded = await seed_exception(stack.sessions)
            await fakes.start(seeded.invoice_id, refusal=code)
            response = await stack.api.post(
                f"/exceptions/{seeded.exception_id}/resolution",
                json={"person_id": "olivia", "resolution": "accept_variance"},
            )
            body = assert_problem(response, status, code)
            assert body["instance"] == f"/exceptions/{seeded.exception_id}/resolution"
            assert await fakes.received(seeded.invoice_id) == []  # the validator refused


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_a_resolution_reaches_the_process_as_sent_and_a_second_one_is_a_409(
    stack: Stack,
) -> None:
    seeded = await seed_exception(stack.sessions)
    async with fake_invoices(stack.temporal) as fakes:
        await fakes.start(seeded.invoice_id)
        path = f"/exceptions/{seeded.exception_id}/resolution"
        body = {
            "person_id": "olivia",
            "resolution": "accept_variance",
            "justification": "Rate rise agreed with the buyer",
        }
        response = await stack.api.post(path, json=body)
        assert response.status_code == 200, response.text
        assert response.json() == {
            "exception_id": seeded.exception_id,
            "invoice_id": seeded.invoice_id,
            "resolution": "accept_variance",
            "invoice_status": "AWAITING_APPROVAL",
        }
        [sent] = await fakes.received(seeded.invoice_id)
        assert (sent.person_id, sent.resolution, sent.justification, sent.operator) == (
            "olivia",
            "accept_variance",
            "Rate rise agreed with the buyer",
            False,
        )
        assert_problem(await stack.api.post(path, json=body), 409, "no_exception")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_a_settled_exception_is_refused_without_asking_the_process(stack: Stack) -> None:
    """The update names no exception: an old id must not resolve the invoice's next one."""
    seeded = await seed_exception(stack.sessions)
    await set_exception(
        stack.sessions,
        seeded.exception_id,
        status="resolved",
        resolution="correct",
        resolved_by="oscar",
    )
    async with fake_invoices(stack.temporal) as fakes:
        await fakes.start(seeded.invoice_id)
        response = await stack.api.post(
            f"/exceptions/{seeded.exception_id}/resolution",
            json={"person_id": "olivia", "resolution": "cancel", "justification": "dup"},
        )
        body = assert_problem(response, 409, "task_closed")
        assert "correct by oscar" in body["detail"]
        assert await fakes.received(seeded.invoice_id) == []


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_an_exception_whose_process_has_ended_is_a_409(stack: Stack) -> None:
    seeded = await seed_exception(stack.sessions)  # open, but no workflow runs for it
    response = await stack.api.post(
        f"/exceptions/{seeded.exception_id}/resolution",
        json={"person_id": "olivia", "resolution": "wait"},
    )
    assert_problem(response, 409, "task_closed")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_a_correction_its_contract_refuses_is_a_422_before_the_process_is_asked(
    stack: Stack,
) -> None:
    seeded = await seed_exception(stack.sessions)
    response = await stack.api.post(
        f"/exceptions/{seeded.exception_id}/resolution",
        json={
            "person_id": "olivia",
            "resolution": "correct",
            "items": [{"rate_code": "architect", "quantity": "1"}],
        },
    )
    assert_problem(response, 422, "unknown_rate")
    assert (await exception_row(stack.sessions, seeded.exception_id)).status == "open"


@contextlib.asynccontextmanager
async def api_without_temporal(
    database_url: str,
) -> AsyncIterator[tuple[httpx.AsyncClient, Any, Settings]]:
    """The API with Temporal unreachable (a port nothing listens on)."""
    engine = create_engine(database_url)
    async with transaction(session_factory(engine)) as session:
        _, key = await api_keys.create(session, "away-test")
    closed = bound_socket()
    port = closed.getsockname()[1]
    closed.close()
    settings = Settings(
        environment="test",
        database_url=database_url,
        temporal_address=f"127.0.0.1:{port}",
        temporal_rpc_timeout_s=1,
    )
    try:
        async with (
            serve(create_app(settings)) as url,
            httpx.AsyncClient(
                base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30
            ) as api,
        ):
            yield api, session_factory(engine), settings
    finally:
        await engine.dispose()


async def test_with_temporal_away_a_resolution_is_a_503_and_reads_still_answer(
    sqlite_url: str,
) -> None:
    async with api_without_temporal(sqlite_url) as (api, sessions, _):
        seeded = await seed_exception(sessions)
        response = await api.post(
            f"/exceptions/{seeded.exception_id}/resolution",
            json={"person_id": "olivia", "resolution": "accept_variance", "justification": "ok"},
        )
        assert_problem(response, 503, "temporal_unavailable")
        assert response.headers["Retry-After"]
        assert (await api.get(f"/exceptions/{seeded.exception_id}")).status_code == 200
        assert [item["id"] for item in (await api.get("/exceptions")).json()["items"]] == [
            seeded.exception_id
        ]
