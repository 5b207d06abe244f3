"""Approval policy: which documents need whose approval, and how a running chain moves on.

A package split along its seams, each module small enough to read at once:
`policy` (the data and rule matching), `chain` (resolving a rule into people: separation
of duties, delegation, quorum), `state` (a running chain and its decisions) and
`errors`. Time (deadlines, business hours in the approver's time zone), seats and the
clock of a waiting level come from `domain.tasks`, the machinery every human task
shares: an approval level is a human task, and this package is approval's own policy on
top of it (levels, quorum, separation of duties, delegation). Import from here;
every name the rest of InvoiceFlow uses is re-exported below.

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

from domain.approval.chain import (
    ApprovalChain,
    ChainLevel,
    EligibleApprover,
    ExcludedApprover,
    ExclusionReason,
    approval_chain,
    escalation_target,
)
from domain.approval.errors import (
    ApprovalPolicyError,
    MissingRate,
    QuorumUnreachable,
    UnknownGroup,
    UnknownTimeZone,
)
from domain.approval.policy import (
    ApprovalPolicy,
    ApprovalRule,
    ApprovalSubject,
    Approver,
    ApproverGroup,
    Delegation,
    DocumentType,
    LevelRule,
    Quorum,
    QuorumKind,
    RateTable,
    rates_missing,
    select_rule,
)
from domain.approval.state import (
    ApprovalState,
    ChainStatus,
    Decision,
    DecisionKind,
    DecisionOutcome,
    OutcomeCode,
    Refusal,
    RefusalCode,
    check_decision,
    escalate,
    expire,
    record_decision,
    record_reminder,
    waiting_on,
)
from domain.tasks.timing import (
    BUSINESS_DAY_CLOSES,
    BUSINESS_DAY_OPENS,
    DeadlineKind,
    add_business_hours,
    next_deadline,
)
from domain.tasks.timing import TaskTimers as ApprovalTimers

__all__ = [
    "ApprovalChain",
    "ApprovalPolicy",
    "ApprovalPolicyError",
    "ApprovalRule",
    "ApprovalState",
    "ApprovalSubject",
    "ApprovalTimers",
    "Approver",
    "ApproverGroup",
    "BUSINESS_DAY_CLOSES",
    "BUSINESS_DAY_OPENS",
    "ChainLevel",
    "ChainStatus",
    "DeadlineKind",
    "Decision",
    "DecisionKind",
    "DecisionOutcome",
    "Delegation",
    "DocumentType",
    "EligibleApprover",
    "ExcludedApprover",
    "ExclusionReason",
    "LevelRule",
    "MissingRate",
    "OutcomeCode",
    "Quorum",
    "QuorumKind",
    "QuorumUnreachable",
    "RateTable",
    "Refusal",
    "RefusalCode",
    "UnknownGroup",
    "UnknownTimeZone",
    "add_business_hours",
    "approval_chain",
    "check_decision",
    "escalate",
    "escalation_target",
    "expire",
    "next_deadline",
    "rates_missing",
    "record_decision",
    "record_reminder",
    "select_rule",
    "waiting_on",
]
