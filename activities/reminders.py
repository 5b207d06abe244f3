"""Send one reminder step: check holds, price its late charge once, record it, and reach
the customer by their channels in order.

The step's row (``{invoice_id}:{step_key}``) is written before any message, with the
charge priced from the invoice's payments and credit notes as stored; a retried attempt
reads it back, so the charge is the same and is made once. The message has its delivery
record, Message-ID and SMS key from the step (``activities.customer_messages``), so a
retry sends nothing twice. A hold in force is answered without a row or a message: the
workflow asks again when the hold ends.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import structlog
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio import activity

from activities import metrics
from activities.channels import (
    ChannelSend,
    NotDelivered,
    failing_since,
    record_attempts,
    refused_before,
    send_in_order,
)
from activities.customer_messages import CustomerMessage, CustomerMessages
from activities.heartbeat import heartbeats
from core.links import portal_view_url
from domain.invoicing import ExplicitLine
from domain.reminders import charges
from domain.reminders.reference_rates import (
    BANK_OF_ENGLAND,
    ECB_MAIN_REFINANCING,
    Table,
    extended,
)
from domain.tax import TaxCategory
from integrations.email import EmailSender
from integrations.sms import SmsClient
from rendering.invoice_email import RenderedEmail
from rendering.reminder_email import (
    ReminderCharge,
    ReminderFacts,
    charge_lines,
    render_reminder_email,
    render_reminder_sms,
)
from schemas.ids import idempotent_id
from schemas.reminder_flow import SendReminderInput, SendReminderResult
from schemas.reminder_tables import ReminderRow
from schemas.tables import Invoice
from store import audit, reminders
from store.db import SessionFactory, transaction

log = structlog.get_logger()

DEFAULT_CHANNELS = ("email", "sms")


def rate_tables(
    boe: Sequence[tuple[date, Decimal]] = (), ecb: Sequence[tuple[date, Decimal]] = ()
) -> dict[str, Table]:
    """The statutory regimes' reference rates: the published tables plus the setting's."""
    return {
        "statutory_uk": extended(BANK_OF_ENGLAND, list(boe)),
        "statutory_eu": extended(ECB_MAIN_REFINANCING, list(ecb)),
    }


class ReminderActivities:
    def __init__(
        self,
        sessions: SessionFactory,
        email: EmailSender,
        sms: SmsClient,
        *,
        mail_from: str,
        public_base_url: str,
        link_secret: str,
        rates: dict[str, Table],
        outage_limit: timedelta = timedelta(minutes=30),
    ) -> None:
        self._sessions = sessions
        self._messages = CustomerMessages(sessions, email, sms, mail_from=mail_from)
        self._public_base_url = public_base_url
        self._link_secret = link_secret
        self._rates = rates
        self._outage_limit = outage_limit

    @activity.defn(name="invoice.send_reminder")
    @heartbeats
    async def send_reminder(self, data: SendReminderInput) -> SendReminderResult:
        invoice = data.invoice
        step = data.step
        now = datetime.now(UTC)
        row_id = reminders.reminder_id(invoice.invoice_id, step.key)
        async with transaction(self._sessions) as session:
            row = await session.get(ReminderRow, row_id)
            if row is not None and row.outcome in ("sent", "failed"):
                return _result(row, data)
            if row is None:
                hold = await reminders.active_hold(
                    session, invoice.invoice_id, invoice.customer_id, now
                )
                if hold is not None:
                    metrics.count(metrics.REMINDERS, outcome="held", channel="none")
                    return SendReminderResult(
                        outcome="held", held_until=hold.until, hold_reason=hold.reason
                    )
                if data.stale_after is not None and now >= data.stale_after:
                    await _supersede(session, data)
                    metrics.count(metrics.REMINDERS, outcome="superseded", channel="none")
                    return SendReminderResult(outcome="superseded")
                row = await self._priced_row(session, data)
            for skipped in data.superseded:
                await reminders.record_step(
                    session,
                    invoice.invoice_id,
                    skipped.key,
                    tone=skipped.tone,
                    due_at=skipped.due_at,
                    outcome="superseded",
                    note=f"fell due while none could be sent; superseded by {step.key}",
                )
            given_up = await refused_before(session, invoice.invoice_id, f"reminder:{step.key}")
        charge = _charge_of(row, data)
        facts = ReminderFacts(
            tone=step.tone,
            balance_minor=data.balance_minor,
            disputed_minor=data.disputed_minor,
            today=data.due_at.date(),
            payment_url=data.payment_url,
            view_url=portal_view_url(self._public_base_url, self._link_secret, invoice.invoice_id),
            charge=charge,
        )
        message = CustomerMessage(
            invoice_id=invoice.invoice_id,
            purpose="reminder",
            key=step.key,
            action="invoice.reminder_sent",
            data={
                "step": step.key,
                "tone": step.tone,
                "amount_minor": data.balance_minor,
                "charge_minor": charge.total_minor,
            },
        )
        rendered = render_reminder_email(invoice, facts)
        sms_body = render_reminder_sms(invoice, facts)
        order = step.channels or data.channel_order or list(DEFAULT_CHANNELS)
        purpose = f"reminder:{step.key}"
        attempt = activity.info().attempt
        try:
            delivered = await send_in_order(
                order,
                {
                    "email": ChannelSend(
                        invoice.customer_email,
                        lambda: self._email(message, invoice.customer_email, rendered),
                    ),
                    "sms": ChannelSend(
                        invoice.customer_phone,
                        lambda: self._text(message, invoice.customer_phone, sms_body),
                    ),
                },
                failing_since=failing_since(),
                outage_limit=self._outage_limit,
                given_up=given_up,
                kind="reminder",
            )
        except NotDelivered as failed:
            async with transaction(self._sessions) as session:
                await record_attempts(
                    session, invoice.invoice_id, purpose, attempt, failed.attempts
                )
            if failed.retryable:
                raise failed.error from failed
            metrics.count(metrics.REMINDERS, outcome="failed", channel="none")
            return await self._finish(data, row_id, "failed", None, str(failed.error))
        async with transaction(self._sessions) as session:
            await record_attempts(session, invoice.invoice_id, purpose, attempt, delivered.attempts)
        metrics.count(metrics.REMINDERS, outcome="sent", channel=delivered.channel)
        return await self._finish(data, row_id, "sent", delivered.channel, None)

    async def _email(self, message: CustomerMessage, to: str, rendered: RenderedEmail) -> None:
        await self._messages.email(message, to, rendered)

    async def _text(self, message: CustomerMessage, phone: str | None, body: str) -> None:
        assert phone is not None
        await self._messages.text(message, phone, body)

    async def _priced_row(self, session: AsyncSession, data: SendReminderInput) -> ReminderRow:
        """The step's row with its charge priced from what is stored now, written once."""
        invoice, step = data.invoice, data.step
        quote = charges.Quote()
        terms = invoice.reminders
        if step.charge and terms is not None and terms.late_charge is not None:
            stored = await session.get(Invoice, invoice.invoice_id)
            assert stored is not None
            earlier = await reminders.reminders_of(session, invoice.invoice_id)
            interest_so_far, compensated = reminders.charged_so_far(earlier)
            charge = terms.late_charge
            quote = charges.quote(
                charge,
                currency=invoice.currency,
                principal_minor=invoice.amount_due_minor - data.disputed_minor,
                balance_minor=data.balance_minor,
                due_date=invoice.due_date,
                on=data.due_at.date(),
                reductions=await reminders.reductions(session, stored),
                interest_charged_minor=interest_so_far,
                compensation_charged=compensated,
                rates=self._rates.get(charge.kind, ()),
            )
        charge_invoice = (
            idempotent_id("inv", invoice.invoice_id, "late-charge", step.key)
            if quote.total_minor
            else None
        )
        await reminders.record_step(
            session,
            invoice.invoice_id,
            step.key,
            tone=step.tone,
            due_at=data.due_at,
            outcome="pending",
            amount_minor=data.balance_minor,
            fee_minor=quote.fee_minor,
            interest_minor=quote.interest_minor,
            compensation_minor=quote.compensation_minor,
            annual_rate=str(quote.annual_rate) if quote.annual_rate is not None else None,
            charge_invoice_id=charge_invoice,
        )
        row = await session.get(ReminderRow, reminders.reminder_id(invoice.invoice_id, step.key))
        assert row is not None
        return row

    async def _finish(
        self,
        data: SendReminderInput,
        row_id: str,
        outcome: str,
        channel: str | None,
        note: str | None,
    ) -> SendReminderResult:
        """Sent, or failed on every channel (then nothing is charged: no notice, no fee)."""
        async with transaction(self._sessions) as session:
            row = await session.get(ReminderRow, row_id)
            assert row is not None
            if row.outcome == "pending":
                row.outcome, row.channel, row.note = outcome, channel, note
                if outcome == "failed":
                    row.fee_minor = row.interest_minor = row.compensation_minor = 0
                    row.charge_invoice_id = None
                    await audit.record(
                        session,
                        step_key=f"{row.invoice_id}:reminder:{row.step_key}:failed",
                        invoice_id=row.invoice_id,
                        entity="reminder",
                        action="invoice.reminder_failed",
                        actor="workflow",
                        data={"step": row.step_key, "reason": note},
                    )
                session.add(row)
        log.info("reminder.done", reminder=row_id, outcome=row.outcome, channel=row.channel)
        return _result(row, data)


