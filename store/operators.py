"""Operator accounts: create, list, deactivate, change a password, check a sign-in.

Passwords are hashed with argon2 (pwdlib's recommended parameters). A sign-in with an
unknown e-mail still verifies a password against a dummy hash, so the answer takes the
same time whether or not the address exists, and says the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

from pwdlib import PasswordHash
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from schemas.ids import new_id
from schemas.operator_tables import OperatorRow

MIN_PASSWORD_LENGTH = 12


class OperatorError(ValueError):
    """A refused operator change (duplicate e-mail, short password, unknown operator)."""


@lru_cache
def hasher() -> PasswordHash:
    return PasswordHash.recommended()


@lru_cache
def _dummy_hash() -> str:
    return hasher().hash("not-a-password-of-anyone")


def normalize_email(email: str) -> str:
    return email.strip().lower()


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise OperatorError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")


@dataclass(frozen=True)
class NewOperator:
    email: str
    name: str
    password: str | None  # None: signs in only through OpenID Connect


async def create(
    session: AsyncSession, new: NewOperator, *, now: datetime | None = None
) -> OperatorRow:
    email = normalize_email(new.email)
    if "@" not in email or not new.name.strip():
        raise OperatorError("an operator needs an e-mail address and a name")
    if await find_by_email(session, email) is not None:
        raise OperatorError(f"an operator with e-mail {email} exists already")
    if new.password is not None:
        _check_password(new.password)
    now = now or datetime.now(UTC)
    row = OperatorRow(
        id=new_id("op"),
        email=email,
        name=new.name.strip(),
        password_hash=hasher().hash(new.password) if new.password is not None else None,
        active=True,
        password_changed_at=now,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    await session.flush()
    return row


async def find_by_email(session: AsyncSession, email: str) -> OperatorRow | None:
    rows = await session.exec(
        select(OperatorRow).where(OperatorRow.email == normalize_email(email))
    )
    return rows.first()


async def get(session: AsyncSession, operator_id: str) -> OperatorRow | None:
    return await session.get(OperatorRow, operator_id)


async def list_all(session: AsyncSession) -> list[OperatorRow]:
    rows = await session.exec(select(OperatorRow).order_by(col(OperatorRow.email)))
    return list(rows.all())


async def deactivate(session: AsyncSession, email: str) -> OperatorRow:
    row = await find_by_email(session, email)
    if row is None:
        raise OperatorError(f"no operator with e-mail {normalize_email(email)}")
    row.active = False
    row.updated_at = datetime.now(UTC)
    session.add(row)
    await session.flush()
    return row


async def set_password(session: AsyncSession, email: str, password: str) -> OperatorRow:
    """A new password; the old sessions stop working (their fingerprint changes)."""
    _check_password(password)
    row = await find_by_email(session, email)
    if row is None:
        raise OperatorError(f"no operator with e-mail {normalize_email(email)}")
    now = datetime.now(UTC)
    row.password_hash = hasher().hash(password)
    row.password_changed_at = now
    row.updated_at = now
    session.add(row)
    await session.flush()
    return row


async def authenticate(session: AsyncSession, email: str, password: str) -> OperatorRow | None:
    """The active operator with this e-mail and password, else None (same cost either way)."""
    row = await find_by_email(session, email)
    stored = row.password_hash if row is not None and row.password_hash else None
    ok = hasher().verify(password, stored or _dummy_hash())
    if row is None or stored is None or not ok or not row.active:
        return None
    return row
