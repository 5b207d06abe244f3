"""The values PO matching works on: a purchase order as it stands, the invoice lines to
match, the tolerances, and the result with its reasons.

Shared by the pure matcher (`domain.matching.match`), the store that builds a
`PurchaseOrderSnapshot` from the database and consumes what an issued invoice bills, the
match stage of the invoice workflow, and the exception queue. Frozen, so a snapshot passed
into a workflow cannot change under it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

_FROZEN = ConfigDict(frozen=True)


class MatchMode(StrEnum):
    TWO_WAY = "2-way"  # invoice against the PO
    THREE_WAY = "3-way"  # and against what was delivered


class POStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    CANCELLED = "cancelled"


class MatchOutcome(StrEnum):
    MATCHED = "MATCHED"
    MATCHED_WITH_VARIANCE = "MATCHED_WITH_VARIANCE"
    EXCEPTION = "EXCEPTION"


class MatchReasonCode(StrEnum):
    PRICE_VARIANCE = "PRICE_VARIANCE"
    QUANTITY_OVER_ORDERED = "QUANTITY_OVER_ORDERED"
    QUANTITY_OVER_RECEIVED = "QUANTITY_OVER_RECEIVED"
    NOT_ON_PO = "NOT_ON_PO"
    UOM_MISMATCH = "UOM_MISMATCH"
    ITEM_MISMATCH = "ITEM_MISMATCH"  # a line names a PO line of another item
    PO_LINE_UNKNOWN = "PO_LINE_UNKNOWN"  # a line names a PO line the PO does not have
    PO_EXHAUSTED = "PO_EXHAUSTED"  # the total over what is left of the PO's amount
    PO_EXPIRED = "PO_EXPIRED"  # the invoice date outside the PO's validity
    PO_NOT_YET_VALID = "PO_NOT_YET_VALID"
    PO_CLOSED = "PO_CLOSED"  # closed or cancelled
    CURRENCY_MISMATCH = "CURRENCY_MISMATCH"
    PO_MISSING = "PO_MISSING"  # required and absent, or a number the customer has no PO for
    PO_OF_ANOTHER_CUSTOMER = "PO_OF_ANOTHER_CUSTOMER"
    POSSIBLE_DUPLICATE = "POSSIBLE_DUPLICATE"


class Tolerances(BaseModel):
    """How far an invoice may stray from its PO and still pass, as AP systems set them.

    A limit that is None is not set. A variance passes when it is within every limit set
    on its side (percent and absolute: the stricter wins). A side with no limit set allows
    no variance at all: price over, price under, quantity over and total over are each
    opt-in, so empty tolerances mean an exact match. Percents are of the PO's figure (its
    unit price, its line's ordered or received quantity, its net amount). Money limits in
    percent are turned into minor units with the project's rounding rule before comparing,
    so a variance exactly at the limit passes and one minor unit over fails; quantities
    are compared exactly, never rounded. An override (`overridden`) can set or change a
    limit but not unset one: to forbid a variance a default allows, override it with 0.
    """

    model_config = _FROZEN

    price_over_pct: Decimal | None = Field(default=None, ge=0)  # unit price above the PO's
    price_over_minor: int | None = Field(default=None, ge=0)  # per unit
    price_under_pct: Decimal | None = Field(default=None, ge=0)  # unit price below the PO's
    price_under_minor: int | None = Field(default=None, ge=0)
    quantity_over_pct: Decimal | None = Field(default=None, ge=0)  # over ordered / received
    total_over_pct: Decimal | None = Field(default=None, ge=0)  # net total over PO remaining
    total_over_minor: int | None = Field(default=None, ge=0)

    def overridden(self, override: Tolerances | None) -> Tolerances:
        """These tolerances with every limit `override` sets replaced (customer, PO line)."""
        if override is None:
            return self
        return self.model_copy(update=override.model_dump(exclude_none=True))


class PurchaseOrderLine(BaseModel):
    """A PO line as it stands at its latest revision, with what others used of it."""

    model_config = _FROZEN

    line_number: int = Field(ge=1)
    item_code: str  # the SKU or service code; an invoice line's `rate_code` names it
    description: str = ""
    quantity: Decimal = Field(gt=0)
    unit: str
    unit_price_minor: int = Field(ge=0)
    allow_over_delivery: bool = False
    tolerances: Tolerances | None = None  # overrides for this line
    invoiced_quantity: Decimal = Decimal(0)  # consumed by issued invoices (not this one)
    received_quantity: Decimal = Decimal(0)  # from delivery records (3-way)


class PurchaseOrderSnapshot(BaseModel):
    model_config = _FROZEN

    po_id: str
    number: str
    customer_id: str
    currency: str
    status: POStatus
    match_mode: MatchMode
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None  # inclusive
    revision: int = 1
    lines: tuple[PurchaseOrderLine, ...]
    invoiced_minor: int = 0  # net amount consumed by issued invoices (not this one)
    # The PO's own overrides of the customer's tolerances. Its line limits are already
    # folded into each line's; its total limits are the PO's alone (a total is not a
    # line's) and apply to the invoice's net against what is left of the PO.
    tolerances: Tolerances | None = None

    @property
    def amount_minor(self) -> int:
        """The PO's net amount: each line's quantity x price, rounded per line (half away
        from zero, as `round_minor`). In integers: a quantity is n/d exactly, and for the
        non-negative figures a PO line holds floor(n x price / d + 1/2) is that rounding,
        at a third of the Decimal route's cost on a 10,000-line PO."""
        total = 0
        for line in self.lines:
            numerator, denominator = line.quantity.as_integer_ratio()
            total += (2 * numerator * line.unit_price_minor + denominator) // (2 * denominator)
        return total


