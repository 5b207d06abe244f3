"""What the dispute workflow asks the customer to be told (activity `dispute.notify_customer`).

One model per notice kind would be four near-identical models; one model with a `kind` and
the optional fields each kind reads keeps the workflow's call sites uniform. What each kind
needs:

- ``acknowledged``: amount_minor, currency; sla_business_days (the owner's first review)
- ``information_requested``: text (the question), respond_by
- ``remedy_proposed``: remedy (a rejection's reason is its note)
- ``resolved``: remedy (what was done), balance_minor (the invoice's balance after it); text
  an optional closing note

An escalation is internal: the customer is not told (the owner changes, the case does not).
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, Field

from domain.disputes.model import RemedyKind
from schemas.disputes import CreditSettlement, InstalmentPlan

DisputeNoticeKind = Literal["acknowledged", "information_requested", "remedy_proposed", "resolved"]
NOTICE_KINDS: tuple[DisputeNoticeKind, ...] = (
    "acknowledged",
    "information_requested",
    "remedy_proposed",
    "resolved",
)


class RemedySummary(BaseModel):
    """A remedy as the customer reads it (a plain dict with these keys validates too).

    amount_minor: a credit note's or write-off's amount, an adjusted invoice's new total.
    note: the owner's words to the customer; a rejection's reason.
    settlement: for a credit note on a paid invoice, a refund or credit on the account.
    """

    kind: RemedyKind
    amount_minor: int | None = Field(default=None, ge=0)
    instalments: list[InstalmentPlan] = Field(default_factory=list)
    note: str = ""
    settlement: CreditSettlement | None = None


class DisputeCustomerNotice(BaseModel):
    """One message about a dispute to the invoice's customer: e-mail, and SMS where that is
    the customer's channel.

    `key` is the notice's idempotency key (for example the workflow id and the activity's
    purpose): the same key sends at most once per channel, across retries and worker crashes.
    """

    dispute_id: str
    dispute_number: str
    invoice_id: str
    kind: DisputeNoticeKind
    key: str = Field(min_length=1, max_length=200)
    amount_minor: int = Field(ge=0)  # the amount (still) disputed
    currency: str
    text: str | None = None  # the question; a note
    respond_by: date | None = None
    remedy: RemedySummary | None = None
    balance_minor: int | None = None  # resolved: the invoice's balance now
    sla_business_days: int | None = Field(default=None, gt=0)
