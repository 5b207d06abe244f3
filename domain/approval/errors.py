"""The errors the approval policy raises, in their own module because every other part of
`domain.approval` raises them (a policy that refers to nothing, a chain nobody can
approve, a time zone the tz database does not know) and callers catch them by base class.
"""

from __future__ import annotations

# re-exported: a policy's time zones are checked by the human-task clock's loader
from domain.tasks.timing import UnknownTimeZone as UnknownTimeZone


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
