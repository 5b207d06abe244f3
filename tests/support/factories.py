"""Customers and contracts written straight to a test database."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from schemas.ids import new_id
from schemas.invoice import StartInvoiceInput
from schemas.tables import Contract, Customer
from store.db import SessionFactory, transaction

CONSULTING_RATES: list[dict[str, Any]] = [
    {
        "code": "senior",
        "description": "Senior consultant",
        "unit": "hour",
        "unit_price_minor": 12000,
    },
    {
        "code": "junior",
        "description": "Junior consultant",
        "unit": "hour",
        "unit_price_minor": 6550,
    },
    {
        "code": "training",
        "description": "Training day",
        "unit": "day",
        "unit_price_minor": 50000,
        "tax_category": "reduced",
    },
]


async def customer_and_contract(
    sessions: SessionFactory, **contract: Any
) -> tuple[Customer, Contract]:
    now = datetime.now(UTC)
    async with transaction(sessions) as session:
        customer = Customer(
            id=new_id("cus"),
            name=contract.pop("customer_name", "ACME Ltd"),
            email=contract.pop("email", f"billing+{new_id('x')}@acme.test"),
            locale=contract.pop("locale", "en_GB"),
            created_at=now,
        )
        session.add(customer)
        await session.flush()
        row = Contract(
            id=new_id("con"),
            customer_id=customer.id,
            currency=contract.pop("currency", "GBP"),
            tax_region=contract.pop("tax_region", "GB"),
            payment_terms_days=contract.pop("payment_terms_days", 30),
            rates=contract.pop("rates", CONSULTING_RATES),
            created_at=now,
            **contract,
        )
        session.add(row)
    return customer, row


def start_input(customer: Customer, contract: Contract, **overrides: Any) -> StartInvoiceInput:
    values: dict[str, Any] = {
        "invoice_id": new_id("inv"),
        "customer_id": customer.id,
        "customer_name": customer.name,
        "contract_id": contract.id,
        "issue_date": date(2026, 11, 2),
        "items": [{"rate_code": "senior", "quantity": "10"}],
        "requested_by": "test",
    }
    values.update(overrides)
    return StartInvoiceInput.model_validate(values)
