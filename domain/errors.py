"""Business-rule errors raised by the domain layer.

Every rule the domain enforces fails with a subclass of `InvoiceRuleError`, which carries a
machine-readable `code` (stable, for API problem documents, `ApplicationError` types and
exception queues) and a `detail` sentence that names the offending value (for people).
Workflows turn these into non-retryable `ApplicationError`s: retrying a broken rule cannot
fix it.
"""

from __future__ import annotations


class InvoiceRuleError(Exception):
    """A business rule stopped an invoice; `code` says which rule, `detail` says why."""

    code: str = "invoice_rule"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    def __str__(self) -> str:
        return self.detail

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.detail!r})"


class ContractNotForCustomer(InvoiceRuleError):
    """The contract belongs to another customer (the API refuses this before starting; the
    worker checks again for starts that did not come through the API)."""

    code = "contract_not_for_customer"


class ContractNotYetValid(InvoiceRuleError):
    code = "contract_not_yet_valid"


class ContractExpired(InvoiceRuleError):
    code = "contract_expired"


class UnknownRate(InvoiceRuleError):
    code = "unknown_rate"


class CapExceeded(InvoiceRuleError):
    code = "cap_exceeded"


class CurrencyMismatch(InvoiceRuleError):
    code = "currency_mismatch"


class InvalidQuantity(InvoiceRuleError):
    code = "invalid_quantity"


class InvalidAmount(InvoiceRuleError):
    code = "invalid_amount"


class InvalidIssueDate(InvoiceRuleError):
    """An issue date outside the years we invoice in (2000-2099): a typo, not a date."""

    code = "invalid_issue_date"


class EmptyInvoice(InvoiceRuleError):
    code = "empty_invoice"


class UnknownTaxRegion(InvoiceRuleError):
    code = "unknown_tax_region"


class UnsupportedTaxCategory(InvoiceRuleError):
    code = "unsupported_tax_category"


class UnsupportedCurrency(InvoiceRuleError):
    code = "unsupported_currency"


class InvalidPeriod(InvoiceRuleError):
    """A billing period that is not a calendar month written ``YYYY-MM``."""

    code = "invalid_period"


class NothingToBill(InvoiceRuleError):
    """A period invoice found no unbilled entries for its contract and period."""

    code = "nothing_to_bill"
