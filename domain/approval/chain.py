"""Chain resolution: the rule a document falls under, turned into the people who decide it.

Each level of the rule becomes a `ChainLevel` with the number of approvals it needs and
the people eligible to give them after separation of duties (the creator and the last
editor never decide) and delegation (one hop, on the document's day), plus the group's
backup for escalation. A chain whose levels cannot reach quorum with distinct people is
refused here, when it is built, rather than discovered half-way. The result is a
snapshot, so later policy edits do not change a chain that is already running.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict

from domain.approval.errors import QuorumUnreachable, UnknownGroup
from domain.approval.policy import (
    ApprovalPolicy,
    ApprovalSubject,
    Approver,
    ApproverGroup,
    Delegation,
    Quorum,
    select_rule,
    threshold_currency,
)

ExclusionReason = Literal["created_document", "last_changed_document", "already_eligible"]

_FROZEN = ConfigDict(frozen=True)


class EligibleApprover(BaseModel):
    """Someone who may decide a level; `delegated_from` names the approver they stand in for."""

    model_config = _FROZEN

    approver_id: str
    name: str
    email: str
    time_zone: str
    delegated_from: str | None = None

    @property
    def person_id(self) -> str:
        """As a `domain.tasks.Person`: someone a level (a human task) waits on."""
        return self.approver_id


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

    Rule selection and the other choices are described in the package docstring. Each
    level's quorum becomes a number: "any" needs 1, "count" needs `count`, and "all" needs
    every eligible person, i.e. the group's members left after separation of duties and
    delegation (so "all" of a group whose creator is a member means all the others).

    Raises `MissingRate` when a matching rule's threshold is in another currency and no
    rate converts it, and `QuorumUnreachable` when a level cannot collect its approvals.
    """
    if isinstance(today, dt.datetime):
        raise TypeError("today must be a date, not a datetime; pass now.date()")
    found = select_rule(policy, subject)
    if found is None:
        return None
    rule, compared = found
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
        threshold_currency=threshold_currency(policy, rule) if compared is not None else None,
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
