"""The match stage's database steps: read what matching needs, consume the PO and keep
the outcome, open and move an exception.

Local activities (each one transaction, a marker in history): the workflow matches in
between with the pure `domain.matching`. Each is idempotent: the outcome is keyed by the
invoice, consumption by (invoice, PO line), an exception by its id.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio import activity

from core.settings import Settings
from domain.matching import line_key, match_invoice
from domain.matching.model import (
    Consumption,
    InvoiceToMatch,
    LineToMatch,
    MatchOutcome,
    PurchaseOrderSnapshot,
    RecentInvoice,
    Tolerances,
)
from domain.money import DECIMAL_CONTEXT, round_minor
from domain.tasks import TaskTimers
from schemas.exception_tables import InvoiceMatchRow
from schemas.invoice import InvoiceStatus
from schemas.matching import (
    ExceptionAssignment,
    LoadMatchInput,
    MatchContext,
    OpenExceptionInput,
    RecordMatchInput,
    RecordMatchResult,
    UpdateExceptionInput,
)
from schemas.po_tables import from_e4, to_e4
from schemas.tables import Contract, Customer, Invoice
from store import audit, exceptions, invoices, po_consumption, purchase_orders
from store.db import SessionFactory, transaction

# An invoice in these states is no duplicate of anything: it was never sent.
NOT_SENT = (InvoiceStatus.PENDING.value, InvoiceStatus.REJECTED.value, "CANCELLED")
# Nor is one in these: sent, then voided (replaced after a dispute), it is no longer owed,
# so an invoice billing the same again bills it once, not twice.
NOT_OWED = (InvoiceStatus.VOID.value,)


class MatchingActivities:
    def __init__(self, sessions: SessionFactory, settings: Settings) -> None:
        self._sessions = sessions
        self._settings = settings

    def timers(self) -> TaskTimers:
        s = self._settings
        return TaskTimers(
            remind_after=timedelta(hours=s.exception_remind_after_h),
            escalate_after=timedelta(hours=s.exception_escalate_after_h),
            expire_after=timedelta(hours=s.exception_expire_after_h),
            business_hours=s.exception_business_hours,
        )

    def _tolerances(self, customer: Customer) -> Tolerances:
        """The settings' defaults with the customer's own limits over them (the PO's and
        each line's come with the PO's snapshot)."""
        own = customer.match_tolerances
        return self._settings.match_tolerances.overridden(
            Tolerances.model_validate(own) if own else None
        )

    @activity.defn(name="matching.load")
    async def load(self, data: LoadMatchInput) -> MatchContext:
        async with transaction(self._sessions, writes=False) as session:
            invoice = await session.get(Invoice, data.invoice_id)
            assert invoice is not None and invoice.issue_date is not None
            customer = await session.get(Customer, invoice.customer_id)
            contract = await session.get(Contract, invoice.contract_id)
            assert customer is not None and contract is not None
            to_match = await _to_match(session, invoice, customer, contract)
            po: PurchaseOrderSnapshot | None = None
            other_customer = False
            if invoice.po_number:
                po = await po_consumption.snapshot(
                    session,
                    invoice.customer_id,
                    invoice.po_number,
                    exclude_invoice_id=invoice.id,
                    replaced_invoice_id=invoice.replaces_invoice_id,
                )
                if po is None:
                    other_customer = await po_consumption.po_exists_for_other_customer(
                        session, invoice.customer_id, invoice.po_number
                    )
            tolerances = self._tolerances(customer)
            window = self._settings.match_duplicate_window_days
            recent = await _recent(session, invoice, window)
        return MatchContext(
            invoice=to_match,
            po=po,
            po_of_another_customer=other_customer,
            tolerances=tolerances,
            recent=recent,
            duplicate_window_days=window,
        )

    @activity.defn(name="matching.record")
    async def record(self, data: RecordMatchInput) -> RecordMatchResult:
        """Consume what the invoice bills of its PO (all lines or none) and keep the
        outcome. An invoice accepted over its PO consumes at most what is left."""
        result = data.result
        now = datetime.now(UTC)
        async with transaction(self._sessions) as session:
            if result.po_id is not None and (result.consumption or data.accepted_by):
                invoice = await session.get(Invoice, data.invoice_id)
                assert invoice is not None and invoice.po_number
                # One consumer of a PO at a time: what the match saw may have been taken
                # meanwhile (a line's last units, the PO's last amount), so it is matched
                # again on what is left, under the lock, before anything is consumed.
                await purchase_orders.lock(session, result.po_id, exclusive=True)
                if invoice.replaces_invoice_id is not None:
                    # an adjusted invoice takes its original's place on the PO: the
                    # original (voided alongside) gives back what it consumed first
                    await po_consumption.release(session, invoice.replaces_invoice_id)
                po = await po_consumption.snapshot(
                    session,
                    invoice.customer_id,
                    invoice.po_number,
                    exclude_invoice_id=invoice.id,
                    replaced_invoice_id=invoice.replaces_invoice_id,
                )
                if po is None:
                    return RecordMatchResult(consumed=False)
                customer = await session.get(Customer, invoice.customer_id)
                contract = await session.get(Contract, invoice.contract_id)
                assert customer is not None and contract is not None
                tolerances = self._tolerances(customer)
                if data.accepted_by is None:
                    fresh = match_invoice(
                        await _to_match(session, invoice, customer, contract),
                        po,
                        tolerances=tolerances,
                    )
                    if fresh.outcome == MatchOutcome.EXCEPTION:
                        return RecordMatchResult(consumed=False)
                    result = fresh
                limits = _limits(po, tolerances)
                consumptions = list(result.consumption)
                if data.accepted_by is not None:  # a person took the variance: clamp
                    consumptions = _clamped(po, list(result.billed), limits)
                consumed = await po_consumption.consume(
                    session, data.invoice_id, po.po_id, consumptions, limits
                )
                # an invoice a person accepted goes out even when its PO takes nothing
                # more (closed meanwhile): what is clamped to the limits always fits
                if not consumed and data.accepted_by is None:
                    return RecordMatchResult(consumed=False)
            existing = await session.get(InvoiceMatchRow, data.invoice_id)
            row = existing or InvoiceMatchRow(
                invoice_id=data.invoice_id, outcome="", variances=[], reasons=[], matched_at=now
            )
            row.po_id = result.po_id
            row.po_revision = result.po_revision
            row.outcome = (
                "ACCEPTED" if data.accepted_by is not None else MatchOutcome(result.outcome).value
            )
            row.variances = result.variances_json()
            row.reasons = [r.model_dump(mode="json") for r in result.reasons]
            row.accepted_by = data.accepted_by
            row.justification = data.justification
            row.matched_at = now
            invoice_row = await session.get(Invoice, data.invoice_id)
            row.po_number = invoice_row.po_number if invoice_row else None
            session.add(row)
            await audit.record(
                session,
                step_key=f"{data.invoice_id}:matched:{data.attempt}",
                invoice_id=data.invoice_id,
                entity="invoice",
                action="invoice.matched",
                actor=data.accepted_by or "workflow",
                data={
                    "outcome": row.outcome,
                    "po_id": result.po_id,
                    "variances": len(result.variances),
                    "justification": data.justification,
                },
            )
        return RecordMatchResult(consumed=True)

    @activity.defn(name="matching.prepare_rematch")
    async def prepare_rematch(self, data: LoadMatchInput) -> bool:
        """After a correction (new lines, another PO): give back what the invoice's earlier
        version consumed, and say whether the corrected invoice is matched at all."""
        async with transaction(self._sessions) as session:
            invoice = await session.get(Invoice, data.invoice_id)
            assert invoice is not None
            customer = await session.get(Customer, invoice.customer_id)
            contract = await session.get(Contract, invoice.contract_id)
            assert customer is not None and contract is not None
            await po_consumption.release(session, invoice.id)
            await po_consumption.forget_released(session, invoice.id)
            return await invoices.needs_match(session, invoice.po_number, customer, contract)

    @activity.defn(name="matching.open_exception")
    async def open_exception(self, data: OpenExceptionInput) -> ExceptionAssignment:
        async with transaction(self._sessions) as session:
            row = await exceptions.open_exception(
                session,
                exception_id=data.exception_id,
                invoice_id=data.invoice_id,
                customer_id=data.customer_id,
                po_number=data.po_number,
                reasons=data.reasons,
                routing=self._settings.exception_routing,
                escalate_after=timedelta(hours=self._settings.exception_escalate_after_h),
                at=datetime.now(UTC),
            )
            owners, backup, others = await exceptions.people_of(session, row)
        return ExceptionAssignment(
            exception_id=row.id,
            owners=owners,
            backup=backup,
            escalation_group=others,
            group_id=row.group_id,
            timers=self.timers(),
        )

    @activity.defn(name="matching.update_exception")
    async def update_exception(self, data: UpdateExceptionInput) -> None:
        fields = data.model_dump(exclude={"exception_id", "step", "actor"}, exclude_none=True)
        if data.reasons is not None:
            fields["reasons"] = data.reasons
        async with transaction(self._sessions) as session:
            await exceptions.update_exception(
                session, data.exception_id, data.step, data.actor, **fields
            )


async def _to_match(
    session: AsyncSession, invoice: Invoice, customer: Customer, contract: Contract
) -> InvoiceToMatch:
    """The invoice as matching sees it, from its stored record and lines."""
    assert invoice.issue_date is not None
    rows = await invoices.lines(session, invoice.id)
    return InvoiceToMatch(
        invoice_id=invoice.id,
        customer_id=invoice.customer_id,
        currency=invoice.currency,
        issue_date=invoice.issue_date,
        po_number=invoice.po_number,
        po_required=customer.po_required or contract.po_required,
        lines=tuple(
            LineToMatch(
                position=row.position,
                item_code=row.rate_code,
                description=row.description,
                quantity=Decimal(row.quantity),
                unit=row.unit,
                unit_price_minor=row.unit_price_minor,
                net_minor=row.net_minor,
                po_line=row.po_line,
            )
            for row in rows
        ),
        net_minor=invoice.subtotal_minor,
        total_minor=invoice.total_minor,
        external_ref=invoice.external_ref,
        is_credit_note=invoice.total_minor < 0,
        replaces_invoice_id=invoice.replaces_invoice_id,
    )


def _clamped(
    po: PurchaseOrderSnapshot, consumptions: list[Consumption], limits: dict[int, int]
) -> list[Consumption]:
    """What an invoice accepted over its PO may consume: each line at most what is left
    of it (the amount in proportion), so consumption never passes a PO line's limit."""
    by_number = {line.line_number: line for line in po.lines}
    clamped = []
    for taken in consumptions:
        line = by_number.get(taken.po_line)
        if line is None:
            continue
        left = max(from_e4(limits[taken.po_line] - to_e4(line.invoiced_quantity)), Decimal(0))
        if taken.quantity <= left:
            clamped.append(taken)
        elif left > 0:
            share = DECIMAL_CONTEXT.divide(left, taken.quantity)
            amount = round_minor(DECIMAL_CONTEXT.multiply(Decimal(taken.amount_minor), share))
            clamped.append(replace(taken, quantity=left, amount_minor=amount))
    return clamped


