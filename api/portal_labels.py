"""The portal's words for dispute data, in the customer's language: reason categories,
statuses, timeline events, remedies, and the refusals a customer can act on.

Values come from `schemas.disputes` (and `store.disputes.EVENT_KINDS`); each is marked
here for extraction and translated when a page is rendered (``t.gettext(label)``).
"""

from __future__ import annotations

from babel.support import NullTranslations

from domain.disputes.model import DisputeReason, RemedyKind
from rendering.i18n import N_
from schemas.disputes import DisputeStatus

REASONS: dict[str, str] = {
    DisputeReason.PRICING: N_("Pricing: a price or rate is wrong"),
    DisputeReason.QUANTITY: N_("Quantity: we were billed for more than we had"),
    DisputeReason.QUALITY: N_("Quality: goods or work not as agreed"),
    DisputeReason.NOT_RECEIVED: N_("Not received: goods or work never delivered"),
    DisputeReason.DUPLICATE: N_("Duplicate: we were billed twice"),
    DisputeReason.TAX: N_("Tax: the tax is wrong"),
    DisputeReason.OTHER: N_("Other"),
}
# the short form, for a dispute's summary
REASONS_SHORT: dict[str, str] = {
    DisputeReason.PRICING: N_("Pricing"),
    DisputeReason.QUANTITY: N_("Quantity"),
    DisputeReason.QUALITY: N_("Quality"),
    DisputeReason.NOT_RECEIVED: N_("Not received"),
    DisputeReason.DUPLICATE: N_("Duplicate"),
    DisputeReason.TAX: N_("Tax"),
    DisputeReason.OTHER: N_("Other"),
}

STATUSES: dict[str, str] = {
    DisputeStatus.OPEN: N_("Being reviewed"),
    DisputeStatus.WAITING_ON_CUSTOMER: N_("Waiting for your answer"),
    DisputeStatus.AWAITING_APPROVAL: N_("Being reviewed"),
    DisputeStatus.REMEDY_PROPOSED: N_("Proposal awaiting your answer"),
    DisputeStatus.RESOLVED: N_("Resolved"),
}

# What the customer reads for each timeline event; `None`: the event's own text is the
# message (a person wrote it). Kinds staff keep to themselves are never visible anyway.
EVENTS: dict[str, str] = {
    "opened": N_("Dispute opened"),
    "owner_assigned": N_("Assigned to our team"),
    "escalated": N_("Passed to a senior colleague"),
    "information_requested": N_("We asked you for information"),
    "customer_replied": N_("You answered"),
    "note": N_("Message from us"),
    "evidence_added": N_("Evidence added"),
    "remedy_proposed": N_("We proposed a resolution"),
    "remedy_accepted": N_("You accepted the proposal"),
    "remedy_declined": N_("You declined the proposal"),
    "no_answer": N_("We received no answer in time"),
    "resolved": N_("Dispute resolved"),
}
# events whose text a person wrote for the customer to read: shown under the title
EVENTS_WITH_TEXT = frozenset(
    {
        "information_requested",
        "customer_replied",
        "note",
        "evidence_added",
        "remedy_declined",
    }
)

REMEDIES: dict[str, str] = {
    RemedyKind.CREDIT_NOTE: N_("A credit note"),
    RemedyKind.ADJUSTED_INVOICE: N_("A corrected invoice replacing this one"),
    RemedyKind.PAYMENT_PLAN: N_("A payment plan"),
    RemedyKind.REJECTION: N_("We keep the invoice as it is"),
    RemedyKind.WRITE_OFF: N_("We write off the amount"),
}

# Refusals of an intake or a reply (`domain.disputes.model.DisputeRefusalCode` and the
# dispute service's own codes), in words a customer can act on.
REFUSALS: dict[str, str] = {
    "unknown_lines": N_("One of the lines you chose is not on this invoice."),
    "duplicate_lines": N_("A line was chosen more than once."),
    "lines_already_disputed": N_(
        "One of these lines is already in an open dispute. You can add to that dispute instead."
    ),
    "amount_above_lines": N_("The amount is more than the lines you chose come to."),
    "amount_above_balance": N_("The amount is more than what is still due on this invoice."),
    "nothing_to_dispute": N_("Nothing is left to dispute on this invoice."),
    "invalid_amount": N_("Enter an amount greater than zero."),
    "dispute_closed": N_("This dispute is resolved; it cannot be changed any more."),
    "nothing_to_answer": N_("There is no question or proposal waiting for your answer."),
    "empty_reply": N_("Write an answer or attach a file."),
    "answer_required": N_("Accept or decline the proposal."),
}
REFUSED = N_("We could not record this.")

EVIDENCE_REFUSALS: dict[str, str] = {
    "evidence_empty": N_("%(name)s is empty."),
    "evidence_too_large": N_("%(name)s is larger than the %(limit)s a file may be."),
    "evidence_type_not_allowed": N_(
        "%(name)s is not a file we accept. Send a PDF, PNG, JPEG, plain text, CSV or"
        " e-mail (.eml) file."
    ),
}


def label(table: dict[str, str], value: str, t: NullTranslations) -> str:
    """`value`'s words from `table`, translated; a value we have no words for, humanised."""
    words = table.get(value)
    return t.gettext(words) if words else value.replace("_", " ").capitalize()


def words_for(code: str, t: NullTranslations) -> str:
    """Our own refusal `code` in the reader's words."""
    return label(REFUSALS, code, t)


def refusal(code: str, message: str, t: NullTranslations, english: bool) -> str:
    """A refusal in the reader's words. English readers get the service's own sentence
    (it names the lines and amounts at fault); others our translation of its code."""
    if english and message:
        return message[0].upper() + message[1:] + ("" if message.endswith(".") else ".")
    words = REFUSALS.get(code)
    return t.gettext(words) if words else t.gettext(REFUSED)
