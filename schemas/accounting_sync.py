"""Accounting sync: the invoice's sync status, the post resumed after an alert, the ops
alert, and a re-sync (the `resync` update, the `AccountingResync` workflow, the API)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, Field


def resync_workflow_id(invoice_id: str) -> str:
    """`AccountingResync` for an invoice whose process has ended: one at a time per invoice
    (a second request joins the running one)."""
    return f"accounting-resync-{invoice_id}"


class SyncStatus(StrEnum):
    """`SyncStatus`: pending (a post has not landed yet), synced (every post landed),
    failing (a post has failed for longer than the alert delay; since `SyncFailingSince`),
    refused (accounting refused a document: a person must look)."""

    PENDING = "pending"
    SYNCED = "synced"
    FAILING = "failing"
    REFUSED = "refused"


class PendingPost(BaseModel):
    """One post as the workflow started it: the activity's name and its input."""

    activity: str
    arg: dict[str, Any]


class ResumePostInput(BaseModel):
    """Activity ``accounting.resume_post``: the post again, looked up first each attempt."""

    post: PendingPost


class SyncAlertInput(BaseModel):
    """Activity ``accounting.alert_ops``: one e-mail per failing episode (`episode`)."""

    invoice_id: str
    invoice_number: str | None = None
    customer_name: str | None = None
    episode: int
    failing_since: datetime
    detail: str


class ResyncRequest(BaseModel):
    """Update ``resync`` (Temporal UI: ``{"request_id": "any-unique-id", "requested_by":
    "alice"}``, with the request id as the update id) and the `AccountingResync` input."""

    request_id: str = Field(min_length=1, max_length=200)
    requested_by: str = Field(min_length=1, max_length=200)


class ResyncActivityInput(BaseModel):
    """Activity ``accounting.resync``: the invoice's documents kept in the database, plus
    the posts a running process knows of (some may not have been tried yet)."""

    invoice_id: str
    requested_by: str
    posts: list[PendingPost] = Field(default_factory=list)


class ResyncedDocument(BaseModel):
    key: str
    # the running process's post it landed (its position among the posts sent), if one
    position: int | None = None
    kind: str
    outcome: Literal["found", "created", "refused"]
    external_id: str | None = None
    detail: str | None = None


class ResyncResult(BaseModel):
    invoice_id: str
    status: SyncStatus  # synced, or refused when any document was refused
    documents: list[ResyncedDocument]
