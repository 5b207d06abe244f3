"""Approval policy: which documents need whose approval, and how a running chain moves on.

Pure and deterministic, so the invoice workflow can call it directly: today's date and
every timestamp are arguments, nothing reads the clock or does I/O (the time-zone
database read by `zoneinfo` is data, the same on every replay).

The pieces, in the order the workflow meets them:

- `ApprovalPolicy` is the data: rules, approver groups, approvers, delegations and an
  optional `RateTable`. It refuses inconsistent data when built (unknown groups or
  approvers, overlapping delegations, a quorum larger than its group), so
  `approval_chain` only fails for reasons that depend on the document.
- `approval_chain(policy, subject, today=...)` picks the rule and resolves it into an
  `ApprovalChain`: levels in order, each with the number of approvals `required` and the
  `eligible` people after separation of duties and delegation; None when no rule applies.
- `ApprovalState` plus `record_decision` / `check_decision` move a running chain; the
  other transitions are `record_reminder`, `escalate` and `expire`, and `waiting_on`
  says whom the active level waits for.
- `next_deadline` and `add_business_hours` time reminders, escalation and expiry.

Choices the issue leaves open, made here:

- A rule's threshold is met at or above `min_amount_minor` ("over 1,000.00" means from
  1,000.00). The document's amount is taken as a magnitude, so a credit note stored with
  a negative total is measured by its size. A rule without a threshold matches any amount.
- When several rules match, the highest threshold wins (a rule without one ranks lowest);
  a tie goes to the rule with more levels, then to the rule listed first. Thresholds in
  different currencies are ranked after conversion to the document's currency.
- A rule applies only to documents in its currency scope (`currencies`; empty means any),
  and a document outside it never needs a rate: a `GBP >= 5,000` rule scoped to GBP says
  nothing about a CAD invoice. `rates_missing` says which scope currencies a rule's
  threshold cannot be compared with, so a configuration can be refused when it is made.
- Amounts are converted through the rate table's base currency and rounded half up to
  the rule currency's minor unit (the rounding rule in `domain.money`) before comparing.
  A rate is only looked up for a rule whose other conditions match.
- Separation of duties runs before delegation and again after it: the creator and the last
  editor are never eligible, a barred approver's delegate does not inherit the seat, and a
  delegate who is barred leaves the seat empty (it does not fall back to the absent
  approver). Delegation is one hop: a delegate's own delegation is not followed.
- One person holds at most one seat per level (a delegate who is also a member keeps their
  own seat) and approves at most one level per chain; a chain whose levels cannot find
  enough distinct people is refused when it is built, not discovered half-way.
- A single "reject" or "request_changes" settles the whole chain, whatever the quorum.
  A person who approved an earlier level may still reject a later one; only approving
  twice is refused.
- Once a level is escalated, its backup approver decides for the whole level: their
  approval completes it on its own.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from domain.money import CURRENCY_EXPONENTS, DECIMAL_CONTEXT, exponent, round_minor

DocumentType = Literal["invoice", "credit_note"]
QuorumKind = Literal["any", "count", "all"]
DecisionKind = Literal["approve", "reject", "request_changes"]
ChainStatus = Literal["pending", "approved", "rejected", "changes_requested", "expired"]
ExclusionReason = Literal["created_document", "last_changed_document", "already_eligible"]
RefusalCode = Literal[
    "already_decided",
    "not_your_approval",
    "level_not_active",
    "version_changed",
    "duplicate_level_approver",
    "chain_closed",
]
OutcomeCode = (
    Literal["applied", "level_complete", "chain_complete", "rejected", "changes_requested"]
    | RefusalCode
)
DeadlineKind = Literal["remind", "escalate", "expire"]

BUSINESS_DAY_OPENS = dt.time(9, 0)
BUSINESS_DAY_CLOSES = dt.time(17, 0)

_FROZEN = ConfigDict(frozen=True)


# --- errors ------------------------------------------------------------------------------


class ApprovalPolicyError(Exception):
    """The policy cannot decide an approval; `code` says which rule, `detail` says why.

    Mirrors `domain.errors.InvoiceRuleError`: workflows turn it into a non-retryable
    `ApplicationError` (retrying cannot add a missing rate or an approver).
    """

    code: str = "approval_policy"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    def __str__(self) -> str:
        return self.detail

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.detail!r})"


class MissingRate(ApprovalPolicyError):
    code = "missing_rate"


class QuorumUnreachable(ApprovalPolicyError):
    """A level cannot collect its required approvals from the people left to give them."""

    code = "quorum_unreachable"

    def __init__(self, detail: str, *, level_index: int, group_id: str) -> None:
        super().__init__(detail)
        self.level_index = level_index
        self.group_id = group_id


class UnknownGroup(ApprovalPolicyError):
    code = "unknown_group"


class UnknownTimeZone(ApprovalPolicyError):
    code = "unknown_time_zone"


# --- the policy data ---------------------------------------------------------------------


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: "Europe", a long name
        raise UnknownTimeZone(
            f"time zone {name!r} is not in the tz database (use a name like 'Europe/London')"
        ) from None


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
            _zone(value)
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


# --- the chain ---------------------------------------------------------------------------


class EligibleApprover(BaseModel):
    """Someone who may decide a level; `delegated_from` names the approver they stand in for."""

    model_config = _FROZEN

    approver_id: str
    name: str
    email: str
    time_zone: str
    delegated_from: str | None = None


class ExcludedApprover(BaseModel):
    """Someone the policy named who may not decide, and why (for the audit and for errors)."""

    model_config = _FROZEN

    approver_id: str
    reason: ExclusionReason
    delegated_from: str | None = None
    as_backup: bool = False


class ChainLevel(BaseModel):
    model_config = _FROZEN

    index: int  # 0-based; messages for people count from 1
    group_id: str
    group_name: str
    quorum: Quorum
    required: int
    eligible: tuple[EligibleApprover, ...]
    excluded: tuple[ExcludedApprover, ...] = ()
    backup: EligibleApprover | None = None  # after separation of duties and delegation


class ApprovalChain(BaseModel):
    """The resolved approval for one version of one document: a snapshot, so later policy
    edits do not change a chain that is already running."""

    model_config = _FROZEN

    rule_id: str
    rule_description: str
    version: int
    threshold_minor: int | None
    threshold_currency: str | None
    compared_amount_minor: int | None  # the document's amount in threshold_currency
    levels: tuple[ChainLevel, ...]


def approval_chain(
    policy: ApprovalPolicy, subject: ApprovalSubject, *, today: dt.date
) -> ApprovalChain | None:
    """The approval `subject` needs under `policy` on `today`, or None if it needs none.

    Rule selection and the other choices are described in the module docstring. Each
    level's quorum becomes a number: "any" needs 1, "count" needs `count`, and "all" needs
    every eligible person, i.e. the group's members left after separation of duties and
    delegation (so "all" of a group whose creator is a member means all the others).

    Raises `MissingRate` when a matching rule's threshold is in another currency and no
    rate converts it, and `QuorumUnreachable` when a level cannot collect its approvals.
    """
    if isinstance(today, dt.datetime):
        raise TypeError("today must be a date, not a datetime; pass now.date()")
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
    groups = {g.id: g for g in policy.groups}
    levels = tuple(
        _resolve_level(
            policy, groups[level.group_id], level.quorum, index, len(rule.levels), subject, today
        )
        for index, level in enumerate(rule.levels)
    )
    _check_distinct_people(levels)
    return ApprovalChain(
        rule_id=rule.id,
        rule_description=rule.description,
        version=subject.version,
        threshold_minor=rule.min_amount_minor,
        threshold_currency=_threshold_currency(policy, rule) if compared is not None else None,
        compared_amount_minor=compared,
        levels=levels,
    )


def escalation_target(policy: ApprovalPolicy, group_id: str) -> str | None:
    """The group's backup approver, who receives a level when it escalates (None: nobody).

    This is the configured person; `ChainLevel.backup` is the same person after separation
    of duties and delegation for one document, which is whom a running chain accepts.
    """
    for group in policy.groups:
        if group.id == group_id:
            return group.backup_approver_id
    raise UnknownGroup(f"approver group {group_id!r} is not in the policy")


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


def _threshold_currency(policy: ApprovalPolicy, rule: ApprovalRule) -> str:
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
    currency = _threshold_currency(policy, rule)
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


def _seat(
    approvers: dict[str, Approver],
    delegations: Sequence[Delegation],
    approver_id: str,
    subject: ApprovalSubject,
    today: dt.date,
    *,
    as_backup: bool = False,
) -> EligibleApprover | ExcludedApprover:
    """Who holds `approver_id`'s seat on `today`, or why nobody does."""
    barred = _barred(approver_id, subject)
    if barred is not None:
        return ExcludedApprover(approver_id=approver_id, reason=barred, as_backup=as_backup)
    delegation = next(
        (d for d in delegations if d.approver_id == approver_id and d.active_on(today)), None
    )
    holder, delegated_from = approver_id, None
    if delegation is not None:
        holder, delegated_from = delegation.delegate_id, approver_id
        barred = _barred(holder, subject)
        if barred is not None:
            return ExcludedApprover(
                approver_id=holder, reason=barred, delegated_from=approver_id, as_backup=as_backup
            )
    person = approvers[holder]
    return EligibleApprover(
        approver_id=person.id,
        name=person.name,
        email=person.email,
        time_zone=person.time_zone,
        delegated_from=delegated_from,
    )


