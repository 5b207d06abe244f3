"""Customers and contracts: master data that upstream apps keep in InvoiceFlow."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from sqlmodel import col, select

from api.deps import ApiKeyDep, IdempotencyKeyDep, SessionDep, SettingsDep
from api.errors import NotFoundError, Unprocessable
from api.idempotency import Answer, idempotent
from core.settings import Settings
from schemas.api import (
    ContractCreate,
    ContractOut,
    ContractPage,
    CustomerCreate,
    CustomerOut,
    CustomerPage,
)
from schemas.credit_tables import CustomerCreditRow
from schemas.customer_credit import CreditRefundEntry, CustomerCreditEntry, CustomerCreditOut
from schemas.delivery import DeliveryPlan, DeliveryPreferencesIn
from schemas.delivery_tables import CustomerDeliveryRow
from schemas.dispute_tables import CreditNoteRow
from schemas.ids import new_id
from schemas.tables import Contract, Customer
from store import audit, credit_refunds, delivery, queries
from store.db import begin_write

router = APIRouter(tags=["customers and contracts"])

DELIVERY_FIELDS = tuple(DeliveryPreferencesIn.model_fields)


@router.post("/customers", status_code=201, response_model=CustomerOut)
async def create_customer(
    body: CustomerCreate,
    request: Request,
    session: SessionDep,
    api_key: ApiKeyDep,
    settings: SettingsDep,
    idempotency_key: IdempotencyKeyDep = None,
) -> JSONResponse:
    async def produce() -> Answer:
        await begin_write(session)
        values = body.model_dump(mode="json", exclude=set(DELIVERY_FIELDS))
        if body.match_tolerances is not None:  # the limits set, as JSON (Decimal as text)
            values["match_tolerances"] = body.match_tolerances.model_dump(
                mode="json", exclude_none=True
            )
        customer = Customer(id=new_id("cus"), created_at=datetime.now(UTC), **values)
        session.add(customer)
        await session.flush()  # the customer row first: its preferences refer to it
        chosen = body.model_dump(mode="json", include=set(DELIVERY_FIELDS), exclude_none=True)
        if chosen:
            await delivery.set_preferences(session, customer.id, chosen)
        await audit.record(
            session,
            step_key=f"{customer.id}:created",
            entity="customer",
            action="customer.created",
            actor=api_key.name,
            data={"customer_id": customer.id},
        )
        await session.commit()
        prefs = await delivery.preferences(session, customer.id)
        out = customer_out(customer, prefs, settings)
        return Answer(201, out.model_dump(mode="json"), f"/customers/{customer.id}")

    return await idempotent(
        session, request, api_key, idempotency_key, body.model_dump(mode="json"), produce
    )


@router.get("/customers", response_model=CustomerPage)
async def list_customers(
    session: SessionDep,
    _: ApiKeyDep,
    settings: SettingsDep,
    name: Annotated[str | None, Query(max_length=200, description="part of the name")] = None,
    email: Annotated[str | None, Query(max_length=320)] = None,
    external_ref: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> CustomerPage:
    """Customers, newest first; `name` matches any part of the name, ignoring case."""
    rows, total = await queries.list_customers(
        session, name=name, email=email, external_ref=external_ref, limit=limit, offset=offset
    )
    prefs = await delivery.preferences_of(session, [row.id for row in rows])
    return CustomerPage(
        items=[customer_out(row, prefs.get(row.id), settings) for row in rows],
        total=total,
        limit=limit,
        offset=offset,
    )


@router.get("/customers/{customer_id}", response_model=CustomerOut)
async def get_customer(
    customer_id: str, session: SessionDep, _: ApiKeyDep, settings: SettingsDep
) -> CustomerOut:
    customer = await session.get(Customer, customer_id)
    if customer is None:
        raise NotFoundError(f"customer {customer_id} does not exist")
    return customer_out(customer, await delivery.preferences(session, customer_id), settings)


@router.patch("/customers/{customer_id}", response_model=CustomerOut)
async def update_customer_delivery(
    customer_id: str,
    body: DeliveryPreferencesIn,
    session: SessionDep,
    api_key: ApiKeyDep,
    settings: SettingsDep,
) -> CustomerOut:
    """Change the customer's delivery preferences: `timezone`, `quiet_hours`,
    `channel_order` (a field left out stays; null goes back to the default). Invoices
    generated from now on follow them; each invoice keeps the plan it was generated with.
    The customer's other fields are fixed once created."""
    await begin_write(session)
    customer = await session.get(Customer, customer_id)
    if customer is None:
        raise NotFoundError(f"customer {customer_id} does not exist")
    changes = body.model_dump(mode="json", include=body.model_fields_set)
    before, after = await delivery.set_preferences(session, customer_id, changes)
    if before != after:
        await audit.record(
            session,
            step_key=f"{customer_id}:delivery:{new_id('chg')}",
            entity="customer",
            action="customer.delivery_changed",
            actor=api_key.name,
            data={"customer_id": customer_id, "before": before, "after": after},
        )
    await session.commit()
    return customer_out(customer, await delivery.preferences(session, customer_id), settings)


