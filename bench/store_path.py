"""The worker's database work per happy-path invoice, without Temporal or providers:
``make bench-store`` (``python -m bench.store_path``).

Runs the invoice's activities in their workflow's order (create, approval context,
deliver, post invoice, record payment, post payment, close) in the SDK's
``ActivityEnvironment`` (an activity context without a server) against a
scratch SQLite file (or ``BENCH_DATABASE_URL``), with the provider calls answered in
process, and prints the CPU time each step costs. The lifecycle benchmark's profile showed
the ORM as the worker's largest cost; this measures it on its own, in seconds, so a change
to the store can be compared before and after.
Environment: BENCH_STORE_INVOICES (default 500).
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from temporalio.testing import ActivityEnvironment

from activities.accounting import AccountingActivities
from activities.approval import ApprovalActivities
from activities.delivery import DeliveryActivities
from activities.store import InvoiceStoreActivities
from core.logging import configure_logging
from core.settings import Settings
from integrations.accounting import AccountingRef
from integrations.payments import PaymentLink
from schemas.approval import LoadApprovalContextInput
from schemas.ids import new_id
from schemas.invoice import (
    CreateInvoiceInput,
    DeliverInvoiceInput,
    InvoiceStatus,
    PaymentReceived,
    PostInvoiceInput,
    PostPaymentInput,
    RecordPaymentInput,
    SetStatusInput,
    StartInvoiceInput,
)
from schemas.tables import Contract, Customer
from store import migrations
from store.db import create_engine, session_factory, transaction

N = int(os.environ.get("BENCH_STORE_INVOICES", "500"))


class InProcessProviders:
    """Answers the payment, accounting and e-mail calls at once, so that only our own
    work (the database, rendering, payload building) is measured."""

    async def create_link(self, **kwargs: Any) -> PaymentLink:
        ref = kwargs["reference"]
        return PaymentLink(
            id=f"pl_{ref}",
            url=f"http://pay.test/{ref}",
            status="open",
            amount_minor=kwargs["amount_minor"],
            currency=kwargs["currency"],
            reference=ref,
        )

    async def send(self, **kwargs: Any) -> None:
        return None

    async def post_invoice(self, *, idempotency_key: str, payload: Any) -> AccountingRef:
        return AccountingRef(id=f"acc_{idempotency_key}")

    async def post_payment(self, *, idempotency_key: str, payload: Any) -> AccountingRef:
        return AccountingRef(id=f"acc_{idempotency_key}")


async def seed(sessions: Any) -> tuple[Customer, Contract]:
    now = datetime.now(UTC)
    async with transaction(sessions) as session:
        customer = Customer(
            id=new_id("cus"), name="Bench Ltd", email="bench@bench.test", created_at=now
        )
        session.add(customer)
        await session.flush()
        contract = Contract(
            id=new_id("con"),
            customer_id=customer.id,
            currency="GBP",
            tax_region="GB",
            payment_terms_days=30,
            rates=[
                {
                    "code": "consulting",
                    "description": "Consulting",
                    "unit": "hour",
                    "unit_price_minor": 15000,
                }
            ],
            created_at=now,
        )
        session.add(contract)
    return customer, contract


async def run(database_url: str) -> dict[str, list[float]]:
    engine = create_engine(database_url)
    sessions = session_factory(engine)
    providers: Any = InProcessProviders()
    settings = Settings()
    store = InvoiceStoreActivities(sessions)
    approval = ApprovalActivities(sessions, providers, settings)
    delivery = DeliveryActivities(
        sessions,
        providers,
        providers,
        providers,
        mail_from="billing@bench.test",
        public_base_url="http://bench.test",
        link_secret="bench-secret",
    )
    accounting = AccountingActivities(sessions, providers)
    customer, contract = await seed(sessions)
    cpu: dict[str, list[float]] = defaultdict(list)

    context = ActivityEnvironment()  # activity.info() as a first attempt sees it

    async def timed(step: str, call: Callable[[], Awaitable[Any]]) -> Any:
        async def in_context() -> Any:
            return await call()

        started = time.process_time()
        result = await context.run(in_context)
        cpu[step].append(time.process_time() - started)
        return result

    async def one_invoice(i: int) -> None:
        request = StartInvoiceInput(
            invoice_id=new_id("inv"),
            customer_id=customer.id,
            customer_name=customer.name,
            contract_id=contract.id,
            items=[{"rate_code": "consulting", "quantity": "2"}],
            requested_by="bench",
        )
        create = CreateInvoiceInput(request=request, issue_date=date(2026, 11, 24))
        created = await timed("create", lambda: store.create_invoice(create))
        invoice = created.invoice
        assert invoice is not None, created
        invoice_id = invoice.invoice_id
        context_input = LoadApprovalContextInput(invoice_id=invoice_id)
        await timed("approval context", lambda: approval.load_context(context_input))
        deliver = DeliverInvoiceInput(invoice=invoice)
        await timed("deliver", lambda: delivery.deliver_invoice(deliver))
        post = PostInvoiceInput(invoice=invoice)
        await timed("post invoice", lambda: accounting.post_invoice(post))
        payment = PaymentReceived(
            payment_id=f"pay_{i}_{invoice_id}",
            amount_minor=invoice.total_minor,
            currency=invoice.currency,
            paid_at=datetime.now(UTC),
            source="bench",
        )
        record = RecordPaymentInput(invoice_id=invoice_id, payment=payment)
        await timed("record payment", lambda: store.record_payment(record))
        post_payment = PostPaymentInput(
            invoice=invoice,
            payment_id=payment.payment_id,
            amount_minor=payment.amount_minor,
            paid_at=payment.paid_at,
        )
        await timed("post payment", lambda: accounting.post_payment(post_payment))
        close = SetStatusInput(invoice_id=invoice_id, status=InvoiceStatus.CLOSED, step_key="close")
        await timed("close", lambda: store.set_status(close))

    for i in range(N):
        await one_invoice(i)
    await engine.dispose()
    return cpu


def report(cpu: dict[str, list[float]], label: str) -> None:
    skip = max(1, N // 10)  # the first invoices warm caches and the statement cache
    print(f"\nStore path, {label}: CPU per invoice step (µs, median and mean of {N - skip})")
    total = 0.0
    for step, values in cpu.items():
        steady = sorted(values[skip:])
        mean = sum(steady) / len(steady)
        total += mean
        print(f"  {step:<18} {steady[len(steady) // 2] * 1e6:8.0f} {mean * 1e6:8.0f}")
    print(f"  {'total':<18} {'':8} {total * 1e6:8.0f}")


def main() -> None:
    configure_logging(level="WARNING")  # the activities' info lines would drown the figures
    url = os.environ.get("BENCH_DATABASE_URL")
    with tempfile.TemporaryDirectory(prefix="invoiceflow-store-bench-") as scratch:
        if url is None:
            url = f"sqlite:///{Path(scratch) / 'bench.db'}"
        migrations.upgrade(url)
        cpu = asyncio.run(run(url))
    report(cpu, url.split(":")[0])


if __name__ == "__main__":
    main()