def _barred(approver_id: str, subject: ApprovalSubject) -> ExclusionReason | None:
    if approver_id == subject.created_by:
        return "created_document"
    if approver_id == subject.last_changed_by:
        return "last_changed_document"
    return None


def _resolve_level(
    policy: ApprovalPolicy,
    group: ApproverGroup,
    quorum: Quorum,
    index: int,
    level_count: int,
    subject: ApprovalSubject,
    today: dt.date,
) -> ChainLevel:
    approvers = {a.id: a for a in policy.approvers}
    seats: dict[str, EligibleApprover] = {}
    excluded: list[ExcludedApprover] = []
    for member in group.members:
        seat = _seat(approvers, policy.delegations, member, subject, today)
        if isinstance(seat, ExcludedApprover):
            excluded.append(seat)
            continue
        held = seats.get(seat.approver_id)
        if held is None:
            seats[seat.approver_id] = seat
            continue
        # One person, one seat: their own seat wins over one they hold as a delegate.
        keep, drop = (
            (seat, held) if held.delegated_from and not seat.delegated_from else (held, seat)
        )
        seats[seat.approver_id] = keep
        excluded.append(
            ExcludedApprover(
                approver_id=drop.approver_id,
                reason="already_eligible",
                delegated_from=drop.delegated_from,
            )
        )
    backup = None
    if group.backup_approver_id is not None:
        seat = _seat(
            approvers, policy.delegations, group.backup_approver_id, subject, today, as_backup=True
        )
        if isinstance(seat, ExcludedApprover):
            excluded.append(seat)
        else:
            backup = seat
    eligible = tuple(seats.values())
    required = {"any": 1, "count": quorum.count or 0, "all": len(eligible)}[quorum.kind]
    if not eligible or required > len(eligible):
        wanted = (
            "an approval from every eligible member"
            if quorum.kind == "all"
            else f"{required} approval(s)"
        )
        why = "; ".join(_exclusion_text(e) for e in excluded if not e.as_backup)
        raise QuorumUnreachable(
            f"level {index + 1} of {level_count} (group {group.id!r}) needs {wanted} "
            f"but has {len(eligible)} eligible approver(s)" + (f": {why}" if why else ""),
            level_index=index,
            group_id=group.id,
        )
    return ChainLevel(
        index=index,
        group_id=group.id,
        group_name=group.name,
        quorum=quorum,
        required=required,
        eligible=eligible,
        excluded=tuple(excluded),
        backup=backup,
    )