def customer_out(
    customer: Customer, prefs: CustomerDeliveryRow | None, settings: Settings
) -> CustomerOut:
    """The customer with its delivery fields as they apply (the default zone and order
    where it chose none)."""
    shown = delivery.preferences_out(
        prefs, DeliveryPlan(timezone=settings.default_timezone, quiet_hours=settings.quiet_hours)
    )
    out = CustomerOut.model_validate(customer, from_attributes=True)
    return out.model_copy(update=dict(shown))  # the models as they are, not dumped


@router.get("/customers/{customer_id}/credit", response_model=CustomerCreditOut)
async def get_customer_credit(
    customer_id: str, session: SessionDep, _: ApiKeyDep
) -> CustomerCreditOut:
    """Credit on the customer's account (credit notes on paid invoices the customer kept
    instead of a refund, and payments beyond an invoice's balance): what is left per
    currency, and each credit with what remains of it. The next invoices in that currency
    take it off, oldest credit first."""
    if await session.get(Customer, customer_id) is None:
        raise NotFoundError(f"customer {customer_id} does not exist")
    rows = await session.exec(
        select(CustomerCreditRow, CreditNoteRow.number)
        .outerjoin(CreditNoteRow, col(CreditNoteRow.id) == col(CustomerCreditRow.credit_note_id))
        .where(CustomerCreditRow.customer_id == customer_id)
        .order_by(col(CustomerCreditRow.created_at), col(CustomerCreditRow.id))
    )
    credits = [
        CustomerCreditEntry(
            id=row.id,
            source=row.source,
            credit_note_id=row.credit_note_id,
            credit_note_number=number or row.credit_note_id,
            payment_id=row.payment_id,
            invoice_id=row.invoice_id,
            currency=row.currency,
            amount_minor=row.amount_minor,
            remaining_minor=row.remaining_minor,
            created_at=row.created_at,
        )
        for row, number in rows
    ]
    refunds: dict[str, list[CreditRefundEntry]] = defaultdict(list)
    for refund in await credit_refunds.refunds_of(session, [c.id for c in credits]):
        refunds[refund.credit_id].append(
            CreditRefundEntry.model_validate(refund, from_attributes=True)
        )
    for credit in credits:
        credit.refunds = refunds[credit.id]
    balances: dict[str, int] = defaultdict(int)
    for credit in credits:
        balances[credit.currency] += credit.remaining_minor
    return CustomerCreditOut(customer_id=customer_id, balances=dict(balances), credits=credits)


@router.post("/contracts", status_code=201, response_model=ContractOut)
async def create_contract(
    body: ContractCreate,
    request: Request,
    session: SessionDep,
    api_key: ApiKeyDep,
    idempotency_key: IdempotencyKeyDep = None,
) -> JSONResponse:
    async def produce() -> Answer:
        await begin_write(session)
        if await session.get(Customer, body.customer_id) is None:
            raise Unprocessable(
                f"customer {body.customer_id} does not exist", code="unknown_customer"
            )
        values = body.model_dump(mode="json")
        values["rates"] = [rate.model_dump(mode="json") for rate in body.rates]
        # a contract keeps the schedule it was made with, the settings' default if none
        terms = body.reminders or request.app.state.settings.reminder_schedule
        values["reminders"] = terms.model_dump(mode="json")
        contract = Contract(
            id=new_id("con"),
            created_at=datetime.now(UTC),
            **{**values, "valid_from": body.valid_from, "valid_to": body.valid_to},
        )
        session.add(contract)
        await audit.record(
            session,
            step_key=f"{contract.id}:created",
            entity="contract",
            action="contract.created",
            actor=api_key.name,
            data={"contract_id": contract.id, "customer_id": contract.customer_id},
        )
        await session.commit()
        out = ContractOut.model_validate(contract, from_attributes=True)
        return Answer(201, out.model_dump(mode="json"), f"/contracts/{contract.id}")

    return await idempotent(
        session, request, api_key, idempotency_key, body.model_dump(mode="json"), produce
    )


@router.get("/contracts", response_model=ContractPage)
async def list_contracts(
    session: SessionDep,
    _: ApiKeyDep,
    customer_id: Annotated[str | None, Query(max_length=100)] = None,
    currency: Annotated[str | None, Query(pattern=r"^[A-Z]{3}$")] = None,
    valid_on: Annotated[date | None, Query(description="contracts in force on this day")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> ContractPage:
    """Contracts, newest first."""
    rows, total = await queries.list_contracts(
        session,
        customer_id=customer_id,
        currency=currency,
        valid_on=valid_on,
        limit=limit,
        offset=offset,
    )
    return ContractPage(
        items=[ContractOut.model_validate(row, from_attributes=True) for row in rows],
        total=total,
        limit=limit,
        offset=offset,
    )


@router.get("/contracts/{contract_id}", response_model=ContractOut)
async def get_contract(contract_id: str, session: SessionDep, _: ApiKeyDep) -> ContractOut:
    contract = await session.get(Contract, contract_id)
    if contract is None:
        raise NotFoundError(f"contract {contract_id} does not exist")
    return ContractOut.model_validate(contract, from_attributes=True)
