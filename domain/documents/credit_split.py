"""How a credit note's gross amount splits into net and VAT per rate.

A credit note in the project is one gross amount against an invoice (a dispute's remedy:
`CreditNoteRow.amount_minor`), while EN 16931 wants its net and its VAT per category and
rate, as for an invoice. The rule, in minor units with the project's rounding rule
(`domain.money.round_minor`, half away from zero):

1. The gross is shared pro rata over the invoice's VAT breakdown by each part's gross
   (taxable + tax), each share rounded; the largest part takes the remainder, so the
   shares add up to the credit note's gross exactly and no share can go negative.
2. Each share is split into net = share / (1 + rate), rounded, and VAT = share - net, so
   net + VAT is the share exactly. The VAT is then within one minor unit of net x rate,
   which BR-S-09 accepts (it allows a whole currency unit).

Crediting the whole invoice gives back exactly the invoice's own nets and VAT.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from pydantic import BaseModel, ConfigDict

from domain.documents.model import VatCategory
from domain.errors import InvalidAmount
from domain.money import DECIMAL_CONTEXT, round_minor


class VatPart(BaseModel):
    """One VAT category and rate of a document, in minor units; `rate` is a fraction
    (0.20 for 20%), as in `domain.tax`."""

    model_config = ConfigDict(frozen=True)

    category: VatCategory
    rate: Decimal
    taxable_minor: int
    tax_minor: int

    @property
    def gross_minor(self) -> int:
        return self.taxable_minor + self.tax_minor


def split_credit(gross_minor: int, invoice_parts: Sequence[VatPart]) -> list[VatPart]:
    """The credit note's VAT parts for a credit of `gross_minor` on an invoice whose VAT
    breakdown is `invoice_parts`, in the invoice's order (parts with nothing credited are
    left out)."""
    parts = [part for part in invoice_parts if part.gross_minor > 0]
    invoice_gross = sum(part.gross_minor for part in parts)
    if gross_minor <= 0:
        raise InvalidAmount(f"a credit note of {gross_minor} (minor units) credits nothing")
    if gross_minor > invoice_gross:
        raise InvalidAmount(
            f"a credit note of {gross_minor} (minor units) is more than its invoice's "
            f"gross {invoice_gross}"
        )
    remainder_index = max(range(len(parts)), key=lambda i: parts[i].gross_minor)
    shares = [
        round_minor(
            DECIMAL_CONTEXT.divide(
                DECIMAL_CONTEXT.multiply(Decimal(gross_minor), Decimal(part.gross_minor)),
                Decimal(invoice_gross),
            )
        )
        for part in parts
    ]
    shares[remainder_index] = 0
    shares[remainder_index] = gross_minor - sum(shares)
    return [_split_share(part, share) for part, share in zip(parts, shares, strict=True) if share]


def _split_share(part: VatPart, share_minor: int) -> VatPart:
    net = round_minor(DECIMAL_CONTEXT.divide(Decimal(share_minor), 1 + part.rate))
    return VatPart(
        category=part.category,
        rate=part.rate,
        taxable_minor=net,
        tax_minor=share_minor - net,
    )
