"""Invoice generation from contract terms: the pure calculation behind the invoice workflow.

`generate_invoice` turns a contract's terms plus billable items (time, usage, milestones
priced from the contract's rates) and explicit lines into a `GeneratedInvoice`: numbered
lines, tax lines, and totals that add up exactly. It enforces the contract's rules
(validity dates, currency, known rates, cap) and raises an `InvoiceRuleError` subclass
naming the offending value when one is broken.

It is deterministic: the issue date is an argument (workflows pass `workflow.now()`'s
date), there is no I/O, and all arithmetic follows the one rounding rule in
`domain.money`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from domain.errors import (
    CapExceeded,
    ContractExpired,
    ContractNotYetValid,
    CurrencyMismatch,
    EmptyInvoice,
    InvalidAmount,
    InvalidIssueDate,
    InvalidQuantity,
    UnknownRate,
)
from domain.money import DECIMAL_CONTEXT, MAX_MINOR, exponent, format_amount, round_minor
from domain.tax import TaxCategory, components

# Quantities finer than this are a data error upstream (e.g. a float leaking in), not a
# real billable amount; refusing them keeps line nets reproducible.
MAX_QUANTITY_DECIMALS = 4
# A billion hours, units or requests on one line is a data error, not a bill.
MAX_QUANTITY = Decimal(10**9)
# Issue dates (and billing periods) from 2000 to 2099: a wider range is a typo.
FIRST_ISSUE_DATE = dt.date(2000, 1, 1)
LAST_ISSUE_DATE = dt.date(2099, 12, 31)

_FROZEN = ConfigDict(frozen=True)


class Rate(BaseModel):
    """A priced unit in a contract: "Senior consultant, per hour, 950.00"."""

    model_config = _FROZEN

    code: str
    description: str
    unit: str = "unit"
    unit_price_minor: int = Field(ge=0, le=MAX_MINOR)
    tax_category: TaxCategory = TaxCategory.STANDARD


class ContractTerms(BaseModel):
    """The parts of a customer contract that decide what an invoice says."""

    model_config = _FROZEN

    contract_id: str
    currency: str
    tax_region: str
    payment_terms_days: int = Field(ge=0)
    rates: list[Rate]
    cap_minor: int | None = Field(default=None, ge=0)
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None  # inclusive
    # Sum of the subtotals of earlier invoices on this contract; the cap applies to the
    # cumulative subtotal (net, before tax).
    already_invoiced_minor: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _check_consistent(self) -> Self:
        codes = [rate.code for rate in self.rates]
        duplicates = sorted({code for code in codes if codes.count(code) > 1})
        if duplicates:
            raise ValueError(f"rate codes must be unique; repeated: {', '.join(duplicates)}")
        if self.valid_from and self.valid_to and self.valid_from > self.valid_to:
            raise ValueError(f"valid_from {self.valid_from} is after valid_to {self.valid_to}")
        return self


class BillableItem(BaseModel):
    """Something to bill at one of the contract's rates: hours, usage, a milestone."""

    model_config = _FROZEN

    kind: Literal["time", "usage", "milestone"] = "time"
    rate_code: str
    quantity: Decimal
    description: str | None = None  # default: the rate's description
    service_date: dt.date | None = None
    po_line: int | None = Field(default=None, ge=1)  # the PO line it bills, if it names one


class ExplicitLine(BaseModel):
    """A line priced directly rather than from a rate (expenses, one-off fees)."""

    model_config = _FROZEN

    description: str
    quantity: Decimal = Decimal(1)
    unit_price_minor: int
    tax_category: TaxCategory = TaxCategory.STANDARD
    unit: str = Field(default="unit", min_length=1, max_length=40)
    item_code: str | None = Field(default=None, max_length=100)  # a SKU, for PO matching
    po_line: int | None = Field(default=None, ge=1)


class InvoiceLine(BaseModel):
    """One priced line of a generated invoice; `net_minor` is rounded per line."""

    model_config = _FROZEN

    position: int  # 1-based
    description: str
    quantity: Decimal
    unit: str
    unit_price_minor: int
    net_minor: int
    tax_category: TaxCategory
    rate_code: str | None  # the rate's code, or an explicit line's item code
    po_line: int | None = None


class TaxLine(BaseModel):
    """One tax component applied to all lines of one tax category, rounded once."""

    model_config = _FROZEN

    name: str
    rate: Decimal
    category: TaxCategory
    taxable_minor: int
    tax_minor: int


