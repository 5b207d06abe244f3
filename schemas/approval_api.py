"""Bodies of the approval configuration API: approvers, groups, rules and delegations.

Shape is checked here (a 422 ``validation_failed`` before anything is read); whether the
approvers, groups and customers named exist is checked by the routes, with their own codes.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, Field, field_validator, model_validator

from domain.approval import DocumentType, LevelRule
from domain.tax import SUPPORTED_REGIONS
from schemas.api import EMAIL_PATTERN, _currency, _Strict

# Approver ids appear in approval request ids ("{invoice}:r1:l0:{approver}") and in URLs,
# so they keep to characters that need no escaping there; an e-mail address fits.
APPROVER_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,99}$"


def _as_utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


# SQLite hands stored timestamps back without their zone; they were written in UTC
UtcDatetime = Annotated[datetime, AfterValidator(_as_utc)]


def _unique(values: list[str], what: str) -> list[str]:
    repeated = sorted({v for v in values if values.count(v) > 1})
    if repeated:
        raise ValueError(f"{what} must be unique; repeated: {', '.join(repeated)}")
    return values


class ApproverUpdate(_Strict):
    """PUT /approvers/{id}: the approver's fields (the id stays)."""

    name: str = Field(min_length=1, max_length=200)
    email: str = Field(pattern=EMAIL_PATTERN, max_length=320)
    time_zone: str = Field(
        default="UTC", description="IANA time zone, e.g. Europe/London (for business hours)"
    )

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: "Europe", a long name
            raise ValueError(
                f"unknown time zone {value!r}; use an IANA name like 'Europe/London'"
            ) from None
        return value


class ApproverCreate(ApproverUpdate):
    id: str | None = Field(
        default=None,
        pattern=APPROVER_ID_PATTERN,
        description=(
            "The approver's user id in the upstream app, the same id that invoices name as "
            "their creator or last editor (separation of duties compares the two). "
            "Generated if left out."
        ),
    )


class _Versioned(BaseModel):
    """An update is a new version; deactivating is one too. Each version is in the audit
    trail. An approval round that is running keeps the chain it started with."""

    version: int = Field(description="1 when created, +1 on every update or deactivation")
    updated_at: UtcDatetime | None = None


class ApproverOut(_Versioned):
    id: str
    name: str
    email: str
    time_zone: str
    active: bool
    created_at: UtcDatetime


class ApproverGroupCreate(_Strict):
    name: str = Field(min_length=1, max_length=200)
    members: list[str] = Field(min_length=1, description="approver ids")
    backup_approver_id: str | None = Field(
        default=None, description="who gets the level when it escalates"
    )

    @field_validator("members")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        return _unique(value, "members")


class ApproverGroupOut(_Versioned):
    id: str
    name: str
    members: list[str]
    backup_approver_id: str | None
    active: bool = True
    created_at: UtcDatetime


class ApprovalRuleCreate(_Strict):
    """When a document needs approval and by whom. Empty lists and null mean "any"."""

    description: str = Field(
        min_length=1, max_length=500, description="why approval is needed, shown to approvers"
    )
    document_types: list[DocumentType] = Field(default_factory=list)
    min_amount_minor: int | None = Field(
        default=None, ge=0, description="applies at or above this amount, in `currency`"
    )
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    currencies: list[str] | None = Field(
        default=None,
        description=(
            "Currency scope: the currencies of the invoices this rule applies to; an invoice"
            " in another currency is never stopped by it. Default: the threshold's currency"
            " (any currency for a rule without a threshold). A currency other than the"
            " threshold's needs an exchange rate (INVOICEFLOW_APPROVAL_RATES), else 422"
            " `scope_needs_rates`."
        ),
    )
    customer_ids: list[str] = Field(default_factory=list)
    regions: list[str] = Field(default_factory=list, description="tax regions, e.g. GB, CA-QC")
    requires_po_variance: bool | None = Field(
        default=None, description="true: only documents with an accepted PO variance"
    )
    levels: list[LevelRule] = Field(min_length=1)

    @field_validator("currency")
    @classmethod
    def _check_currency(cls, value: str | None) -> str | None:
        return None if value is None else _currency(value)

    @field_validator("currencies")
    @classmethod
    def _check_currencies(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _unique([_currency(c) for c in value], "currencies")

    @field_validator("regions")
    @classmethod
    def _known_regions(cls, value: list[str]) -> list[str]:
        unknown = [r for r in value if r not in SUPPORTED_REGIONS]
        if unknown:
            raise ValueError(
                f"unsupported region(s) {', '.join(unknown)}; supported: "
                f"{', '.join(sorted(SUPPORTED_REGIONS))}"
            )
        return value

    @model_validator(mode="after")
    def _consistent(self) -> ApprovalRuleCreate:
        if self.min_amount_minor is not None and self.currency is None:
            # no rate table is configured, so a threshold must say its own currency
            raise ValueError("a rule with min_amount_minor needs a currency")
        return self


class ApprovalRuleOut(_Versioned):
    id: str
    position: int
    description: str
    document_types: list[str]
    min_amount_minor: int | None
    currency: str | None
    currencies: list[str] = Field(description="currency scope; empty: any currency")
    customer_ids: list[str]
    regions: list[str]
    requires_po_variance: bool | None
    levels: list[LevelRule]
    active: bool
    created_at: UtcDatetime


class DelegationCreate(_Strict):
    delegate_id: str
    starts: date
    ends: date = Field(description="inclusive")

    @model_validator(mode="after")
    def _ordered(self) -> DelegationCreate:
        if self.ends < self.starts:
            raise ValueError("ends is before starts")
        return self


class DelegationOut(_Versioned):
    id: str
    approver_id: str
    delegate_id: str
    starts: date
    ends: date
    created_at: UtcDatetime
    revoked_at: UtcDatetime | None


# PATCH bodies: the fields of the PUT body, each optional; the fields sent replace the
# record's, and the result is checked as a PUT would be.


class ApproverPatch(_Strict):
    name: str | None = None
    email: str | None = None
    time_zone: str | None = None


class ApproverGroupPatch(_Strict):
    name: str | None = None
    members: list[str] | None = None
    backup_approver_id: str | None = None


class ApprovalRulePatch(_Strict):
    description: str | None = None
    document_types: list[DocumentType] | None = None
    min_amount_minor: int | None = None
    currency: str | None = None
    currencies: list[str] | None = None
    customer_ids: list[str] | None = None
    regions: list[str] | None = None
    requires_po_variance: bool | None = None
    levels: list[LevelRule] | None = None


class DelegationPatch(_Strict):
    delegate_id: str | None = None
    starts: date | None = None
    ends: date | None = None