class LineToMatch(BaseModel):
    """An invoice line as matching sees it (net, tax outside the comparison)."""

    model_config = _FROZEN

    position: int
    item_code: str | None  # the rate code; None for an explicit line
    description: str
    quantity: Decimal
    unit: str
    unit_price_minor: int
    net_minor: int
    po_line: int | None = None  # the PO line the line names, if it names one


class InvoiceToMatch(BaseModel):
    model_config = _FROZEN

    invoice_id: str
    customer_id: str
    currency: str
    issue_date: dt.date
    po_number: str | None
    po_required: bool
    lines: tuple[LineToMatch, ...]
    net_minor: int
    total_minor: int
    external_ref: str | None = None
    is_credit_note: bool = False
    # the original an adjusted invoice replaces (voided alongside): never its duplicate
    replaces_invoice_id: str | None = None


class MatchReason(BaseModel):
    """One reason an invoice cannot go as it is; `position` None for the whole invoice."""

    model_config = _FROZEN

    code: MatchReasonCode
    detail: str  # a sentence for people: what was expected, what the invoice says
    position: int | None = None
    po_line: int | None = None
    expected: str | None = None
    actual: str | None = None


# The two records a match result holds one of per line (thousands on a large invoice) are
# frozen slotted dataclasses, not models: pydantic validates and serializes them inside
# `MatchResult` exactly as it would models (same JSON), while each is one object for the
# garbage collector to track instead of two (a model's instance and its fields-set), and
# on a 10,000-line invoice the collections those records caused were the largest part of
# the matcher's time. The matcher is their only maker outside validation, so nothing
# unvalidated comes in through them.


@dataclass(frozen=True, slots=True, kw_only=True)
class LineVariance:
    """A difference within tolerance, recorded per line and shown on the invoice."""

    position: int
    po_line: int
    kind: str  # "price" or "quantity"
    expected: str
    actual: str
    variance_minor: int = 0  # per unit, for price; 0 for quantity
    variance_pct: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class Consumption:
    """What issuing the invoice takes from a PO line."""

    po_line: int
    quantity: Decimal
    amount_minor: int


class MatchResult(BaseModel):
    model_config = _FROZEN

    outcome: MatchOutcome
    po_id: str | None = None
    po_revision: int | None = None
    reasons: tuple[MatchReason, ...] = ()
    variances: tuple[LineVariance, ...] = ()
    consumption: tuple[Consumption, ...] = ()  # what going out takes: empty for EXCEPTION
    # what the lines bill of each PO line, whatever the outcome (a person accepting an
    # exception's variance consumes this, clamped to the lines' limits)
    billed: tuple[Consumption, ...] = ()

    @property
    def codes(self) -> tuple[MatchReasonCode, ...]:
        """The distinct reason codes, in order of first appearance."""
        return tuple(dict.fromkeys(reason.code for reason in self.reasons))

    @property
    def flag(self) -> str:
        """`ExceptionReason`: the first reason, as operations filter on it (`price_variance`)."""
        return self.codes[0].value.lower() if self.codes else "po_exception"

    def variances_json(self) -> list[dict[str, Any]]:
        """The variances as JSON values, as the database row and the workflow's view keep
        them."""
        return _VARIANCES.dump_python(self.variances, mode="json")  # type: ignore[no-any-return]

    def summary(self, shown: int = 6) -> str:
        """Which lines failed and why, for the owner's e-mail and the current details."""
        more = len(self.reasons) - shown
        return "; ".join(r.detail for r in self.reasons[:shown]) + (
            f"; and {more} more" if more > 0 else ""
        )


_VARIANCES = TypeAdapter(tuple[LineVariance, ...])


class RecentInvoice(BaseModel):
    """An earlier invoice the duplicate check compares with."""

    model_config = _FROZEN

    invoice_id: str
    number: str | None
    customer_id: str
    currency: str
    total_minor: int
    po_number: str | None
    external_ref: str | None
    issue_date: dt.date
    line_keys: tuple[tuple[str, str, int], ...]  # (item or description, quantity, unit price)
    is_credit_note: bool = False