def _exclusion_text(excluded: ExcludedApprover) -> str:
    who = repr(excluded.approver_id)
    if excluded.delegated_from is not None:
        who += f" (delegate of {excluded.delegated_from!r})"
    what = {
        "created_document": "created the document",
        "last_changed_document": "last changed the document",
        "already_eligible": "already holds a seat",
    }[excluded.reason]
    return f"{who} {what}"


def _check_distinct_people(levels: Sequence[ChainLevel]) -> None:
    """Refuse a chain whose levels cannot all reach quorum with different people.

    Each level needs `required` approvers and nobody may approve two levels: a bipartite
    matching of approval slots to people (augmenting paths; chains are small).
    """
    holder: dict[str, int] = {}  # person -> level whose slot they fill

    def place(level: int, tried: set[str]) -> bool:
        for person in (e.approver_id for e in levels[level].eligible):
            if person in tried:
                continue
            tried.add(person)
            if person not in holder or place(holder[person], tried):
                holder[person] = level
                return True
        return False

    for level in levels:
        for _ in range(level.required):
            if not place(level.index, set()):
                names = ", ".join(repr(e.approver_id) for e in level.eligible)
                raise QuorumUnreachable(
                    f"level {level.index + 1} of {len(levels)} (group {level.group_id!r}) "
                    f"needs {level.required} approval(s) from {names}, who are also needed "
                    "at earlier levels, and one person cannot approve two levels",
                    level_index=level.index,
                    group_id=level.group_id,
                )


