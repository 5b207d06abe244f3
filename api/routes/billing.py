"""Billable entries per contract and period, and billing runs that invoice a period.

Upstream apps send the period's work as billable entries; a billing run (``POST
/billing-runs``, or the monthly schedule) then makes one invoice per contract from its
unbilled entries. Starting a period's run twice is harmless: the second call answers 200
with the run's state. Entries that arrive for a contract after the run went past it are
billed by a rerun (``"rerun": true``), which skips every contract already invoiced.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from api.deps import ApiKeyDep, IdempotencyKeyDep, SessionDep, SettingsDep, TemporalClientDep
from api.errors import ApiError, Conflict, NotFoundError, Unprocessable
from api.idempotency import Answer, idempotent
from core.billing_runs import billing_run_state, start_billing_run
from domain.billing import parse_period, period_starts_after, terms_for_period
from domain.errors import InvalidPeriod, InvoiceRuleError
from domain.invoicing import BillableItem, check_items
from schemas.billing import (
    BillableEntriesCreate,
    BillableEntryList,
    BillableEntryOut,
    BillingRunCreate,
    BillingRunOut,
)
from schemas.ids import billing_run_workflow_id
from schemas.tables import BillableEntry, Contract
from store import audit, billing, parties
from store.db import begin_write

router = APIRouter(tags=["billing runs"])


class PeriodAlreadyBilled(ApiError):
    status, title, code = 409, "Period already billed", "period_already_billed"


def _period(period: str) -> str:
    try:
        parse_period(period)
    except InvalidPeriod as bad:
        raise Unprocessable(bad.detail, code=bad.code) from bad
    return period


def _entry_out(entry: BillableEntry) -> BillableEntryOut:
    return BillableEntryOut.model_validate(entry, from_attributes=True)


# --- billable entries --------------------------------------------------------------------


@router.post(
    "/contracts/{contract_id}/billable-entries", status_code=201, response_model=BillableEntryList
)
async def add_billable_entries(
    contract_id: str,
    body: BillableEntriesCreate,
    request: Request,
    session: SessionDep,
    api_key: ApiKeyDep,
    idempotency_key: IdempotencyKeyDep = None,
) -> JSONResponse:
    """Record work to bill in a period. Every entry is checked against the contract (known
    rate, quantity above zero, contract valid in the period) before any is stored."""
    period = _period(body.period)
    first, last = parse_period(period)
    outside = [e for e in body.entries if e.service_date and not first <= e.service_date <= last]
    if outside:
        raise Unprocessable(
            f"service date {outside[0].service_date} is not in period {period}",
            code="service_date_outside_period",
        )
    items = [BillableItem.model_validate(entry.model_dump()) for entry in body.entries]

    async def produce() -> Answer:
        await begin_write(session)
        # the lock makes a concurrent invoice for this period wait, or makes us wait for it
        contract = await billing.lock_contract(session, contract_id)
        if contract is None:
            raise NotFoundError(f"contract {contract_id} does not exist", code="unknown_contract")
        try:
            terms = terms_for_period(parties.contract_terms(contract, 0), period)
            check_items(terms, items)
        except InvoiceRuleError as rule:
            raise Unprocessable(rule.detail, code=rule.code) from rule
        if await billing.period_invoiced(session, contract.id, period):
            raise PeriodAlreadyBilled(
                f"contract {contract.id} already has its invoice for {period}; "
                "bill further work in a later period"
            )
        now = datetime.now(UTC)
        rows = await billing.add_entries(session, contract.id, period, body.entries, now)
        await audit.record(
            session,
            step_key=f"{contract.id}:billable-entries:{rows[0].id}",
            entity="billable_entry",
            action="billable_entries.added",
            actor=api_key.name,
            data={"contract_id": contract.id, "period": period, "entry_ids": [r.id for r in rows]},
        )
        await session.commit()
        out = BillableEntryList(
            contract_id=contract.id, period=period, entries=[_entry_out(row) for row in rows]
        )
        location = f"/contracts/{contract.id}/billable-entries?period={period}"
        return Answer(201, out.model_dump(mode="json"), location)

    return await idempotent(
        session, request, api_key, idempotency_key, body.model_dump(mode="json"), produce
    )


@router.get("/contracts/{contract_id}/billable-entries", response_model=BillableEntryList)
async def list_billable_entries(
    contract_id: str,
    session: SessionDep,
    _: ApiKeyDep,
    period: Annotated[str | None, Query(description="YYYY-MM; all periods if omitted")] = None,
) -> BillableEntryList:
    if period is not None:
        _period(period)
    if await session.get(Contract, contract_id) is None:
        raise NotFoundError(f"contract {contract_id} does not exist", code="unknown_contract")
    rows = await billing.list_entries(session, contract_id, period)
    await session.commit()
    return BillableEntryList(
        contract_id=contract_id, period=period, entries=[_entry_out(row) for row in rows]
    )


# --- billing runs ------------------------------------------------------------------------


async def _run_out(session: SessionDep, temporal: TemporalClientDep, period: str) -> BillingRunOut:
    invoices = await billing.period_invoice_counts(session, period)
    await session.commit()  # hold no read transaction while asking Temporal
    status, progress = await billing_run_state(temporal, period)
    return BillingRunOut(
        period=period,
        workflow_id=billing_run_workflow_id(period),
        status=status,
        progress=progress,
        invoices=invoices,
        links={"self": f"/billing-runs/{period}"},
    )


@router.post("/billing-runs", status_code=202, response_model=BillingRunOut)
async def start_run(
    body: BillingRunCreate,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    temporal: TemporalClientDep,
    api_key: ApiKeyDep,
    idempotency_key: IdempotencyKeyDep = None,
) -> JSONResponse:
    """Start the period's billing run: 202 if started now, 200 with its state if it is
    already running, or has completed and `rerun` is false. A rerun bills the contracts
    with unbilled entries and no invoice for the period yet (`invoices.contracts_not_invoiced`
    counts them), never a contract already invoiced for it; asked while the run is still
    running, it answers 409 `billing_run_in_progress`."""
    period = _period(body.period)
    if period_starts_after(period, datetime.now(UTC).date()):
        raise Unprocessable(
            f"period {period} has not begun; there is nothing to bill yet",
            code="period_not_started",
        )

    async def produce() -> Answer:
        started = await start_billing_run(
            temporal,
            period=period,
            task_queue=settings.task_queue,
            requested_by=api_key.name,
            rerun=body.rerun,
        )
        if body.rerun and not started:
            raise Conflict(
                f"{billing_run_workflow_id(period)} is still running: rerun the period once"
                " it has completed",
                code="billing_run_in_progress",
            )
        if started:
            invoices = await billing.period_invoice_counts(session, period)
            await session.commit()
            out = BillingRunOut(
                period=period,
                workflow_id=billing_run_workflow_id(period),
                status="RUNNING",
                progress=None,
                invoices=invoices,
                links={"self": f"/billing-runs/{period}"},
            )
        else:
            out = await _run_out(session, temporal, period)
        status_code = 202 if started else 200
        return Answer(status_code, out.model_dump(mode="json"), f"/billing-runs/{period}")

    return await idempotent(
        session,
        request,
        api_key,
        idempotency_key,
        # without defaults: a key stored before `rerun` existed still matches its request
        body.model_dump(mode="json", exclude_defaults=True),
        produce,
    )


@router.get("/billing-runs/{period}", response_model=BillingRunOut)
async def get_run(
    period: str, session: SessionDep, temporal: TemporalClientDep, _: ApiKeyDep
) -> BillingRunOut:
    """The run's progress (from the workflow) and the period's invoices (from the database)."""
    out = await _run_out(session, temporal, _period(period))
    if out.status is None and not (out.invoices.generated or out.invoices.rejected):
        raise NotFoundError(f"there is no billing run for {period}")
    return out
