"""Operators: the finance and operations staff who sign in to the ops pages (/ops/...).

They are people, not upstream apps: an API key never opens these pages, and a portal or
approval link never does either. The password is stored as an argon2 hash (pwdlib);
`password_changed_at` is part of every session cookie's fingerprint, so changing a
password, or deactivating the operator, ends their sessions everywhere.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column
from sqlmodel import Field, SQLModel

from schemas.tables import UTCDateTime


def _utc(nullable: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable))


class OperatorRow(SQLModel, table=True):
    """One person who may read the dashboards and work the queues."""

    __tablename__ = "operators"

    id: str = Field(primary_key=True)  # op_...
    email: str = Field(unique=True)  # stored lower-cased: one operator per address
    name: str
    # argon2 hash; None for an operator who signs in only through OpenID Connect
    password_hash: str | None = None
    active: bool = True
    password_changed_at: datetime = _utc()
    created_at: datetime = _utc()
    updated_at: datetime = _utc()
