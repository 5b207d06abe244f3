"""API keys for upstream apps. Only a SHA-256 of each key is stored.

Keys are 256-bit random tokens, so a fast hash is enough (no password-style stretching
is needed); the plain key is shown once, when it is created.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from schemas.ids import new_id
from schemas.tables import ApiKey

KEY_PREFIX = "ifk_"


def hash_key(plain: str) -> str:
    return hashlib.sha256(plain.encode()).hexdigest()


async def create(session: AsyncSession, name: str) -> tuple[ApiKey, str]:
    plain = KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(
        id=new_id("key"), name=name, key_hash=hash_key(plain), created_at=datetime.now(UTC)
    )
    session.add(row)
    await session.flush()
    return row, plain


async def create_with_value(session: AsyncSession, name: str, plain: str) -> ApiKey:
    """Register a known key (the dev stack reuses the key it printed last time)."""
    existing = await find(session, plain)
    if existing:
        return existing
    row = ApiKey(
        id=new_id("key"), name=name, key_hash=hash_key(plain), created_at=datetime.now(UTC)
    )
    session.add(row)
    await session.flush()
    return row


async def find(session: AsyncSession, plain: str) -> ApiKey | None:
    rows = await session.exec(
        select(ApiKey).where(ApiKey.key_hash == hash_key(plain), col(ApiKey.revoked_at).is_(None))
    )
    return rows.first()
