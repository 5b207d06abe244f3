"""A correction made on the exception review page: the owner changes a line's quantity, an
explicitly priced line's unit price, or the PO number the invoice names, and the invoice
is matched again (the `correct` resolution the API takes as items and lines).

The page shows the invoice's lines; a correction replaces all of them, as `PUT
/invoices/{id}/lines` does, so the lines the person did not touch are sent back as they
are. A line at one of the contract's rates keeps its price, which the form does not offer
to change: it goes back as a billable item at that rate (while the rate gives the price it
was invoiced at), else as an explicit line at the price it was invoiced at, so a rate
changed since never reprices it. Any other line goes back as an explicit line, with the
price the form gives. A quantity of 0 removes the line. Generation puts billable items
before explicit lines, so a correction can renumber the lines.
Only the PO number changed: the lines stay exactly as they are and only the PO changes.
The corrected lines are then checked as a creation is (`api.corrections`), so the page
refuses in words what the contract would refuse.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal

from pydantic import ValidationError
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


# A figure as people type one: digits, thousands grouped by commas or not, a decimal point.
# Nothing else (no exponent, no decimal comma, no sign), so "12,50" is refused rather than
# read as 1,250, and the length bounds what Decimal is asked to hold.
_FIGURE = re.compile(r"(\d{1,3}(,\d{3})+|\d{1,15})(\.\d{1,12})?")


def _figure(text: str, position: int, what: str, example: str, places: int) -> Decimal:
    if not _FIGURE.fullmatch(text):
        raise CorrectionRefused(
            f"Line {position}: {text!r} is not a {what} (for example {example})."
        )
    figure = Decimal(text.replace(",", ""))
    if figure.normalize().as_tuple().exponent < -places:  # type: ignore[operator]  # finite
        raise CorrectionRefused(f"Line {position}: a {what} has at most {places} decimal places.")
    return figure


def _quantity(form: FormData, line: InvoiceLineRow) -> Decimal:
    text = _field(form, f"quantity-{line.position}")
    if not text:
        return Decimal(line.quantity)
    return _figure(text, line.position, "quantity", "12.5", 4)


def _price(form: FormData, line: InvoiceLineRow, currency: str) -> int:
    text = _field(form, f"price-{line.position}")
    if not text:
        return line.unit_price_minor
    places = exponent(currency)
    example = "120" if places == 0 else f"120.{'0' * places}"
    return to_minor(_figure(text, line.position, "unit price", example, places), currency)


def keeps_its_price(line: InvoiceLineRow, rates: dict[str, Rate]) -> bool:
    """Whether the line bills one of the contract's rates: its price is the contract's
    business, never the page's (even if the rate changed since it was invoiced)."""
    return (line.rate_code or "") in rates


def at_contract_rate(line: InvoiceLineRow, rates: dict[str, Rate]) -> bool:
    """Whether the line is what a billable item at one of the contract's rates makes now."""
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
                at_rate=keeps_its_price(row, rates),
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
        if invoice.po_number:  # the page corrects a PO number; it does not take one away
            raise CorrectionRefused("Enter the PO number the invoice should name.")
        po_number = None  # none before, none now
    if po_number is not None and len(po_number) > 100:
        raise CorrectionRefused("A PO number is at most 100 characters.")
    new_po = po_number if po_number is not None and po_number != invoice.po_number else None
    correction, changed = PageCorrection(po_number=new_po), False
    for row in rows:
        quantity = _quantity(form, row)
        kept = keeps_its_price(row, rates)
        price = row.unit_price_minor if kept else _price(form, row, invoice.currency)
        changed |= quantity != Decimal(row.quantity) or price != row.unit_price_minor
        if quantity == 0:
            continue
        if at_contract_rate(row, rates):
            correction.items.append(
                BillableItem(
                    rate_code=row.rate_code or "",
                    quantity=quantity,
                    description=row.description,
                    po_line=row.po_line,
                )
            )
            continue
        # an explicitly priced line, or one whose rate has changed since: at its price
        try:
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
        except ValidationError:
            raise CorrectionRefused(
                f"Line {row.position} cannot be corrected on this page; correct the invoice"
                " through its billing app (PUT /invoices/{id}/lines)."
            ) from None
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
