"""PO exceptions written straight to a test database: an invoice with its lines, its PO
with lines and receipts, the people who own it, and the exception row, with reasons from
the real matcher (`domain.matching.match_invoice`) run on what was written."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from activities.matching import MatchingActivities
from core.links import TaskLink, task_url
from core.settings import Settings
from domain.matching import match_invoice
from domain.matching.model import MatchReason
from schemas.exception_tables import InvoiceExceptionRow
from schemas.ids import new_id
from schemas.matching import LoadMatchInput
from schemas.po_tables import DeliveryReceiptRow, PurchaseOrderLineRow, PurchaseOrderRow, to_e4
from schemas.tables import ApproverGroupRow, ApproverRow, Invoice, InvoiceLineRow
from store.db import SessionFactory, transaction
from store.exceptions import codes_text
from tests.support.factories import customer_and_contract

PEOPLE = {"olivia": "Olivia Park", "oscar": "Oscar Nwosu", "fiona": "Fiona Grant"}

# PO-4471, 3-way: 40 senior hours at 120.00 (30 received), 2 training days at 500.00
# (received), 20 junior hours at 65.50 (not billed by the invoice).
PO_LINES: list[dict[str, Any]] = [
    {"item_code": "senior", "description": "Senior consultant", "quantity": "40",
     "unit": "hour", "unit_price_minor": 12000},
    {"item_code": "training", "description": "Training day", "quantity": "2",
     "unit": "day", "unit_price_minor": 50000},
    {"item_code": "junior", "description": "Junior consultant", "quantity": "20",
     "unit": "hour", "unit_price_minor": 6550},
]  # fmt: skip
RECEIPTS: list[dict[str, Any]] = [
    {"line_number": 1, "quantity": "20", "reference": "TS-2026-10", "kind": "timesheet",
     "delivered_on": date(2026, 10, 31)},
    {"line_number": 1, "quantity": "10", "reference": "TS-2026-11", "kind": "timesheet",
     "delivered_on": date(2026, 11, 15)},
    {"line_number": 2, "quantity": "2", "reference": "DN-8812", "kind": "delivery_confirmation",
     "delivered_on": date(2026, 11, 3)},
]  # fmt: skip
# Line 1 at 130.00 (10.00 over the PO, tolerance 1.20) for 32 hours (30 received), line 2
# as ordered, line 3 a travel expense the PO does not have.
INVOICE_LINES: list[dict[str, Any]] = [
    {"description": "Senior consultant, November", "quantity": "32", "unit": "hour",
     "unit_price_minor": 13000, "rate_code": "senior"},
    {"description": "Training day", "quantity": "2", "unit": "day",
     "unit_price_minor": 50000, "rate_code": "training"},
    {"description": "Travel expenses", "quantity": "1", "unit": "unit",
     "unit_price_minor": 24000, "rate_code": None},
]  # fmt: skip


@dataclass(frozen=True)
class SeededException:
    exception_id: str
    invoice_id: str
    customer_id: str
    po_id: str | None
    reasons: list[MatchReason]


async def people(sessions: SessionFactory) -> None:
    """Olivia and Oscar in accounts receivable, Fiona the finance manager (once only)."""
    now = datetime.now(UTC)
    async with transaction(sessions) as session:
        if await session.get(ApproverRow, "olivia") is not None:
            return
        for person_id, name in PEOPLE.items():
            email = f"{person_id}@corp.test"
            session.add(ApproverRow(id=person_id, name=name, email=email, created_at=now))
        await session.flush()
        session.add(
            ApproverGroupRow(id="ar", name="Accounts receivable", members=["olivia", "oscar"],
                             created_at=now)
        )  # fmt: skip
        session.add(
            ApproverGroupRow(id="finance", name="Finance managers", members=["fiona"],
                             created_at=now)
        )  # fmt: skip


async def seed_exception(
    sessions: SessionFactory,
    *,
    po_number: str | None = "PO-4471",
    create_po: bool = True,
    match_mode: str = "3-way",
    po_lines: list[dict[str, Any]] | None = None,
    receipts: list[dict[str, Any]] | None = None,
    invoice_lines: list[dict[str, Any]] | None = None,
    customer_name: str = "Northwind Traders Ltd",
    owner_id: str | None = "olivia",
    opened_at: datetime | None = None,
    **row: Any,
) -> SeededException:
    """One invoice waiting in EXCEPTION against its PO (the defaults: a price variance and
    more than received on line 1, a line not on the PO); `row` sets exception fields."""
    await people(sessions)
    customer, contract = await customer_and_contract(sessions, customer_name=customer_name)
    invoice_id = new_id("inv")
    now = datetime.now(UTC)
    opened = opened_at or now - timedelta(hours=5)
    lines = invoice_lines if invoice_lines is not None else INVOICE_LINES
    async with transaction(sessions) as session:
        net = 0
        rows = []
        for position, line in enumerate(lines, start=1):
            line_net = int(Decimal(line["quantity"]) * line["unit_price_minor"])
            net += line_net
            rows.append(
                InvoiceLineRow(
                    invoice_id=invoice_id,
                    position=position,
                    tax_category="standard",
                    net_minor=line_net,
                    **line,
                )
            )
        session.add(
            Invoice(
                id=invoice_id,
                customer_id=customer.id,
                contract_id=contract.id,
                number=f"INV-2026-{invoice_id.removeprefix('inv_').upper()}",
                status="EXCEPTION",
                currency="GBP",
                tax_region="GB",
                po_number=po_number,
                issue_date=date(2026, 11, 30),
                due_date=date(2026, 12, 30),
                subtotal_minor=net,
                tax_minor=net // 5,
                total_minor=net + net // 5,
                created_by="test",
                created_at=now,
                updated_at=now,
            )
        )
        await session.flush()
        session.add_all(rows)
        po_id = None
        if po_number is not None and create_po:
            po_id = new_id("po")
            session.add(
                PurchaseOrderRow(
                    id=po_id,
                    customer_id=customer.id,
                    number=po_number,
                    currency="GBP",
                    status="open",
                    match_mode=match_mode,
                    created_by="test",
                    created_at=now,
                    updated_at=now,
                )
            )
            await session.flush()
            received: dict[int, int] = {}
            for receipt in receipts if receipts is not None else RECEIPTS:
                number = receipt["line_number"]
                received[number] = received.get(number, 0) + to_e4(Decimal(receipt["quantity"]))
            for number, line in enumerate(po_lines or PO_LINES, start=1):
                session.add(
                    PurchaseOrderLineRow(
                        po_id=po_id,
                        line_number=number,
                        item_code=line["item_code"],
                        description=line["description"],
                        unit=line["unit"],
                        unit_price_minor=line["unit_price_minor"],
                        quantity_e4=to_e4(Decimal(line["quantity"])),
                        received_e4=received.get(number, 0),
                        invoiced_e4=to_e4(Decimal(line.get("invoiced", "0"))),
                    )
                )
            await session.flush()
            for receipt in receipts if receipts is not None else RECEIPTS:
                session.add(
                    DeliveryReceiptRow(
                        id=new_id("rcp"),
                        po_id=po_id,
                        line_number=receipt["line_number"],
                        quantity_e4=to_e4(Decimal(receipt["quantity"])),
                        delivered_on=receipt["delivered_on"],
                        reference=receipt["reference"],
                        kind=receipt["kind"],
                        actor="test",
                        at=now,
                    )
                )
    reasons = await match_reasons(sessions, invoice_id)
    exception_id = f"exc_{invoice_id}_1"
    fields: dict[str, Any] = {
        "group_id": "ar",
        "owner_name": PEOPLE.get(owner_id or "", owner_id),
        "escalation_owner_id": "fiona",
        "escalation_group_id": "finance",
        "escalates_at": opened + timedelta(hours=72),
        **row,
    }
    async with transaction(sessions) as session:
        session.add(
            InvoiceExceptionRow(
                id=exception_id,
                invoice_id=invoice_id,
                customer_id=customer.id,
                po_number=po_number,
                reason_codes=codes_text(reasons),
                reasons=[r.model_dump(mode="json") for r in reasons],
                owner_id=owner_id,
                opened_at=opened,
                updated_at=opened,
                **fields,
            )
        )
    return SeededException(exception_id, invoice_id, customer.id, po_id, reasons)


async def set_exception(sessions: SessionFactory, exception_id: str, **fields: Any) -> None:
    async with transaction(sessions) as session:
        row = await session.get(InvoiceExceptionRow, exception_id)
        assert row is not None
        for name, value in fields.items():
            setattr(row, name, value)
        session.add(row)


async def exception_row(sessions: SessionFactory, exception_id: str) -> InvoiceExceptionRow:
    async with sessions() as session:
        row = await session.get(InvoiceExceptionRow, exception_id)
        assert row is not None
        return row


def review_link(settings: Settings, exception_id: str, person_id: str = "olivia") -> str:
    """The link the task e-mail carries (activities.tasks builds it the same way)."""
    secret = settings.link_signing_secret.get_secret_value()
    claims = TaskLink(task_id=exception_id, person_id=person_id)
    return task_url(settings.public_base_url, secret, "/exception-review", claims)


async def match_reasons(sessions: SessionFactory, invoice_id: str) -> list[MatchReason]:
    """What the match stage finds for the stored invoice, with the default tolerances."""
    context = await MatchingActivities(sessions, Settings(environment="test")).load(
        LoadMatchInput(invoice_id=invoice_id)
    )
    result = match_invoice(
        context.invoice,
        context.po,
        tolerances=context.tolerances,
        po_of_another_customer=context.po_of_another_customer,
    )
    return list(result.reasons)
