"""The exception list's accounting-sync kind and the invoices' sync-status filter as an
operator calls them: a failing invoice listed with its resync link, the PO queue unchanged
by default, and bad filters refused as problem+json (SQLite; the store test covers both
engines)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from temporalio.client import Client

from store import sync_status
from store.db import SessionFactory, transaction
from tests.api.test_invoices_api import assert_problem
from tests.support.disputes import SeededInvoice, seed_invoice
from tests.support.stack import Stack, running_stack


@pytest.fixture
async def stack(temporal: Client, sqlite_url: str) -> AsyncIterator[Stack]:
    async with running_stack(temporal, sqlite_url, run_worker=False) as running:
        yield running


async def _failing(sessions: SessionFactory) -> SeededInvoice:
    invoice = await seed_invoice(sessions)
    at = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
    async with transaction(sessions) as session:
        await sync_status.post_failed(
            session,
            key=f"invoice:{invoice.invoice_id}",
            invoice_id=invoice.invoice_id,
            kind="invoice",
            gave_up_at=at,
            error="accounting: 503: down",
            now=at,
        )
    return invoice


async def test_a_failing_invoice_lists_under_kind_accounting_sync_only(stack: Stack) -> None:
    api = stack.api
    invoice = await _failing(stack.sessions)
    response = await api.get(
        "/exceptions", params={"kind": "accounting_sync", "customer_id": invoice.customer_id}
    )
    assert response.status_code == 200, response.text
    [item] = response.json()["items"]
    assert item["invoice_id"] == invoice.invoice_id
    assert item["invoice_number"] == invoice.number
    assert item["customer_name"] == invoice.customer_name
    assert item["failing_since"] == "2026-12-03T09:00:00Z"
    assert item["last_error"] == "accounting: 503: down"
    assert item["resync"]["href"] == f"/invoices/{invoice.invoice_id}/resync"
    default = await api.get("/exceptions", params={"customer_id": invoice.customer_id})
    assert default.json() == {"items": [], "limit": 50, "next_cursor": None}
    failing = await api.get("/invoices", params={"sync_status": "failing"})
    assert [i["id"] for i in failing.json()["items"]] == [invoice.invoice_id]


@pytest.mark.parametrize(
    ("path", "params", "code"),
    [
        ("/exceptions", {"kind": "accounting_sync", "owner": "p_1"}, "filter_not_for_kind"),
        ("/exceptions", {"kind": "accounting_sync", "status": "resolved"}, "filter_not_for_kind"),
        ("/exceptions", {"kind": "sync"}, "validation_failed"),
        ("/exceptions", {"kind": "accounting_sync", "cursor": "nope"}, "invalid_cursor"),
        ("/invoices", {"sync_status": "broken"}, "validation_failed"),
    ],
)
async def test_bad_filters_are_refused_as_problems(
    stack: Stack, path: str, params: dict[str, str], code: str
) -> None:
    response = await stack.api.get(path, params=params)
    assert_problem(response, 422, code)
