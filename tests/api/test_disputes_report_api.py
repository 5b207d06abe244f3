"""GET /reports/disputes on SQLite and PostgreSQL: the figures over a known set of
disputes (opened by reason, SLA breaches, resolved per level, median and p90 cycle time,
amounts per currency), whole UTC days with `to` included, and refused periods."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client

from tests.api.test_invoices_api import assert_problem
from tests.support.disputes import Api, SeededInvoice, dispute_api, seed_dispute, seed_invoice


@pytest.fixture
async def api(temporal: Client, db_url: str, tmp_path: Path) -> AsyncIterator[Api]:
    async with dispute_api(temporal, db_url, tmp_path / "evidence") as running:
        yield running


NOV = datetime(2026, 11, 1, tzinfo=UTC)


async def test_the_report_counts_a_known_set_of_disputes(api: Api) -> None:
    """November 2026: five opened (two breach their SLA), four resolved (one of them
    opened in October) with cycle times 24, 48, 96 and 169 hours."""
    gbp = await seed_invoice(api.sessions)
    eur = await seed_invoice(api.sessions, currency="EUR", customer_name="Contoso GmbH")

    async def case(
        invoice: SeededInvoice,
        reason: str,
        opened: timedelta,
        hours: float | None = None,
        level: int = 1,
        **fields: Any,
    ) -> None:
        intake = {"reason": reason, "opened_at": NOV + opened, "currency": "GBP"}
        if invoice is eur:
            intake["currency"] = "EUR"
        if hours is not None:
            fields |= {
                "status": "resolved",
                "resolution": "credit_note",
                "resolved_level": level,
                "resolved_at": NOV + opened + timedelta(hours=hours),
            }
        await seed_dispute(api.sessions, invoice, intake_fields=intake, **fields)

    await case(gbp, "pricing", timedelta(days=1, hours=9), 24, credited_minor=10_000)
    await case(
        gbp,
        "pricing",
        timedelta(days=4, hours=9),
        48,
        level=2,
        sla_breached=True,
        written_off_minor=500,
    )
    await case(eur, "quantity", timedelta(days=9), 96, credited_minor=2_000)
    await case(gbp, "tax", timedelta(days=19), sla_breached=True)  # still open
    await case(gbp, "other", timedelta(days=-7), 169, level=3)  # opened in October
    await case(gbp, "quality", timedelta(days=27), 24 * 5)  # resolved in December
    await case(gbp, "pricing", timedelta(days=30))  # 1 December: the next period

    response = await api.client.get(
        "/reports/disputes", params={"from": "2026-11-01", "to": "2026-11-30"}
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["opened"] == 5
    assert report["opened_by_reason"] == {
        "pricing": 2,
        "quantity": 1,
        "quality": 1,
        "not_received": 0,
        "duplicate": 0,
        "tax": 1,
        "other": 0,
    }
    assert report["sla_breaches"] == 2
    assert report["resolved"] == 4
    assert report["resolved_by_level"] == {"1": 2, "2": 1, "3": 1}
    assert report["resolved_share_by_level"] == {"1": 0.5, "2": 0.25, "3": 0.25}
    assert (report["median_cycle_hours"], report["p90_cycle_hours"]) == (72.0, 147.1)
    assert report["credited_minor"] == {"EUR": 2_000, "GBP": 10_000}
    assert report["written_off_minor"] == {"EUR": 0, "GBP": 500}

    one_day = await api.client.get(
        "/reports/disputes", params={"from": "2026-11-02", "to": "2026-11-02"}
    )
    assert (one_day.json()["opened"], one_day.json()["resolved"]) == (1, 0)
    empty = await api.client.get(
        "/reports/disputes", params={"from": "2025-01-01", "to": "2025-01-31"}
    )
    assert empty.json()["resolved"] == 0 and empty.json()["median_cycle_hours"] is None

    backwards = {"from": "2026-11-30", "to": "2026-11-01"}
    assert_problem(
        await api.client.get("/reports/disputes", params=backwards), 422, "invalid_period"
    )
    for bad in ({"from": "2026-11-01"}, {"from": "yesterday", "to": "2026-11-30"}):
        response = await api.client.get("/reports/disputes", params=bad)
        assert_problem(response, 422, "validation_failed")