class GeneratedInvoice(BaseModel):
    """The computed invoice: lines, tax lines and totals, all in minor units of `currency`."""

    model_config = _FROZEN

    currency: str
    tax_region: str
    issue_date: dt.date
    due_date: dt.date
    lines: list[InvoiceLine]
    tax_lines: list[TaxLine]
    subtotal_minor: int
    tax_minor: int
    total_minor: int


def generate_invoice(
    terms: ContractTerms,
    *,
    items: Sequence[BillableItem] = (),
    explicit_lines: Sequence[ExplicitLine] = (),
    issue_date: dt.date,
    currency: str | None = None,
) -> GeneratedInvoice:
    """Price `items` (in order) then `explicit_lines` under `terms`, as of `issue_date`.

    Raises an `InvoiceRuleError` subclass when a contract rule is broken; see
    `domain.errors` for the codes.
    """
    if isinstance(issue_date, dt.datetime):
        # Comparing a datetime with the contract's dates raises or misleads; the caller
        # must decide which calendar day (which time zone) the invoice is issued on.
        raise TypeError("issue_date must be a date, not a datetime; pass now.date()")
    if currency is not None and currency != terms.currency:
        raise CurrencyMismatch(
            f"invoice currency {currency!r} differs from contract {terms.contract_id!r} "
            f"currency {terms.currency!r}"
        )
    exponent(terms.currency)  # raises UnsupportedCurrency
    components(terms.tax_region, TaxCategory.EXEMPT)  # raises UnknownTaxRegion
    if not FIRST_ISSUE_DATE <= issue_date <= LAST_ISSUE_DATE:
        raise InvalidIssueDate(
            f"issue date {issue_date} is outside {FIRST_ISSUE_DATE.year}-{LAST_ISSUE_DATE.year}"
        )
    _check_validity(terms, issue_date)
    if not items and not explicit_lines:
        raise EmptyInvoice(
            f"invoice for contract {terms.contract_id!r} has no billable items and no lines"
        )

    rates = {rate.code: rate for rate in terms.rates}
    lines: list[InvoiceLine] = []
    for item in items:
        lines.append(_line_from_item(len(lines) + 1, item, rates, terms.contract_id))
    for explicit in explicit_lines:
        lines.append(_line_from_explicit(len(lines) + 1, explicit))

    subtotal = sum(line.net_minor for line in lines)
    tax_lines = _tax_lines(terms.tax_region, lines)
    _check_cap(terms, subtotal)
    tax = sum(tax_line.tax_minor for tax_line in tax_lines)
    if subtotal + tax > MAX_MINOR:
        raise InvalidAmount(
            f"invoice total {subtotal + tax} (minor units) is over the limit of {MAX_MINOR}"
        )
    return GeneratedInvoice(
        currency=terms.currency,
        tax_region=terms.tax_region,
        issue_date=issue_date,
        due_date=issue_date + dt.timedelta(days=terms.payment_terms_days),
        lines=lines,
        tax_lines=tax_lines,
        subtotal_minor=subtotal,
        tax_minor=tax,
        total_minor=subtotal + tax,
    )


def check_items(terms: ContractTerms, items: Sequence[BillableItem]) -> None:
    """Refuse items the contract cannot price (unknown rate, bad quantity), with the same
    errors `generate_invoice` would raise later; used to check billable entries on entry."""
    rates = {rate.code: rate for rate in terms.rates}
    for position, item in enumerate(items, start=1):
        _line_from_item(position, item, rates, terms.contract_id)


def _check_validity(terms: ContractTerms, issue_date: dt.date) -> None:
    if terms.valid_from is not None and issue_date < terms.valid_from:
        raise ContractNotYetValid(
            f"contract {terms.contract_id!r} is valid from {terms.valid_from}; "
            f"issue date {issue_date} is before that"
        )
    if terms.valid_to is not None and issue_date > terms.valid_to:
        raise ContractExpired(
            f"contract {terms.contract_id!r} expired after {terms.valid_to}; "
            f"issue date {issue_date} is later"
        )


