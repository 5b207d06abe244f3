"""A running approval chain: its state, the decisions people make, and the other moves
(reminder, escalation, expiry) a waiting level goes through.

Each level is a human task (`domain.tasks`): its clock (`TaskClock`: opened, reminders,
escalated, expired) and its seats (the eligible people, and the backup once escalated)
are the shared machinery's; the rest (quorum, one approval per person per chain, a
reject settling the chain, versions) is approval's own policy.

Every transition is a function from the old `ApprovalState` to a new one, so the workflow
can hold the state in a field, replay it, and show it in its `state` query. Who may decide
what is checked here (`check_decision`, also the update validator's test), and a refusal
says why with a code and, where it helps, the earlier decision that explains it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, model_validator

from domain.approval.chain import ApprovalChain, EligibleApprover
from domain.tasks import TaskClock, assigned, seat

DecisionKind = Literal["approve", "reject", "request_changes"]
ChainStatus = Literal["pending", "approved", "rejected", "changes_requested", "expired"]
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

_FROZEN = ConfigDict(frozen=True)


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
    """Where a chain stands; start one with `ApprovalState(level_activated_at=now)`.

    `clock` is the active level's, as a human task's; `escalated_levels` remembers which
    levels had their backup seated, for decisions about a level already behind.
    """

    model_config = _FROZEN

    status: ChainStatus = "pending"
    active_level: int = 0  # equals the number of levels once approved
    clock: TaskClock
    escalated_levels: tuple[int, ...] = ()
    decisions: tuple[Decision, ...] = ()
    closed_at: dt.datetime | None = None

    @model_validator(mode="before")
    @classmethod
    def _clock_from_fields(cls, data: Any) -> Any:
        """Accept the chain's start as `level_activated_at=` (and `reminders_sent=`)."""
        if isinstance(data, dict) and "clock" not in data and "level_activated_at" in data:
            data = dict(data)
            data["clock"] = TaskClock(
                opened_at=data.pop("level_activated_at"),
                reminders_sent=data.pop("reminders_sent", 0),
            )
        return data

    @property
    def level_activated_at(self) -> dt.datetime:
        return self.clock.opened_at

    @property
    def reminders_sent(self) -> int:
        """Reminders sent for the active level."""
        return self.clock.reminders_sent

    @property
    def escalated(self) -> bool:
        """Whether the active level has escalated to its backup."""
        return self.clock.escalated


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
        update = {"active_level": level_index + 1, "clock": TaskClock(opened_at=at)}
        code = "level_complete"
    new = state.model_copy(update={**update, "decisions": decisions})
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
    people = assigned(level.eligible, level.backup, state.escalated)
    return tuple(p for p in people if p.approver_id not in done)


def record_reminder(state: ApprovalState) -> ApprovalState:
    """Count a reminder sent for the active level (no change once the chain is closed)."""
    if state.status != "pending":
        return state
    return state.model_copy(update={"clock": state.clock.reminded()})


def escalate(state: ApprovalState) -> ApprovalState:
    """Hand the active level to its backup as well (no change if closed or already done)."""
    if state.status != "pending" or state.escalated:
        return state
    return state.model_copy(
        update={
            "clock": state.clock.escalate(),
            "escalated_levels": (*state.escalated_levels, state.active_level),
        }
    )


def expire(state: ApprovalState, *, at: dt.datetime) -> ApprovalState:
    """Close a chain nobody decided in time (no change once it is closed)."""
    if state.status != "pending":
        return state
    return state.model_copy(
        update={"status": "expired", "closed_at": at, "clock": state.clock.expire(at)}
    )


def _seat_at(
    chain: ApprovalChain, state: ApprovalState, level_index: int, approver_id: str
) -> tuple[EligibleApprover, bool] | None:
    """The seat `approver_id` holds at a level, and whether it is the escalated backup's."""
    level = chain.levels[level_index]
    return seat(level.eligible, level.backup, level_index in state.escalated_levels, approver_id)
