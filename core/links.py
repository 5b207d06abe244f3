"""Signed portal links: the customer's "view invoice" link in the e-mail.

A view link only shows a page (GET, no change), so mail scanners prefetching it do no
harm; it is signed (itsdangerous, HMAC-SHA256) and bound to one invoice, and expires.
"""

from __future__ import annotations

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from pydantic import BaseModel

PORTAL_VIEW_SALT = "invoiceflow.portal.view"
PORTAL_VIEW_MAX_AGE_S = 400 * 24 * 3600  # outlives the invoice's collection window


class InvalidLink(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _serializer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt=PORTAL_VIEW_SALT)


def portal_view_token(secret: str, invoice_id: str) -> str:
    return _serializer(secret).dumps({"invoice_id": invoice_id})


def portal_view_url(base_url: str, secret: str, invoice_id: str) -> str:
    token = portal_view_token(secret, invoice_id)
    return f"{base_url.rstrip('/')}/portal/invoices/{invoice_id}?token={token}"


def verify_portal_view_token(secret: str, token: str, invoice_id: str) -> None:
    try:
        payload = _serializer(secret).loads(token, max_age=PORTAL_VIEW_MAX_AGE_S)
    except SignatureExpired as expired:
        raise InvalidLink("expired") from expired
    except BadSignature as bad:
        raise InvalidLink("invalid") from bad
    if payload.get("invoice_id") != invoice_id:
        raise InvalidLink("not for this invoice")


# --- human-task links -----------------------------------------------------------------

TASK_SALT = "invoiceflow.task.review"


class TaskLink(BaseModel, frozen=True):
    """What a task's review link is bound to: one task, one person."""

    task_id: str
    person_id: str


def task_url(base_url: str, secret: str, path: str, link: TaskLink) -> str:
    token = URLSafeTimedSerializer(secret, salt=TASK_SALT).dumps(link.model_dump())
    return f"{base_url.rstrip('/')}{path}/{token}"


def read_task_token(secret: str, token: str, max_age_s: int) -> TaskLink:
    """The link's claims, or InvalidLink("expired" | "invalid")."""
    try:
        claims = URLSafeTimedSerializer(secret, salt=TASK_SALT).loads(token, max_age=max_age_s)
        return TaskLink.model_validate(claims)
    except SignatureExpired as expired:
        raise InvalidLink("expired") from expired
    except (BadSignature, ValueError) as bad:
        raise InvalidLink("invalid") from bad


# --- approval links -------------------------------------------------------------------

APPROVAL_SALT = "invoiceflow.approval.decide"


class ApprovalLink(BaseModel, frozen=True):
    """What an approval link is bound to: one request, one person, one level, one version."""

    invoice_id: str
    request_id: str
    approver_id: str
    round: int
    level: int
    version: int


def approval_token(secret: str, link: ApprovalLink) -> str:
    return URLSafeTimedSerializer(secret, salt=APPROVAL_SALT).dumps(link.model_dump())


def approval_url(base_url: str, secret: str, link: ApprovalLink) -> str:
    return f"{base_url.rstrip('/')}/approvals/{approval_token(secret, link)}"


def read_approval_token(secret: str, token: str, max_age_s: int) -> ApprovalLink:
    """The link's claims, or InvalidLink("expired" | "invalid")."""
    try:
        claims = URLSafeTimedSerializer(secret, salt=APPROVAL_SALT).loads(token, max_age=max_age_s)
        return ApprovalLink.model_validate(claims)
    except SignatureExpired as expired:
        raise InvalidLink("expired") from expired
    except (BadSignature, ValueError) as bad:
        raise InvalidLink("invalid") from bad
