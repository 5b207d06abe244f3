"""Billable entries and billing runs over HTTP, on SQLite and PostgreSQL, against a real
Temporal server: checked input, idempotent starts, progress and the period's invoices."""

from __future__ import annotations

from typing import Any

import pytest
from temporalio.client import Client

from tests.api.test_invoices_api import assert_problem
from tests.e2e.test_lifecycle import customer_and_contract
from tests.support.billing import unique_period
from tests.support.stack import Stack, running_stack


@pytest.fixture
async def stack(temporal: Client, db_url: str):  # type: ignore[no-untyped-def]
    async with running_stack(temporal, db_url) as running:
        yield running


def entries_body(period: str, **entry: Any) -> dict[str, Any]:
    return {"period": period, "entries": [{"rate_code": "senior", "quantity": "7.5", **entry}]}


async def entries_of(stack: Stack, contract_id: str, period: str | None = None) -> list[dict]:
    params = {"period": period} if period else {}
    response = await stack.api.get(f"/contracts/{contract_id}/billable-entries", params=params)
    assert response.status_code == 200, response.text
    return response.json()["entries"]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"period": "2026-13"}, "invalid_period"),
        ({"period": "2026-11\n"}, "invalid_period"),
        ({"period": "２０２６-11"}, "invalid_period"),
        ({"period": "9999-12"}, "invalid_period"),
        ({"entries": [{"rate_code": "architect", "quantity": "1"}]}, "unknown_rate"),
        ({"entries": [{"rate_code": "senior", "quantity": "0"}]}, "invalid_quantity"),
        ({"entries": [{"rate_code": "senior", "quantity": "-2"}]}, "invalid_quantity"),
        (
            {"entries": [{"rate_code": "senior", "quantity": "1", "service_date": "2026-09-30"}]},
            "service_date_outside_period",
        ),
        ({"entries": []}, "validation_failed"),
        ({"entries": [{"rate_code": "senior", "quantity": "1", "hours": 3}]}, "validation_failed"),
    ],
)
async def test_bad_billable_entries_get_a_clear_422_and_write_nothing(
    stack: Stack, body: dict[str, Any], code: str
) -> None:
    _, contract = await customer_and_contract(stack)
    url = f"/contracts/{contract['id']}/billable-entries"
    assert_problem(await stack.api.post(url, json={**entries_body("2026-10"), **body}), 422, code)
    assert await entries_of(stack, contract["id"]) == []


async def test_entries_for_a_period_outside_the_contract_or_an_unknown_contract_are_refused(
    stack: Stack,
) -> None:
    _, contract = await customer_and_contract(stack, valid_from="2026-11-01")
    url = f"/contracts/{contract['id']}/billable-entries"
    assert_problem(
        await stack.api.post(url, json=entries_body("2026-10")), 422, "contract_not_yet_valid"
    )
    missing = await stack.api.post(
        "/contracts/con_nobody/billable-entries", json=entries_body("2026-10")
    )
    assert_problem(missing, 404, "unknown_contract")
    assert_problem(await stack.api.get(f"{url}?period=10-2026"), 422, "invalid_period")


async def test_entries_are_stored_listed_by_period_and_replayed_for_the_same_key(
    stack: Stack,
) -> None:
    _, contract = await customer_and_contract(stack)
    url = f"/contracts/{contract['id']}/billable-entries"
    body = {
        "period": "2026-10",
        "entries": [
            {"rate_code": "senior", "quantity": "7.5", "service_date": "2026-10-05"},
            {
                "kind": "milestone",
                "rate_code": "training",
                "quantity": "1",
                "description": "Kick-off",
            },
        ],
    }
    headers = {"Idempotency-Key": "timesheet-2026-10"}
    first = await stack.api.post(url, json=body, headers=headers)
    assert first.status_code == 201, first.text
    assert first.headers["Location"] == f"{url}?period=2026-10"
    created = first.json()["entries"]
    assert [(e["rate_code"], e["quantity"], e["invoice_id"]) for e in created] == [
        ("senior", "7.5", None),
        ("training", "1", None),
    ]
    again = await stack.api.post(url, json=body, headers=headers)
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    await stack.api.post(url, json=entries_body("2026-09"))

    assert [e["id"] for e in await entries_of(stack, contract["id"], "2026-10")] == [
        e["id"] for e in created
    ]
    assert len(await entries_of(stack, contract["id"])) == 3


