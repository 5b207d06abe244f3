"""The approval policy as data, and which of its rules a document meets.

`ApprovalPolicy` holds rules, approver groups, approvers, delegations and an optional
`RateTable`, and refuses inconsistent data when it is built (unknown groups or approvers,
overlapping delegations, a quorum larger than its group), so resolving a chain only fails
for reasons that depend on the document. `select_rule` is the rule matching: currency
scope, document facts, thresholds compared after conversion, and the ranking when
several rules match (see the package docstring). It is its own module because the API,
the store and settings build and validate policies without ever resolving a chain.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from domain.approval.errors import MissingRate
from domain.money import CURRENCY_EXPONENTS, DECIMAL_CONTEXT, exponent, round_minor
from domain.tasks.timing import UnknownTimeZone, load_zone

DocumentType = Literal["invoice", "credit_note"]
QuorumKind = Literal["any", "count", "all"]

_FROZEN = ConfigDict(frozen=True)


def _check_currency(currency: str) -> str:
    if currency not in CURRENCY_EXPONENTS:
        raise ValueError(f"currency {currency!r} is not supported")
    return currency


class Approver(BaseModel):
    """A person who can approve; `id` is the same user id as `created_by` on a document."""

    model_config = _FROZEN

    id: str
    name: str
    email: str
    time_zone: str = "UTC"

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            load_zone(value)
        except UnknownTimeZone as err:
            raise ValueError(err.detail) from None
        return value


class ApproverGroup(BaseModel):
    """Approvers who share a level; the backup gets the level when it escalates."""

    model_config = _FROZEN

    id: str
    name: str
    members: list[str] = Field(min_length=1)
    backup_approver_id: str | None = None


class Delegation(BaseModel):
    """`approver_id` is away from `starts` to `ends` (both inclusive); `delegate_id` stands in."""

    model_config = _FROZEN

    approver_id: str
    delegate_id: str
    starts: dt.date
    ends: dt.date

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.approver_id == self.delegate_id:
            raise ValueError(f"approver {self.approver_id!r} cannot delegate to themselves")
        if self.starts > self.ends:
            raise ValueError(f"delegation starts {self.starts}, after it ends {self.ends}")
        return self

    def active_on(self, day: dt.date) -> bool:
        return self.starts <= day <= self.ends


class Quorum(BaseModel):
    """How many of a level's eligible approvers must approve: one, `count`, or all of them."""

    model_config = _FROZEN

    kind: QuorumKind = "any"
    count: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.kind == "count" and self.count is None:
            raise ValueError("a 'count' quorum needs a count")
        if self.kind != "count" and self.count is not None:
            raise ValueError(f"an {self.kind!r} quorum takes no count")
        return self


class LevelRule(BaseModel):
    model_config = _FROZEN

    group_id: str
    quorum: Quorum = Quorum()


class ApprovalRule(BaseModel):
    """When a document needs approval, and by whom. Empty sets and None mean "any"."""

    model_config = _FROZEN

    id: str
    description: str  # why approval is needed, in words an approver understands
    document_types: frozenset[DocumentType] = frozenset()
    min_amount_minor: int | None = Field(default=None, ge=0)
    # The threshold's currency; None means the rate table's base currency.
    currency: str | None = None
    # The currencies of the documents the rule applies to; empty means any currency. The
    # configuration API always stores a scope (by default the threshold's currency), so a
    # rule never reaches an invoice in a currency it was not meant for.
    currencies: frozenset[str] = frozenset()
    customer_ids: frozenset[str] = frozenset()
    regions: frozenset[str] = frozenset()
    requires_po_variance: bool | None = None
    levels: list[LevelRule] = Field(min_length=1)

    @field_validator("currency")
    @classmethod
    def _known_currency(cls, value: str | None) -> str | None:
        return None if value is None else _check_currency(value)

    @field_validator("currencies")
    @classmethod
    def _known_currencies(cls, value: frozenset[str]) -> frozenset[str]:
        for currency in value:
            _check_currency(currency)
        return value


