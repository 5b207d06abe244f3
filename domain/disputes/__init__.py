"""Dispute policy: what a customer may dispute, who owns a dispute, how it escalates, which
remedies may be proposed, what a dispute does to collection, and the disputes report.

Pure and deterministic (times and days are arguments), so the dispute workflow and its
update validators call it directly. `model` holds the vocabulary and the figures;
`intake` the intake check and line grosses; `routing` the owner; `ladder` the escalation
levels and SLA due dates; `remedy` the remedy checks; `collection` the effect on the
invoice; `report` the report.
"""

from domain.disputes.collection import collectable, is_overdue, overdue_amount
from domain.disputes.intake import check_intake, disputable_minor, line_gross_amounts
from domain.disputes.ladder import (
    DEFAULT_LEVELS,
    DEFAULT_START_AT,
    DisputeLadder,
    LadderLevel,
    LevelStart,
    next_level,
    paused_sla_due,
    sla_due,
    start_level,
)
from domain.disputes.model import (
    AcceptedIntake,
    CaseFigures,
    CreditReason,
    DisputeReason,
    DisputeRefusalCode,
    DisputeRefused,
    InvoiceFigures,
    LineAmount,
    OpenDispute,
    RemedyKind,
)
from domain.disputes.remedy import Instalment, check_remedy, needs_approval
from domain.disputes.report import DisputeReport, ReportCase, percentile, summarize
from domain.disputes.routing import DisputeRoute, DisputeRouting, route_at_level

__all__ = [
    "DEFAULT_LEVELS",
    "DEFAULT_START_AT",
    "AcceptedIntake",
    "CaseFigures",
    "CreditReason",
    "DisputeLadder",
    "DisputeReason",
    "DisputeRefusalCode",
    "DisputeRefused",
    "DisputeReport",
    "DisputeRoute",
    "DisputeRouting",
    "Instalment",
    "InvoiceFigures",
    "LadderLevel",
    "LevelStart",
    "LineAmount",
    "OpenDispute",
    "RemedyKind",
    "ReportCase",
    "check_intake",
    "check_remedy",
    "collectable",
    "disputable_minor",
    "is_overdue",
    "line_gross_amounts",
    "needs_approval",
    "next_level",
    "overdue_amount",
    "paused_sla_due",
    "percentile",
    "route_at_level",
    "sla_due",
    "start_level",
    "summarize",
]