async def test_a_billing_run_over_the_api_invoices_the_period_and_repeating_it_is_harmless(
    stack: Stack,
) -> None:
    period = unique_period()
    contracts = []
    for n in range(3):
        _, contract = await customer_and_contract(stack, email=f"ap{n}@billing-run.test")
        added = await stack.api.post(
            f"/contracts/{contract['id']}/billable-entries", json=entries_body(period)
        )
        assert added.status_code == 201, added.text
        contracts.append(contract["id"])

    started = await stack.api.post("/billing-runs", json={"period": period})
    assert started.status_code == 202, started.text
    assert started.headers["Location"] == f"/billing-runs/{period}"
    assert started.json()["workflow_id"] == f"billing-run-{period}"
    assert started.json()["status"] == "RUNNING"

    async def finished() -> dict[str, Any] | None:
        response = await stack.api.get(f"/billing-runs/{period}")
        assert response.status_code == 200, response.text
        body = response.json()
        done = body["status"] == "COMPLETED" and body["invoices"]["generated"] == 3
        return body if done else None

    state = await stack.wait_for(finished, timeout=60)
    described = await stack.temporal.get_workflow_handle(f"billing-run-{period}").describe()
    assert await described.static_summary() == f"Billing run {period}"
    assert state["progress"]["done"] and state["progress"]["contracts_started"] == 3
    assert state["invoices"] == {
        "generated": 3,
        "rejected": 0,
        "contracts_not_invoiced": 0,
    }

    repeated = await stack.api.post("/billing-runs", json={"period": period})
    assert repeated.status_code == 200, repeated.text
    assert repeated.json()["status"] == "COMPLETED"
    assert repeated.json()["progress"]["contracts_started"] == 3

    for contract_id in contracts:
        entries = await entries_of(stack, contract_id, period)
        assert entries and all(e["invoice_id"] for e in entries)
        late = await stack.api.post(
            f"/contracts/{contract_id}/billable-entries", json=entries_body(period)
        )
        assert_problem(late, 409, "period_already_billed")


async def test_a_rerun_bills_entries_that_came_after_the_run_and_no_contract_twice(
    stack: Stack,
) -> None:
    period = unique_period()
    _, early = await customer_and_contract(stack, email="early@rerun.test")
    added = await stack.api.post(
        f"/contracts/{early['id']}/billable-entries", json=entries_body(period)
    )
    assert added.status_code == 201, added.text

    async def completed_with(generated: int) -> dict[str, Any] | None:
        body = (await stack.api.get(f"/billing-runs/{period}")).json()
        done = body["status"] == "COMPLETED" and body["invoices"]["generated"] == generated
        return body if done else None

    assert (await stack.api.post("/billing-runs", json={"period": period})).status_code == 202
    await stack.wait_for(lambda: completed_with(1), timeout=60)
    early_invoice = {e["invoice_id"] for e in await entries_of(stack, early["id"], period)}

    # another contract's work for the period arrives once the run has completed
    _, late = await customer_and_contract(stack, email="late@rerun.test")
    added = await stack.api.post(
        f"/contracts/{late['id']}/billable-entries", json=entries_body(period)
    )
    assert added.status_code == 201, added.text
    state = (await stack.api.get(f"/billing-runs/{period}")).json()
    assert state["invoices"] == {
        "generated": 1,
        "rejected": 0,
        "contracts_not_invoiced": 1,
    }

    again = await stack.api.post("/billing-runs", json={"period": period})
    assert again.status_code == 200, again.text  # a plain start never runs a period twice
    rerun = await stack.api.post("/billing-runs", json={"period": period, "rerun": True})
    assert rerun.status_code == 202, rerun.text

    state = await stack.wait_for(lambda: completed_with(2), timeout=60)
    assert state["progress"]["contracts_started"] == 1  # the late contract only
    assert state["invoices"]["contracts_not_invoiced"] == 0
    late_entries = await entries_of(stack, late["id"], period)
    assert late_entries and all(e["invoice_id"] for e in late_entries)
    assert {e["invoice_id"] for e in await entries_of(stack, early["id"], period)} == early_invoice
    described = await stack.temporal.get_workflow_handle(f"billing-run-{period}").describe()
    assert await described.static_summary() == f"Billing run {period} (rerun)"

    # nothing is left: one more rerun starts no invoice
    assert (
        await stack.api.post("/billing-runs", json={"period": period, "rerun": True})
    ).status_code == 202

    async def finished_again() -> dict[str, Any] | None:
        body = (await stack.api.get(f"/billing-runs/{period}")).json()
        progress = body["progress"] or {}
        return body if body["status"] == "COMPLETED" and progress.get("done") else None

    state = await stack.wait_for(finished_again, timeout=60)
    assert state["progress"]["contracts_started"] == 0
    assert state["invoices"]["generated"] == 2


async def test_a_rerun_while_the_run_is_running_is_refused(
    temporal: Client, sqlite_url: str
) -> None:
    period = unique_period()
    async with running_stack(temporal, sqlite_url, run_worker=False) as stack:  # stays RUNNING
        started = await stack.api.post("/billing-runs", json={"period": period})
        assert started.status_code == 202, started.text
        try:
            rerun = await stack.api.post("/billing-runs", json={"period": period, "rerun": True})
            assert_problem(rerun, 409, "billing_run_in_progress")
            assert f"billing-run-{period} is still running" in rerun.json()["detail"]
        finally:
            await temporal.get_workflow_handle(f"billing-run-{period}").terminate("test over")


async def test_billing_run_periods_are_checked(stack: Stack) -> None:
    for period, code in (
        ("2026-13", "invalid_period"),
        ("26-11", "invalid_period"),
        ("2026-11\n", "invalid_period"),  # a second spelling of a month would bill it twice
        ("２０２６-11", "invalid_period"),  # full-width digits
        ("9999-12", "invalid_period"),
        ("2098-01", "period_not_started"),
    ):
        assert_problem(await stack.api.post("/billing-runs", json={"period": period}), 422, code)
    assert_problem(await stack.api.post("/billing-runs", json={}), 422, "validation_failed")
    assert_problem(await stack.api.get("/billing-runs/november"), 422, "invalid_period")
    assert_problem(await stack.api.get(f"/billing-runs/{unique_period()}"), 404, "not_found")