def rates_missing(rule: ApprovalRule, rates: RateTable | None) -> list[str]:
    """The currencies in `rule`'s scope whose documents its threshold cannot be compared
    with, for lack of an exchange rate (empty: the rule can always be evaluated)."""
    if rule.min_amount_minor is None:
        return []
    threshold = rule.currency or (rates.base if rates else None)
    scope = rule.currencies or frozenset(CURRENCY_EXPONENTS)
    known = {rates.base, *rates.rates} if rates else set()
    if threshold is not None and threshold not in known:
        return sorted(c for c in scope if c != threshold)
    return sorted(c for c in scope if c != threshold and c not in known)


class RateTable(BaseModel):
    """Exchange rates as units of `base` per unit of each currency (EUR: 0.85 GBP)."""

    model_config = _FROZEN

    base: str
    rates: dict[str, Decimal]

    @model_validator(mode="after")
    def _check(self) -> Self:
        _check_currency(self.base)
        for currency, rate in self.rates.items():
            _check_currency(currency)
            if not rate.is_finite() or rate <= 0:
                raise ValueError(f"rate for {currency} must be a positive number, not {rate}")
        if self.rates.get(self.base, Decimal(1)) != 1:
            raise ValueError(f"the base currency {self.base} must have rate 1")
        return self

    def _units_of_base(self, currency: str) -> Decimal:
        if currency == self.base:
            return Decimal(1)
        try:
            return self.rates[currency]
        except KeyError:
            known = ", ".join(sorted(self.rates)) or "none"
            raise MissingRate(
                f"no exchange rate for {currency} in the rate table (base {self.base}; "
                f"rates for: {known})"
            ) from None

    def convert_exact(self, amount_minor: int, from_currency: str, to_currency: str) -> Decimal:
        """`amount_minor` of `from_currency` in minor units of `to_currency`, unrounded."""
        if from_currency == to_currency:
            return Decimal(amount_minor)
        ctx = DECIMAL_CONTEXT
        in_base = ctx.multiply(Decimal(amount_minor), self._units_of_base(from_currency))
        value = ctx.divide(in_base, self._units_of_base(to_currency))
        return value.scaleb(exponent(to_currency) - exponent(from_currency), context=ctx)

    def convert_minor(self, amount_minor: int, from_currency: str, to_currency: str) -> int:
        """`amount_minor` converted through the base currency, rounded half up."""
        return round_minor(self.convert_exact(amount_minor, from_currency, to_currency))


class ApprovalPolicy(BaseModel):
    """The whole approval configuration; refuses references that do not resolve."""

    model_config = _FROZEN

    rules: list[ApprovalRule]
    groups: list[ApproverGroup]
    approvers: list[Approver]
    delegations: list[Delegation] = []
    rates: RateTable | None = None

    @model_validator(mode="after")
    def _check_references(self) -> Self:
        for kind, ids in (
            ("rule", [r.id for r in self.rules]),
            ("group", [g.id for g in self.groups]),
            ("approver", [a.id for a in self.approvers]),
        ):
            _refuse_repeats(f"{kind} ids", ids)
        approvers = {a.id for a in self.approvers}
        groups = {g.id: g for g in self.groups}
        for group in self.groups:
            _refuse_repeats(f"members of group {group.id!r}", group.members)
            for member in [*group.members, group.backup_approver_id]:
                if member is not None and member not in approvers:
                    raise ValueError(f"group {group.id!r} names unknown approver {member!r}")
        for rule in self.rules:
            if rule.min_amount_minor is not None and rule.currency is None and not self.rates:
                raise ValueError(
                    f"rule {rule.id!r} has a threshold without a currency, which needs a "
                    "rate table (its base currency is the threshold's currency)"
                )
            for position, level in enumerate(rule.levels, start=1):
                target = groups.get(level.group_id)
                if target is None:
                    raise ValueError(
                        f"rule {rule.id!r} level {position} names unknown group {level.group_id!r}"
                    )
                if level.quorum.count is not None and level.quorum.count > len(target.members):
                    raise ValueError(
                        f"rule {rule.id!r} level {position} needs {level.quorum.count} "
                        f"approvals but group {target.id!r} has {len(target.members)} members"
                    )
        for delegation in self.delegations:
            for who in (delegation.approver_id, delegation.delegate_id):
                if who not in approvers:
                    raise ValueError(f"delegation names unknown approver {who!r}")
        by_approver = sorted(self.delegations, key=lambda d: (d.approver_id, d.starts))
        for first, second in zip(by_approver, by_approver[1:], strict=False):
            if first.approver_id == second.approver_id and second.starts <= first.ends:
                raise ValueError(
                    f"delegations of {first.approver_id!r} overlap: {first.starts}..{first.ends} "
                    f"and {second.starts}..{second.ends}"
                )
        return self


