"""What an open dispute does to collection: the disputed amount stops, the rest goes on.

While a dispute is open, the amount it contests is neither overdue nor reminded of; the
undisputed part of the balance is still collected (reminders ask for it, the payment
link charges it, aging counts it as overdue once the due date has passed).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from domain.disputes.model import InvoiceFigures, OpenDispute


def overdue_amount(balance_minor: int, disputed_minor: int) -> int:
    """The part of the open balance that can be overdue and reminded of: the balance less
    what open disputes contest, never negative (a dispute never makes money owed back)."""
    if balance_minor < 0 or disputed_minor < 0:
        raise ValueError(
            f"amounts must not be negative; got balance {balance_minor}, disputed {disputed_minor}"
        )
    return max(0, balance_minor - disputed_minor)


def collectable(invoice: InvoiceFigures, open_disputes: Sequence[OpenDispute]) -> int:
    """What collection asks the customer for now: the invoice's open balance less the
    amounts its open disputes still contest."""
    disputed = sum(dispute.amount_minor for dispute in open_disputes)
    return overdue_amount(invoice.open_balance_minor, disputed)


def is_overdue(balance_minor: int, disputed_minor: int, due_date: dt.date, today: dt.date) -> bool:
    """Overdue: past the due date with an undisputed amount left. An invoice whose whole
    balance is disputed is not overdue, however late."""
    return today > due_date and overdue_amount(balance_minor, disputed_minor) > 0
