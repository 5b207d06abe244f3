"""Invoice records: generate-and-number, revise. Each write is idempotent.

These functions are what the invoice activities call; each runs in one transaction and,
run twice with the same input, leaves the database as after the first run and returns
the same answer. Payments, status moves and the payment link live in
`store.invoice_moves`, and what the workflow knows of an invoice (its snapshot, its lines)
in `store.invoice_snapshots`; both are re-exported here, so `store.invoices` answers for
all three.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import bindparam, insert, text, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.billing import terms_for_period
from domain.errors import ContractNotForCustomer, InvoiceRuleError, NothingToBill
from domain.invoicing import BillableItem, ExplicitLine, InvoiceLine, generate_invoice
from schemas.delivery import DeliveryPlan
from schemas.invoice import (
    CreateInvoiceResult,
    InvoiceSnapshot,
    InvoiceStatus,
    StartInvoiceInput,
)
from schemas.tables import (
    AuditEvent,
    BillableEntry,
    Contract,
    Customer,
    Invoice,
    InvoiceLineRow,
)
from store import audit, billing, delivery, numbering, parties
from store.invoice_moves import NotFound, record_payment, set_payment_link, set_status
from store.invoice_snapshots import lines, reminder_terms, snapshot, snapshot_of

__all__ = [
    "NotFound",
    "create_invoice",
    "lines",
    "record_payment",
    "reminder_terms",
    "revise_invoice",
    "set_payment_link",
    "set_status",
    "snapshot",
]

_INVOICE_EXISTS = select(Invoice.id, Invoice.status).where(
    col(Invoice.id) == bindparam("invoice_id")
)
_INSERT_INVOICE = insert(Invoice)
# fills in the row the API stored as PENDING when it accepted the invoice
_COMPLETE_PENDING = (
    update(Invoice)
    .where(col(Invoice.id) == bindparam("invoice_id"))
    .where(col(Invoice.status) == InvoiceStatus.PENDING.value)
)
_INSERT_LINES = insert(InvoiceLineRow)
_PO_KNOWN = text("SELECT 1 FROM purchase_orders WHERE number = :number LIMIT 1")


async def create_invoice(
    session: AsyncSession,
    request: StartInvoiceInput,
    issue_date: date,
    known_parties: parties.PartiesCache | None = None,
    delivery_defaults: DeliveryPlan | None = None,
) -> CreateInvoiceResult:
    """Generate, number and store the invoice, or store why it was refused.

    The invoice's delivery plan is fixed here: the customer's preferences (read fresh:
    the parties cache keeps write-once rows, and preferences change) over
    `delivery_defaults` (the settings' zone and quiet hours; none: any hour, UTC).

    Runs once per invoice id: a retried step finds the stored invoice and answers as the
    first run did. The rows go in as plain Core INSERTs (built ORM objects cost more CPU
    than the SQL; make bench-store).
    """
    connection = await session.connection()
    found = (await connection.execute(_INVOICE_EXISTS, {"invoice_id": request.invoice_id})).first()
    accepted = found is not None and found.status == InvoiceStatus.PENDING.value
    if found is not None and not accepted:
        existing = await session.get(Invoice, request.invoice_id)
        assert existing is not None
        return await _result_for(session, existing)

    async def store_row(row: dict[str, Any]) -> None:
        """Insert the invoice, or complete the PENDING row the API kept (its acceptance time
        stays the invoice's created_at)."""
        if accepted:
            values = {k: v for k, v in row.items() if k not in ("id", "created_at")}
            await connection.execute(
                _COMPLETE_PENDING.values(**values), {"invoice_id": request.invoice_id}
            )
        else:
            await connection.execute(_INSERT_INVOICE, row)

    lookup = known_parties.customer_and_contract if known_parties else parties.customer_and_contract
    customer, contract = await lookup(session, request.customer_id, request.contract_id)
    if customer is None:
        raise NotFound(f"customer {request.customer_id} does not exist")
    if contract is None:
        raise NotFound(f"contract {request.contract_id} does not exist")
    # the API refuses this pair; a start that did not come through it meets the rule here
    not_theirs = contract.customer_id != customer.id
    entries: list[BillableEntry] = []
    if (request.billing_period is not None or contract.cap_minor is not None) and not not_theirs:
        # Lock the contract: entries added meanwhile wait for this invoice to commit, and
        # under a cap another invoice of the contract waits, then reads this one's total
        # (otherwise two could each fit under the cap, and together exceed it).
        await billing.lock_contract(session, contract.id)
    if request.billing_period is not None and not not_theirs:
        entries = await billing.unbilled_entries(session, contract.id, request.billing_period)

    now = datetime.now(UTC)
    row: dict[str, Any] = {
        "id": request.invoice_id,
        "customer_id": customer.id,
        "contract_id": contract.id,
        "status": InvoiceStatus.PENDING.value,
        "rejection_reason": None,
        "tax_lines": [],
        "currency": request.currency or contract.currency,
        "tax_region": contract.tax_region,
        "po_number": request.po_number,
        "external_ref": request.external_ref,
        # a refused pair is no invoice of that contract's period (it would block its entries)
        "billing_period": None if not_theirs else request.billing_period,
        "replaces_invoice_id": request.replaces_invoice_id,
        "late_charge_for": request.late_charge_for,
        "created_by": request.requested_by,
        "created_at": now,
        "updated_at": now,
    }
    terms = await parties.terms_of(session, contract)
    try:
        if not_theirs:
            raise ContractNotForCustomer(
                f"contract {contract.id} belongs to another customer than {customer.id}"
            )
        items = list(request.items)
        if request.billing_period is not None:
            terms = terms_for_period(terms, request.billing_period)
            if not entries:
                raise NothingToBill(
                    f"contract {contract.id!r} has no unbilled entries for {request.billing_period}"
                )
            items += billing.as_items(entries)
        generated = generate_invoice(
            terms,
            items=items,
            explicit_lines=request.lines,
            issue_date=issue_date,
            currency=request.currency,
        )
    except InvoiceRuleError as rule:
        row["status"] = InvoiceStatus.REJECTED.value
        row["rejection_reason"] = f"{rule.code}: {rule.detail}"
        await store_row(row)
        await audit.record(
            session,
            step_key=f"{request.invoice_id}:rejected",
            invoice_id=request.invoice_id,
            entity="invoice",
            action="invoice.rejected",
            actor=request.requested_by,
            data={"code": rule.code, "detail": rule.detail},
        )
        return CreateInvoiceResult(rejection_code=rule.code, rejection_reason=rule.detail)

    # a late charge is owed under the contract, not ordered: it has no PO line to match
    match_required = request.late_charge_for is None and await needs_match(
        session, request.po_number, customer, contract
    )
    series = numbering.series_for(contract.invoice_series, issue_date.year)
    number = await numbering.allocate(session, series)
    row.update(
        number=number,
        status=InvoiceStatus.ISSUED.value,
        currency=generated.currency,
        issue_date=generated.issue_date,
        due_date=generated.due_date,
        subtotal_minor=generated.subtotal_minor,
        tax_minor=generated.tax_minor,
        total_minor=generated.total_minor,
        tax_lines=[line.model_dump(mode="json") for line in generated.tax_lines],
    )
    await store_row(row)
    await billing.mark_billed(session, entries, request.invoice_id)
    await connection.execute(_INSERT_LINES, _line_rows(request.invoice_id, generated.lines))
    plan = delivery.resolve(
        await delivery.preferences(session, customer.id), delivery_defaults or DeliveryPlan()
    )
    await delivery.fix_plan(session, request.invoice_id, plan)
    await audit.record(
        session,
        step_key=f"{request.invoice_id}:generated",
        invoice_id=request.invoice_id,
        entity="invoice",
        action="invoice.generated",
        actor=request.requested_by,
        data={"number": number, "total_minor": generated.total_minor},
    )
    return CreateInvoiceResult(
        invoice=snapshot_of(
            customer,
            invoice_id=request.invoice_id,
            number=number,
            tax_region=contract.tax_region,
            currency=generated.currency,
            issue_date=generated.issue_date,
            due_date=generated.due_date,
            lines=generated.lines,
            tax_lines=generated.tax_lines,
            subtotal_minor=generated.subtotal_minor,
            tax_minor=generated.tax_minor,
            total_minor=generated.total_minor,
            po_number=request.po_number,
            reminders=reminder_terms(contract, request.late_charge_for),
            late_charge_for=request.late_charge_for,
            delivery=plan,
        ),
        match_required=match_required,
    )


def _line_rows(invoice_id: str, generated: list[InvoiceLine]) -> list[dict[str, Any]]:
    return [
        {
            "invoice_id": invoice_id,
            "position": line.position,
            "description": line.description,
            "quantity": str(line.quantity),
            "unit": line.unit,
            "unit_price_minor": line.unit_price_minor,
            "net_minor": line.net_minor,
            "tax_category": line.tax_category.value,
            "rate_code": line.rate_code,
            "po_line": line.po_line,
        }
        for line in generated
    ]


async def needs_match(
    session: AsyncSession, po_number: str | None, customer: Customer, contract: Contract
) -> bool:
    """An invoice is matched when its customer or contract requires a PO, or it names a PO
    InvoiceFlow knows (of any customer: naming another customer's is an exception). A PO
    number nobody registered is the customer's reference only, as before PO records."""
    if customer.po_required or contract.po_required:
        return True
    if not po_number:
        return False
    connection = await session.connection()
    return (await connection.execute(_PO_KNOWN, {"number": po_number})).first() is not None


async def _result_for(session: AsyncSession, invoice: Invoice) -> CreateInvoiceResult:
    if invoice.number is None:
        code, _, detail = (invoice.rejection_reason or "rejected: ").partition(": ")
        return CreateInvoiceResult(rejection_code=code, rejection_reason=detail)
    customer = await session.get(Customer, invoice.customer_id)
    contract = await session.get(Contract, invoice.contract_id)
    assert customer is not None and contract is not None
    return CreateInvoiceResult(
        invoice=await snapshot(session, invoice),
        match_required=invoice.late_charge_for is None
        and await needs_match(session, invoice.po_number, customer, contract),
    )


async def _get(session: AsyncSession, invoice_id: str) -> Invoice:
    invoice = await session.get(Invoice, invoice_id)
    if invoice is None:
        raise NotFound(f"invoice {invoice_id} does not exist")
    return invoice


async def revise_invoice(
    session: AsyncSession,
    invoice_id: str,
    items: list[BillableItem],
    explicit_lines: list[ExplicitLine],
    *,
    version: int,
    changed_by: str,
    po_number: str | None = None,
) -> tuple[InvoiceSnapshot | None, InvoiceRuleError | None]:
    """Replace a numbered invoice's lines after a rejection (it keeps its number).

    Runs once per version: a retried step finds its audit event and returns the stored
    invoice. A correction that breaks a contract rule changes nothing.
    """
    invoice = await _get(session, invoice_id)
    step_key = f"{invoice_id}:revised:v{version}"
    if await _audit_exists(session, step_key):
        return await snapshot(session, invoice), None
    if not items and not explicit_lines and po_number is not None:
        # a correction of the PO it names only (a PO exception's fix): the lines stay
        invoice.po_number = po_number
        invoice.updated_at = datetime.now(UTC)
        session.add(invoice)
        await audit.record(
            session,
            step_key=step_key,
            invoice_id=invoice_id,
            entity="invoice",
            action="invoice.revised",
            actor=changed_by,
            data={"version": version, "po_number": po_number},
        )
        await session.flush()
        return await snapshot(session, invoice), None
    contract = await parties.get_contract(session, invoice.contract_id)
    assert contract is not None and invoice.issue_date is not None
    if contract.cap_minor is not None:  # as in create_invoice: the others' totals, locked
        await billing.lock_contract(session, contract.id)
    terms = await parties.terms_of(session, contract, excluding_invoice_id=invoice_id)
    try:
        generated = generate_invoice(
            terms,
            items=items,
            explicit_lines=explicit_lines,
            issue_date=invoice.issue_date,
            currency=invoice.currency,
        )
    except InvoiceRuleError as rule:
        return None, rule
    for row in await lines(session, invoice_id):
        await session.delete(row)
    await session.flush()
    connection = await session.connection()
    await connection.execute(_INSERT_LINES, _line_rows(invoice_id, generated.lines))
    invoice.subtotal_minor = generated.subtotal_minor
    invoice.tax_minor = generated.tax_minor
    invoice.total_minor = generated.total_minor
    invoice.tax_lines = [line.model_dump(mode="json") for line in generated.tax_lines]
    if po_number is not None:
        invoice.po_number = po_number
    invoice.updated_at = datetime.now(UTC)
    session.add(invoice)
    await audit.record(
        session,
        step_key=step_key,
        invoice_id=invoice_id,
        entity="invoice",
        action="invoice.revised",
        actor=changed_by,
        data={"version": version, "total_minor": generated.total_minor},
    )
    await session.flush()
    return await snapshot(session, invoice), None


async def _audit_exists(session: AsyncSession, step_key: str) -> bool:
    found = await session.exec(select(AuditEvent.id).where(AuditEvent.step_key == step_key))
    return found.first() is not None