def _limits(po: PurchaseOrderSnapshot, defaults: Tolerances) -> dict[int, int]:
    """The most of each PO line that may ever be consumed: its quantity plus its
    over-billing tolerance, in ten-thousandths (what the store's guard compares)."""
    limits = {}
    for line in po.lines:
        pct = defaults.overridden(line.tolerances).quantity_over_pct or Decimal(0)
        allowed = line.quantity + line.quantity * pct / 100
        limits[line.line_number] = to_e4(allowed)
    return limits


async def _recent(session: AsyncSession, invoice: Invoice, window_days: int) -> list[RecentInvoice]:
    """The customer's invoices sent and still owed within the window before or after this
    one's date: the duplicate check's candidates. Never the invoice an adjusted invoice
    replaces, whether or not its void has run yet (the two processes run side by side)."""
    assert invoice.issue_date is not None
    earliest = invoice.issue_date - timedelta(days=window_days)
    latest = invoice.issue_date + timedelta(days=window_days)
    not_candidates = [i for i in (invoice.id, invoice.replaces_invoice_id) if i is not None]
    rows = await session.exec(
        select(Invoice).where(
            Invoice.customer_id == invoice.customer_id,
            col(Invoice.id).not_in(not_candidates),
            col(Invoice.status).not_in(NOT_SENT + NOT_OWED),
            col(Invoice.issue_date) >= earliest,
            col(Invoice.issue_date) <= latest,
        )
    )
    recent = []
    for other in rows:
        assert other.issue_date is not None
        keys = tuple(
            sorted(
                line_key(
                    row.rate_code, row.description, Decimal(row.quantity), row.unit_price_minor
                )
                for row in await invoices.lines(session, other.id)
            )
        )
        recent.append(
            RecentInvoice(
                invoice_id=other.id,
                number=other.number,
                customer_id=other.customer_id,
                currency=other.currency,
                total_minor=other.total_minor,
                po_number=other.po_number,
                external_ref=other.external_ref,
                issue_date=other.issue_date,
                line_keys=keys,
                is_credit_note=other.total_minor < 0,
            )
        )
    return recent