# --- a running chain ---------------------------------------------------------------------


class Decision(BaseModel):
    """One accepted decision, as the audit trail records it."""

    model_config = _FROZEN

    level_index: int
    approver_id: str
    decision: DecisionKind
    version: int
    at: dt.datetime
    reason: str | None = None
    delegated_from: str | None = None
    as_backup: bool = False


class ApprovalState(BaseModel):
    """Where a chain stands; start one with `ApprovalState(level_activated_at=now)`."""

    model_config = _FROZEN

    status: ChainStatus = "pending"
    active_level: int = 0  # equals the number of levels once approved
    level_activated_at: dt.datetime
    reminders_sent: int = 0  # for the active level
    escalated_levels: tuple[int, ...] = ()
    decisions: tuple[Decision, ...] = ()
    closed_at: dt.datetime | None = None

    @property
    def escalated(self) -> bool:
        """Whether the active level has escalated to its backup."""
        return self.active_level in self.escalated_levels


class Refusal(BaseModel):
    """Why a decision is refused; `earlier` is the decision that explains it, if any."""

    model_config = _FROZEN

    code: RefusalCode
    earlier: Decision | None = None


class DecisionOutcome(BaseModel):
    """The answer to a click: a code, the new state, and the decision it is about.

    `recorded` is set when the decision was applied; `earlier` when a refusal is explained
    by a decision already made (who and when, for "already_decided").
    """

    model_config = _FROZEN

    code: OutcomeCode
    state: ApprovalState
    recorded: Decision | None = None
    earlier: Decision | None = None

    @property
    def accepted(self) -> bool:
        return self.recorded is not None


def check_decision(
    chain: ApprovalChain,
    state: ApprovalState,
    *,
    approver_id: str,
    level_index: int,
    decision: DecisionKind,
    version: int,
) -> Refusal | None:
    """The refusal `record_decision` would give, or None if it would accept; changes nothing.

    Checked in this order: version_changed (the link is for another version), level index
    out of range (level_not_active), not_your_approval, already_decided (by this person,
    or the level was settled by someone else), chain_closed, level_not_active (a later
    level), duplicate_level_approver (approving a second level).
    """
    if version != chain.version:
        return Refusal(code="version_changed")
    if not 0 <= level_index < len(chain.levels):
        return Refusal(code="level_not_active")
    if _seat_at(chain, state, level_index, approver_id) is None:
        return Refusal(code="not_your_approval")
    at_level = [d for d in state.decisions if d.level_index == level_index]
    own = next((d for d in at_level if d.approver_id == approver_id), None)
    if own is not None:
        return Refusal(code="already_decided", earlier=own)
    settled = level_index < state.active_level or (
        level_index == state.active_level and state.status in ("rejected", "changes_requested")
    )
    if settled and at_level:
        return Refusal(code="already_decided", earlier=at_level[-1])
    if state.status != "pending":
        closing = state.decisions[-1] if state.status != "expired" and state.decisions else None
        return Refusal(code="chain_closed", earlier=closing)
    if level_index != state.active_level:
        return Refusal(code="level_not_active")
    if decision == "approve":
        other = next(
            (
                d
                for d in state.decisions
                if d.approver_id == approver_id and d.decision == "approve"
            ),
            None,
        )
        if other is not None:
            return Refusal(code="duplicate_level_approver", earlier=other)
    return None


