"""Database steps of the invoice workflow (run as local activities: short, idempotent)."""

from __future__ import annotations

from temporalio import activity
from temporalio.exceptions import ApplicationError

from schemas.delivery import DeliveryPlan
from schemas.invoice import (
    CreateInvoiceInput,
    CreateInvoiceResult,
    RecordPaymentInput,
    RecordPaymentResult,
    SetStatusInput,
)
from store import invoices
from store.db import SessionFactory, transaction
from store.parties import PartiesCache


class InvoiceStoreActivities:
    def __init__(
        self, sessions: SessionFactory, delivery_defaults: DeliveryPlan | None = None
    ) -> None:
        self._sessions = sessions
        # the settings' time zone and quiet hours, for customers who chose none: each
        # invoice's delivery plan is fixed when it is generated (store.delivery)
        self._delivery_defaults = delivery_defaults
        # customers and contracts are write-once, so the worker may keep what it read; as
        # many pairs as it keeps workflows: a billing run meets every contract once, and a
        # larger cache only grew the worker's memory with the number of contracts billed
        # (make bench-billing: 285 -> 324 MiB over 10,000 contracts with room for 10,000)
        self._parties = PartiesCache(max_pairs=1_000)

    @activity.defn(name="invoice.create")
    async def create_invoice(self, data: CreateInvoiceInput) -> CreateInvoiceResult:
        """Generate the invoice from its contract, number it and store it (or store why not)."""
        try:
            async with transaction(self._sessions) as session:
                return await invoices.create_invoice(
                    session,
                    data.request,
                    data.issue_date,
                    self._parties,
                    delivery_defaults=self._delivery_defaults,
                )
        except invoices.NotFound as missing:
            raise ApplicationError(str(missing), type="NotFound", non_retryable=True) from missing

    @activity.defn(name="invoice.record_payment")
    async def record_payment(self, data: RecordPaymentInput) -> RecordPaymentResult:
        async with transaction(self._sessions) as session:
            return await invoices.record_payment(session, data.invoice_id, data.payment)

    @activity.defn(name="invoice.set_status")
    async def set_status(self, data: SetStatusInput) -> None:
        async with transaction(self._sessions) as session:
            await invoices.set_status(
                session,
                data.invoice_id,
                data.status,
                step_key=data.step_key,
                actor=data.actor,
                note=data.note,
            )
