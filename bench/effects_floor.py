"""The effects floor's worker: ``python -m bench.effects_floor``.

The floor's own workflow (``BenchFloor`` with its search attributes, ``floor.py``) on a
task queue of its own, whose activities make the outside calls a happy-path invoice makes,
through the project's own clients: a payment link at the provider and the invoice e-mail
(one message of an invoice's size over a kept SMTP session, ``EmailSender``) when
delivering, an accounting post for the invoice and one for the payment. Nothing else: no
database, no rendering per invoice (the e-mail is rendered once, at start), no domain logic.
The provider sandbox it calls is one of its own (``effects.py``), so that its webhooks reach
the bare endpoint of ``effects_api.py`` rather than the API.
"""

from __future__ import annotations

import asyncio
import signal
from datetime import UTC, date, datetime
from decimal import Decimal

from temporalio import activity
from temporalio.worker import Worker

from bench.floor import FloorWorkflow
from core import eventloop
from core.settings import Settings, get_settings
from domain.invoicing import InvoiceLine, TaxLine
from domain.tax import TaxCategory
from integrations.accounting import (
    AccountingClient,
    AccountingCustomer,
    AccountingInvoice,
    AccountingInvoiceLine,
    AccountingPayment,
)
from integrations.email import EmailSender, SmtpSettings
from integrations.http import provider_client
from integrations.payments import PaymentsClient
from rendering.invoice_email import RenderedEmail, render_invoice_email
from schemas.invoice import InvoiceSnapshot

EFFECTS_TASK_QUEUE = "bench-effects"
CURRENCY = "GBP"


def bench_invoice(reference: str) -> InvoiceSnapshot:
    """The benchmark's invoice: two hours of consulting at £150.00, VAT at 20% (£360.00)."""
    line = InvoiceLine(
        position=1,
        description="Consulting",
        quantity=Decimal(2),
        unit="hour",
        unit_price_minor=15000,
        net_minor=30000,
        tax_category=TaxCategory.STANDARD,
        rate_code="consulting",
    )
    tax = TaxLine(
        name="VAT",
        rate=Decimal("0.2"),
        category=TaxCategory.STANDARD,
        taxable_minor=30000,
        tax_minor=6000,
    )
    return InvoiceSnapshot(
        invoice_id=reference,
        number="INV-2026-0001",
        customer_id="cus_effects",
        customer_name="Customer 0",
        customer_email="c0@bench.test",
        customer_locale="en_GB",
        tax_region="GB",
        currency=CURRENCY,
        issue_date=date(2026, 11, 24),
        due_date=date(2026, 12, 24),
        lines=[line],
        tax_lines=[tax],
        subtotal_minor=30000,
        tax_minor=6000,
        total_minor=36000,
    )


def accounting_invoice(invoice: InvoiceSnapshot) -> AccountingInvoice:
    return AccountingInvoice(
        reference=invoice.invoice_id,
        number=invoice.number,
        customer=AccountingCustomer(id=invoice.customer_id, name=invoice.customer_name),
        currency=invoice.currency,
        issue_date=invoice.issue_date,
        due_date=invoice.due_date,
        subtotal_minor=invoice.subtotal_minor,
        tax_minor=invoice.tax_minor,
        total_minor=invoice.total_minor,
        lines=[
            AccountingInvoiceLine(
                description=line.description,
                quantity=line.quantity,
                unit_price_minor=line.unit_price_minor,
                net_minor=line.net_minor,
                tax_category=line.tax_category.value,
            )
            for line in invoice.lines
        ],
        tax_lines=[tax.model_dump(mode="json") for tax in invoice.tax_lines],
    )


class EffectsActivities:
    """``floor.noop`` with effects: the floor's workflow calls one activity by step name."""

    def __init__(
        self,
        payments: PaymentsClient,
        accounting: AccountingClient,
        email: EmailSender,
        message: RenderedEmail,
        mail_from: str,
    ) -> None:
        self._payments = payments
        self._accounting = accounting
        self._email = email
        self._message = message
        self._mail_from = mail_from

    @activity.defn(name="floor.noop")
    async def step(self, step: str) -> str:
        # the payment link's reference, which the webhook names: the workflow's id
        reference = activity.info().workflow_id or ""
        if step == "deliver":
            await self._payments.create_link(
                idempotency_key=f"{reference}:payment-link",
                reference=reference,
                amount_minor=36000,
                currency=CURRENCY,
                description="Invoice INV-2026-0001",
            )
            await self._email.send(
                message_id=f"<{reference}.issue@invoiceflow>",
                sender=self._mail_from,
                to=["c0@bench.test"],
                subject=self._message.subject,
                html=self._message.html,
                text=self._message.text,
            )
        elif step == "post-invoice":
            await self._accounting.post_invoice(
                idempotency_key=f"{reference}:post-invoice",
                payload=accounting_invoice(bench_invoice(reference)),
            )
        elif step == "post-payment":
            await self._accounting.post_payment(
                idempotency_key=f"{reference}:post-payment",
                payload=AccountingPayment(
                    reference=f"{reference}:payment",
                    invoice_reference=reference,
                    amount_minor=36000,
                    currency=CURRENCY,
                    paid_at=datetime.now(UTC),
                ),
            )
        return step  # the local steps (create, approval context, record, close): nothing


def smtp_settings(settings: Settings) -> SmtpSettings:
    """As the invoice worker's (``worker.build.smtp_settings``)."""
    return SmtpSettings(
        host=settings.smtp_host,
        port=settings.smtp_port,
        username=settings.smtp_username,
        password=settings.smtp_password,
        start_tls=settings.smtp_start_tls,
        pool_size=settings.smtp_pool_size,
        idle_timeout=settings.smtp_idle_timeout_s,
    )


async def main() -> None:
    from core.temporal import connect
    from worker.build import workflow_runner

    settings = get_settings()
    client = await connect(settings)
    # an invoice's e-mail, rendered once: its size, not its rendering, is what is sent
    message = render_invoice_email(
        bench_invoice("inv_effects"),
        payment_url=f"{settings.payments_url}/pay/plink_0123456789abcdef01234567",
        view_url=f"{settings.public_base_url}/portal/invoices/inv_effects?sig=" + "0" * 64,
    )
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    async with (
        provider_client(settings.provider_timeout_s) as http,
        EmailSender(smtp_settings(settings)) as email,
    ):
        effects = EffectsActivities(
            PaymentsClient(
                http, settings.payments_url, settings.payments_api_key.get_secret_value()
            ),
            AccountingClient(
                http, settings.accounting_url, settings.accounting_api_key.get_secret_value()
            ),
            email,
            message,
            settings.mail_from,
        )
        async with Worker(
            client,
            task_queue=EFFECTS_TASK_QUEUE,
            workflows=[FloorWorkflow],
            workflow_runner=workflow_runner(settings.workflow_sandbox, "bench"),
            activities=[effects.step],
            max_concurrent_activities=100,
            max_concurrent_workflow_tasks=100,
        ):
            await stop.wait()


if __name__ == "__main__":
    eventloop.run(main())