def record_decision(
    chain: ApprovalChain,
    state: ApprovalState,
    *,
    approver_id: str,
    level_index: int,
    decision: DecisionKind,
    version: int,
    at: dt.datetime,
    reason: str | None = None,
) -> DecisionOutcome:
    """Apply one person's decision; a refusal returns `state` itself, unchanged.

    An approval that brings the level to its quorum completes it ("level_complete") and
    activates the next level at `at`, or completes the chain ("chain_complete").
    """
    refusal = check_decision(
        chain,
        state,
        approver_id=approver_id,
        level_index=level_index,
        decision=decision,
        version=version,
    )
    if refusal is not None:
        return DecisionOutcome(code=refusal.code, state=state, earlier=refusal.earlier)
    seat = _seat_at(chain, state, level_index, approver_id)
    assert seat is not None  # check_decision refuses anyone without a seat
    holder, as_backup = seat
    recorded = Decision(
        level_index=level_index,
        approver_id=approver_id,
        decision=decision,
        version=version,
        at=at,
        reason=reason,
        delegated_from=holder.delegated_from,
        as_backup=as_backup,
    )
    decisions = (*state.decisions, recorded)
    code: OutcomeCode
    if decision == "reject" or decision == "request_changes":
        status: ChainStatus = "rejected" if decision == "reject" else "changes_requested"
        code = "rejected" if decision == "reject" else "changes_requested"
        new = state.model_copy(update={"status": status, "decisions": decisions, "closed_at": at})
        return DecisionOutcome(code=code, state=new, recorded=recorded)
    approvals = {
        d.approver_id for d in decisions if d.level_index == level_index and d.decision == "approve"
    }
    if not as_backup and len(approvals) < chain.levels[level_index].required:
        new = state.model_copy(update={"decisions": decisions})
        return DecisionOutcome(code="applied", state=new, recorded=recorded)
    if level_index + 1 == len(chain.levels):
        update = {"status": "approved", "active_level": level_index + 1, "closed_at": at}
        code = "chain_complete"
    else:
        update = {"active_level": level_index + 1, "level_activated_at": at}
        code = "level_complete"
    new = state.model_copy(update={**update, "decisions": decisions, "reminders_sent": 0})
    return DecisionOutcome(code=code, state=new, recorded=recorded)


def waiting_on(chain: ApprovalChain, state: ApprovalState) -> tuple[EligibleApprover, ...]:
    """Whom the active level still waits for (links, reminders, the Temporal UI details):
    its undecided eligible approvers, less anyone who approved an earlier level, plus the
    backup once the level has escalated. Empty when the chain is closed."""
    if state.status != "pending":
        return ()
    level = chain.levels[state.active_level]
    done = {
        d.approver_id
        for d in state.decisions
        if d.level_index == state.active_level or d.decision == "approve"
    }
    people = list(level.eligible)
    if state.escalated and level.backup is not None:
        people = [p for p in people if p.approver_id != level.backup.approver_id]
        people.append(level.backup)
    return tuple(p for p in people if p.approver_id not in done)


def record_reminder(state: ApprovalState) -> ApprovalState:
    """Count a reminder sent for the active level (no change once the chain is closed)."""
    if state.status != "pending":
        return state
    return state.model_copy(update={"reminders_sent": state.reminders_sent + 1})


def escalate(state: ApprovalState) -> ApprovalState:
    """Hand the active level to its backup as well (no change if closed or already done)."""
    if state.status != "pending" or state.escalated:
        return state
    return state.model_copy(
        update={"escalated_levels": (*state.escalated_levels, state.active_level)}
    )


