"""A correction made on the exception review page: the owner changes a line's quantity, an
explicitly priced line's unit price, or the PO number the invoice names, and the invoice
is matched again (the `correct` resolution the API takes as items and lines).

The page shows the invoice's lines; a correction replaces all of them, as `PUT
/invoices/{id}/lines` does, so the lines the person did not touch are sent back as they
are. A line at one of the contract's rates (its rate, unit, price and tax category those
of the rate) goes back as a billable item at that rate, so its price stays the contract's;
any other line as an explicit line with its own price. A quantity of 0 removes the line.
Only the PO number changed: the lines stay exactly as they are and only the PO changes.
The corrected lines are then checked as a creation is (`api.corrections`), so the page
refuses in words what the contract would refuse.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.datastructures import FormData

from api.corrections import check_correction
from api.errors import Unprocessable
from domain.invoicing import BillableItem, ExplicitLine, Rate
from domain.money import exponent, to_minor
from domain.tax import TaxCategory
from schemas.tables import Invoice, InvoiceLineRow
from store import parties
from store.invoice_snapshots import lines as invoice_lines


class CorrectionRefused(Exception):
    """What the person is told, on a page, when the correction cannot be made."""


@dataclass
class PageCorrection:
    items: list[BillableItem] = field(default_factory=list)
    lines: list[ExplicitLine] = field(default_factory=list)
    po_number: str | None = None  # None: the PO number stays


def _field(form: FormData, name: str) -> str | None:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else None


def _quantity(form: FormData, line: InvoiceLineRow) -> Decimal:
    text = _field(form, f"quantity-{line.position}")
    if not text:
        return Decimal(line.quantity)
    try:
        quantity = Decimal(text)
    except InvalidOperation:
        raise CorrectionRefused(f"Line {line.position}: {text!r} is not a quantity.") from None
    if not quantity.is_finite() or quantity < 0:
        raise CorrectionRefused(f"Line {line.position}: a quantity is 0 or more.")
    if quantity.as_tuple().exponent < -4:  # type: ignore[operator]  # finite: an int
        raise CorrectionRefused(f"Line {line.position}: at most 4 decimal places.")
    return quantity


def _price(form: FormData, line: InvoiceLineRow, currency: str) -> int:
    text = _field(form, f"price-{line.position}")
    if not text:
        return line.unit_price_minor
    try:
        amount = Decimal(text.replace(",", ""))
        if not amount.is_finite() or amount < 0:
            raise InvalidOperation
        if amount.as_tuple().exponent < -exponent(currency):  # type: ignore[operator]
            raise CorrectionRefused(
                f"Line {line.position}: {currency} has {exponent(currency)} decimal places."
            )
        return to_minor(amount, currency)
    except InvalidOperation:
        raise CorrectionRefused(
            f"Line {line.position}: {text!r} is not a unit price (for example 120.00)."
        ) from None


def at_contract_rate(line: InvoiceLineRow, rates: dict[str, Rate]) -> bool:
    """Whether the line is what a billable item at one of the contract's rates makes."""
    rate = rates.get(line.rate_code or "")
    return rate is not None and (rate.unit, rate.unit_price_minor, rate.tax_category.value) == (
        line.unit,
        line.unit_price_minor,
        line.tax_category,
    )


async def contract_rates(session: AsyncSession, invoice: Invoice) -> dict[str, Rate]:
    contract = await parties.get_contract(session, invoice.contract_id)
    if contract is None:
        return {}
    terms = await parties.terms_of(session, contract, excluding_invoice_id=invoice.id)
    return {rate.code: rate for rate in terms.rates}


@dataclass(frozen=True)
class FormLine:
    """One line of the correction form, its fields filled in with the line as it is."""

    position: int
    description: str
    quantity: str
    unit: str
    at_rate: bool  # its price is the contract's rate: only its quantity is the form's
    unit_price: str  # in major units ("120.00")


async def form_lines(session: AsyncSession, invoice_id: str) -> tuple[str, list[FormLine]]:
    """The invoice's PO number and its lines as the correction form shows them."""
    invoice = await session.get(Invoice, invoice_id)
    if invoice is None:
        return "", []
    rates = await contract_rates(session, invoice)
    digits = exponent(invoice.currency)
    shown = []
    for row in await invoice_lines(session, invoice_id):
        quantity = Decimal(row.quantity).normalize()
        shown.append(
            FormLine(
                position=row.position,
                description=row.description,
                quantity=format(quantity, "f") if quantity else "0",
                unit=row.unit,
                at_rate=at_contract_rate(row, rates),
                unit_price=f"{Decimal(row.unit_price_minor).scaleb(-digits):.{digits}f}",
            )
        )
    return invoice.po_number or "", shown


async def correction_from_form(
    session: AsyncSession, invoice_id: str, form: FormData
) -> PageCorrection:
    """The correction the page's form asks for, checked as a creation is; raises
    `CorrectionRefused` with words for the person when there is nothing to correct or the
    figures or the contract refuse it."""
    invoice = await session.get(Invoice, invoice_id)
    if invoice is None:
        raise CorrectionRefused("We could not find this invoice.")
    rows = await invoice_lines(session, invoice_id)
    rates = await contract_rates(session, invoice)
    po_number = _field(form, "po_number")
    if po_number is not None and not po_number:
        raise CorrectionRefused("Enter the PO number the invoice should name.")
    if po_number is not None and len(po_number) > 100:
        raise CorrectionRefused("A PO number is at most 100 characters.")
    new_po = po_number if po_number is not None and po_number != invoice.po_number else None
    correction, changed = PageCorrection(po_number=new_po), False
    for row in rows:
        quantity = _quantity(form, row)
        rated = at_contract_rate(row, rates)
        price = row.unit_price_minor if rated else _price(form, row, invoice.currency)
        changed |= quantity != Decimal(row.quantity) or price != row.unit_price_minor
        if quantity == 0:
            continue
        if rated:
            correction.items.append(
                BillableItem(
                    rate_code=row.rate_code or "",
                    quantity=quantity,
                    description=row.description,
                    po_line=row.po_line,
                )
            )
        else:
            correction.lines.append(
                ExplicitLine(
                    description=row.description,
                    quantity=quantity,
                    unit_price_minor=price,
                    tax_category=TaxCategory(row.tax_category),
                    unit=row.unit,
                    item_code=row.rate_code,
                    po_line=row.po_line,
                )
            )
    if not changed:
        if new_po is None:
            raise CorrectionRefused(
                "Nothing was changed: change a quantity, a unit price or the PO number to"
                " correct the invoice."
            )
        return PageCorrection(po_number=new_po)  # the lines stay exactly as they are
    try:
        await check_correction(session, invoice_id, correction.items, correction.lines)
    except Unprocessable as refused:
        raise CorrectionRefused(f"The contract does not allow this: {refused.detail}") from None
    return correction
