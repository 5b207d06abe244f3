"""Bodies of the purchase-order API: create a PO, amend it, record deliveries against it,
and the PO as it reads back.

Shape is checked here, so a body that cannot be right (a line number twice, a quantity with
five decimal places, validity that ends before it starts) is a 422 ``validation_failed``
before anything is read. Whether it fits the PO as it stands (the line exists, the quantity
is not below what was invoiced, the delivery does not exceed the order) is checked by
`store.purchase_orders`, with its own codes.

Quantities travel as decimal strings ("2.5"; a JSON number is accepted too) with at most
four decimal places: the database keeps them as exact ten-thousandths.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from domain.matching.model import MatchMode, POStatus, Tolerances
from domain.money import DECIMAL_CONTEXT, MAX_MINOR, round_minor
from schemas.api import _currency, _Strict
from schemas.tolerances import TolerancesIn

MAX_LINES = 1000
MAX_QUANTITY = Decimal(10**9)  # x 10^4 still fits a signed 64-bit column with room to add

# Printable text: no control characters (PostgreSQL refuses NUL in text), no blank edges.
_TEXT = r"^[^\x00-\x1f\x7f\s](?:[^\x00-\x1f\x7f]*[^\x00-\x1f\x7f\s])?$"
_DESCRIPTION = r"^[^\x00-\x1f\x7f]*$"

PONumber = Annotated[
    str,
    Field(
        min_length=1,
        max_length=100,
        pattern=_TEXT,
        description="the customer's own PO number, unique per customer",
    ),
]
Code = Annotated[str, Field(min_length=1, max_length=100, pattern=_TEXT)]
ID_PATTERN = r"^[^\x00-\x1f\x7f]+$"  # an id in a body, path or query: printable
Person = Annotated[str, Field(min_length=1, max_length=200, pattern=_TEXT)]
Description = Annotated[str, Field(max_length=500, pattern=_DESCRIPTION)]
Quantity = Annotated[
    Decimal,
    Field(
        gt=0,
        le=MAX_QUANTITY,
        decimal_places=4,
        description="greater than 0, at most 4 decimal places",
        examples=["10", "2.5"],
    ),
]
LineNumber = Annotated[int, Field(ge=1, le=100_000)]


def _repeated(numbers: list[int]) -> list[int]:
    return sorted({n for n in numbers if numbers.count(n) > 1})


def _unique_lines(numbers: list[int], what: str) -> None:
    repeated = _repeated(numbers)
    if repeated:
        listed = ", ".join(str(n) for n in repeated)
        raise ValueError(f"{what} must be unique; repeated: {listed}")


def _line_limits_only(value: TolerancesIn | None) -> TolerancesIn | None:
    """A line's tolerances limit its price and quantity; the invoice's net is compared
    with what is left of the whole PO, so a total limit on a line could never apply and
    is refused rather than silently ignored."""
    if value is not None and (
        value.total_over_pct is not None or value.total_over_minor is not None
    ):
        raise ValueError(
            "a PO line's tolerances cannot set total_over_pct or total_over_minor: "
            "the invoice total is compared with the whole PO (set them on the PO)"
        )
    return value


class PurchaseOrderLineIn(_Strict):
    line_number: LineNumber
    item_code: Code = Field(description="the SKU or service code (an invoice's rate code)")
    description: Description = ""
    quantity: Quantity
    unit: Code = Field(max_length=50, description="unit of measure, e.g. hour, day, each")
    unit_price_minor: int = Field(ge=0, le=MAX_MINOR, description="net, in minor units")
    allow_over_delivery: bool = Field(
        default=False, description="receipts may exceed the ordered quantity"
    )
    tolerances: TolerancesIn | None = Field(
        default=None,
        description="overrides the PO's and the customer's for this line (price and "
        "quantity limits: the total limits are the PO's)",
    )

    _no_total_limits = field_validator("tolerances")(_line_limits_only)

    @model_validator(mode="after")
    def _amount_in_range(self) -> PurchaseOrderLineIn:
        amount = DECIMAL_CONTEXT.multiply(self.quantity, Decimal(self.unit_price_minor))
        if round_minor(amount) > MAX_MINOR:
            raise ValueError(f"line {self.line_number}: quantity x unit price is too large")
        return self


class PurchaseOrderCreate(_Strict):
    customer_id: str = Field(min_length=1, max_length=100, pattern=ID_PATTERN)
    number: PONumber
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    match_mode: MatchMode = Field(
        default=MatchMode.TWO_WAY,
        description="2-way: invoice against the PO; 3-way: also against the deliveries",
    )
    valid_from: date | None = None
    valid_to: date | None = Field(default=None, description="inclusive")
    tolerances: TolerancesIn | None = Field(
        default=None, description="override the customer's tolerances for this PO"
    )
    lines: list[PurchaseOrderLineIn] = Field(min_length=1, max_length=MAX_LINES)
    created_by: Person | None = Field(
        default=None, description="the person who entered the PO (the API key's name if left out)"
    )

    _check_currency = field_validator("currency")(_currency)

    @model_validator(mode="after")
    def _consistent(self) -> PurchaseOrderCreate:
        _unique_lines([line.line_number for line in self.lines], "line numbers")
        if self.valid_from and self.valid_to and self.valid_to < self.valid_from:
            raise ValueError("valid_to is before valid_from")
        return self


class LineChange(_Strict):
    """New values for an existing line; fields left out stay as they are. ``tolerances``
    sent as null removes the line's own tolerances."""

    line_number: LineNumber
    quantity: Quantity | None = Field(
        default=None, description="not below what is already invoiced or received"
    )
    unit_price_minor: int | None = Field(default=None, ge=0, le=MAX_MINOR)
    description: Description | None = None
    allow_over_delivery: bool | None = None
    tolerances: TolerancesIn | None = None

    _no_total_limits = field_validator("tolerances")(_line_limits_only)

    @model_validator(mode="after")
    def _changes_something(self) -> LineChange:
        if not self.model_fields_set - {"line_number"}:
            raise ValueError(f"line {self.line_number}: name at least one field to change")
        return self