def expire(state: ApprovalState, *, at: dt.datetime) -> ApprovalState:
    """Close a chain nobody decided in time (no change once it is closed)."""
    if state.status != "pending":
        return state
    return state.model_copy(update={"status": "expired", "closed_at": at})


def _seat_at(
    chain: ApprovalChain, state: ApprovalState, level_index: int, approver_id: str
) -> tuple[EligibleApprover, bool] | None:
    """The seat `approver_id` holds at a level, and whether it is the escalated backup's."""
    level = chain.levels[level_index]
    backup = level.backup
    if backup is not None and backup.approver_id == approver_id:
        if level_index in state.escalated_levels:
            return backup, True
    for person in level.eligible:
        if person.approver_id == approver_id:
            return person, False
    return None


# --- time --------------------------------------------------------------------------------


class ApprovalTimers(BaseModel):
    """When a level reminds, escalates and expires, measured from its activation.

    Reminders repeat every `remind_after` until escalation; after escalation the next
    event is expiry. With `business_hours`, each duration counts only business hours
    (Mon-Fri 09:00-17:00) in the zone `next_deadline` is given.
    """

    model_config = _FROZEN

    remind_after: dt.timedelta
    escalate_after: dt.timedelta
    expire_after: dt.timedelta
    business_hours: bool = False

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.remind_after <= dt.timedelta(0):
            raise ValueError("remind_after must be positive")
        if not self.remind_after <= self.escalate_after < self.expire_after:
            raise ValueError(
                "timers must satisfy remind_after <= escalate_after < expire_after; got "
                f"{self.remind_after}, {self.escalate_after}, {self.expire_after}"
            )
        return self


def next_deadline(
    level_activated_at: dt.datetime,
    timers: ApprovalTimers,
    reminders_sent: int,
    escalated: bool,
    *,
    time_zone: str = "UTC",
) -> tuple[DeadlineKind, dt.datetime]:
    """The next thing to happen to a waiting level, and when.

    Reminder n (1-based) is due n x `remind_after` after activation, as long as that is
    before escalation; a reminder that would fall at or after escalation is not sent.
    `time_zone` matters only for business-hours timers.
    """

    def after(delay: dt.timedelta) -> dt.datetime:
        if timers.business_hours:
            return add_business_hours(level_activated_at, delay / dt.timedelta(hours=1), time_zone)
        return level_activated_at + delay

    if escalated:
        return "expire", after(timers.expire_after)
    remind_at = after(timers.remind_after * (reminders_sent + 1))
    escalate_at = after(timers.escalate_after)
    if remind_at < escalate_at:
        return "remind", remind_at
    return "escalate", escalate_at


def add_business_hours(
    start: dt.datetime,
    hours: float,
    time_zone: str,
    *,
    holidays: Iterable[dt.date] = (),
) -> dt.datetime:
    """`start` plus `hours` of business time (Mon-Fri 09:00-17:00 local, less `holidays`).

    Counting starts at the first business moment at or after `start`, so zero hours on a
    Saturday gives Monday 09:00. A span that ends exactly at closing time ends at 17:00,
    not the next morning. The answer is in `start`'s time zone; `start` must be aware.
    """
    if start.tzinfo is None:
        raise ValueError("start must be timezone-aware (workflow.now() is)")
    if hours < 0:
        raise ValueError(f"hours must not be negative, got {hours}")
    zone = _zone(time_zone)
    closed_days = frozenset(holidays)
    remaining = dt.timedelta(hours=hours)
    cursor = start.astimezone(zone)
    day = cursor.date()
    while True:
        if day.weekday() < 5 and day not in closed_days:
            # Same tzinfo on both sides, so these are wall-clock comparisons and differences.
            opens = dt.datetime.combine(day, BUSINESS_DAY_OPENS, tzinfo=zone)
            closes = dt.datetime.combine(day, BUSINESS_DAY_CLOSES, tzinfo=zone)
            begin = max(cursor, opens)
            if begin < closes:
                if remaining <= closes - begin:
                    return (begin + remaining).astimezone(start.tzinfo)
                remaining -= closes - begin
        day += dt.timedelta(days=1)
        cursor = dt.datetime.combine(day, BUSINESS_DAY_OPENS, tzinfo=zone)
