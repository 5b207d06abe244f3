"""Dispute intake: what a customer may dispute, and how much.

A customer names lines, an amount, or both. The rules: the lines must be the invoice's
and named once; two open disputes may not share a line (a dispute without lines is about
the whole invoice, so it shares every line); and the amount is never more than the open
balance less what other open disputes already contest, because one amount cannot be
contested twice. Without an amount, a dispute contests the gross of its lines, or the
whole disputable balance when it names none.

A line's gross is its net plus its share of the tax, which the invoice computes per tax
component on the sum of a category's nets (invoice-level rounding, `domain.money`);
`line_gross_amounts` shares each component's tax back out to the lines so the grosses
add up to the invoice total to the minor unit.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from domain.disputes.model import (
    AcceptedIntake,
    DisputeRefused,
    InvoiceFigures,
    LineAmount,
    OpenDispute,
)
from domain.invoicing import InvoiceLine, TaxLine
from domain.money import format_amount


def line_gross_amounts(
    lines: Sequence[InvoiceLine], tax_lines: Sequence[TaxLine]
) -> list[LineAmount]:
    """Each line's net plus its share of every tax component of its category, by position.

    A component's tax is shared in proportion to the lines' nets by largest remainder:
    every line gets the floor of its exact share, and the minor units left over go one
    each to the largest fractional parts (ties to the lower position). So the shares of a
    component add up to its tax exactly, and the grosses to subtotal + tax = the total.

    Raises ValueError when a tax line's base is not the sum of its category's nets (the
    figures are not one invoice's).
    """
    extra = {line.position: 0 for line in lines}
    for tax_line in tax_lines:
        taxed = [line for line in lines if line.tax_category == tax_line.category]
        base = sum(line.net_minor for line in taxed)
        if base != tax_line.taxable_minor:
            raise ValueError(
                f"tax line {tax_line.name!r} ({tax_line.category}) is on "
                f"{tax_line.taxable_minor}, but its lines' nets add up to {base}"
            )
        for position, share in _apportion(
            tax_line.tax_minor, [(line.position, line.net_minor) for line in taxed]
        ).items():
            extra[position] += share
    return [
        LineAmount(position=line.position, gross_minor=line.net_minor + extra[line.position])
        for line in sorted(lines, key=lambda line: line.position)
    ]


def _apportion(amount: int, weights: Sequence[tuple[int, int]]) -> dict[int, int]:
    """`amount` shared over (position, weight) pairs by largest remainder."""
    total = sum(weight for _, weight in weights)
    if total == 0:
        return {position: 0 for position, _ in weights}
    shares = {position: amount * weight // total for position, weight in weights}
    left = amount - sum(shares.values())
    # largest fractional part first, then the lower position: deterministic
    order = sorted(weights, key=lambda pw: (-(amount * pw[1] % total), pw[0]))
    for position, _ in order[:left]:
        shares[position] += 1
    return shares


def disputable_minor(invoice: InvoiceFigures, open_disputes: Sequence[OpenDispute]) -> int:
    """The open balance less what the other open disputes contest (never negative)."""
    contested = sum(dispute.amount_minor for dispute in open_disputes)
    return max(0, invoice.open_balance_minor - contested)


def check_intake(
    invoice: InvoiceFigures,
    open_disputes: Sequence[OpenDispute],
    intake_lines: Sequence[int],
    amount_minor: int | None,
) -> AcceptedIntake:
    """The lines and amount a new dispute contests, or `DisputeRefused`.

    Checked in this order, so the customer first fixes the form, then learns about the
    invoice's state: unknown_lines, duplicate_lines, invalid_amount, lines_already_disputed,
    nothing_to_dispute, amount_above_lines (an amount above the named lines' gross),
    amount_above_balance.
    """
    known = {line.position: line.gross_minor for line in invoice.lines}
    unknown = tuple(sorted({p for p in intake_lines if p not in known}))
    if unknown:
        raise DisputeRefused(
            "unknown_lines",
            f"the invoice has no {_lines_text(unknown)}; its lines are "
            f"{_positions_text(tuple(sorted(known)))}",
            lines=unknown,
        )
    repeated = tuple(sorted(p for p, n in Counter(intake_lines).items() if n > 1))
    if repeated:
        raise DisputeRefused(
            "duplicate_lines", f"{_lines_text(repeated)} named more than once", lines=repeated
        )
    if amount_minor is not None and amount_minor <= 0:
        raise DisputeRefused(
            "invalid_amount", f"the disputed amount must be positive, got {amount_minor}"
        )
    lines = tuple(sorted(intake_lines))
    _check_overlap(lines, open_disputes)

    cur = invoice.currency
    disputable = disputable_minor(invoice, open_disputes)
    if disputable == 0:
        balance = invoice.open_balance_minor
        why = (
            "the invoice has no open balance"
            if balance == 0
            else f"its open balance of {format_amount(balance, cur)} is disputed already"
        )
        raise DisputeRefused("nothing_to_dispute", f"nothing left to dispute: {why}")

    lines_gross = sum(known[p] for p in lines)
    if amount_minor is None:
        if not lines:
            return AcceptedIntake(lines=lines, amount_minor=disputable)
        if lines_gross == 0:
            raise DisputeRefused(
                "invalid_amount",
                f"{_lines_text(lines)} {_be(lines)} {format_amount(0, cur)}; "
                "name an amount to dispute",
                lines=lines,
            )
        if lines_gross > disputable:
            raise DisputeRefused(
                "amount_above_balance",
                f"{_lines_text(lines)} {_be(lines)} {format_amount(lines_gross, cur)} with "
                f"tax, more than the {format_amount(disputable, cur)} that can still be "
                f"disputed{_balance_note(invoice, disputable)}; name an amount up to "
                f"{format_amount(disputable, cur)} instead",
                lines=lines,
            )
        return AcceptedIntake(lines=lines, amount_minor=lines_gross)

    if lines and amount_minor > lines_gross:
        raise DisputeRefused(
            "amount_above_lines",
            f"the disputed amount {format_amount(amount_minor, cur)} is more than "
            f"{_lines_text(lines)} {_be(lines)} with tax ({format_amount(lines_gross, cur)})",
            lines=lines,
        )
    if amount_minor > disputable:
        raise DisputeRefused(
            "amount_above_balance",
            f"the disputed amount {format_amount(amount_minor, cur)} is more than the "
            f"{format_amount(disputable, cur)} that can still be disputed"
            + _balance_note(invoice, disputable),
        )
    return AcceptedIntake(lines=lines, amount_minor=amount_minor)


def _check_overlap(lines: tuple[int, ...], open_disputes: Sequence[OpenDispute]) -> None:
    for dispute in open_disputes:
        if not lines or not dispute.lines:
            shared: tuple[int, ...] = lines or dispute.lines
            what = "the whole invoice" if not dispute.lines else _lines_text(dispute.lines)
            raise DisputeRefused(
                "lines_already_disputed",
                f"dispute {dispute.label} is still open on {what}; "
                "add to it instead of opening another",
                lines=shared,
            )
        overlap = tuple(sorted(set(lines) & set(dispute.lines)))
        if overlap:
            raise DisputeRefused(
                "lines_already_disputed",
                f"{_lines_text(overlap)} already disputed in {dispute.label}, still open",
                lines=overlap,
            )


def _balance_note(invoice: InvoiceFigures, disputable: int) -> str:
    balance = invoice.open_balance_minor
    if balance == disputable:
        return " (the open balance)"
    cur = invoice.currency
    return (
        f" (the open balance {format_amount(balance, cur)} less "
        f"{format_amount(balance - disputable, cur)} in other open disputes)"
    )


def _positions_text(positions: tuple[int, ...]) -> str:
    return ", ".join(str(p) for p in positions) if positions else "none"


def _be(positions: tuple[int, ...]) -> str:
    return "is" if len(positions) == 1 else "are"


def _lines_text(positions: tuple[int, ...]) -> str:
    noun = "line" if len(positions) == 1 else "lines"
    return f"{noun} {_positions_text(positions)}"
