"""A known data set for the ops dashboards, written straight to a test database through
the store's tables (and `store.disputes` for disputes), as specs the test then computes
every figure from by itself.

The as-of date is 30 Nov 2026 and the flow period November 2026; queue SLA times are
relative to the real clock (`now`), since the queues are read as of now.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from schemas.delivery_tables import DeliveryAttemptRow
from schemas.exception_tables import InvoiceExceptionRow
from schemas.sync_tables import AccountingDocumentRow, AccountingSyncFailure
from schemas.tables import Delivery, Invoice, Payment
from store import disputes
from store.db import SessionFactory, transaction
from tests.support.factories import customer_and_contract

AS_OF = date(2026, 11, 30)
PERIOD = (datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC))
CUSTOMERS = {
    "N": ("Northwind Traders Ltd", "GBP"),
    "C": ("Contoso plc", "GBP"),
    "F": ("Fabrikam GmbH", "EUR"),
    "T": ("Tailspin Toys", "GBP"),
}


def at(day: str, hour: float = 9) -> datetime:
    base = datetime.fromisoformat(day).replace(tzinfo=UTC)
    return base + timedelta(hours=hour)


@dataclass
class InvoiceSpec:
    key: str  # N1, C4, ...: the customer's letter first
    status: str
    issue: date
    due: date | None
    total: int
    payments: list[tuple[int, datetime]] = field(default_factory=list)
    credited: int = 0
    written_off: int = 0
    credit_applied: int = 0
    carried: int = 0
    voided: bool = False
    delivered: datetime | None = None  # the first "issue" delivery
    created_hours_before_delivery: float = 1.0

    @property
    def customer(self) -> str:
        return self.key[0]

    @property
    def currency(self) -> str:
        return CUSTOMERS[self.customer][1]

    @property
    def paid(self) -> int:
        return sum(amount for amount, _ in self.payments)

    @property
    def created(self) -> datetime:
        if self.delivered is None:
            return at(self.issue.isoformat())
        return self.delivered - timedelta(hours=self.created_hours_before_delivery)


def d(text: str) -> date:
    return date.fromisoformat(text)


INVOICES = [
    InvoiceSpec("N1", "ISSUED", d("2026-11-20"), d("2026-12-20"), 120_000,
                delivered=at("2026-11-20", 10), created_hours_before_delivery=0.5),
    InvoiceSpec("N2", "PARTIALLY_PAID", d("2026-10-20"), d("2026-11-19"), 240_000,
                payments=[(40_000, at("2026-11-10"))], delivered=at("2026-10-20", 10)),
    InvoiceSpec("N3", "OVERDUE", d("2026-09-01"), d("2026-10-01"), 50_000),
    InvoiceSpec("N4", "COLLECTIONS", d("2026-07-01"), d("2026-07-31"), 75_000, credited=5_000),
    InvoiceSpec("N5", "OVERDUE", d("2026-06-01"), d("2026-07-01"), 33_000),
    InvoiceSpec("N6", "OVERDUE", d("2026-10-01"), d("2026-10-31"), 10_000,
                payments=[(10_000, at("2026-11-29"))]),
    InvoiceSpec("C1", "DISPUTED", d("2026-08-15"), d("2026-09-14"), 300_000),
    InvoiceSpec("C2", "OVERDUE", d("2026-10-01"), d("2026-10-31"), 99_999, written_off=999),
    InvoiceSpec("C3", "ISSUED", d("2026-11-30"), d("2026-11-30"), 10_000,
                delivered=at("2026-11-30", 12), created_hours_before_delivery=3),
    InvoiceSpec("C4", "PAID", d("2026-10-05"), d("2026-11-04"), 60_000,
                payments=[(30_000, at("2026-11-01")), (30_000, at("2026-11-20", 14))],
                delivered=at("2026-10-05", 10)),
    InvoiceSpec("C5", "VOID", d("2026-10-10"), d("2026-11-09"), 80_000, voided=True),
    InvoiceSpec("C6", "AWAITING_APPROVAL", d("2026-11-25"), d("2026-12-25"), 20_000),
    InvoiceSpec("C7", "ISSUED", d("2026-12-02"), d("2027-01-01"), 15_000,
                delivered=at("2026-12-02", 10)),
    InvoiceSpec("C8", "PARTIALLY_PAID", d("2026-11-10"), d("2026-12-10"), 40_000,
                payments=[(45_000, at("2026-11-12"))], carried=5_000,
                delivered=at("2026-11-12", 10), created_hours_before_delivery=49),
    InvoiceSpec("F1", "ISSUED", d("2026-11-01"), d("2026-12-01"), 500_000,
                credit_applied=100_000, delivered=at("2026-11-02", 11),
                created_hours_before_delivery=26),
    InvoiceSpec("F2", "OVERDUE", d("2026-08-01"), d("2026-08-31"), 150_000),
    InvoiceSpec("F3", "CLOSED", d("2026-09-10"), d("2026-10-10"), 200_000,
                payments=[(200_000, at("2026-10-15"))], delivered=at("2026-09-10", 10)),
    InvoiceSpec("T1", "CLOSED", d("2026-11-03"), d("2026-12-03"), 45_000,
                payments=[(45_000, at("2026-11-28", 15))], delivered=at("2026-11-03", 11),
                created_hours_before_delivery=2),
    InvoiceSpec("T2", "PAID", d("2026-11-05"), d("2026-12-05"), 12_000,
                payments=[(12_000, at("2026-11-06", 10))], delivered=at("2026-11-05", 10),
                created_hours_before_delivery=5),
    # held in PO exceptions: numbered, not issued
    InvoiceSpec("CX1", "EXCEPTION", d("2026-11-28"), d("2026-12-28"), 70_000),
    InvoiceSpec("CX2", "EXCEPTION", d("2026-11-29"), d("2026-12-29"), 30_000),
    InvoiceSpec("NX3", "EXCEPTION", d("2026-11-25"), d("2026-12-25"), 25_000),
    InvoiceSpec("NX4", "CLOSED", d("2026-11-01"), d("2026-12-01"), 5_000,
                payments=[(5_000, at("2026-11-02"))]),
]  # fmt: skip


@dataclass
class DisputeSpec:
    key: str
    invoice: str
    level: int
    reason: str
    opened: datetime
    owner: str | None = None
    group: str | None = None
    status: str = "open"
    sla_due: datetime | None = None
    sla_breached: bool = False
    resolved: datetime | None = None
    resolved_level: int | None = None
    amount: int = 10_000


@dataclass
class ExceptionSpec:
    key: str
    invoice: str
    reasons: list[str]
    opened: datetime
    owner: str | None = None
    group: str | None = None
    escalates_at: datetime | None = None
    escalated_at: datetime | None = None
    status: str = "open"


def disputes_spec(now: datetime) -> list[DisputeSpec]:
    day = timedelta(days=1)
    return [
        DisputeSpec("DO1", "C1", 2, "pricing", now - 9 * day, owner="Fiona Grant",
                    sla_due=now - day),
        DisputeSpec("DO2", "N3", 1, "quantity", now - 3 * day, owner="Olivia Park",
                    status="waiting_on_customer", sla_due=now + 2 * day),
        # breached at level 1, escalated: a new due time at level 2, the breach stays on record
        DisputeSpec("DO3", "F2", 2, "not_received", now - 6 * day, group="ar",
                    sla_due=now + day, sla_breached=True),
        DisputeSpec("DO4", "N2", 1, "pricing", now - 2 * day, owner="Olivia Park",
                    status="remedy_proposed", sla_due=now + 4 * day),
        DisputeSpec("DR1", "T1", 1, "pricing", at("2026-11-03"), status="resolved",
                    resolved=at("2026-11-05"), resolved_level=1),
        DisputeSpec("DR2", "C4", 2, "quality", at("2026-11-02"), status="resolved",
                    resolved=at("2026-11-12"), resolved_level=2),
        DisputeSpec("DR3", "T2", 1, "tax", at("2026-11-10"), status="resolved",
                    resolved=at("2026-11-11", 12)),
        DisputeSpec("DR4", "F3", 3, "other", at("2026-10-20"), status="resolved",
                    resolved=at("2026-10-30"), resolved_level=3),
        DisputeSpec("DR5", "C8", 3, "pricing", at("2026-11-14"), status="resolved",
                    resolved=at("2026-11-30", 20), resolved_level=3),
    ]  # fmt: skip


def exceptions_spec(now: datetime) -> list[ExceptionSpec]:
    day = timedelta(days=1)
    return [
        ExceptionSpec("E1", "CX1", ["PRICE_VARIANCE", "NOT_ON_PO"], now - 4 * day,
                      owner="Olivia Park", escalates_at=now - day),
        ExceptionSpec("E2", "CX2", ["PO_MISSING"], now - day, group="ar",
                      escalates_at=now + 2 * day),
        ExceptionSpec("E3", "NX3", ["PRICE_VARIANCE"], now - 5 * day, owner="Fiona Grant",
                      escalates_at=now - 2 * day, escalated_at=now - 2 * day),
        ExceptionSpec("E4", "NX4", ["QUANTITY_OVER_RECEIVED"], now - 30 * day,
                      owner="Olivia Park", status="resolved"),
    ]  # fmt: skip


# (when, channel, outcome) of channel tries; and accounting failures and refusals
DELIVERY_TRIES = [
    (at("2026-11-03", 10), "email", "refused"),
    (at("2026-11-03", 11), "email", "refused"),
    (at("2026-11-03", 12), "sms", "unavailable"),
    (at("2026-11-10", 12), "email", "sent"),
    (at("2026-11-15", 8), "sms", "refused"),
    (at("2026-11-15", 9), "email", "skipped"),
    (at("2026-10-31", 23), "email", "refused"),
]
SYNC_GAVE_UP = [at("2026-11-03", 14), at("2026-11-20", 1), at("2026-11-20", 22), at("2026-12-01")]
DOCUMENTS = [(at("2026-11-15", 16), "refused"), (at("2026-11-15", 17), "posted")]


@dataclass(frozen=True)
class Seeded:
    invoice_ids: dict[str, str]  # spec key -> invoice id
    numbers: dict[str, str]  # spec key -> invoice number
    customer_ids: dict[str, str]  # customer letter -> id
    dispute_numbers: dict[str, str]  # spec key -> DSP number
    dispute_ids: dict[str, str]
    exception_ids: dict[str, str]


async def seed(sessions: SessionFactory, now: datetime) -> Seeded:
    customer_ids = {}
    contracts = {}
    for letter, (name, currency) in CUSTOMERS.items():
        customer, contract = await customer_and_contract(
            sessions, customer_name=name, currency=currency
        )
        customer_ids[letter], contracts[letter] = customer.id, contract.id
    ids = {s.key: f"inv_ops{s.key.lower()}{uuid.uuid4().hex[:8]}" for s in INVOICES}
    numbers = {s.key: f"INV-2026-{s.key}-{uuid.uuid4().hex[:4].upper()}" for s in INVOICES}
    async with transaction(sessions) as session:
        for s in INVOICES:
            session.add(
                Invoice(
                    id=ids[s.key], customer_id=customer_ids[s.customer],
                    contract_id=contracts[s.customer], number=numbers[s.key], status=s.status,
                    currency=s.currency, tax_region="GB", issue_date=s.issue, due_date=s.due,
                    subtotal_minor=s.total, total_minor=s.total, paid_minor=s.paid,
                    credited_minor=s.credited, written_off_minor=s.written_off,
                    credit_applied_minor=s.credit_applied, credit_carried_minor=s.carried,
                    created_by="test", created_at=s.created, updated_at=s.created,
                    voided_at=at(s.issue.isoformat(), 20) if s.voided else None,
                )
            )  # fmt: skip
        await session.flush()
        for s in INVOICES:
            if s.delivered is not None:
                session.add(Delivery(id=f"{ids[s.key]}:email:issue", invoice_id=ids[s.key],
                                     channel="email", recipient="ap@x.test", purpose="issue",
                                     status="sent", sent_at=s.delivered))  # fmt: skip
                # a reminder later: not the issue
                session.add(Delivery(id=f"{ids[s.key]}:email:r1", invoice_id=ids[s.key],
                                     channel="email", recipient="ap@x.test",
                                     purpose="reminder-1", status="sent",
                                     sent_at=s.delivered + timedelta(days=40)))  # fmt: skip
            for n, (amount, paid_at) in enumerate(s.payments):
                session.add(Payment(id=f"pay_{ids[s.key]}_{n}", invoice_id=ids[s.key],
                                    amount_minor=amount, currency=s.currency, paid_at=paid_at,
                                    recorded_at=paid_at))  # fmt: skip
        target = ids["N1"]
        for n, (when, channel, outcome) in enumerate(DELIVERY_TRIES):
            session.add(DeliveryAttemptRow(id=f"{target}:issue:{n}:{channel}", invoice_id=target,
                                           purpose="issue", activity_attempt=n, position=0,
                                           channel=channel, outcome=outcome, at=when))  # fmt: skip
        for n, when in enumerate(SYNC_GAVE_UP):
            session.add(AccountingSyncFailure(key=f"{target}:sync:{n}", invoice_id=target,
                                              kind="invoice", gave_up_at=when, last_error="503",
                                              updated_at=when))  # fmt: skip
        for n, (when, status) in enumerate(DOCUMENTS):
            session.add(AccountingDocumentRow(key=f"{target}:doc:{n}", invoice_id=target,
                                              kind="invoice", path="/accounting/v1/invoices",
                                              idempotency_key=f"k{n}", body={}, status=status,
                                              updated_at=when))  # fmt: skip
        exception_ids = {}
        for e in exceptions_spec(now):
            exception_ids[e.key] = f"exc_{e.key.lower()}{uuid.uuid4().hex[:8]}"
            session.add(
                InvoiceExceptionRow(
                    id=exception_ids[e.key], invoice_id=ids[e.invoice],
                    customer_id=customer_ids[e.invoice[0]],
                    status=e.status, reason_codes="," + ",".join(e.reasons) + ",",
                    reasons=[{"code": r} for r in e.reasons], group_id=e.group,
                    owner_id=e.owner and e.owner.split()[0].lower(), owner_name=e.owner,
                    opened_at=e.opened, escalates_at=e.escalates_at, escalated_at=e.escalated_at,
                    updated_at=e.opened,
                )
            )  # fmt: skip
        dispute_numbers, dispute_ids = {}, {}
        for spec in disputes_spec(now):
            row, _ = await disputes.insert_dispute(
                session, request_id=uuid.uuid4().hex, invoice_id=ids[spec.invoice],
                customer_id=customer_ids[spec.invoice[0]],
                currency=CUSTOMERS[spec.invoice[0]][1], reason=spec.reason,
                description="Billed more than agreed.", lines=[1], amount_minor=spec.amount,
                level=spec.level, channel="portal", opened_by="customer", opened_at=spec.opened,
            )  # fmt: skip
            await disputes.update_dispute(
                session, row.id, status=spec.status, owner_name=spec.owner,
                owner_id=spec.owner and spec.owner.split()[0].lower(), group_id=spec.group,
                sla_due_at=spec.sla_due, sla_breached=spec.sla_breached,
                resolved_at=spec.resolved, resolved_level=spec.resolved_level,
            )  # fmt: skip
            dispute_numbers[spec.key], dispute_ids[spec.key] = row.number, row.id
    return Seeded(ids, numbers, customer_ids, dispute_numbers, dispute_ids, exception_ids)
