"""Why the purchase-order store refused a change: a ``code`` stable for machines and a
message that says what was wrong. The API answers them as problem documents (404, 409,
422); an activity can turn them into a non-retryable business error."""

from __future__ import annotations


class PurchaseOrderError(Exception):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


class PONotFound(PurchaseOrderError):
    """No purchase order with that id."""


class PurchaseOrderConflict(PurchaseOrderError):
    """The PO's state or identity is in the way: closed, a number or reference taken."""


class PurchaseOrderRefused(PurchaseOrderError):
    """The request does not fit this PO: an unknown line, too much delivered, a quantity
    below what is used, another customer's PO."""
