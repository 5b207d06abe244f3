"""Human tasks: a decision waiting on a person, the machinery every human step shares.

`task` holds the state, the seats (owners, backup after escalation, an operator always),
the allowed decisions and the transitions; `timing` the deadlines (remind, escalate,
expire) and business hours in the assignee's time zone. Pure and deterministic, so
workflows call it directly; `workflows.human_task` runs a task inside a workflow.
"""

from domain.tasks.task import (
    Assignee,
    HumanTask,
    NoticeKind,
    Person,
    TaskClock,
    TaskDecision,
    TaskRefusalCode,
    TaskRefused,
    TaskState,
    TaskStatus,
    assigned,
    check_decision,
    deadline,
    decide,
    escalates_at,
    on_deadline,
    open_task,
    seat,
    waiting_on,
)
from domain.tasks.timing import (
    BUSINESS_DAY_CLOSES,
    BUSINESS_DAY_OPENS,
    DeadlineKind,
    TaskTimers,
    UnknownTimeZone,
    add_business_hours,
    load_zone,
    next_deadline,
)

__all__ = [
    "BUSINESS_DAY_CLOSES",
    "BUSINESS_DAY_OPENS",
    "Assignee",
    "DeadlineKind",
    "HumanTask",
    "NoticeKind",
    "Person",
    "TaskClock",
    "TaskDecision",
    "TaskRefusalCode",
    "TaskRefused",
    "TaskState",
    "TaskStatus",
    "TaskTimers",
    "UnknownTimeZone",
    "add_business_hours",
    "assigned",
    "check_decision",
    "deadline",
    "decide",
    "escalates_at",
    "load_zone",
    "next_deadline",
    "on_deadline",
    "open_task",
    "seat",
    "waiting_on",
]