class PurchaseOrderAmendment(_Strict):
    """One amendment, one new revision of the PO (kept with who made it and when): add
    lines, change lines, extend the validity, close or cancel. An amendment that leaves the
    PO as it is makes no revision. A closed or cancelled PO takes no amendments."""

    changed_by: Person = Field(description="the person who made the amendment")
    reason: Description | None = None
    customer_id: str | None = Field(
        default=None,
        max_length=100,
        pattern=ID_PATTERN,
        description="when given, the PO must be this customer's (422 po_of_another_customer)",
    )
    add_lines: list[PurchaseOrderLineIn] = Field(default_factory=list, max_length=MAX_LINES)
    change_lines: list[LineChange] = Field(default_factory=list, max_length=MAX_LINES)
    valid_to: date | None = Field(
        default=None, description="a later end of validity (validity can only be extended)"
    )
    status: Literal[POStatus.CLOSED, POStatus.CANCELLED] | None = Field(
        default=None, description="close or cancel the PO (the last amendment it takes)"
    )

    @model_validator(mode="after")
    def _consistent(self) -> PurchaseOrderAmendment:
        added = [line.line_number for line in self.add_lines]
        changed = [line.line_number for line in self.change_lines]
        _unique_lines(added, "added line numbers")
        _unique_lines(changed, "changed line numbers")
        both = sorted(set(added) & set(changed))
        if both:
            raise ValueError(f"lines {both} are both added and changed")
        if not (self.add_lines or self.change_lines or self.valid_to or self.status):
            raise ValueError(
                "the amendment changes nothing: add or change lines, extend valid_to, or set status"
            )
        return self


class ReceiptKind(StrEnum):
    GOODS_RECEIPT = "goods_receipt"
    DELIVERY_CONFIRMATION = "delivery_confirmation"
    TIMESHEET = "timesheet"  # an approved timesheet, for services


class ReceiptLineIn(_Strict):
    line_number: LineNumber
    quantity: Quantity


class DeliveryReceiptCreate(_Strict):
    """What was delivered against the PO, by line. The same reference and line sent again
    is the same record (counted once); with another quantity, date or kind it is 409."""

    kind: ReceiptKind
    reference: Code = Field(description="the delivery note, receipt or timesheet reference")
    delivered_on: date
    lines: list[ReceiptLineIn] = Field(min_length=1, max_length=MAX_LINES)
    recorded_by: Person | None = Field(
        default=None, description="who recorded it (the API key's name if left out)"
    )
    customer_id: str | None = Field(
        default=None,
        max_length=100,
        pattern=ID_PATTERN,
        description="when given, the PO must be this customer's (422 po_of_another_customer)",
    )

    @model_validator(mode="after")
    def _unique(self) -> DeliveryReceiptCreate:
        _unique_lines([line.line_number for line in self.lines], "line numbers")
        return self


# --- reading -----------------------------------------------------------------------------


class PurchaseOrderLineOut(BaseModel):
    line_number: int
    item_code: str
    description: str
    unit: str
    unit_price_minor: int
    allow_over_delivery: bool
    tolerances: Tolerances | None
    ordered: Decimal
    received: Decimal
    invoiced: Decimal = Field(description="consumed by issued invoices (released ones excluded)")
    remaining: Decimal = Field(description="ordered less invoiced, never below 0")
    amount_minor: int = Field(description="ordered x unit price, rounded")
    invoiced_minor: int


class PurchaseOrderRevisionOut(BaseModel):
    revision: int
    actor: str
    at: datetime
    changes: dict[str, Any]


class DeliveryReceiptOut(BaseModel):
    id: str
    line_number: int
    quantity: Decimal
    delivered_on: date
    reference: str
    kind: ReceiptKind
    actor: str
    at: datetime


class PurchaseOrderSummary(BaseModel):
    id: str
    customer_id: str
    number: str
    currency: str
    status: POStatus
    match_mode: MatchMode
    valid_from: date | None
    valid_to: date | None
    revision: int
    tolerances: Tolerances | None
    created_by: str
    created_at: datetime
    updated_at: datetime


class PurchaseOrderOut(PurchaseOrderSummary):
    amount_minor: int = Field(description="the lines' amounts added up")
    invoiced_minor: int
    lines: list[PurchaseOrderLineOut]
    revisions: list[PurchaseOrderRevisionOut] = Field(description="oldest first")
    receipts: list[DeliveryReceiptOut] = Field(description="in the order they were recorded")


class PurchaseOrderPage(BaseModel):
    items: list[PurchaseOrderSummary]
    total: int
    limit: int
    offset: int
