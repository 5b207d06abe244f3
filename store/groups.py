"""The people a case is assigned to: the active members of a group of the approval
policy, and whose turn it is in a round robin.

Shared by every kind of case a person owns (a PO exception, a dispute at a level of its
ladder). The round-robin counter moves in one ``UPDATE ... RETURNING`` in the caller's
transaction, so two cases opened at once cannot both take the same person's turn.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, text
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.routing import Route, pick_owner
from domain.tasks import Assignee
from schemas.exception_tables import ExceptionTurn
from schemas.tables import ApproverGroupRow, ApproverRow
from store.db import insert_if_absent

_NEXT_TURN = text(
    "UPDATE exception_turns SET next_turn = next_turn + 1 WHERE group_id = :group_id"
    " RETURNING next_turn"
)


async def _find_group(session: AsyncSession, group_ref: str | None) -> ApproverGroupRow | None:
    """The active group routing names, by its id or by its name (ids are generated; names
    are what people configure), whatever the case of the name."""
    if group_ref is None:
        return None
    group = await session.get(ApproverGroupRow, group_ref)
    if group is None:
        named = await session.exec(
            select(ApproverGroupRow).where(
                func.lower(ApproverGroupRow.name) == group_ref.lower(),
                ApproverGroupRow.active == True,  # noqa: E712 (SQL, not Python)
            )
        )
        group = named.first()
    return group if group is not None and group.active else None


async def group_members(session: AsyncSession, group_ref: str | None) -> list[ApproverRow]:
    """The active members of an active group, in the group's order."""
    return await _members(session, await _find_group(session, group_ref))


async def _members(session: AsyncSession, group: ApproverGroupRow | None) -> list[ApproverRow]:
    if group is None:
        return []
    people = []
    for member_id in group.members:
        row = await session.get(ApproverRow, member_id)
        if row is not None and row.active:
            people.append(row)
    return people


async def take_turn(session: AsyncSession, group_id: str) -> int:
    await insert_if_absent(session, ExceptionTurn, group_id=group_id, next_turn=0)
    connection = await session.connection()
    after = (await connection.execute(_NEXT_TURN, {"group_id": group_id})).scalar_one()
    return int(after) - 1


async def owner_for(
    session: AsyncSession, route: Route[Any]
) -> tuple[ApproverRow | None, list[ApproverRow]]:
    group = await _find_group(session, route.group)
    members = await _members(session, group)
    turn = 0
    if route.owner is None and group is not None and members:
        # one counter per group, however routes name it (by id, by name, in any case)
        turn = await take_turn(session, group.id)
    owner_id = pick_owner(route, [m.id for m in members], turn)
    owner = next((m for m in members if m.id == owner_id), None)
    if owner is None and owner_id is not None:  # a fixed owner outside the group
        row = await session.get(ApproverRow, owner_id)
        owner = row if row is not None and row.active else None
    return owner, members


def assignee(row: ApproverRow) -> Assignee:
    return Assignee(person_id=row.id, name=row.name, email=row.email, time_zone=row.time_zone)