def _check_quantity(quantity: Decimal, where: str) -> None:
    if not quantity.is_finite():
        raise InvalidQuantity(f"quantity {quantity} {where} is not a finite number")
    if quantity <= 0:
        raise InvalidQuantity(f"quantity {quantity} {where} must be greater than zero")
    if quantity > MAX_QUANTITY:
        raise InvalidQuantity(f"quantity {quantity} {where} is over the limit of {MAX_QUANTITY}")
    # Trailing zeros are not precision: 1.50000 is 1.5.
    exp = quantity.normalize(DECIMAL_CONTEXT).as_tuple().exponent
    decimals = -exp if isinstance(exp, int) else 0
    if decimals > MAX_QUANTITY_DECIMALS:
        raise InvalidQuantity(
            f"quantity {quantity} {where} has {decimals} decimal places; "
            f"at most {MAX_QUANTITY_DECIMALS} are allowed"
        )


def _net(quantity: Decimal, unit_price_minor: int) -> int:
    return round_minor(DECIMAL_CONTEXT.multiply(quantity, Decimal(unit_price_minor)))


def _line_from_item(
    position: int, item: BillableItem, rates: dict[str, Rate], contract_id: str
) -> InvoiceLine:
    rate = rates.get(item.rate_code)
    if rate is None:
        known = ", ".join(repr(code) for code in rates) or "none"
        raise UnknownRate(
            f"rate code {item.rate_code!r} (line {position}) is not in contract "
            f"{contract_id!r}; its rate codes are: {known}"
        )
    _check_quantity(item.quantity, f"for rate {item.rate_code!r} (line {position})")
    if rate.unit_price_minor < 0:
        raise InvalidAmount(
            f"rate {rate.code!r} has negative unit price {rate.unit_price_minor} (minor units)"
        )
    return InvoiceLine(
        position=position,
        description=item.description if item.description is not None else rate.description,
        quantity=item.quantity,
        unit=rate.unit,
        unit_price_minor=rate.unit_price_minor,
        net_minor=_net(item.quantity, rate.unit_price_minor),
        tax_category=rate.tax_category,
        rate_code=rate.code,
        po_line=item.po_line,
    )


def _line_from_explicit(position: int, line: ExplicitLine) -> InvoiceLine:
    _check_quantity(line.quantity, f"on line {position} ({line.description!r})")
    if line.unit_price_minor < 0:
        raise InvalidAmount(
            f"unit price {line.unit_price_minor} (minor units) on line {position} "
            f"({line.description!r}) is negative; credits belong on a credit note"
        )
    if line.unit_price_minor > MAX_MINOR:
        raise InvalidAmount(
            f"unit price {line.unit_price_minor} (minor units) on line {position} "
            f"({line.description!r}) is over the limit of {MAX_MINOR}"
        )
    return InvoiceLine(
        position=position,
        description=line.description,
        quantity=line.quantity,
        unit=line.unit,
        unit_price_minor=line.unit_price_minor,
        net_minor=_net(line.quantity, line.unit_price_minor),
        tax_category=line.tax_category,
        rate_code=line.item_code,
        po_line=line.po_line,
    )


def _tax_lines(region: str, lines: Sequence[InvoiceLine]) -> list[TaxLine]:
    taxable: dict[TaxCategory, int] = {}
    for line in lines:
        taxable[line.tax_category] = taxable.get(line.tax_category, 0) + line.net_minor
    result: list[TaxLine] = []
    for category in TaxCategory:  # enum order, so tax lines come out in a stable order
        if category not in taxable:
            continue
        for component in components(region, category):
            base = taxable[category]
            result.append(
                TaxLine(
                    name=component.name,
                    rate=component.rate,
                    category=category,
                    taxable_minor=base,
                    tax_minor=round_minor(DECIMAL_CONTEXT.multiply(Decimal(base), component.rate)),
                )
            )
    return result


def _check_cap(terms: ContractTerms, subtotal: int) -> None:
    if terms.cap_minor is None:
        return
    cumulative = terms.already_invoiced_minor + subtotal
    if cumulative > terms.cap_minor:
        cur = terms.currency
        raise CapExceeded(
            f"contract {terms.contract_id!r} cap is {format_amount(terms.cap_minor, cur)}; "
            f"already invoiced {format_amount(terms.already_invoiced_minor, cur)} plus this "
            f"invoice's subtotal {format_amount(subtotal, cur)} makes "
            f"{format_amount(cumulative, cur)}, "
            f"{format_amount(cumulative - terms.cap_minor, cur)} over the cap"
        )