def _refuse_repeats(what: str, ids: Sequence[str]) -> None:
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise ValueError(f"{what} must be unique; repeated: {', '.join(repeated)}")


class ApprovalSubject(BaseModel):
    """The facts about one version of a document that decide its approval."""

    model_config = _FROZEN

    document_type: DocumentType
    amount_minor: int  # the document total; its size is what thresholds measure
    currency: str
    customer_id: str
    region: str
    po_variance_accepted: bool = False
    created_by: str
    last_changed_by: str
    version: int = Field(ge=1)

    @field_validator("currency")
    @classmethod
    def _known_currency(cls, value: str) -> str:
        return _check_currency(value)


# --- rule matching -----------------------------------------------------------------------


def select_rule(
    policy: ApprovalPolicy, subject: ApprovalSubject
) -> tuple[ApprovalRule, int | None] | None:
    """The rule `subject` falls under, with its amount in the threshold's currency (None for
    a rule without a threshold); None when no rule matches.

    The highest threshold wins (a rule without one ranks lowest); a tie goes to the rule
    with more levels, then to the rule listed first. Raises `MissingRate` when a matching
    rule's threshold is in another currency and no rate converts it.
    """
    best: tuple[tuple[int, Decimal, int, int], ApprovalRule, int | None] | None = None
    for position, rule in enumerate(policy.rules):
        if not _facts_match(rule, subject):
            continue
        compared: int | None = None
        rank = (0, Decimal(0))  # a rule without a threshold ranks below every threshold
        if rule.min_amount_minor is not None:
            compared, threshold_here = _compare(policy, rule, subject)
            if compared < rule.min_amount_minor:
                continue
            rank = (1, threshold_here)
        key = (*rank, len(rule.levels), -position)
        if best is None or key > best[0]:
            best = (key, rule, compared)
    if best is None:
        return None
    _, rule, compared = best
    return rule, compared


def _facts_match(rule: ApprovalRule, subject: ApprovalSubject) -> bool:
    if rule.currencies and subject.currency not in rule.currencies:
        return False
    if rule.document_types and subject.document_type not in rule.document_types:
        return False
    if rule.customer_ids and subject.customer_id not in rule.customer_ids:
        return False
    if rule.regions and subject.region not in rule.regions:
        return False
    variance = rule.requires_po_variance
    return variance is None or variance == subject.po_variance_accepted


def threshold_currency(policy: ApprovalPolicy, rule: ApprovalRule) -> str:
    if rule.currency is not None:
        return rule.currency
    assert policy.rates is not None  # ApprovalPolicy refuses a bare threshold without rates
    return policy.rates.base


def _compare(
    policy: ApprovalPolicy, rule: ApprovalRule, subject: ApprovalSubject
) -> tuple[int, Decimal]:
    """The document's amount in the rule's currency (rounded, for the threshold test) and
    the rule's threshold in the document's currency (exact, for ranking rules)."""
    assert rule.min_amount_minor is not None
    amount = abs(subject.amount_minor)
    currency = threshold_currency(policy, rule)
    if currency == subject.currency:
        return amount, Decimal(rule.min_amount_minor)
    if policy.rates is None:
        raise MissingRate(
            f"rule {rule.id!r} has its threshold in {currency} but the document is in "
            f"{subject.currency}, and the policy has no rate table"
        )
    return (
        policy.rates.convert_minor(amount, subject.currency, currency),
        policy.rates.convert_exact(rule.min_amount_minor, currency, subject.currency),
    )