async def _supersede(session: AsyncSession, data: SendReminderInput) -> None:
    """Nothing was sent for this step, and the next one is due: the next one goes instead
    (a provider outage longer than the gap between two steps)."""
    await reminders.record_step(
        session,
        data.invoice.invoice_id,
        data.step.key,
        tone=data.step.tone,
        due_at=data.due_at,
        outcome="superseded",
        note="not sent before the next step fell due (the channels were down)",
    )


def _charge_of(row: ReminderRow, data: SendReminderInput) -> ReminderCharge:
    terms = data.invoice.reminders
    kind = terms.late_charge.kind if terms and terms.late_charge else None
    return ReminderCharge(
        fee_minor=row.fee_minor,
        interest_minor=row.interest_minor,
        compensation_minor=row.compensation_minor,
        annual_rate=Decimal(row.annual_rate) if row.annual_rate else None,
        statutory=kind if kind and kind.startswith("statutory") else None,
    )


def _result(row: ReminderRow, data: SendReminderInput) -> SendReminderResult:
    charge = _charge_of(row, data)
    lines = [
        ExplicitLine(description=text, unit_price_minor=amount, tax_category=TaxCategory.EXEMPT)
        for text, amount in charge_lines(data.invoice, charge)
    ]
    return SendReminderResult(
        outcome=row.outcome,
        channel=row.channel,
        failed=row.note if row.outcome == "failed" else None,
        charge_minor=charge.total_minor,
        charge_invoice_id=row.charge_invoice_id,
        charge_lines=lines if row.charge_invoice_id else [],
    )
